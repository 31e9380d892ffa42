"""The model-free half of ``token_ensemble``: union of top-k proposals, text alignment, stops.

Models with different tokenizers cannot average their distributions token id by token id, so
the ensemble works on token *text* (UniTE, Yao et al. 2024, "Determine-Then-Ensemble"): each
model proposes the texts of its top-k tokens; every proposed text is scored by every model
(its own probability when the text is among its proposals, otherwise the probability of the
first token of that text in its own vocabulary); the weighted mean picks the continuation.

Answers are compared without their leading whitespace: at the start a chat model writes
``Paris`` where a completion model continuing ``Answer:`` writes `` Paris``, so there the
candidates are keyed by their text without leading whitespace (:func:`start_key`).

End of generation is one candidate, :data:`END`: a model's end-of-generation tokens and the
proposed texts that would complete a stop sequence without adding text all stand for it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["END", "Proposal", "StopGate", "choose", "end_of_answer", "score_candidates", "start_key"]

#: The candidate "stop here" (end-of-generation tokens and stop sequences).
END: None = None


@dataclass(frozen=True)
class Proposal:
    """One model's next-token distribution, as the union step sees it.

    Attributes:
        model: The model's name.
        top: Its top-k tokens as ``(text, probability)``, most likely first; ``text`` is
            :data:`END` for an end-of-generation token.
        end: Probability of its likeliest end-of-generation token.
        probability: Probability of a text in this model's vocabulary: that of the first token
            the model's tokenizer splits it into (0 when it has none).
        weight: Trust in the model; the scores are the weighted mean over models.
    """

    model: str
    top: tuple[tuple[str | None, float], ...]
    end: float
    probability: Callable[[str], float] = field(compare=False)
    weight: float = 1.0


def start_key(text: str) -> str:
    """A candidate's key at the start of the answer: its text without leading whitespace
    (whitespace-only texts stay as they are)."""
    return text.lstrip() or text


def score_candidates(
    proposals: Sequence[Proposal],
    ends: Callable[[str], bool] = lambda text: False,
    at_start: bool = False,
) -> list[tuple[str | None, float]]:
    """Score the union of the proposals' texts by every model; best first.

    A model's vote for :data:`END` is the probability of its likeliest way to stop: an
    end-of-generation token, or a proposed text that completes a stop sequence (one model stops
    with ``<|im_end|>``, another with a blank line). Taking the likeliest single token rather
    than a sum keeps one model's ensemble identical to its own greedy decoding.

    Args:
        proposals: One per model.
        ends: Whether appending a text would stop generation without adding text (it completes
            a stop sequence); such texts count as :data:`END`.
        at_start: Nothing but whitespace has been chosen yet: key the texts by
            :func:`start_key`, and score a text for a model by the likelier of it and it
            preceded by a space.

    Returns:
        ``(text or END, weighted mean probability)`` for each candidate, best first; ties keep
        the order of first proposal (the first model's ranking, then the next model's).
    """
    total = sum(p.weight for p in proposals)
    if total <= 0:
        return []
    own: list[dict[str, float]] = []
    order: dict[str | None, None] = {}
    ending: dict[str, None] = {}
    for proposal in proposals:
        mine: dict[str, float] = {}
        for text, prob in proposal.top:
            if text is not None and at_start:
                text = start_key(text)
            if text is not None:
                mine.setdefault(text, prob)
            if text is None or ends(text):
                order.setdefault(END)
                if text is not None:
                    ending.setdefault(text)
            else:
                order.setdefault(text)
        own.append(mine)
    scored = []
    for candidate in order:
        votes = 0.0
        for proposal, mine in zip(proposals, own, strict=True):
            if candidate is END:
                prob = max([proposal.end, *(_probability(proposal, mine, t, at_start) for t in ending)])
            else:
                prob = _probability(proposal, mine, candidate, at_start)
            votes += proposal.weight * prob
        scored.append((candidate, votes / total))
    rank = {candidate: i for i, candidate in enumerate(order)}
    scored.sort(key=lambda item: (-item[1], rank[item[0]]))
    return scored


def _probability(proposal: Proposal, own: dict[str, float], text: str, at_start: bool) -> float:
    """``text``'s probability for a model: its own when it proposed the text, else mapped."""
    if text in own:
        return own[text]
    if at_start and text.strip():
        return max(proposal.probability(text), proposal.probability(" " + text))
    return proposal.probability(text)


def choose(
    scored: Sequence[tuple[str | None, float]], temperature: float = 0.0, rng: random.Random | None = None
) -> str | None:
    """The next text (or :data:`END`): the best candidate, or one drawn with ``temperature``.

    With a temperature the draw is over the candidates only, probabilities ``p ** (1 / t)``
    renormalised. No candidates means :data:`END`.
    """
    if not scored:
        return END
    if temperature <= 0:
        return scored[0][0]
    logs = [math.log(p) / temperature if p > 0 else -math.inf for _, p in scored]
    top = max(logs)
    if top == -math.inf:
        return scored[0][0]
    weights = [math.exp(v - top) for v in logs]
    return (rng or random.Random()).choices([c for c, _ in scored], weights=weights)[0]


def end_of_answer(text: str, stops: Sequence[str]) -> int | None:
    """Where the first stop sequence in ``text`` starts, or None."""
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(found) if found else None


class StopGate:
    """Decides which part of the answer so far is safe to stream.

    Text that might be the start of a stop sequence is held back until the next pieces show it
    is not; leading whitespace is never streamed and trailing whitespace waits for more text,
    so the streamed pieces always join to the final, stripped answer.

    Args:
        stops: The stop sequences.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.sent = 0  # characters of the stripped answer already streamed

    def ends(self, answer: str, text: str) -> bool:
        """Whether appending ``text`` to ``answer`` completes a stop sequence that adds no text."""
        stop = end_of_answer(answer + text, self.stops)
        return stop is not None and stop <= len(answer)

    def final(self, answer: str) -> str:
        """The answer cut at its first stop sequence, stripped."""
        stop = end_of_answer(answer, self.stops)
        return (answer if stop is None else answer[:stop]).strip()

    def release(self, answer: str, finished: bool = False) -> str:
        """The next piece to stream, given the whole answer so far ('' when nothing is safe)."""
        if finished:
            safe = self.final(answer)
        else:
            held = max((_overlap(answer, s) for s in self.stops), default=0)
            safe = answer[: len(answer) - held].strip()
        piece = safe[self.sent :]
        self.sent = max(self.sent, len(safe))
        return piece


def _overlap(text: str, stop: str) -> int:
    """Length of the longest end of ``text`` that is a proper start of ``stop``."""
    for size in range(min(len(stop) - 1, len(text)), 0, -1):
        if text.endswith(stop[:size]):
            return size
    return 0
