"""``weighted_confidence``: a vote where each answer counts by its model's weight and confidence."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.plugin import PluginOptions
from pydantic import Field

from fusionsdk_plugin_example.answers import answer_key, check_weights

__all__ = ["WeightedConfidence"]

NAME = "weighted_confidence"


class WeightedConfidence(Fuser):
    """Confidence-weighted vote: each candidate backs its answer with weight × confidence.

    A candidate's confidence is the geometric mean of its tokens' probabilities,
    ``exp(mean logprob)``, when the backend returned log-probabilities, and
    ``default_confidence`` otherwise. Answers are compared with whitespace, trailing punctuation
    and (by default) case ignored. The answer with the most support wins; a tie goes to the
    answer whose strongest supporter scored higher, then to the answer seen first. The text
    returned is the one of the answer's strongest supporter.

    Example:
        In a config::

            fuse: {kind: fuse, strategy: weighted_confidence, options: {min_support: 0.5}}
    """

    class Options(PluginOptions):
        """Options of weighted_confidence.

        Attributes:
            default_confidence: Confidence of a candidate without log-probabilities (0..1].
            min_support: Share of the total support the winner needs; below it the strategy
                raises instead of guessing (0 accepts any winner).
            case_sensitive: Whether ``Paris`` and ``paris`` are different answers.
        """

        default_confidence: float = Field(0.5, gt=0, le=1)
        min_support: float = Field(0.0, ge=0, le=1)
        case_sensitive: bool = False

    @property
    def settings(self) -> WeightedConfidence.Options:
        """The validated options, typed."""
        return self.options  # type: ignore[return-value]

    def confidence(self, candidate: Candidate) -> float:
        """``exp(mean logprob)`` of the candidate's tokens, or ``default_confidence``.

        Raises:
            FusionError: A log-probability is not a number.
        """
        if not candidate.logprobs:
            return self.settings.default_confidence
        # Backends round; a log-probability a hair above 0 means probability 1.
        logprobs = [min(token.logprob, 0.0) for token in candidate.logprobs]
        if any(math.isnan(lp) for lp in logprobs):
            raise FusionError(f"{NAME}: candidate '{candidate.model}' has a log-probability that is NaN")
        return math.exp(sum(logprobs) / len(logprobs))

    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        """Pick the answer with the most confidence-weighted support.

        Raises:
            FusionError: No candidates, an invalid weight or log-probability, no support at all,
                or a winner under ``min_support``.
        """
        if not candidates:
            raise FusionError(f"{NAME} needs at least one candidate")
        check_weights(candidates, NAME)
        support: dict[str, float] = {}
        strongest: dict[str, tuple[float, Candidate]] = {}
        scores: dict[str, float] = {}
        for candidate in candidates:
            key = answer_key(candidate.text, case_sensitive=self.settings.case_sensitive)
            score = candidate.weight * self.confidence(candidate)
            scores[candidate.model] = score
            support[key] = support.get(key, 0.0) + score
            if key not in strongest or score > strongest[key][0]:
                strongest[key] = (score, candidate)
        total = sum(support.values())
        if total <= 0:
            raise FusionError(f"{NAME}: every candidate has zero weight or confidence, so none can win")
        first_seen = {key: index for index, key in enumerate(support)}
        best = max(support, key=lambda k: (support[k], strongest[k][0], -first_seen[k]))
        share = support[best] / total
        if share < self.settings.min_support:
            raise FusionError(
                f"{NAME}: the best answer has {share:.0%} of the support, "
                f"under min_support {self.settings.min_support:.0%}"
            )
        winner = strongest[best][1]
        return FusionResult(
            text=winner.text,
            winner=winner.model,
            scores=scores,
            reason=f"{share:.0%} of the confidence-weighted support among {len(support)} distinct answers",
        )
