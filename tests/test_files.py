"""Locked, atomic JSON files."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from fusionsdk.files import locked, read_json_as, read_json_file, write_json_file


def test_write_then_read_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json_file(path, {"a": 1, "b": [1.5, "x"]})
    assert read_json_file(path, "state file") == {"a": 1, "b": [1.5, "x"]}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_rewrite_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json_file(path, {})
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o600)
    write_json_file(path, {"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_read_errors_name_the_kind_of_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="state file not found"):
        read_json_file(tmp_path / "missing.json", "state file")
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="is not JSON"):
        read_json_file(bad, "state file")


def test_locked_updates_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "count.json"
    write_json_file(path, {"n": 0})

    def bump() -> None:
        for _ in range(20):
            with locked(path):
                n = read_json_file(path, "count file")["n"]
                write_json_file(path, {"n": n + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert read_json_file(path, "count file") == {"n": 80}


def _positive(data: object) -> int:
    if not isinstance(data, int) or data <= 0:
        raise ValueError("count: not a positive whole number")
    return data


def test_read_json_as_parses_and_names_the_file_in_every_error(tmp_path: Path) -> None:
    path = tmp_path / "count.json"
    path.write_text("3", encoding="utf-8")
    assert read_json_as(path, "count file", _positive) == 3
    path.write_text("-1", encoding="utf-8")
    with pytest.raises(ValueError, match=r"count\.json: count: not a positive whole number"):
        read_json_as(path, "count file", _positive)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match=r"count\.json is not JSON"):
        read_json_as(path, "count file", _positive)
    with pytest.raises(ValueError, match=r"count file not found: .*gone\.json"):
        read_json_as(tmp_path / "gone.json", "count file", _positive)
