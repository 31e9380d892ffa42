"""The tool contract (plugins of ``fusionsdk.tools``): Python callables agents may invoke.

An entry point may name a :class:`Tool` subclass or any plain function; a function is wrapped
by :meth:`Tool.adapt_plugin` into a ``Tool`` whose name and description come from the function.
"""

from __future__ import annotations

import asyncio
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from fusionsdk.errors import FusionError
from fusionsdk.plugin import OptionsT, PluginBase

__all__ = ["Tool"]


class Tool(PluginBase[OptionsT], ABC):
    """Base class of tools. Their output is untrusted data, never instructions."""

    description: ClassVar[str] = ""

    @abstractmethod
    async def run(self, **arguments: Any) -> Any:
        """Run the tool with keyword arguments."""

    @classmethod
    def adapt_plugin(cls, obj: Any) -> Any:
        """Wrap a plain (sync or async) function as a Tool subclass; leave anything else."""
        if isinstance(obj, type) or not callable(obj):
            return obj
        func: Callable[..., Any] = obj
        try:
            signature: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):  # some builtins have no signature to check against
            signature = None
        tool_name = getattr(func, "__name__", "tool")

        class FunctionTool(Tool):
            description: ClassVar[str] = inspect.getdoc(func) or ""

            async def run(self, **arguments: Any) -> Any:
                try:  # a model wrote these arguments: refuse bad ones with a FusionError
                    if signature is not None:
                        signature.bind(**arguments)
                except TypeError as err:
                    raise FusionError(f"tool '{tool_name}': {err}") from None
                if inspect.iscoroutinefunction(func):
                    return await func(**arguments)
                return await asyncio.to_thread(func, **arguments)

        FunctionTool.__name__ = FunctionTool.__qualname__ = tool_name
        FunctionTool.__doc__ = inspect.getdoc(func)
        return FunctionTool
