"""``examples/rag.yaml`` end to end and offline: ``fusionsdk memory add`` in one process, questions
in others (the store persists between them), answers citing their sources."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.llama_runtimes import needs_embedded

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("sentence_transformers") is None, reason="needs fusionsdk[memory]"
    ),
    needs_embedded,
]


def fusionsdk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "FUSIONSDK_HOME": str(cwd / "home")}
    command = [
        sys.executable,
        "-c",
        "import sys; from fusionsdk.cli.app import main; sys.exit(main())",
        *args,
    ]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_rag_example_answers_from_added_files_with_citations(tmp_path: Path) -> None:
    config = (REPO / "examples" / "rag.yaml").read_text()
    (tmp_path / "rag.yaml").write_text(config)
    shutil.copytree(REPO / "examples" / "docs", tmp_path / "docs")
    added = fusionsdk("memory", "add", "--config", "rag.yaml", "docs", "--json", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["added"] >= 3
    assert (tmp_path / ".fusionsdk" / "rag-store").is_dir()  # next to the config, as the example says

    asked = fusionsdk(
        "run", "rag.yaml", "How long is the warranty on the Lumen lamp?", "--json", cwd=tmp_path
    )
    assert asked.returncode == 0, asked.stderr
    result = json.loads(asked.stdout)
    answer = result["answer"]
    assert "3-year" in answer.split("Sources:")[0] or "3 year" in answer.split("Sources:")[0]
    assert "Sources:" in answer and "docs/lumen-lamp.md" in answer
    retrieve = next(d for d in result["decisions"] if d["type"] == "retrieve")
    assert retrieve["hits"][0]["source"] == "docs/lumen-lamp.md"

    again = fusionsdk("memory", "add", "--config", "rag.yaml", "docs", "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["added"] == 0  # idempotent across processes
    stats = fusionsdk("memory", "stats", "--config", "rag.yaml", "--json", cwd=tmp_path)
    assert json.loads(stats.stdout)["sources"].keys() == {
        "docs/lumen-lamp.md",
        "docs/returns.md",
        "docs/support.md",
    }
