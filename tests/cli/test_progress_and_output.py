"""What a long or piped command shows: progress bars with an ETA, ``--version``, tables at full
width when piped, and a hint when the scorer looks wrong (issue 15, item 5)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from fusionsdk.cli._common import stdout
from fusionsdk.cli.app import main, package_version
from fusionsdk.cli.eval import scorer_hint
from fusionsdk.cli.progress import progress
from fusionsdk.eval.harness import RowResult, summarize
from fusionsdk.providers.replay import ReplayRow

ROOT = Path(__file__).resolve().parents[2]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"fusionsdk {package_version()}"
    assert package_version()[0].isdigit()


def test_progress_bar_shows_count_and_eta_on_a_terminal() -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120)
    with progress("memory add", total=4, console=terminal) as bar:
        bar.advance()
        time.sleep(0.05)
        bar.advance(steps=2)
        assert bar.completed == 3
        terminal.print("")  # a redraw
    drawn = screen.getvalue()
    assert "memory add" in drawn and "3/4" in drawn and "ETA" in drawn


def test_progress_bar_draws_nothing_when_not_a_terminal() -> None:
    piped = io.StringIO()
    with progress("eval", console=Console(file=piped, force_terminal=False)) as bar:
        bar.set_total(2)
        bar.advance(object())  # accepts an on_row/on_batch argument
    assert piped.getvalue() == ""


def test_tables_keep_their_width_when_piped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    source = "docs/" + "a-very-long-folder-name/" * 8 + "file.md"
    table = Table("source", "chunks")
    table.add_row(source, "12")
    stdout.print(table)
    out = capsys.readouterr().out
    assert source in out and "…" not in out
    monkeypatch.setenv("COLUMNS", "40")  # an explicit width still wins
    stdout.print(table)
    assert source not in capsys.readouterr().out


def test_exact_scoring_nothing_on_numbers_hints_numeric(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the example's dataset path is relative to the repository
    args = ["eval", "examples/replay.yaml", "--dataset", "tests/data/gsm8k_subset.jsonl", "--limit", "8"]
    assert main([*args, "--json"]) == 0  # the default scorer: exact
    out, err = capsys.readouterr()
    accuracy = json.loads(out)["accuracy"]
    assert accuracy > 0 or "hint: every answer scored 0 with the exact scorer" in err
    assert accuracy > 0 or "try -s numeric" in err


def test_scorer_hint_only_for_exact_zero_on_numeric_golds() -> None:
    rows = [ReplayRow(str(i), "q", gold) for i, gold in enumerate(["18", "$1,000", "-3.5", "42"])]
    zero = summarize([RowResult(r.id, "The answer is 18.", 0.0, 0.0, 0, 0.0) for r in rows])
    assert "try -s numeric" in (scorer_hint("exact", zero, rows) or "")
    assert scorer_hint("numeric", zero, rows) is None
    words = [ReplayRow(str(i), "q", "Paris") for i in range(4)]
    assert scorer_hint("exact", zero, words) is None
    some = summarize([RowResult(r.id, "18", float(i == 0), 0.0, 0, 0.0) for i, r in enumerate(rows)])
    assert scorer_hint("exact", some, rows) is None
