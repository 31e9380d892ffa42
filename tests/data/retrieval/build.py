"""Build the labelled retrieval set ``gsm8k_solutions.jsonl.gz`` from the GSM8K replay file.

Each row pairs one GSM8K test question (the query) with one model's recorded worked solution to
that same question (its only relevant document): the ``reasoning`` field of the JSON reply of
``DeepSeek-Coder-V2-0724`` in the ZeroEval replay file. That model was fixed by a rule set before
any retrieval was run: of the 42 models, three have a reply whose JSON parses, with a non-empty
``reasoning``, for all 1,319 questions (``DeepSeek-Coder-V2-0724``, ``gemini-1.5-flash``,
``gpt-4o-2024-08-06``); the first of them by name was taken, which is also the only one of the three
with open weights.

Run from the repository root (it rewrites the file beside this script; the output is byte-for-byte
reproducible)::

    python tests/data/retrieval/build.py [/path/to/gsm8k.jsonl.gz]
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPLAY = HERE.parents[2].parent / "shared" / "data" / "replay" / "gsm8k.jsonl.gz"
MODEL = "DeepSeek-Coder-V2-0724"
OUTPUT = HERE / "gsm8k_solutions.jsonl.gz"


def reasoning(reply: str) -> str | None:
    """The ``reasoning`` field of the JSON object in ``reply``, or None."""
    found = re.search(r"\{.*\}", reply, re.S)
    if found is None:
        return None
    try:
        value = json.loads(found.group(0))
    except json.JSONDecodeError:
        return None
    text = value.get("reasoning") if isinstance(value, dict) else None
    return text.strip() if isinstance(text, str) and text.strip() else None


def main(replay: Path) -> None:
    with gzip.open(replay, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    lines = []
    for row in rows:
        solution = reasoning(row["outputs"].get(MODEL, ""))
        if solution is None:
            raise SystemExit(f"{row['id']}: no parseable reasoning from {MODEL}")
        lines.append(json.dumps({"id": row["id"], "question": row["question"], "solution": solution}))
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))
    OUTPUT.write_bytes(buffer.getvalue())
    print(f"{len(lines)} rows, {OUTPUT.stat().st_size:,} bytes -> {OUTPUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPLAY)
