"""What a strategy spends on its own model calls (judges, aggregators, debaters), summed."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fusionsdk.fusion.base import FusionContext
    from fusionsdk.providers.model import Completion, ModelStreamChunk

__all__ = ["SpendTally"]


class SpendTally:
    """Sums token usage and USD over a strategy's model calls.

    Example:
        >>> tally = SpendTally()
        >>> tally.add({"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}, 0.001)
        >>> tally.tokens, tally.cost_usd
        (12, 0.001)
    """

    def __init__(self) -> None:
        self.usage: dict[str, int] = {}
        self.cost_usd = 0.0

    def add(self, usage: Mapping[str, int], cost_usd: float | None) -> None:
        """Add one call's (or one sub-strategy's) usage and cost."""
        for key, value in usage.items():
            self.usage[key] = self.usage.get(key, 0) + int(value)
        self.cost_usd += cost_usd or 0.0

    def add_completion(self, completion: Completion) -> None:
        """Add a model call's :class:`~fusionsdk.providers.model.Completion`."""
        self.add(completion.usage.as_dict(), completion.cost_usd)

    async def relay(self, chunks: AsyncIterable[ModelStreamChunk], context: FusionContext) -> str:
        """The text of a streamed model answer (what judges, aggregators and stronger models
        stream), emitted through ``context`` as it comes (``context.discard()`` when the answer
        restarts on a fallback model: the text so far is void), its usage and cost added here."""
        pieces: list[str] = []
        async for chunk in chunks:
            if chunk.completion is not None:
                self.add_completion(chunk.completion)
            elif chunk.discard:
                pieces.clear()
                context.discard()
            elif chunk.text:
                pieces.append(chunk.text)
                context.emit(chunk.text)
        return "".join(pieces)

    @property
    def tokens(self) -> int:
        """Total tokens so far."""
        return self.usage.get("total_tokens", 0)
