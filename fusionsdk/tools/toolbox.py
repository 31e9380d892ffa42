"""A :class:`Toolbox`: the tools one agent may call (plugins, Python functions, MCP servers'
tools) under the names the model sees, and the call of one :class:`ToolCall` with its outcome.

In config, an agent's ``tools`` list names ``fusionsdk.tools`` plugins and MCP servers::

    tools: [calculator, {mcp: {command: python, args: [server.py]}}]
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionsdk.errors import FusionError
from fusionsdk.providers import telemetry
from fusionsdk.providers.base import ToolCall, ToolSpec
from fusionsdk.tools.base import Tool
from fusionsdk.tools.mcp import McpServerSpec, open_mcp_tools

__all__ = ["ToolOutcome", "Toolbox", "open_toolbox"]


@dataclass(frozen=True)
class ToolOutcome:
    """What one call gave.

    Attributes:
        call: The call the model made.
        output: The tool's output as text ("" when it failed).
        error: Why it failed (shown to the model, which may correct itself), or None.
        latency_s: How long it ran.
    """

    call: ToolCall
    output: str
    error: str | None
    latency_s: float

    @property
    def content(self) -> str:
        """The text the model gets back."""
        return f"error: {self.error}" if self.error is not None else self.output


class Toolbox:
    """Tools by the name the model sees.

    Args:
        tools: Name -> tool.

    Raises:
        FusionError: Two tools share a name.
    """

    def __init__(self, tools: Mapping[str, Tool] | None = None) -> None:
        self._tools: dict[str, Tool] = {}
        for name, tool in (tools or {}).items():
            self.add(name, tool)

    def add(self, name: str, tool: Tool) -> None:
        """Add ``tool`` as ``name``."""
        if name in self._tools:
            raise FusionError(f"two tools are named '{name}': give an MCP server a 'prefix'")
        self._tools[name] = tool

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def specs(self) -> list[ToolSpec]:
        """What the model is shown."""
        return [tool.tool_spec(name) for name, tool in self._tools.items()]

    async def call(self, call: ToolCall) -> ToolOutcome:
        """Run one call, in an ``execute_tool`` span. A failure (unknown tool, bad arguments,
        the tool's own error) becomes the outcome's ``error`` for the model to read, never an
        exception."""
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
        }
        with telemetry.span(telemetry.span_name("execute_tool", call.name), attributes) as span:
            outcome = await self._call(call)
            telemetry.set_attributes(
                span,
                {
                    "error.type": "ToolError" if outcome.error is not None else None,
                    "gen_ai.tool.call.arguments": telemetry.content(call.arguments) if span else None,
                    "gen_ai.tool.call.result": telemetry.content(outcome.content) if span else None,
                },
            )
        return outcome

    async def _call(self, call: ToolCall) -> ToolOutcome:
        started = time.perf_counter()
        tool = self._tools.get(call.name)
        if tool is None:
            error = f"no tool named '{call.name}' (tools: {', '.join(self._tools) or 'none'})"
            return ToolOutcome(call, "", error, 0.0)
        try:
            output = await tool.run(**call.arguments)
        except (FusionError, TypeError, ValueError) as err:
            return ToolOutcome(call, "", str(err), time.perf_counter() - started)
        return ToolOutcome(call, _text(output), None, time.perf_counter() - started)

    async def call_all(self, calls: Sequence[ToolCall]) -> list[ToolOutcome]:
        """Run the calls of one model turn concurrently, outcomes in call order."""
        return list(await asyncio.gather(*(self.call(c) for c in calls)))


def _text(output: Any) -> str:
    if isinstance(output, str):
        return output
    import json

    try:
        return json.dumps(output, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(output)


@contextlib.asynccontextmanager
async def open_toolbox(
    tools: Mapping[str, Tool], servers: Sequence[McpServerSpec] = (), base_dir: Path = Path(".")
) -> AsyncIterator[Toolbox]:
    """A toolbox of ``tools`` plus every tool of each MCP server, connected for the block."""
    box = Toolbox(tools)
    async with contextlib.AsyncExitStack() as stack:
        for server in servers:
            for tool in await stack.enter_async_context(open_mcp_tools(server, base_dir)):
                box.add(tool.tool_spec().name, tool)
        yield box
