"""Fallbacks are visible: logged, traced, shown in the text view, and never counted twice as
independent votes by a panel (issue 15, item 1)."""

from __future__ import annotations

import copy
import json
import logging
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from fusionsdk.cli.app import main
from fusionsdk.errors import GraphError
from fusionsdk.graph import compile_config
from fusionsdk.graph.nodes.panel import independent_answers
from fusionsdk.testing import fake_model

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fake(*responses: str) -> dict[str, Any]:
    return {"provider": "fake", "options": {"responses": list(responses)}}


def dead(*fallbacks: str) -> dict[str, Any]:
    """A TGI model on a closed loopback port: refused at once, then its fallbacks."""
    return {
        "provider": "tgi",
        "base_url": f"http://127.0.0.1:{closed_port()}",
        "retry": {"attempts": 1},
        "fallbacks": list(fallbacks),
    }


def panel_config(models: dict[str, Any], members: list[str], **panel: Any) -> dict[str, Any]:
    return copy.deepcopy(
        {
            "version": 1,
            "models": models,
            "nodes": {
                "panel": {"kind": "panel", "models": members, **panel},
                "vote": {"kind": "fuse", "strategy": "majority_vote"},
            },
            "edges": [["START", "panel"], ["panel", "vote"], ["vote", "END"]],
        }
    )


@pytest.fixture
def hybrid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """examples/hybrid.yaml as written, with no API keys and SmolLM2 replaced by a fake."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    data = yaml.safe_load((ROOT / "examples" / "hybrid.yaml").read_text())
    data["models"]["smol"] = fake("GDPR protects personal data in the EU.")
    path = tmp_path / "hybrid.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_hybrid_example_without_keys_warns_traces_and_votes_once(
    hybrid: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(hybrid), "Summarise GDPR in one line", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "warning: model 'gpt4o' failed" in err and "falling back to 'smol'" in err
    assert "warning: model 'claude' failed" in err and "OPENAI_API_KEY" in err
    assert "every member fell back to 'smol'" in err
    result = json.loads(out)
    step = next(s for s in result["trace"] if s["node"] == "panel")
    assert step["models"] == ["smol"]  # one vote, not two
    assert [f["fallback_from"] for f in step["fallbacks"]] == ["gpt4o"]
    panel = next(d for d in result["decisions"] if d["type"] == "panel")
    assert panel["all_fell_back_to"] == "smol"
    assert [d["model"] for d in panel["deduplicated"]] == ["claude"]
    assert "every member fell back to smol" in panel["reason"]
    assert [c["fallback_from"] for c in result["candidates"]] == ["gpt4o"]

    assert main(["run", str(hybrid), "Summarise GDPR in one line"]) == 0
    text = capsys.readouterr().out
    assert "fallback: smol answered for gpt4o" in text and "every member fell back to smol" in text


async def test_a_fallback_is_logged_for_library_users(caplog: pytest.LogCaptureFixture) -> None:
    graph = compile_config(panel_config({"smol": fake("Paris"), "big": dead("smol")}, ["big"]))
    with caplog.at_level(logging.WARNING, logger="fusionsdk"):
        result = await graph.arun("Capital of France?")
    assert result.answer == "Paris"
    [record] = [r for r in caplog.records if "falling back" in r.getMessage()]
    assert record.name.startswith("fusionsdk.") and "model 'big' failed" in record.getMessage()
    assert "cannot connect to http://127.0.0.1:" in record.getMessage()
    assert result.trace[0]["fallbacks"][0] == {
        "model": "smol",
        "fallback_from": "big",
        "reason": result.candidates[0]["fallback_reason"],
    }


async def test_a_direct_answer_is_not_counted_again_through_a_fallback() -> None:
    graph = compile_config(panel_config({"smol": fake("Paris"), "big": dead("smol")}, ["big", "smol"]))
    result = await graph.arun("Capital of France?")
    assert [c["model"] for c in result.candidates] == ["smol"]
    assert [c["fallback_from"] for c in result.candidates] == [None]
    panel = next(d for d in result.decisions if d["type"] == "panel")
    assert panel["deduplicated"] == [{"model": "big", "answered_by": "smol", "deployment": "fake:smol"}]
    assert "all_fell_back_to" not in panel


async def test_dedupe_fallbacks_false_counts_each_member(caplog: pytest.LogCaptureFixture) -> None:
    models = {"smol": fake("Paris"), "a": dead("smol"), "b": dead("smol")}
    graph = compile_config(panel_config(models, ["a", "b"], dedupe_fallbacks=False))
    with caplog.at_level(logging.WARNING, logger="fusionsdk"):
        result = await graph.arun("Capital of France?")
    assert [c["fallback_from"] for c in result.candidates] == ["a", "b"]
    panel = next(d for d in result.decisions if d["type"] == "panel")
    assert panel["all_fell_back_to"] == "smol" and "dedupe_fallbacks: false" in panel["reason"]
    assert any("every member fell back to 'smol'" in r.getMessage() for r in caplog.records)


async def test_quorum_counts_independent_answers() -> None:
    models = {"smol": fake("Paris"), "a": dead("smol"), "b": dead("smol")}
    graph = compile_config(panel_config(models, ["a", "b"], quorum=2))
    with pytest.raises(GraphError, match=r"1 independent answers, quorum is 2 .*same answer as smol"):
        await graph.arun("Capital of France?")


async def test_a_member_left_out_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    graph = compile_config(panel_config({"smol": fake("Paris"), "big": dead()}, ["big", "smol"]))
    with caplog.at_level(logging.WARNING, logger="fusionsdk"):
        result = await graph.arun("Capital of France?")
    assert result.answer == "Paris"
    assert any("panel 'panel': model 'big' left out" in r.getMessage() for r in caplog.records)


async def test_independent_answers_keeps_direct_answers_first() -> None:
    direct = await fake_model("smol", ["Paris"]).acomplete("q")
    fell_back = replace(direct, fallback_from="a", fallback_reason="a: down")
    kept, dropped = independent_answers([("a", fell_back), ("smol", direct)])
    assert kept == [direct] and dropped[0]["model"] == "a"
    kept, dropped = independent_answers([("a", fell_back), ("smol", direct)], dedupe=False)
    assert kept == [fell_back, direct] and dropped == []
