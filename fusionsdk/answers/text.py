"""``text`` answers: normalised text, by default of the whole reply."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from fusionsdk.answers.base import AnswerType
from fusionsdk.answers.final import final_answer
from fusionsdk.answers.normalize import FENCE, fold_digits, normalize_text, strip_code_fence
from fusionsdk.plugin import PluginOptions

__all__ = ["FENCE", "TextAnswer", "fold_digits", "normalize_text", "strip_code_fence", "text_key"]


def text_key(text: str) -> str:
    """The canonical key of a ``text`` answer: its normalised text."""
    return normalize_text(text)


class TextAnswer(AnswerType["TextAnswer.Options"]):
    """The reply's normalised text (NFKC, case-folded, whitespace collapsed, trailing
    punctuation dropped); with ``final``, only its final answer (:func:`final_answer`). With
    ``ends_with``, two answers agree when one ends with the other word for word, so a short
    answer and a sentence that ends with it are one answer ("Paris" and "The capital of France
    is Paris.") while "12 * 7" and "12 * 7 = 88" stay two.

    Example:
        >>> TextAnswer().vote_key("  Paris. ")
        'paris'
        >>> TextAnswer({"final": True}).key('{"reasoning": "...", "answer": "Paris"}')
        'paris'
        >>> TextAnswer({"ends_with": True}).vote_keys(["The capital of France is Paris.", "Paris"])
        ['the capital of france is paris', 'the capital of france is paris']
    """

    class Options(PluginOptions):
        """Options of text.

        Attributes:
            final: Read only the final answer (JSON field, ``\\boxed{}``, "the answer is",
                last fence, last line) instead of the whole reply.
            ignore_case: Compare case-insensitively.
            strip_articles: Ignore the words "a", "an" and "the".
            strip_punctuation: Ignore all punctuation, not only trailing punctuation.
            ends_with: Two answers agree when the words of one end the other (punctuation
                ignored), not only when they are equal.
        """

        final: bool = False
        ignore_case: bool = True
        strip_articles: bool = False
        strip_punctuation: bool = False
        ends_with: bool = False

    def extract(self, reply: str) -> str | None:
        if not self.options.final:
            return reply
        found = final_answer(reply)
        return found.text if found is not None else None

    def canonical(self, answer: str) -> str | None:
        opts = self.options
        key = normalize_text(
            answer,
            ignore_case=opts.ignore_case,
            strip_articles=opts.strip_articles,
            strip_punctuation=opts.strip_punctuation,
        )
        return key or None

    def equivalent(self, first: str, second: str) -> bool:
        if first == second:
            return True
        if not self.options.ends_with:
            return False
        a, b = _words(first), _words(second)
        short, long = (a, b) if len(a) <= len(b) else (b, a)
        return bool(short) and long[len(long) - len(short) :] == short

    def unify(self, keys: Sequence[str]) -> list[str]:
        if not self.options.ends_with:
            return list(keys)
        representatives: list[str] = []
        unified = []
        for key in keys:
            chosen = next((r for r in representatives if self.equivalent(r, key)), None)
            if chosen is None:
                representatives.append(key)
            unified.append(chosen or key)
        return unified


def _words(key: str) -> list[str]:
    """The words of a key, punctuation dropped."""
    kept = "".join(ch if not unicodedata.category(ch).startswith("P") else " " for ch in key)
    return kept.split()
