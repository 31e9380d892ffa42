"""Structured output: complete(response_format=...) validates (retrying with the error), agent
nodes answer validated JSON, and fuse votes over parsed fields."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from fusionsdk.errors import BadRequest, ConfigError, GraphError, StructuredOutputError
from fusionsdk.fusion.base import Candidate
from fusionsdk.fusion.field_vote import FieldVote
from fusionsdk.graph import compile_config
from fusionsdk.providers.structured import ResponseFormat
from fusionsdk.testing import fake_model


class City(BaseModel):
    name: str
    population_m: float


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "population_m": {"type": "number"}},
    "required": ["name", "population_m"],
}


async def test_invalid_json_first_is_retried_then_validated() -> None:
    model = fake_model("m", ["Sure! The city is Paris.", '{"name": "Paris", "population_m": 2.1}'])
    completion = await model.acomplete("Largest city of France?", response_format=City)
    assert completion.parsed == City(name="Paris", population_m=2.1)
    requests = model.provider.requests  # type: ignore[attr-defined]
    assert len(requests) == 2
    assert requests[0].response_format["json_schema"]["name"] == "City"
    retry = requests[1].messages
    assert retry[-2] == {"role": "assistant", "content": "Sure! The city is Paris."}
    assert "not valid: not JSON" in retry[-1]["content"] and '"population_m"' in retry[-1]["content"]
    assert completion.usage.total_tokens > 0 and completion.as_dict()["parsed"]["name"] == "Paris"


async def test_schema_errors_are_retried_too_and_then_a_clear_error() -> None:
    model = fake_model("m", ['{"name": "Paris"}'])
    with pytest.raises(
        StructuredOutputError, match=r"in 3 attempt\(s\); last error: population_m: Field required"
    ):
        await model.acomplete("q", response_format=City)
    assert len(model.provider.requests) == 3  # type: ignore[attr-defined]
    with pytest.raises(StructuredOutputError, match="1 attempt"):
        await model.acomplete("q", response_format=SCHEMA, structured_retries=0)


async def test_dict_schemas_and_fenced_replies() -> None:
    model = fake_model("m", ['```json\n{"name": "Rome", "population_m": 2.8}\n```'])
    completion = await model.acomplete("q", response_format=SCHEMA)
    assert completion.parsed == {"name": "Rome", "population_m": 2.8}
    streamed = [c async for c in model.astream("q", response_format=City)]
    assert streamed[-1].completion is not None and streamed[-1].completion.parsed == City(
        name="Rome", population_m=2.8
    )
    with pytest.raises(BadRequest, match="response_format must be"):
        ResponseFormat.of("json")


async def test_agent_node_answers_validated_json() -> None:
    cfg: dict[str, Any] = {
        "version": 1,
        "models": {
            "m": {
                "provider": "fake",
                "options": {"responses": ["nope", '{"name": "Oslo", "population_m": 0.7}']},
            }
        },
        "nodes": {"a": {"kind": "agent", "model": "m", "response_format": SCHEMA}},
        "edges": [["START", "a"], ["a", "END"]],
    }
    result = await compile_config(cfg).arun("Capital of Norway?")
    assert json.loads(result.answer) == {"name": "Oslo", "population_m": 0.7}


def panel_fuse(answers: dict[str, str], **fuse: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "models": {m: {"provider": "fake", "options": {"responses": [a]}} for m, a in answers.items()},
        "nodes": {
            "panel": {"kind": "panel", "models": list(answers)},
            "fuse": {"kind": "fuse", "response_format": SCHEMA, **fuse},
        },
        "edges": [["START", "panel"], ["panel", "fuse"], ["fuse", "END"]],
    }


async def test_fuse_votes_over_parsed_fields() -> None:
    answers = {
        "a": '{"name": "Paris", "population_m": 2.1}',
        "b": 'It is {"name": "Paris", "population_m": 2.2}',
        "c": '{"name": "Lyon", "population_m": 2.1}',
        "d": "no idea",
    }
    result = await compile_config(panel_fuse(answers)).arun("q")
    assert json.loads(result.answer) == {"name": "Paris", "population_m": 2.1}
    decision = next(d for d in result.decisions if d["type"] == "fuse")
    assert decision["strategy"] == "field_vote" and "d" in decision["rejected"]
    assert decision["scores"] == {"a": 2.0, "b": 1.0, "c": 1.0}


async def test_fuse_checks_other_strategies_against_the_schema() -> None:
    result = await compile_config(
        panel_fuse({"a": '{"name": "X", "population_m": 1}'}, strategy="majority_vote")
    ).arun("q")
    assert json.loads(result.answer)["name"] == "X"
    with pytest.raises(GraphError, match="does not match response_format"):
        await compile_config(panel_fuse({"a": "plain"}, strategy="majority_vote")).arun("q")
    with pytest.raises(ConfigError, match="response_format must be"):
        cfg = panel_fuse({"a": "x"})
        cfg["nodes"]["fuse"]["response_format"] = {"x": 1}
        compile_config(cfg)


async def test_field_vote_without_valid_candidates_is_a_fusion_error() -> None:
    from fusionsdk.errors import FusionError

    with pytest.raises(FusionError, match="no candidate is a valid structured answer"):
        await FieldVote({"json_schema": SCHEMA}).fuse("q", [Candidate("a", "[1]")])
