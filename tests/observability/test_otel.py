"""OpenTelemetry spans (GenAI semantic conventions) with the SDK's in-memory exporter: the span
tree of a panel -> fuse run, decisions as events, tool spans, streaming, opt-in content, and
no secrets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fusionsdk.graph import compile_config
from fusionsdk.providers import telemetry
from fusionsdk.testing import fake_model


class _Switchable(SimpleSpanProcessor):
    """Exports only while a test of this module runs (the global provider outlives them)."""

    active = False

    def on_end(self, span: ReadableSpan) -> None:
        if _Switchable.active:
            super().on_end(span)


_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(_Switchable(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    _Switchable.active = True
    try:
        yield _EXPORTER
    finally:
        _Switchable.active = False
        _EXPORTER.clear()


def fake(*responses: Any) -> dict[str, Any]:
    return {"provider": "fake", "model": "fake-llm", "options": {"responses": list(responses)}}


PANEL_FUSE = {
    "version": 1,
    "models": {"a": fake("18"), "b": fake("18"), "c": fake("17")},
    "nodes": {
        "panel": {"kind": "panel", "models": ["a", "b", "c"], "max_tokens": 32, "temperature": 0.2},
        "fuse": {"kind": "fuse", "strategy": "majority_vote", "options": {"extract": "number"}},
    },
    "edges": [["START", "panel"], ["panel", "fuse"], ["fuse", "END"]],
}


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


async def test_panel_fuse_span_tree(spans: InMemorySpanExporter) -> None:
    result = await compile_config(PANEL_FUSE).arun("How many?")
    found = by_name(spans)
    (run,) = found["invoke_agent graph"]
    (panel,) = found["panel panel"]
    (fuse,) = found["fuse fuse"]
    chats = found["chat fake-llm"]
    assert run.parent is None
    assert panel.parent.span_id == run.context.span_id and fuse.parent.span_id == run.context.span_id
    assert len(chats) == 3 and {c.parent.span_id for c in chats} == {panel.context.span_id}
    assert {s.context.trace_id for s in spans.get_finished_spans()} == {run.context.trace_id}

    chat = chats[0].attributes
    assert chat["gen_ai.operation.name"] == "chat" and chat["gen_ai.provider.name"] == "fake"
    assert chat["gen_ai.request.model"] == "fake-llm" and chat["gen_ai.request.max_tokens"] == 32
    assert chat["gen_ai.request.temperature"] == 0.2
    assert chat["gen_ai.usage.input_tokens"] > 0 and chat["gen_ai.usage.output_tokens"] > 0
    assert chat["gen_ai.response.finish_reasons"] == ("stop",)
    assert {c.attributes["fusionsdk.model"] for c in chats} == {"a", "b", "c"}
    assert "gen_ai.input.messages" not in chat and "gen_ai.output.messages" not in chat  # not opted in

    assert run.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run.attributes["gen_ai.conversation.id"] == result.thread_id
    assert run.attributes["gen_ai.usage.input_tokens"] == result.usage["prompt_tokens"]
    (decision,) = [e for e in fuse.events if e.name == "fusionsdk.fuse"]
    assert decision.attributes["strategy"] == "majority_vote" and decision.attributes["winner"] == "a"
    assert "reason" not in decision.attributes  # it quotes the answer: content, not opted in
    assert [e.name for e in panel.events] == ["fusionsdk.panel"]


async def test_routing_decision_and_agent_span(spans: InMemorySpanExporter) -> None:
    cfg = {
        "version": 1,
        "models": {"m": fake("ok")},
        "nodes": {
            "route": {"kind": "router", "strategy": "rules", "options": {"routes": [], "default": "solo"}},
            "solo": {"kind": "agent", "model": "m"},
        },
        "edges": [["START", "route"], ["solo", "END"]],
    }
    events = [e async for e in compile_config(cfg).astream("hi")]
    assert events[-1].result is not None and events[-1].result.answer == "ok"
    found = by_name(spans)
    (route,) = found["router route"]
    assert [e.name for e in route.events] == ["fusionsdk.route"] and route.events[0].attributes[
        "target"
    ] == "solo"
    (agent,) = found["invoke_agent solo"]
    assert agent.attributes["gen_ai.agent.name"] == "solo"
    (chat,) = found["chat fake-llm"]
    assert chat.parent.span_id == agent.context.span_id and chat.attributes["fusionsdk.stream"] is True
    (run,) = found["invoke_agent graph"]
    assert agent.parent.span_id == run.context.span_id


async def test_content_only_when_opted_in_and_never_secrets(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fusionsdk.providers.secrets import api_key

    secret = "sk-proj-" + "A" * 40
    monkeypatch.setenv("OTEL_TEST_KEY", secret)
    model = fake_model("m", ["the answer"], base_url="http://127.0.0.1:9/v1", api_key_env="OTEL_TEST_KEY")
    assert api_key(model.spec) == secret  # what a provider does: the key is now known to redact
    await model.acomplete("plain question")
    (span,) = spans.get_finished_spans()
    assert "gen_ai.input.messages" not in span.attributes
    assert span.attributes["server.address"] == "127.0.0.1" and span.attributes["server.port"] == 9
    spans.clear()
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    await model.acomplete(f"my key is {secret}")
    (span,) = spans.get_finished_spans()
    assert "my key is" in span.attributes["gen_ai.input.messages"]
    assert secret not in span.attributes["gen_ai.input.messages"]
    assert "the answer" in span.attributes["gen_ai.output.messages"]


async def test_failed_calls_set_error_type(spans: InMemorySpanExporter) -> None:
    from fusionsdk.errors import ProviderUnavailable

    model = fake_model("m", [ProviderUnavailable("down")], retry={"attempts": 1})
    with pytest.raises(ProviderUnavailable):
        await model.acomplete("q")
    (span,) = spans.get_finished_spans()
    assert span.attributes["error.type"] == "ProviderUnavailable"
    assert span.status.status_code == trace.StatusCode.ERROR


def test_no_op_without_a_configured_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.NoOpTracerProvider())
    assert not telemetry.enabled()
    with telemetry.span("x", lambda: pytest.fail("attributes computed while tracing is off")) as span:
        assert span is None


async def test_tool_calls_are_execute_tool_spans(spans: InMemorySpanExporter) -> None:
    from fusionsdk.registry import default_registry

    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    default_registry().register("tools", "add_otel", add, replace=True)
    try:
        turn = {"tool_calls": [{"name": "add_otel", "arguments": {"a": 1, "b": 2}}]}
        cfg = {
            "version": 1,
            "models": {"m": fake(turn, "3")},
            "nodes": {"agent": {"kind": "agent", "model": "m", "tools": ["add_otel"]}},
            "edges": [["START", "agent"], ["agent", "END"]],
        }
        await compile_config(cfg).arun("1+2?")
    finally:
        default_registry().unregister("tools", "add_otel")
    found = by_name(spans)
    (tool,) = found["execute_tool add_otel"]
    (agent,) = found["invoke_agent agent"]
    assert tool.parent.span_id == agent.context.span_id
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert (
        tool.attributes["gen_ai.tool.call.id"] == "call_0"
        and "gen_ai.tool.call.arguments" not in tool.attributes
    )
    assert len(found["chat fake-llm"]) == 2
    assert found["chat fake-llm"][0].attributes["fusionsdk.response.tool_calls"] == ("add_otel",)


async def test_a_stream_that_fails_over_midway_ends_one_span_per_model(spans: InMemorySpanExporter) -> None:
    """The failed deployment's span ends with its error, then the fallback's span with the answer;
    the caller gets a ``discard`` chunk between the two."""
    from tests.servers.faults import Disconnect, FaultServer

    server = FaultServer()
    server.start()
    try:
        spec = {"provider": "openai_compatible", "base_url": server.base_url, "retry": {"attempts": 1}}
        from fusionsdk.providers.hub import ModelHub

        hub = ModelHub.from_dict({"version": 1, "models": {"a": {**spec, "fallbacks": ["b"]}, "b": spec}})
        server.script("a", [Disconnect(2)])
        chunks = [c async for c in hub["a"].astream("hi")]
    finally:
        server.stop()
    assert sum(c.discard for c in chunks) == 1 and chunks[-1].completion is not None
    failed, answered = spans.get_finished_spans()
    assert failed.attributes["error.type"] == "ProviderUnavailable"
    assert failed.status.status_code == trace.StatusCode.ERROR
    assert answered.status.status_code != trace.StatusCode.ERROR
    assert answered.attributes["gen_ai.usage.output_tokens"] > 0
