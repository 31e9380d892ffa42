"""``fusionsdk ask`` and ``fusionsdk models``: output shapes, errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionsdk.cli.app import main

CONFIG = """\
version: 1
models:
  smol: {provider: fake, options: {responses: ["Paris is the capital of France."]}}
  down: {provider: vllm, base_url: "http://127.0.0.1:9/v1", model: x, timeout_s: 2,
         retry: {attempts: 1}}
  gpt4o: {provider: litellm, model: openai/gpt-4o, api_key_env: FUSIONSDK_TEST_MISSING_KEY}
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("FUSIONSDK_TEST_MISSING_KEY", raising=False)
    path = tmp_path / "fusion.yaml"
    path.write_text(CONFIG)
    return path


def test_ask_json_has_required_fields(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--config", str(config), "smol", "capital of France?", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["text"] == "Paris is the capital of France."
    assert {"text", "model", "usage", "cost_usd", "latency_s"} <= data.keys()
    assert data["usage"]["total_tokens"] > 0


def test_ask_stream_json_lines(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "-c", str(config), "smol", "q", "--stream", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["type"] == "completion"
    assert "".join(x["text"] for x in lines[:-1]) == lines[-1]["text"]


def test_ask_plain_text(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "-c", str(config), "smol", "q"]) == 0
    assert capsys.readouterr().out.strip() == "Paris is the capital of France."


def test_unknown_model_lists_known(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "-c", str(config), "gpt5", "q"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'gpt5' (known: down, gpt4o, smol)" in err
    assert "Traceback" not in err


def test_missing_key_names_the_variable(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "-c", str(config), "gpt4o", "q"]) == 1
    err = capsys.readouterr().err
    assert "FUSIONSDK_TEST_MISSING_KEY" in err and err.count("\n") == 1


def test_unreachable_server_is_one_line_and_debug_shows_traceback(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "-c", str(config), "down", "q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    assert main(["--debug", "ask", "-c", str(config), "down", "q"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_bad_config_path_and_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "-c", str(tmp_path / "nope.yaml"), "m", "q"]) == 2
    assert "config file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nmodels:\n  m: {provider: tgi, base_url: 'file:///x'}\n")
    assert main(["models", "-c", str(bad)]) == 2
    assert "models.m.base_url" in capsys.readouterr().err


def test_models_json_reports_status(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "-c", str(config), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["smol"]["status"] == "ok"
    assert rows["down"]["status"] == "unreachable" and rows["down"]["locality"] == "local"
    assert rows["gpt4o"]["status"] == "missing-key" and rows["gpt4o"]["locality"] == "hosted"
    assert rows["down"]["locality_reason"] == "127.0.0.1: loopback"
    assert rows["gpt4o"]["locality_reason"] == "litellm: hosted unless the config says local"


def test_usage_errors_exit_nonzero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask"]) == 2
    assert main(["ask", "m", "q", "--max-tokens", "0"]) == 2


@pytest.mark.integration
def test_ask_embedded_smollm2_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "smollm2", "What is the capital of France?", "--json", "--max-tokens", "24"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "Paris" in data["text"]
    assert data["model"] == "smollm2" and data["cost_usd"] == 0.0 and data["locality"] == "local"
