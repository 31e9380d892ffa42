"""One model's part in ``token_ensemble``: its prompt, answer tokens and next-token distribution,
read through the :class:`~fusionsdk.providers.base.TokenScorer` its model gives.

A :class:`TokenSession` keeps one model's view of the answer in its own vocabulary. When the
ensemble picks a text the model itself proposed, its own token is appended; otherwise the whole
answer is re-tokenised by the model's tokenizer. The scorer evaluates only what it has not seen,
so each step costs one token per model unless a re-tokenisation rewrote the end of the answer.
The caller holds each model (``with scorer:``) for the whole generation.
"""

from __future__ import annotations

from collections.abc import Callable

from fusionsdk.errors import ContextWindowExceeded
from fusionsdk.fusion._token_union import END, Proposal, start_key
from fusionsdk.providers.base import TokenScorer

__all__ = ["TokenSession"]


class TokenSession:
    """One model's part in an ensemble run.

    Args:
        name: The model's name in the graph.
        scorer: Its model's token-level access.
        prompt: The prompt in its vocabulary.
        weight: Its weight in the vote.
    """

    def __init__(self, name: str, scorer: TokenScorer, prompt: list[int], weight: float) -> None:
        self.name = name
        self.scorer = scorer
        self.prompt = prompt
        self.weight = weight
        self.answer: list[int] = []
        self.text = ""  # the answer as this model wrote it (its own leading whitespace)
        self._own: dict[str, int] = {}
        self._probability: Callable[[str], float] = lambda text: 0.0
        if len(prompt) >= scorer.context_size:
            raise ContextWindowExceeded(
                f"the prompt's {len(prompt)} tokens do not fit the {scorer.context_size}-token context",
                model=name,
            )

    def has_room(self) -> bool:
        """Whether one more token fits the model's context window."""
        return len(self.prompt) + len(self.answer) + 1 < self.scorer.context_size

    def propose(self, top_k: int, at_start: bool = False) -> Proposal:
        """This model's top-k next tokens as texts, and the means to score other texts.

        Args:
            top_k: How many tokens to propose.
            at_start: Whether the answer has no text yet (candidates keyed by
                :func:`~fusionsdk.fusion._token_union.start_key`).
        """
        import numpy as np

        scorer = self.scorer
        probs = scorer.probabilities(self.prompt + self.answer)
        k = min(top_k, probs.size)
        best = np.argpartition(-probs, k - 1)[:k]
        best = best[np.lexsort((best, -probs[best]))]  # by probability, then by id: stable
        ends = set(scorer.end_tokens.tolist())
        top: list[tuple[str | None, float]] = []
        self._own = {}
        for token in best.tolist():
            text = END if token in ends else scorer.piece(token)
            if token not in ends and not text:
                continue  # a control token, or a byte of a character: not text to align on
            top.append((text, float(probs[token])))
            if text is not None:
                self._own.setdefault(start_key(text) if at_start else text, token)

        def probability(text: str) -> float:
            tokens = scorer.tokenize(text)
            return float(probs[tokens[0]]) if tokens else 0.0

        self._probability = probability
        end = float(probs[scorer.end_tokens].max())
        return Proposal(self.name, tuple(top), end, probability, self.weight)

    def advance(self, choice: str, at_start: bool = False) -> None:
        """Take the ensemble's ``choice`` (keyed as in the last :meth:`propose`)."""
        scorer = self.scorer
        if choice in self._own:  # the model proposed it: its own token, as greedy decoding would
            token = self._own[choice]
            self.answer.append(token)
            self.text += scorer.piece(token) or choice
            return
        if at_start and choice.strip() and self._probability(" " + choice) > self._probability(choice):
            choice = " " + choice  # this model starts its answers after a space
        self.text += choice
        tokens = scorer.tokenize(self.text)
        if scorer.detokenize(tokens) == self.text.encode("utf-8"):
            self.answer = list(tokens)  # the whole answer re-tokenised: in-distribution tokens
        else:  # the tokenizer does not round-trip the answer alone: append the text's tokens
            self.answer += scorer.tokenize(choice)
