"""Chat completions against a model or a graph, whole or streamed.

A model gets the messages as they are, with the request's sampling parameters and, through the
adapter's own support, its ``tools`` and ``tool_choice`` (the calls the model asks for come back
as ``tool_calls``; nothing is run here) and its ``response_format`` (the reply is validated, asked
again when it does not validate, and returned as the validated JSON). A graph gets the
conversation as its task: a lone user message as it is, a longer one as a transcript; graphs
answer in text, so a request to a graph with ``tools`` or a JSON ``response_format`` is refused
(400). ``n`` runs the target ``n`` times concurrently. Graph runs keep no checkpoint (a server is
stateless); their streams carry the text of the nodes that end the graph, as they generate it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fusionsdk.config.graph import END
from fusionsdk.graph import Graph
from fusionsdk.providers.base import ToolCall, ToolCallDelta
from fusionsdk.providers.model import Completion, Model
from fusionsdk.providers.prompt import render_transcript
from fusionsdk.providers.tool_calls import new_call_id
from fusionsdk.serve.errors import ApiError
from fusionsdk.serve.schemas import ChatRequest, Choice, structured_text

__all__ = ["ChatOutcome", "StreamPiece", "run_chat", "stream_chat"]


@dataclass
class ChatOutcome:
    """What a finished chat request produced.

    Attributes:
        choices: Each choice's answer.
        prompt_tokens: Prompt tokens of every call made.
        completion_tokens: Completion tokens of every call made.
        cost_usd: USD spent; None when no call had a known price.
        calls: Each model call made (``model``, ``usage``, ``cost_usd``, ``latency_s``), graph
            runs' included, for per-model metrics.
    """

    choices: list[Choice] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def add_cost(self, cost: float | None) -> None:
        """Add one call's cost (an unknown price adds nothing)."""
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost


@dataclass(frozen=True)
class StreamPiece:
    """A streamed event: text or tool-call pieces for choice ``index``, its end (``finish``),
    or the outcome. ``tool_calls`` are OpenAI ``delta.tool_calls`` entries."""

    index: int = 0
    text: str = ""
    finish: str | None = None
    outcome: ChatOutcome | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()


def graph_task(messages: Sequence[dict[str, Any]]) -> str:
    """A graph's task from chat messages (a lone user message as it is)."""
    return render_transcript([m for m in messages if m["role"] != "system"] or list(messages))


def _choice(completion: Completion, structured: bool) -> Choice:
    if completion.tool_calls:  # some backends say "stop" when they call tools
        return Choice(completion.text, "tool_calls", completion.tool_calls)
    text = structured_text(completion.parsed) if structured else completion.text
    return Choice(text, completion.finish_reason)


def _add_completion(outcome: ChatOutcome, completion: Completion, structured: bool = False) -> None:
    outcome.calls.append(
        {
            "model": completion.model,
            "usage": completion.usage.as_dict(),
            "cost_usd": completion.cost_usd,
            "latency_s": completion.latency_s,
        }
    )
    outcome.choices.append(_choice(completion, structured))
    outcome.prompt_tokens += completion.usage.prompt_tokens
    outcome.completion_tokens += completion.usage.completion_tokens
    outcome.add_cost(completion.cost_usd)


def _add_run(
    outcome: ChatOutcome, answer: str, usage: dict[str, int], cost: float, calls: list[dict[str, Any]]
) -> None:
    outcome.calls.extend(calls)
    outcome.choices.append(Choice(answer, "stop"))
    outcome.prompt_tokens += int(usage.get("prompt_tokens", 0))
    outcome.completion_tokens += int(usage.get("completion_tokens", 0))
    outcome.add_cost(cost)


async def run_chat(
    target: Model | Graph,
    request: ChatRequest,
    messages: list[dict[str, Any]],
    metadata: dict[str, Any],
    trace_id: str,
) -> ChatOutcome:
    """Complete ``request`` on ``target`` (``n`` times, concurrently); graph runs get the thread
    id ``trace_id`` (``trace_id-<i>`` with ``n`` > 1)."""
    outcome = ChatOutcome()
    if isinstance(target, Model):
        options = request.model_options()
        completions = await asyncio.gather(
            *(target.acomplete(messages, metadata=dict(metadata), **options) for _ in range(request.n))
        )
        for completion in completions:
            _add_completion(outcome, completion, "response_format" in options)
        return outcome
    _refuse_model_only(request)
    task = graph_task(messages)
    runs = await asyncio.gather(
        *(
            target.arun(
                task, metadata=dict(metadata), checkpoint=False, thread_id=_thread(trace_id, i, request.n)
            )
            for i in range(request.n)
        )
    )
    for run in runs:
        _add_run(outcome, run.answer, run.usage, run.cost_usd, run.candidates)
    return outcome


def _refuse_model_only(request: ChatRequest) -> None:
    if request.asks_for_tools_or_format:
        param = "tools" if request.tools else "response_format"
        raise ApiError(
            400,
            f"{request.model} is a graph and answers in text: {param} is for models",
            param=param,
            code="unsupported_for_graphs",
        )


