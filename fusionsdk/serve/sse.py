"""Server-sent events in OpenAI's chunk format, ending with ``data: [DONE]``.

The first event of each choice carries ``{"role": "assistant"}``; each text piece one
``delta.content``; each tool-call piece one ``delta.tool_calls`` (the first piece of a call with
its ``id``, ``type`` and name, later ones with argument text); each choice's end its
``finish_reason`` (``tool_calls`` when the model called tools); with ``stream_options.include_usage``
a last chunk with empty ``choices`` carries the usage (and cost). A failure mid-stream is sent as
one ``{"error": {...}}`` event before ``[DONE]`` (a stream past ``serve.request_timeout_s``
too, as a ``timeout`` error). When the client goes away, the upstream calls
are cancelled and the slot, usage and metrics are still settled.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import anyio

from fusionsdk.serve.auth import Principal
from fusionsdk.serve.chat import ChatOutcome, StreamPiece
from fusionsdk.serve.errors import api_error_from
from fusionsdk.serve.schemas import ChatRequest, chat_chunk, usage_dict
from fusionsdk.serve.server import Server

__all__ = ["sse_events"]


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def sse_events(
    server: Server,
    principal: Principal,
    body: ChatRequest,
    first: StreamPiece,
    stream: AsyncGenerator[StreamPiece, None],
    trace_id: str,
    started: float,
) -> AsyncIterator[str]:
    """The event stream of one chat request (``first`` already received from ``stream``)."""
    completion_id, created = f"chatcmpl-{trace_id}", int(time.time())
    deadline = started + server.spec.request_timeout_s
    outcome: ChatOutcome | None = None
    status = 200

    def chunk(**kwargs: Any) -> str:
        return _event(chat_chunk(completion_id, body.model, created, **kwargs))

    try:
        for index in range(body.n):
            yield chunk(index=index, delta={"role": "assistant", "content": ""})
        piece: StreamPiece | None = first
        while piece is not None:
            if piece.outcome is not None:
                outcome = piece.outcome
            elif piece.finish is not None:
                yield chunk(index=piece.index, finish_reason=piece.finish)
            elif piece.text:
                yield chunk(index=piece.index, delta={"content": piece.text})
            elif piece.tool_calls:
                yield chunk(index=piece.index, delta={"tool_calls": list(piece.tool_calls)})
            left = deadline - time.perf_counter()  # the request's time limit covers the stream
            piece = await asyncio.wait_for(anext(stream, None), max(left, 0.001))
        if outcome is not None and body.stream_options is not None and body.stream_options.include_usage:
            usage = usage_dict(outcome.prompt_tokens, outcome.completion_tokens, outcome.cost_usd)
            yield chunk(usage=usage)
    except Exception as err:  # headers are gone: report in-band, then end cleanly
        api = api_error_from(err)
        status = api.status
        yield _event(api.body())
    finally:
        with anyio.CancelScope(shield=True):  # settle even when the client went away
            await stream.aclose()
            server.gate.release()
            if outcome is not None:
                tokens = outcome.prompt_tokens + outcome.completion_tokens
                await server.account(principal, tokens, outcome.cost_usd)
            await server.state.flush()
            server.metrics.observe_calls(outcome.calls if outcome else ())
            prompt = outcome.prompt_tokens if outcome else 0
            completion = outcome.completion_tokens if outcome else 0
            server.metrics.observe(
                body.model,
                status if outcome or status != 200 else 499,
                time.perf_counter() - started,
                prompt,
                completion,
                outcome.cost_usd if outcome else None,
            )
    yield "data: [DONE]\n\n"
