"""The replay provider on the committed GSM8K subset."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from fusionsdk.errors import BadRequest, ConfigError
from fusionsdk.providers.hub import ModelHub

DATA = Path(__file__).resolve().parents[1] / "data"
DATASET = str(DATA / "gsm8k_subset.jsonl")
FIRST = json.loads((DATA / "gsm8k_subset.jsonl").read_text().splitlines()[0])


def hub(model: str = "gpt-4o-2024-08-06", **options: Any) -> ModelHub:
    spec = {"provider": "replay", "model": model, "options": {"dataset": DATASET, **options}}
    return ModelHub.from_dict({"version": 1, "models": {"m": spec}})


async def test_answers_by_question_text_with_tokens_and_cost() -> None:
    done = await hub()["m"].acomplete(f"Solve this problem.\n\n{FIRST['question']}\n\nReply in JSON.")
    assert done.text == FIRST["outputs"]["gpt-4o-2024-08-06"]
    assert done.usage.completion_tokens > 20
    prices = json.loads((DATA / "models.json").read_text())["models"]["gpt-4o-2024-08-06"]
    expected = (
        done.usage.prompt_tokens * prices["input_usd_per_mtok"]
        + done.usage.completion_tokens * prices["output_usd_per_mtok"]
    ) / 1e6
    assert done.cost_usd == pytest.approx(expected)


async def test_answers_by_row_id_in_metadata() -> None:
    done = await hub("gemma-2-2b-it")["m"].acomplete("ignored", metadata={"row_id": FIRST["id"]})
    assert done.text == FIRST["outputs"]["gemma-2-2b-it"]


async def test_simulated_latency() -> None:
    done = await hub(latency_s=0.05)["m"].acomplete("x", metadata={"row_id": FIRST["id"]})
    assert done.latency_s >= 0.05


async def test_unknown_question_and_row_are_clear_errors() -> None:
    with pytest.raises(BadRequest, match="question is not in replay dataset"):
        await hub()["m"].acomplete("What is the airspeed of an unladen swallow?")
    with pytest.raises(BadRequest, match="row id 'nope' is not in"):
        await hub()["m"].acomplete("x", metadata={"row_id": "nope"})


def test_unknown_model_lists_known() -> None:
    with pytest.raises(ConfigError, match="model 'gpt-5' is not in .* \\(known: "):
        hub("gpt-5")


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    spec = {"provider": "replay", "model": "x", "options": {"dataset": str(tmp_path / "none.jsonl")}}
    with pytest.raises(ConfigError, match="replay dataset not found"):
        ModelHub.from_dict({"version": 1, "models": {"m": spec}})
    bad = tmp_path / "bad.jsonl.gz"
    with gzip.open(bad, "wt") as handle:
        handle.write('{"id": 1, "question": "q", "outputs": {"x": "1"}}\n{"oops": true}\n')
    spec["options"] = {"dataset": str(bad)}
    with pytest.raises(ConfigError, match="bad.jsonl.gz line 2: not a replay row"):
        ModelHub.from_dict({"version": 1, "models": {"m": spec}})


async def test_row_without_that_models_answer(tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl"
    path.write_text(
        json.dumps({"id": "a", "question": "q1", "answer": "1", "outputs": {"x": "1", "y": "2"}})
        + "\n"
        + json.dumps({"id": "b", "question": "q2", "answer": "1", "outputs": {"x": "1"}})
        + "\n"
    )
    spec = {"provider": "replay", "model": "y", "options": {"dataset": str(path)}}
    model = ModelHub.from_dict({"version": 1, "models": {"m": spec}})["m"]
    with pytest.raises(BadRequest, match="no recorded answer for row 'b'"):
        await model.acomplete("q2")
