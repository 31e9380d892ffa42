"""Build the CRUXEval replay subset (``cruxeval_subset.jsonl``) from the transcribed sources.

``source/questions.jsonl`` holds the CRUXEval output-prediction questions ``crux-test-#0`` to
``#47`` (the function, the call and the gold output, as in ZeroEval's ``result_dirs/crux/``
files), and ``source/MODEL.jsonl`` each model's recorded reply to them, transcribed from the same
files: the ``answer`` field verbatim, the first line of any text before the JSON block (``pre``)
and any text after it (``post``), or the whole reply (``raw``) where it is not of that form. The
reasoning inside the JSON is abridged to ``(reasoning abridged)`` (see README.md).

Run from anywhere; it rewrites ``cruxeval_subset.jsonl`` beside this file and checks every gold
answer by executing its function::

    python tests/data/cruxeval/build.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = [
    "gpt-4o-2024-08-06",
    "claude-3-5-sonnet-20240620",
    "gpt-4o-mini-2024-07-18",
    "gemini-1.5-flash",
    "gpt-3.5-turbo-0125",
]
PROMPT = (
    "You are given a Python function and an assertion containing an input to the function. "
    "Complete the assertion with a literal (no unsimplified expressions, no function calls) "
    "containing the output when executing the provided code on the given input, even if the "
    "function is incorrect or incomplete. \n\n[PYTHON]\n{code}\nassert {call} == ??\n[/PYTHON]"
)
ABRIDGED = "(reasoning abridged)"
# Claude's replies break its reasoning over raw newlines inside the JSON string (invalid JSON);
# the abridged form keeps one such newline so that the replies stay invalid in the same way.
REASONING = {"claude-3-5-sonnet-20240620": ABRIDGED + "\n    [...]"}
INDENT = {"gemini-1.5-flash": "  "}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def check_gold(question: dict[str, str]) -> None:
    """The gold output is what the function returns (catches transcription errors)."""
    namespace: dict[str, object] = {}
    exec(question["code"], namespace)
    got = repr(eval(question["call"], namespace))
    if got != question["answer"]:
        raise SystemExit(f"{question['id']}: the function returns {got}, not {question['answer']}")


def reply(model: str, row: dict[str, str]) -> str:
    """The model's reply: as transcribed, with its reasoning abridged."""
    if "raw" in row:
        return row["raw"]
    pad = INDENT.get(model, "    ")
    reasoning = REASONING.get(model, ABRIDGED)
    answer = json.dumps(row["answer"], ensure_ascii=False)
    block = f'```json\n{{\n{pad}"reasoning": "{reasoning}",\n{pad}"answer": {answer}\n}}\n```'
    parts = [row["pre"], block] if "pre" in row else [block]
    if "post" in row:
        parts.append(row["post"])
    return "\n\n".join(parts)


def build() -> list[dict[str, object]]:
    """One replay row per question, with every model's reply."""
    questions = _read(HERE / "source" / "questions.jsonl")
    replies = {model: {r["id"]: r for r in _read(HERE / "source" / f"{model}.jsonl")} for model in MODELS}
    rows: list[dict[str, object]] = []
    for question in questions:
        check_gold(question)
        outputs = {model: reply(model, replies[model][question["id"]]) for model in MODELS}
        rows.append(
            {
                "id": question["id"],
                "question": PROMPT.format(code=question["code"], call=question["call"]),
                "answer": question["answer"],
                "outputs": outputs,
            }
        )
    return rows


def main() -> None:
    rows = build()
    target = HERE / "cruxeval_subset.jsonl"
    with target.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows x {len(MODELS)} models to {target}")


if __name__ == "__main__":
    main()
