"""An agent node that calls tools in a loop: a stdio MCP server's tool and a Python tool in one
run, against the fake provider scripted to emit tool calls; the calls land in the trace."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from fusionsdk.errors import GraphError
from fusionsdk.graph import compile_config
from fusionsdk.registry import default_registry

pytest.importorskip("mcp")

SERVER = textwrap.dedent(
    '''
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("weather")


    @server.tool()
    def forecast(city: str) -> str:
        """Tomorrow's weather in a city."""
        return f"Sunny in {city}, 21 C"


    @server.tool()
    def broken() -> str:
        """Always fails."""
        raise ToolError("sensor offline")


    server.run()
    '''
)


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture
def server_script(tmp_path: Path) -> Path:
    path = tmp_path / "weather_server.py"
    path.write_text(SERVER)
    return path


@pytest.fixture
def add_tool() -> Any:
    default_registry().register("tools", "add", add, replace=True)
    try:
        yield
    finally:
        default_registry().unregister("tools", "add")


def agent_config(script: list[Any], server: Path, **node: Any) -> dict[str, Any]:
    mcp = {"mcp": {"command": sys.executable, "args": [server.name], "cwd": str(server.parent)}}
    return {
        "version": 1,
        "models": {"m": {"provider": "fake", "options": {"responses": script}}},
        "nodes": {"agent": {"kind": "agent", "model": "m", "tools": ["add", mcp], **node}},
        "edges": [["START", "agent"], ["agent", "END"]],
    }


@pytest.mark.usefixtures("add_tool")
async def test_agent_calls_an_mcp_tool_and_a_python_tool_in_one_run(server_script: Path) -> None:
    script = [
        {
            "tool_calls": [
                {"name": "forecast", "arguments": {"city": "Paris"}},
                {"name": "add", "arguments": {"a": 2, "b": 3}},
            ]
        },
        {"tool_calls": [{"name": "add", "arguments": {"a": 5, "b": 1}}]},
        "Sunny in Paris; 2 + 3 + 1 = 6.",
    ]
    graph = compile_config(agent_config(script, server_script))
    result = await graph.arun("Weather in Paris, and 2+3+1?")
    assert result.answer == "Sunny in Paris; 2 + 3 + 1 = 6."
    calls = result.trace[0]["tool_calls"]
    assert [c["tool"] for c in calls] == ["forecast", "add", "add"]
    assert all(c["error"] is None for c in calls)
    provider = graph.hub["m"].provider
    offered = {t.name for t in provider.requests[0].tools}
    assert offered == {"add", "forecast", "broken"}
    second = provider.requests[1].messages
    replies = [m for m in second if m["role"] == "tool"]
    assert "Sunny in Paris, 21 C" in replies[0]["content"] and "untrusted-data" in replies[0]["content"]
    assert "5" in replies[1]["content"]
    assert second[-3]["tool_calls"][0]["function"]["name"] == "forecast"
    assert len(result.candidates) == 1  # tool-calling turns are not candidate answers
    assert result.usage["total_tokens"] > result.candidates[0]["usage"]["total_tokens"]


@pytest.mark.usefixtures("add_tool")
async def test_tool_errors_go_back_to_the_model(server_script: Path) -> None:
    script = [
        {"tool_calls": [{"name": "broken"}, {"name": "add", "arguments": {"a": "x"}}, {"name": "nope"}]},
        "I could not.",
    ]
    graph = compile_config(agent_config(script, server_script))
    result = await graph.arun("try")
    errors = [c["error"] for c in result.trace[0]["tool_calls"]]
    assert "sensor offline" in errors[0] and errors[1] and "no tool named 'nope'" in errors[2]
    assert result.answer == "I could not."


@pytest.mark.usefixtures("add_tool")
async def test_step_limit_stops_an_agent_that_keeps_calling(server_script: Path) -> None:
    script = [{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}]}]
    graph = compile_config(agent_config(script, server_script, max_steps=3))
    with pytest.raises(GraphError, match="max_steps=3"):
        await graph.arun("loop")
    assert len(graph.hub["m"].provider.requests) == 3


def test_bad_tools_entries_fail_at_compile_time(server_script: Path) -> None:
    from fusionsdk.errors import ConfigError

    cfg = agent_config(["x"], server_script)
    cfg["nodes"]["agent"]["tools"] = [{"mcp": {"command": "a", "url": "http://x"}}]
    with pytest.raises(ConfigError, match="either 'command'"):
        compile_config(cfg)
    cfg["nodes"]["agent"]["tools"] = ["no-such-tool"]
    with pytest.raises(Exception, match="no-such-tool"):
        compile_config(cfg)
