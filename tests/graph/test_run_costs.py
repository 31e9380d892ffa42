"""What keeps a graph run cheap without changing what it does: router edges on the event loop,
no read-back for a thread the run just drew, and the state's last-value keys kept by a channel
that accepts parallel writes and leaves unwritten keys absent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fusionsdk.graph import compile_config
from fusionsdk.graph.channels import LatestValue, state_schema
from fusionsdk.graph.run import RunEnd

FAKE = {"provider": "fake", "options": {"responses": ["18"]}}


def routed() -> dict[str, Any]:
    return {
        "version": 1,
        "models": {"m": FAKE},
        "nodes": {
            "route": {"kind": "router", "options": {"routes": [{"target": "ask", "max_length": 100}]}},
            "ask": {"kind": "agent", "model": "m"},
        },
        "edges": [["START", "route"], ["ask", "END"]],
    }


async def test_router_edges_run_on_the_event_loop_not_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    graph = compile_config(routed())
    loop = asyncio.get_running_loop()
    handed: list[Any] = []
    original = loop.run_in_executor

    def counting(executor: Any, func: Any, *args: Any) -> Any:
        handed.append(func)
        return original(executor, func, *args)

    monkeypatch.setattr(loop, "run_in_executor", counting)
    result = await graph.arun("How many eggs?")
    assert result.answer == "18" and [t["node"] for t in result.trace] == ["route", "ask"]
    assert handed == []


async def test_only_a_thread_named_by_the_caller_is_read_back_for_its_kept_flag() -> None:
    graph = compile_config(routed())
    await graph.arun("warm up")  # compiles the in-memory app
    app = graph._memory_app
    reads: list[Any] = []
    original = app.aget_state

    async def counting(config: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(config["configurable"]["thread_id"])
        return await original(config, *args, **kwargs)

    app.aget_state = counting
    await graph.arun("How many eggs?")
    assert reads == []  # a thread the run drew itself has kept nothing
    flagged = await graph.arun("Mail me at ann@example.com", thread_id="t1")
    assert flagged.sensitive and reads == ["t1"]
    later = await graph.arun("How many eggs?", thread_id="t1")
    assert later.sensitive and reads == ["t1", "t1"]  # still sticky: the flag was read back


def test_latest_value_keeps_the_last_write_of_a_step_and_nothing_without_one() -> None:
    channel = LatestValue(str)
    assert channel.update([]) is False and not channel.is_available()
    assert channel.update(["a", "b"]) is True and channel.get() == "b"
    assert channel.update([]) is False and channel.get() == "b"


def test_state_schema_gives_last_value_keys_the_channel_and_keeps_other_reducers() -> None:
    hints = state_schema().__annotations__
    assert isinstance(hints["answer"].__metadata__[-1], LatestValue)
    assert isinstance(hints["task"].__metadata__[-1], LatestValue)
    assert not isinstance(hints["trace"].__metadata__[-1], LatestValue)  # appended, as declared
    assert not isinstance(hints["privacy"].__metadata__[-1], LatestValue)  # sticky, as declared


async def test_unwritten_keys_stay_out_of_the_state_and_parallel_writes_merge() -> None:
    config = {
        "version": 1,
        "models": {"x": FAKE, "y": {"provider": "fake", "options": {"responses": ["19"]}}},
        "nodes": {"a": {"kind": "agent", "model": "x"}, "b": {"kind": "agent", "model": "y"}},
        "edges": [["START", "a"], ["START", "b"], ["a", "END"], ["b", "END"]],
    }
    graph = compile_config(config)
    ends: list[RunEnd] = []
    graph.on_run_end.append(ends.append)
    result = await graph.arun("What is 9 + 9?")  # both agents write the answer in one step
    assert result.answer in ("18", "19") and sorted(c["model"] for c in result.candidates) == ["x", "y"]
    assert "route" not in ends[0].state and "history" not in ends[0].state
