"""Tools from MCP servers (Model Context Protocol), through the ``mcp`` package's client.

A server is named in config by the command that starts it (stdio) or by its streamable-HTTP
URL::

    tools:
      - {mcp: {command: python, args: [weather_server.py]}}
      - {mcp: {url: "http://127.0.0.1:8000/mcp"}}

:func:`open_mcp_tools` connects, lists the server's tools and returns them as
:class:`~fusionsdk.tools.base.Tool` objects whose calls go to the server; the connection lives as
long as the ``async with`` block (an agent node opens it for one run). Install with
``pip install 'fusionsdk[interop]'``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.providers.base import ToolSpec
from fusionsdk.tools.base import Tool

__all__ = ["McpServerSpec", "McpTool", "open_mcp_tools"]


class McpServerSpec(BaseModel):
    """How to reach one MCP server: a command to start (stdio) or a streamable-HTTP URL.

    Attributes:
        command: Executable to start; it speaks MCP on its stdin/stdout.
        args: Its arguments.
        env: Extra environment variables for it (values only from the config: no secrets
            are copied from fusionsdk's own environment beyond the MCP defaults).
        cwd: Its working directory (relative to the config file's folder).
        url: A streamable-HTTP endpoint instead of a command.
        prefix: Prepended to every tool name (to keep two servers' tools apart).
        timeout_s: Limit of one tool call.
    """

    model_config = ConfigDict(extra="forbid")

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    prefix: str = ""
    timeout_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either 'command' (stdio) or 'url' (streamable HTTP)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("'url' must be an http(s) URL")
        return self

    def describe(self) -> str:
        """The server for messages (never its environment)."""
        return self.url or " ".join([self.command or "", *self.args])


class McpTool(Tool):
    """One tool of a connected MCP server."""

    def __init__(self, client: Any, spec: ToolSpec, remote_name: str, timeout_s: float) -> None:
        super().__init__()
        self._client, self._spec, self._remote, self._timeout = client, spec, remote_name, timeout_s

    def tool_spec(self, name: str | None = None) -> ToolSpec:
        return self._spec if name is None else ToolSpec(name, self._spec.description, self._spec.parameters)

    async def run(self, **arguments: Any) -> Any:
        """Call the tool on the server; its text content, joined (structured content as JSON).

        Raises:
            FusionError: The server reported an error, or the call failed.
        """
        try:
            result = await self._client.call_tool(self._remote, arguments, read_timeout_seconds=self._timeout)
        except Exception as exc:  # the mcp client's own errors never escape raw
            raise FusionError(f"MCP tool '{self._remote}' failed: {type(exc).__name__}: {exc}") from None
        text = "\n".join(getattr(block, "text", "") for block in result.content if getattr(block, "text", ""))
        if result.is_error:
            raise FusionError(f"MCP tool '{self._remote}' reported an error: {text or 'no detail'}")
        if not text and result.structured_content is not None:
            import json

            return json.dumps(result.structured_content, ensure_ascii=False)
        return text


def _target(spec: McpServerSpec, base_dir: Path) -> Any:
    if spec.url is not None:
        return spec.url
    from mcp import StdioServerParameters

    cwd = str((base_dir / spec.cwd).resolve()) if spec.cwd else str(base_dir.resolve())
    assert spec.command is not None
    return StdioServerParameters(
        command=spec.command, args=list(spec.args), env=dict(spec.env) or None, cwd=cwd
    )


@contextlib.asynccontextmanager
async def open_mcp_tools(spec: McpServerSpec, base_dir: Path = Path(".")) -> AsyncIterator[list[McpTool]]:
    """Connect to the server, list its tools and yield them; disconnect (and stop a stdio
    server) on exit. Enter and exit in the same task (anyio's rule).

    Raises:
        ConfigError: The ``mcp`` package is missing.
        FusionError: The server could not be started or reached, or did not list its tools.
    """
    try:
        from mcp import Client
    except ImportError:
        raise ConfigError("MCP tools need the mcp package: pip install 'fusionsdk[interop]'") from None
    stack = contextlib.AsyncExitStack()
    try:
        client = await stack.enter_async_context(Client(_target(spec, base_dir)))
        listing = await client.list_tools()
    except Exception as exc:  # anything the transport or the server does wrong
        with contextlib.suppress(Exception):
            await stack.aclose()
        raise FusionError(f"MCP server {spec.describe()!r}: {type(exc).__name__}: {exc}") from None
    tools = [
        McpTool(
            client,
            ToolSpec(spec.prefix + t.name, t.description or "", dict(t.input_schema or {"type": "object"})),
            t.name,
            spec.timeout_s,
        )
        for t in listing.tools
    ]
    try:
        async with stack:
            yield tools
    except Exception as exc:  # anyio wraps the block's own error in an exception group
        inner = _unwrap(exc)
        if inner is exc:
            raise
        raise inner from None


def _unwrap(exc: BaseException) -> BaseException:
    """The one error inside (nested) single-member exception groups, else ``exc``."""
    while isinstance(getattr(exc, "exceptions", None), tuple) and len(exc.exceptions) == 1:  # type: ignore[attr-defined]
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc
