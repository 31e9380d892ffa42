"""``rank``: a judge model compares answers two at a time; Bradley-Terry ratings pick the best.

This is the pairwise-ranking idea of LLM-Blender's PairRanker with a prompted judge instead of a
trained ranker. Every pair is judged in both orders, which cancels the judge's preference for
the first (or second) position; a reply that names neither answer counts as a tie. Identical
answers (after normalisation) are ranked once, and at most ``max_pairs`` pairs are judged: the
answers with the most votes are compared, all pairs among them.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from fusionsdk.answers import Extract, normalize_answer
from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.fusion.model_lookup import require_model
from fusionsdk.fusion.spending import SpendTally
from fusionsdk.plugin import PluginOptions
from fusionsdk.ratings import Judgment, Winner, bradley_terry_ratings

if TYPE_CHECKING:
    from fusionsdk.providers.model import Model

__all__ = ["PairwiseRank", "parse_preference"]

_PROMPT = """You are comparing two answers to the same task. {rubric}

Task:
{task}

Answer 1:
{first}

Answer 2:
{second}

Which answer is better? Reply with 1 or 2 only, or "tie" if they are equally good."""

_PREFERENCE = re.compile(r"\b(?:(1|2)|(tie|equal|equally|same|both))\b", re.IGNORECASE)


def parse_preference(reply: str) -> Winner | None:
    """``"a"`` when the judge prefers answer 1, ``"b"`` for 2, ``"tie"`` for a tie; None when
    the reply says neither (the first statement wins).

    Example:
        >>> parse_preference("Answer 2 is better.")
        'b'
    """
    match = _PREFERENCE.search(reply)
    if match is None:
        return None
    if match.group(2):
        return "tie"
    return "a" if match.group(1) == "1" else "b"


class PairwiseRank(Fuser["PairwiseRank.Options"]):
    """Rank the distinct answers by pairwise judgments of the ``judge`` model (each pair in both
    orders) fitted with Bradley-Terry; the best-rated answer wins, ties going to the answer with
    more votes. Judge usage and cost are in the result; scores are each ranked model's rating.

    Example:
        ``fuse: {kind: fuse, strategy: rank, options: {judge: gemma, max_pairs: 6}}``
    """

    deterministic = False  # the judge is a model

    class Options(PluginOptions):
        """Options of rank.

        Attributes:
            judge: The model that compares answers (a name from the config's models).
            max_pairs: Most pairs judged (each twice): all pairs among the ``k`` most voted
                answers, ``k`` the largest with ``k * (k - 1) / 2 <= max_pairs``.
            extract: How answers are compared for identity: ``text``, ``number``, ``choice``
                or ``json_field``.
            rubric: What makes an answer better.
            max_tokens: Output limit of each judge call.
        """

        judge: str = Field(min_length=1)
        max_pairs: int = Field(10, ge=1, le=1000)
        extract: Extract = "text"
        rubric: str = "The better answer is correct, complete and directly answers the task."
        max_tokens: int = Field(8, gt=0)

    async def _compare(
        self, judge: Model, task: str, first: str, second: str, tally: SpendTally, metadata: dict[str, Any]
    ) -> Winner | None:
        opts: PairwiseRank.Options = self.options
        prompt = _PROMPT.format(rubric=opts.rubric, task=task, first=first, second=second)
        reply = await judge.acomplete(prompt, metadata=metadata, max_tokens=opts.max_tokens, temperature=0)
        tally.add_completion(reply)
        return parse_preference(reply.text)

    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        opts: PairwiseRank.Options = self.options
        if not candidates:
            raise FusionError("rank needs at least one candidate")
        judge = require_model(context, opts.judge, "rank: judge")
        metadata = dict(context.metadata) if context is not None else {}
        keys = [normalize_answer(c.text, opts.extract) for c in candidates]
        votes: dict[str, float] = {}
        for key, candidate in zip(keys, candidates, strict=True):
            votes[key] = votes.get(key, 0.0) + candidate.weight
        first = {key: candidates[keys.index(key)] for key in votes}
        order = list(votes)
        largest = max(2, math.floor((1 + math.sqrt(1 + 8 * opts.max_pairs)) / 2))
        ranked = sorted(order, key=lambda k: (-votes[k], order.index(k)))[:largest]
        pairs = [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1 :]]
        tally = SpendTally()
        replies = await asyncio.gather(
            *(
                self._compare(judge, task, first[x].text, first[y].text, tally, metadata)
                for a, b in pairs
                for x, y in ((a, b), (b, a))
            )
        )
        judgments: list[Judgment] = []
        unparsed = 0
        for (a, b), forward, backward in zip(pairs, replies[::2], replies[1::2], strict=True):
            unparsed += (forward is None) + (backward is None)
            judgments.append((str(order.index(a)), str(order.index(b)), forward or "tie"))
            judgments.append((str(order.index(b)), str(order.index(a)), backward or "tie"))
        ratings = bradley_terry_ratings(judgments) if judgments else {}
        rating = {key: ratings.get(str(order.index(key)), 1000.0) for key in ranked}
        best = max(ranked, key=lambda k: (round(rating[k], 9), votes[k], -order.index(k)))
        winner = first[best]
        skipped = len(order) - len(ranked)
        return FusionResult(
            text=winner.text,
            winner=winner.model,
            scores={c.model: rating[k] for c, k in zip(candidates, keys, strict=True) if k in rating},
            reason=f"judge {opts.judge} compared {len(pairs)} pairs of {len(ranked)} distinct answers "
            f"in both orders ({unparsed} unparsable replies counted as ties"
            + (f"; {skipped} least-voted answers not ranked" if skipped else "")
            + f"): answer '{best[:60]}' rated {rating[best]:.0f}",
            usage=tally.usage,
            cost_usd=tally.cost_usd,
        )
