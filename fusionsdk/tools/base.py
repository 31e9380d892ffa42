"""The tool contract (plugins of ``fusionsdk.tools``): Python callables agents may invoke.

An entry point may name a :class:`Tool` subclass or any plain function; a function is wrapped
by :meth:`Tool.adapt_plugin` into a ``Tool`` whose name, description and arguments schema come
from the function. :meth:`Tool.tool_spec` is what a model is shown
(a :class:`~fusionsdk.providers.base.ToolSpec`); tools from MCP servers
(:mod:`fusionsdk.tools.mcp`) are ``Tool`` objects too.
"""

from __future__ import annotations

import asyncio
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from fusionsdk.errors import FusionError
from fusionsdk.plugin import OptionsT, PluginBase
from fusionsdk.providers.base import ToolSpec

__all__ = ["Tool", "python_tool"]


class Tool(PluginBase[OptionsT], ABC):
    """Base class of tools. Their output is untrusted data, never instructions.

    Attributes:
        description: What the tool does, shown to models.
        parameters: JSON Schema of the arguments (an open object when None).
    """

    description: ClassVar[str] = ""
    parameters: ClassVar[dict[str, Any] | None] = None

    def tool_spec(self, name: str | None = None) -> ToolSpec:
        """How a model sees this tool, under ``name`` (default: the class name)."""
        schema = self.parameters or {"type": "object", "properties": {}, "additionalProperties": True}
        return ToolSpec(name or type(self).__name__, self.description, dict(schema))

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

        from fusionsdk.providers.tool_calls import spec_from_function

        spec = spec_from_function(func)

        class FunctionTool(Tool):
            description: ClassVar[str] = spec.description
            parameters: ClassVar[dict[str, Any] | None] = spec.parameters

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


def python_tool(func: Callable[..., Any]) -> Tool[Any]:
    """A ready :class:`Tool` object from a plain (sync or async) function.

    Example:
        >>> def add(a: int, b: int) -> int:
        ...     "Add two integers."
        ...     return a + b
        >>> python_tool(add).tool_spec().name
        'add'
    """
    tool_cls: type[Tool[Any]] = Tool.adapt_plugin(func)
    return tool_cls()
