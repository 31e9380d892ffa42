"""``tool``: call a ``fusionsdk.tools`` plugin; its output joins the state as untrusted data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from fusionsdk.errors import GraphError
from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import check_template, render
from fusionsdk.plugin import PluginOptions
from fusionsdk.registry import PluginKind
from fusionsdk.tools.base import Tool

__all__ = ["ToolNode"]


class ToolNode(Node["ToolNode.Options"]):
    """Run the tool ``tool`` with ``arguments`` rendered from the state (templates with
    {task}, {answer}, ...). The output is stored in ``tool_results`` and reaches prompts only
    inside an ``<untrusted-data>`` fence, never as instructions.

    Example:
        ``lookup: {kind: tool, tool: calculator, arguments: {expression: "{task}"}}``
    """

    class Options(PluginOptions):
        """Tool node options.

        Attributes:
            tool: A ``fusionsdk.tools`` plugin name.
            arguments: Keyword arguments; string values are templates.
        """

        tool: str
        arguments: dict[str, Any] = Field(default_factory=dict)

        @field_validator("arguments")
        @classmethod
        def _templates(cls, value: dict[str, Any]) -> dict[str, Any]:
            for item in value.values():
                if isinstance(item, str):
                    check_template(item)
            return value

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tool: Tool[Any] | None = None
        if self._context is not None:  # a tool has no options of its own in a node
            self.tool = self.context.registry.build(
                PluginKind.TOOLS, self.options.tool, {}, path=f"nodes.{self.name}"
            )

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        opts: ToolNode.Options = self.options
        assert self.tool is not None
        arguments = {k: render(v, state) if isinstance(v, str) else v for k, v in opts.arguments.items()}
        try:
            output = await self.tool.run(**arguments)
        except TypeError as err:
            raise GraphError(
                f"tool '{opts.tool}' in node '{self.name}' rejected its arguments: {err}"
            ) from None
        return {
            "tool_results": [
                {"node": self.name, "tool": opts.tool, "output": str(output), "trust": "untrusted"}
            ]
        }
