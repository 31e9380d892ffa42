"""When a cascade accepts an answer (FrugalGPT, AutoMix): the ``accept`` options of the
``cascade`` node and the confidence measures behind them, free of any model call so that the
same rules can be simulated on recorded answers (``benchmarks/gsm8k_routing.py`` does).

Three measures, each compared with ``threshold``:

- ``agreement``: the share of all answers so far (every sample of every model asked) that give
  the leading answer, once there are at least ``min_answers``; cheap models that agree are
  usually right, and a disagreement is the signal to escalate.
- ``logprob``: the geometric-mean token probability of the latest model's answer,
  ``exp(mean logprob)`` (0 when the backend gives no log-probabilities).
- ``verifier``: a verifier model is asked whether the latest answer is right; yes is 1 and no
  is 0 (or the probability of its first token, when it reports log-probabilities).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from fusionsdk.answers import AnswerOptions

__all__ = [
    "DEFAULT_VERIFIER_PROMPT",
    "Acceptance",
    "Verdict",
    "agreement_verdict",
    "leading_answer",
    "logprob_confidence",
    "verifier_confidence",
]

DEFAULT_VERIFIER_PROMPT = (
    "Question:\n{task}\n\nProposed answer:\n{answer}\n\nIs the proposed answer correct? Reply with yes or no."
)


class Acceptance(AnswerOptions):
    """When a cascade step's answer is good enough to stop.

    Attributes:
        method: ``agreement``, ``logprob`` or ``verifier``.
        threshold: Confidence (0 to 1) needed to accept.
        min_answers: ``agreement`` needs at least this many answers before it can accept.
        samples: Answers drawn from each model (above 1: self-consistency; needs a temperature).
        answer: The ``fusionsdk.answers`` type answers are read and compared with (``number``
            or ``math`` for maths, ``choice``, ``python_literal``, ``text``, ...): equivalent
            answers agree. None: ``text``.
        answer_options: Its options.
        extract: The older name of ``answer``, still accepted.
        verifier: The graph model that checks answers (``verifier`` method).
        verifier_prompt: Its prompt, with ``{task}`` and ``{answer}``.
    """

    method: Literal["agreement", "logprob", "verifier"] = "agreement"
    threshold: float = Field(1.0, ge=0, le=1)
    min_answers: int = Field(2, ge=1)
    samples: int = Field(1, ge=1, le=32)
    verifier: str | None = None
    verifier_prompt: str = DEFAULT_VERIFIER_PROMPT

    @field_validator("verifier_prompt")
    @classmethod
    def _placeholders(cls, prompt: str) -> str:
        if "{answer}" not in prompt:
            raise ValueError("the verifier prompt must contain {answer}")
        return prompt

    @model_validator(mode="after")
    def _verifier_given(self) -> Acceptance:
        if (self.method == "verifier") != (self.verifier is not None):
            raise ValueError("the verifier method needs 'verifier' (a model), and only it takes one")
        return self


@dataclass(frozen=True)
class Verdict:
    """One step's judgement: accept or escalate, the answer considered, and why."""

    accept: bool
    answer: str
    confidence: float
    reason: str


def leading_answer(keys: Sequence[str]) -> tuple[str, float]:
    """The most frequent non-empty answer key (the first seen on a tie) and its share of all
    the answers ("" and 0 when none is non-empty).

    Example:
        >>> leading_answer(["18", "18", "17"])
        ('18', 0.6666666666666666)
    """
    counts = Counter(k for k in keys if k)
    if not counts:
        return "", 0.0
    best = max(counts, key=lambda k: (counts[k], -keys.index(k)))
    return best, counts[best] / len(keys)


def agreement_verdict(keys: Sequence[str], threshold: float, min_answers: int) -> Verdict:
    """Accept the leading answer once there are ``min_answers`` and its share reaches
    ``threshold``."""
    answer, share = leading_answer(keys)
    if len(keys) < min_answers:
        return Verdict(False, answer, share, f"{len(keys)} answer(s), agreement needs {min_answers}")
    verb = "accept" if answer and share >= threshold else "escalate"
    return Verdict(verb == "accept", answer, share, f"{share:.0%} of {len(keys)} answers agree: {verb}")


def logprob_confidence(logprobs: Sequence[float] | None) -> float:
    """``exp(mean logprob)`` of an answer's tokens; 0 without log-probabilities."""
    if not logprobs:
        return 0.0
    return math.exp(sum(logprobs) / len(logprobs))


def verifier_confidence(reply: str, first_logprob: float | None = None) -> float:
    """How sure a verifier's reply says the answer is right: 1 for yes, 0 for no (or the first
    token's probability, when given), 0 for anything else."""
    words = reply.strip().lstrip("*\"'`").casefold().split()
    word = words[0].strip(".,!:;\"'*") if words else ""
    if word not in ("yes", "no"):
        return 0.0
    p = 1.0 if first_logprob is None else math.exp(min(0.0, first_logprob))
    return p if word == "yes" else 1.0 - p
