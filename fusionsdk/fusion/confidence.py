"""``confidence``: a vote in which each answer weighs what its model was sure of it.

A candidate's confidence comes from its token log-probabilities when the backend gave them
(the probability of the mean token, ``exp(mean logprob)``), from a confidence it stated otherwise
(``Confidence: 80%``, ``confidence: 0.8``, a JSON ``"confidence"`` field, ``I am 90% sure``),
and is ``default_confidence`` when it has neither. The stated confidence is taken out of the
answer before answers are compared, so ``Paris (confidence: 90%)`` and ``Paris. Confidence: 0.6``
vote together.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from fusionsdk.answers import AnswerType, Extract, build_answer_type
from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.plugin import PluginOptions

if TYPE_CHECKING:
    from fusionsdk.providers.base import TokenLogprob

__all__ = [
    "ConfidenceVote",
    "candidate_confidence",
    "confidence_vote",
    "logprob_confidence",
    "strip_confidence",
    "verbalized_confidence",
]

Source = Literal["logprobs", "verbalized", "default"]

_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
_SCALE = r"\s*(%|/\s*100\b|/\s*10\b)?"
# "Confidence: 80%", "confidence level is 0.8", "(confidence = 9/10)", "**Confidence:** 85 %".
_STATED = re.compile(
    r"[(\[]?\s*\**\s*\bconfidence(?:\s+(?:level|score))?\s*\**\s*(?:is|of|[:=])?\s*\**\s*"
    + _NUMBER
    + _SCALE
    + r"\s*\**\s*[)\]]?",
    re.IGNORECASE,
)
# "I am 90% confident", "I'm 75 % sure".
_FELT = re.compile(_NUMBER + r"\s*(%)\s+(?:confident|sure|certain)\b", re.IGNORECASE)
# The JSON field, also in almost-JSON: "confidence": 0.8 / "80%" / 80.
_FIELD = re.compile(r'"confidence"\s*:\s*"?\s*' + _NUMBER + _SCALE, re.IGNORECASE)


def _as_probability(number: str, scale: str | None) -> float | None:
    value = float(number)
    scale = (scale or "").replace(" ", "")
    if scale == "/10":
        value /= 10
    elif scale in ("%", "/100") or value > 1:
        value /= 100
    return value if 0.0 <= value <= 1.0 else None


def verbalized_confidence(text: str) -> float | None:
    """The confidence an answer states, as a probability (the last statement wins).

    Values above 1 without a scale are read as percentages; anything past 100% is ignored.

    Example:
        >>> verbalized_confidence("Paris. Confidence: 80%")
        0.8
        >>> verbalized_confidence('{"answer": "Paris", "confidence": 0.9}')
        0.9
    """
    found: list[tuple[int, float]] = []
    for pattern in (_FIELD, _STATED, _FELT):
        for match in pattern.finditer(text):
            value = _as_probability(match.group(1), match.group(2))
            if value is not None:
                found.append((match.start(), value))
    return max(found)[1] if found else None


def strip_confidence(text: str) -> str:
    """``text`` without its ``Confidence: ...`` statements (JSON fields and sentences such as
    ``I am 90% sure it is Lyon`` are left alone); ``text`` itself if nothing else is left."""
    stripped = _STATED.sub("", text)
    return stripped.strip() or text


def logprob_confidence(logprobs: Sequence[TokenLogprob] | None) -> float | None:
    """``exp`` of the mean token log-probability (the geometric-mean token probability)."""
    if not logprobs:
        return None
    mean = sum(t.logprob for t in logprobs) / len(logprobs)
    return min(1.0, max(0.0, math.exp(mean)))


def candidate_confidence(candidate: Candidate, default: float = 0.5) -> tuple[float, Source]:
    """A candidate's confidence and where it came from: logprobs, a statement, or the default."""
    from_logprobs = logprob_confidence(candidate.logprobs)
    if from_logprobs is not None:
        return from_logprobs, "logprobs"
    stated = verbalized_confidence(candidate.text)
    if stated is not None:
        return stated, "verbalized"
    return default, "default"


def confidence_vote(
    candidates: Sequence[Candidate], extract: Extract | AnswerType[Any] = "text", default: float = 0.5
) -> FusionResult:
    """Vote over answers (read by the answer type ``extract``, or the one it names; equivalent
    answers are one), each candidate weighing ``confidence * weight``.

    The answer with the most weight wins (ties: the most confident voter, then the answer seen
    first); its text is the first such candidate's, without the confidence statement.

    Raises:
        FusionError: No candidates.
    """
    if not candidates:
        raise FusionError("a confidence vote needs at least one candidate")
    totals: dict[str, float] = defaultdict(float)
    surest: dict[str, float] = defaultdict(float)
    first: dict[str, Candidate] = {}
    confidence: dict[str, float] = {}
    sources: dict[str, int] = defaultdict(int)
    answers = extract if isinstance(extract, AnswerType) else build_answer_type(extract)
    keys = answers.vote_keys([strip_confidence(c.text) for c in candidates])
    for key, candidate in zip(keys, candidates, strict=True):
        value, source = candidate_confidence(candidate, default)
        sources[source] += 1
        totals[key] += value * candidate.weight
        surest[key] = max(surest[key], value)
        first.setdefault(key, candidate)
        confidence.setdefault(candidate.model, value)
    order = list(first)
    best = max(order, key=lambda k: (totals[k], surest[k], -order.index(k)))
    winner = first[best]
    total = sum(totals.values())
    share = totals[best] / total if total else 0.0
    how = ", ".join(f"{count} from {source}" for source, count in sorted(sources.items()))
    return FusionResult(
        text=strip_confidence(winner.text),
        winner=winner.model,
        scores=confidence,
        reason=f"answer '{best[:60]}' won {share:.0%} of the confidence-weighted vote "
        f"among {len(order)} distinct answers (confidences: {how})",
    )


class ConfidenceVote(Fuser["ConfidenceVote.Options"]):
    """Vote over normalised answers weighted by each model's confidence in its answer: token
    log-probabilities where the backend gives them, a stated confidence ("Confidence: 80%")
    otherwise, ``default_confidence`` when neither is there. Each vote also carries the
    candidate's weight. Scores are each model's confidence."""

    class Options(PluginOptions):
        """Options of confidence.

        Attributes:
            extract: How to read an answer before voting: ``text``, ``number``, ``choice`` or
                ``json_field``.
            default_confidence: Confidence of an answer with no logprobs and no statement.
        """

        extract: Extract = "text"
        default_confidence: float = Field(0.5, ge=0, le=1)

    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        opts: ConfidenceVote.Options = self.options
        return confidence_vote(candidates, opts.extract, opts.default_confidence)
