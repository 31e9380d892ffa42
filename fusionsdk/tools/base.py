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

from fusionsdk.plugin import PluginBase

__all__ = ["Tool"]


class Tool(PluginBase, ABC):
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

        class FunctionTool(Tool):
            description: ClassVar[str] = inspect.getdoc(func) or ""

            async def run(self, **arguments: Any) -> Any:
                if inspect.iscoroutinefunction(func):
                    return await func(**arguments)
                return await asyncio.to_thread(func, **arguments)

        FunctionTool.__name__ = FunctionTool.__qualname__ = getattr(func, "__name__", "tool")
        FunctionTool.__doc__ = inspect.getdoc(func)
        return FunctionTool
