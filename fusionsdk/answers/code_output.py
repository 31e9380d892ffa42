"""``code_output`` answers: what a program prints, compared line by line."""

from __future__ import annotations

from fusionsdk.answers.base import AnswerType
from fusionsdk.answers.final import final_answer
from fusionsdk.answers.json_field import answer_field
from fusionsdk.answers.normalize import FENCE
from fusionsdk.answers.python_literal import NOT_A_LITERAL, literal_key, read_literal
from fusionsdk.plugin import PluginOptions

__all__ = ["CodeOutputAnswer"]


class CodeOutputAnswer(AnswerType["CodeOutputAnswer.Options"]):
    """The output of a program: the JSON ``answer`` field, the last code fence (a whole block
    of output), ``assert ... == X``, "the output is X", or else the whole reply. Lines are
    compared with trailing spaces and surrounding blank lines dropped; with ``literals`` (the
    default) an output that is a Python literal is compared by value, and a quoted string by
    its content (``'abc'``, ``"abc"`` and ``abc`` are one output).

    Example:
        >>> replies = ["Output:\\n```\\n[1, 2]\\n```", "[1,2]", "'abc'", "abc"]
        >>> CodeOutputAnswer().vote_keys(replies)
        ['[1, 2]', '[1, 2]', 'abc', 'abc']
    """

    class Options(PluginOptions):
        """Options of code_output.

        Attributes:
            literals: Compare outputs that are Python literals by value.
            ignore_case: Compare case-insensitively.
        """

        literals: bool = True
        ignore_case: bool = False

    def extract(self, reply: str) -> str | None:
        if not reply.strip():
            return None
        field = answer_field(reply)
        if field is not None:
            return field
        fences = [block for block in FENCE.findall(reply) if block.strip()]
        if fences:
            return fences[-1]
        found = final_answer(reply)
        if found is not None and found.source in ("assert", "statement"):
            return found.text
        return reply

    def canonical(self, answer: str) -> str | None:
        lines = [line.rstrip() for line in answer.replace("\r\n", "\n").split("\n")]
        text = "\n".join(lines).strip("\n")
        if not text.strip():
            return None
        if self.options.literals:
            value = read_literal(text)
            if isinstance(value, str):
                text = value
            elif value is not NOT_A_LITERAL:
                text = literal_key(value)
        return text.casefold() if self.options.ignore_case else text
