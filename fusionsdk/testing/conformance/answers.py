"""Conformance suite of answer types (``fusionsdk.answers``).

An answer type reads a reply's final answer, gives it a canonical key and says whether two keys
are the same answer. The suite feeds it the reply formats real models produce (JSON with
invalid escapes, code fences, prose, truncated and empty replies, digits of other scripts, very
long replies), and checks the contract: keys are strings or None, an empty reply has no answer,
equivalence is reflexive and symmetric on the examples, equivalent answers share one vote, the
same reply always gets the same key (from several threads at once too), and nothing is printed,
warned or logged.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any, ClassVar

import pytest

from fusionsdk.registry import PluginKind
from fusionsdk.testing.conformance._common import PluginConformance, run_in_threads

__all__ = ["SAMPLE_REPLIES", "AnswerTypeConformance"]

#: Replies in the formats models really produce; every answer type must take them all.
SAMPLE_REPLIES: list[str] = [
    "The answer is 42.",
    '{"reasoning": "We have $\\frac{a}{b}$ and \\sqrt{2}", "answer": "7"}',  # invalid JSON escapes
    '```json\n{"reasoning": "2 + 2", "answer": 4}\n```',
    "```python\nassert f('abc') == 'cba'\n```",
    "Let me think.\n\nSo the final answer is $\\boxed{\\frac{1}{2}}$.",
    "Answer: (B)",
    '{"reasoning": "We start by computing the sum of',  # truncated
    "الجواب هو ٣",  # Arabic-Indic digits
    "Paris",
    "   \n",
    "",
]


class AnswerTypeConformance(PluginConformance):
    """Conformance suite of answer types; set ``plugin_class`` to your
    :class:`~fusionsdk.answers.AnswerType`.

    Attributes:
        examples: ``(reply, expected key)`` pairs your type must reproduce (None: no answer).
        equivalent: ``(reply, reply)`` pairs that give the same answer.
        different: ``(reply, reply)`` pairs that give different answers.
        long_reply_chars: Length of the reply in the long-input test.
        long_reply_seconds: How long reading that reply may take.
    """

    kind: ClassVar[PluginKind] = PluginKind.ANSWERS
    examples: ClassVar[list[tuple[str, str | None]]] = []
    equivalent: ClassVar[list[tuple[str, str]]] = []
    different: ClassVar[list[tuple[str, str]]] = []
    long_reply_chars: ClassVar[int] = 100_000
    long_reply_seconds: ClassVar[float] = 5.0

    def test_keys_are_strings_or_none(self, plugin: Any) -> None:
        for reply in SAMPLE_REPLIES:
            answer = plugin.extract(reply)
            assert answer is None or isinstance(answer, str), (reply, answer)
            key = plugin.key(reply)
            assert key is None or (isinstance(key, str) and key != ""), (reply, key)
            assert isinstance(plugin.vote_key(reply), str)

    @pytest.mark.parametrize("reply", ["", "   \n", "\t"])
    def test_an_empty_reply_has_no_answer(self, plugin: Any, reply: str) -> None:
        assert plugin.key(reply) is None
        assert plugin.matches(reply, "42") is False

    def test_examples(self, plugin: Any) -> None:
        if not self.examples:
            pytest.skip("no examples given (set examples = [(reply, expected key), ...])")
        for reply, expected in self.examples:
            assert plugin.key(reply) == expected, reply

    def test_equivalence_is_reflexive(self, plugin: Any) -> None:
        replies = SAMPLE_REPLIES + [r for pair in self.equivalent + self.different for r in pair]
        for reply in replies:
            key = plugin.key(reply)
            if key is not None:
                assert plugin.equivalent(key, key), key
                assert plugin.matches(reply, reply), reply

    def test_equivalent_and_different_pairs(self, plugin: Any) -> None:
        if not self.equivalent and not self.different:
            pytest.skip("no pairs given (set equivalent = [...] and different = [...])")
        for first, second in self.equivalent:
            a, b = plugin.key(first), plugin.key(second)
            assert a is not None and b is not None, (first, second)
            assert plugin.equivalent(a, b) and plugin.equivalent(b, a), (a, b)
            assert len(set(plugin.vote_keys([first, second]))) == 1, (first, second)
        for first, second in self.different:
            a, b = plugin.key(first), plugin.key(second)
            assert a is None or b is None or not plugin.equivalent(a, b), (a, b)
            assert len(set(plugin.vote_keys([first, second]))) == 2, (first, second)

    def test_vote_keys_keep_order_and_length(self, plugin: Any) -> None:
        keys = plugin.vote_keys(SAMPLE_REPLIES)
        assert len(keys) == len(SAMPLE_REPLIES)
        assert all(isinstance(key, str) for key in keys)
        assert plugin.vote_keys([]) == []

    def test_long_reply(self, plugin: Any) -> None:
        reply = ("lorem ipsum 12 " * (self.long_reply_chars // 15 + 1))[: self.long_reply_chars]
        start = time.perf_counter()
        plugin.key(reply + "\nThe answer is 7.")
        assert time.perf_counter() - start < self.long_reply_seconds

    def test_deterministic(self, plugin: Any) -> None:
        first = [plugin.key(reply) for reply in SAMPLE_REPLIES]
        assert [plugin.key(reply) for reply in SAMPLE_REPLIES] == first
        fresh = self.rebuild(plugin, plugin.options.model_dump(mode="json"))
        assert [fresh.key(reply) for reply in SAMPLE_REPLIES] == first

    def test_safe_from_several_threads(self, plugin: Any) -> None:
        replies = SAMPLE_REPLIES + [r for pair in self.equivalent for r in pair]
        pairs = [(a, b) for a in replies for b in replies[:4]]
        results = run_in_threads(lambda pair: plugin.matches(*pair), pairs)
        assert results == [plugin.matches(a, b) for a, b in pairs]

    def test_quiet(
        self, plugin: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
    ) -> None:
        replies = SAMPLE_REPLIES + [r for pair in self.equivalent + self.different for r in pair]
        with caplog.at_level(logging.WARNING), warnings.catch_warnings():
            warnings.simplefilter("error")
            for reply in replies:
                plugin.matches(reply, replies[0])
            run_in_threads(lambda reply: plugin.matches(reply, replies[1]), replies)
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
        out, err = capsys.readouterr()
        assert not out and not err, (out, err)