class _ToolDeltas:
    """Streamed tool-call pieces in OpenAI's ``delta.tool_calls`` form: the first piece of a
    call carries its ``id``, ``type`` and name, later ones only argument text."""

    def __init__(self) -> None:
        self.started: set[int] = set()

    def convert(self, deltas: tuple[ToolCallDelta, ...]) -> tuple[dict[str, Any], ...]:
        out = []
        for delta in deltas:
            entry: dict[str, Any] = {"index": delta.index}
            function: dict[str, Any] = {"arguments": delta.arguments}
            if delta.index not in self.started:
                self.started.add(delta.index)
                entry["id"], entry["type"] = delta.id or new_call_id(), "function"
                function["name"] = delta.name or ""
            elif delta.name:
                function["name"] = delta.name
            entry["function"] = function
            out.append(entry)
        return tuple(out)

    def whole(self, calls: tuple[ToolCall, ...]) -> tuple[dict[str, Any], ...]:
        """Calls found only in the finished reply (parsed from its text), each in one piece."""
        return tuple({"index": i, **call.to_openai()} for i, call in enumerate(calls))


async def _stream_model(
    model: Model,
    index: int,
    messages: list[dict[str, Any]],
    metadata: dict[str, Any],
    options: dict[str, Any],
) -> AsyncIterator[StreamPiece]:
    deltas = _ToolDeltas()
    async for chunk in model.astream(messages, metadata=dict(metadata), **options):
        if chunk.completion is not None:
            completion = chunk.completion
            if completion.tool_calls and not deltas.started:
                yield StreamPiece(index, tool_calls=deltas.whole(completion.tool_calls))
            done = ChatOutcome()
            _add_completion(done, completion, "response_format" in options)
            yield StreamPiece(index, finish=done.choices[0].finish_reason or "stop", outcome=done)
            continue
        if chunk.text:
            yield StreamPiece(index, chunk.text)
        if chunk.tool_calls:
            yield StreamPiece(index, tool_calls=deltas.convert(chunk.tool_calls))


def _final_nodes(graph: Graph) -> set[str]:
    return {source for source, target in graph.config.edges if target == END}


def _thread(trace_id: str, index: int, n: int) -> str:
    return trace_id if n == 1 else f"{trace_id}-{index}"


async def _stream_graph(
    graph: Graph, index: int, task: str, metadata: dict[str, Any], thread_id: str
) -> AsyncIterator[StreamPiece]:
    finals = _final_nodes(graph)
    sent: list[str] = []
    async for event in graph.astream(task, metadata=dict(metadata), checkpoint=False, thread_id=thread_id):
        if event.type == "token" and event.node in finals and event.text:
            sent.append(event.text)
            yield StreamPiece(index, event.text)
        elif event.result is not None:
            run = event.result
            streamed = "".join(sent)
            if run.answer.startswith(streamed) and len(run.answer) > len(streamed):
                yield StreamPiece(index, run.answer[len(streamed) :])
            done = ChatOutcome()
            _add_run(done, run.answer, run.usage, run.cost_usd, run.candidates)
            yield StreamPiece(index, finish="stop", outcome=done)


async def stream_chat(
    target: Model | Graph,
    request: ChatRequest,
    messages: list[dict[str, Any]],
    metadata: dict[str, Any],
    trace_id: str,
) -> AsyncGenerator[StreamPiece, None]:
    """Stream ``request`` on ``target``: text pieces, each choice's end, then the total outcome.

    With ``n`` > 1 the choices stream concurrently, interleaved. Closing the iterator cancels
    every upstream call still running.
    """
    if isinstance(target, Model):
        options = request.model_options()
        streams = [_stream_model(target, i, messages, metadata, options) for i in range(request.n)]
    else:
        _refuse_model_only(request)
        task = graph_task(messages)
        streams = [
            _stream_graph(target, i, task, metadata, _thread(trace_id, i, request.n))
            for i in range(request.n)
        ]
    total = ChatOutcome()
    async for piece in _merge(streams):
        if piece.outcome is not None:
            total.choices.extend(piece.outcome.choices)
            total.prompt_tokens += piece.outcome.prompt_tokens
            total.completion_tokens += piece.outcome.completion_tokens
            total.add_cost(piece.outcome.cost_usd)
            total.calls.extend(piece.outcome.calls)
            yield StreamPiece(piece.index, finish=piece.finish)
        else:
            yield piece
    yield StreamPiece(outcome=total)


async def _merge(streams: list[AsyncIterator[StreamPiece]]) -> AsyncIterator[StreamPiece]:
    """Interleave ``streams``; one stream is passed through without any task."""
    if len(streams) == 1:
        async for piece in streams[0]:
            yield piece
        return
    queue: asyncio.Queue[StreamPiece | BaseException | None] = asyncio.Queue()

    async def pump(stream: AsyncIterator[StreamPiece]) -> None:
        try:
            async for piece in stream:
                await queue.put(piece)
            await queue.put(None)
        except Exception as err:  # handed to the consumer, which raises it
            await queue.put(err)

    tasks = [asyncio.create_task(pump(s)) for s in streams]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
