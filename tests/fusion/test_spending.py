"""SpendTally: summing a strategy's own calls, and relaying a streamed answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fusionsdk.fusion.base import FusionContext
from fusionsdk.fusion.spending import SpendTally
from fusionsdk.providers.base import Usage
from fusionsdk.providers.model import Completion, ModelStreamChunk


def _done(text: str) -> Completion:
    return Completion(text, "stop", Usage(5, 2), 0.01, 0.1, "m", "fake:m", "local")


async def _stream(*chunks: ModelStreamChunk) -> AsyncIterator[ModelStreamChunk]:
    for chunk in chunks:
        yield chunk


async def test_relay_emits_text_restarts_on_discard_and_tallies_the_completion() -> None:
    events: list[Any] = []
    context = FusionContext(emit=events.append, discard=lambda: events.append("<discard>"))
    tally = SpendTally()
    chunks = _stream(
        ModelStreamChunk("Par"),
        ModelStreamChunk(discard=True, failed="m"),  # the answer restarts on a fallback model
        ModelStreamChunk("Par"),
        ModelStreamChunk("is"),
        ModelStreamChunk("", _done("Paris")),
    )
    assert await tally.relay(chunks, context) == "Paris"
    assert events == ["Par", "<discard>", "Par", "is"]
    assert tally.usage == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    assert tally.cost_usd == 0.01


async def test_relay_of_an_empty_stream_is_empty_and_spends_nothing() -> None:
    tally = SpendTally()
    assert await tally.relay(_stream(), FusionContext()) == ""
    assert tally.usage == {} and tally.cost_usd == 0.0
