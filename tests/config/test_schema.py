"""The config JSON Schema (``fusionsdk schema``) and ``fusionsdk validate``: every example config
passes both; each typo fails both, and validate lists every problem with a "did you mean"."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from fusionsdk.cli.app import main
from fusionsdk.cli.validate import check_config, installed_schema
from fusionsdk.config.schema import config_schema
from fusionsdk.errors import ConfigError, FusionError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
QUICKSTART = (ROOT / "examples" / "quickstart.yaml").read_text()

#: One typo each, applied to examples/quickstart.yaml: (id, old, new, path validate names, hint).
TYPOS = [
    ("node kind", "{kind: panel,", "{kind: panle,", "nodes.panel.kind", "panel"),
    ("node field", "quorum: 1}", "quorm: 1}", "nodes.panel.quorm", "quorum"),
    (
        "provider",
        "{provider: llamacpp, model: gemma3",
        "{provider: llamcpp, model: gemma3",
        "models.gemma.provider",
        "llamacpp",
    ),
    ("fuser", "strategy: majority_vote", "strategy: majority_vot", "nodes.fuse.strategy", "majority_vote"),
    ("router", "strategy: rules", "strategy: rulez", "nodes.route.strategy", "rules"),
    (
        "model field",
        "model: smollm2-135m-instruct}",
        "model: smollm2-135m-instruct, timout_s: 5}",
        "models.smol.timout_s",
        "timeout_s",
    ),
    ("edge", "[fuse, END]", "[fuze, END]", "edges[2][0]", "fuse"),
    ("panel model", "models: [smol, gemma]", "models: [smol, gema]", "nodes.panel.models[1]", "gemma"),
    ("top level", "budget: {", "budgte: {", "budgte", "budget"),
    ("budget field", "max_wall_s: 120", "max_wal_s: 120", "budget.max_wal_s", "max_wall_s"),
]


@functools.cache
def schema() -> dict[str, Any]:
    return installed_schema()


def schema_errors(data: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


def test_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates_against_the_schema(example: Path) -> None:
    assert schema_errors(yaml.safe_load(example.read_text())) == []


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_passes_validate(example: Path) -> None:
    check_config(example)


def test_model_name_is_optional_and_kinds_are_a_discriminated_union() -> None:
    defs = schema()["$defs"]
    assert "name" not in defs["ModelSpec"].get("required", [])
    nodes = schema()["properties"]["nodes"]["additionalProperties"]
    assert nodes["discriminator"]["propertyName"] == "kind"
    assert {"panel", "fuse", "agent", "router"} <= set(nodes["discriminator"]["mapping"])
    assert "quorum" in defs["PanelNode"]["properties"]
    assert defs["PanelNode"]["additionalProperties"] is False
    assert "llamacpp" in defs["ModelSpec"]["properties"]["provider"]["enum"]
    assert "majority_vote" in defs["FuseNode"]["properties"]["strategy"]["enum"]


def test_schema_enums_follow_the_installed_plugins() -> None:
    built = config_schema(
        {}, {"providers": ["mine", "yours"], "memory": ["chroma"], "embedders": ["hashing"]}
    )
    assert built["$defs"]["ModelSpec"]["properties"]["provider"]["enum"] == ["mine", "yours"]
    assert built["$defs"]["MemorySpec"]["properties"]["embedder"]["const"] == "hashing"  # one name


def test_the_typos_change_the_config() -> None:
    for _, old, new, *_ in TYPOS:
        assert QUICKSTART.count(old) == 1, old
        assert QUICKSTART.replace(old, new) != QUICKSTART


@pytest.mark.parametrize(("old", "new", "path", "hint"), [t[1:] for t in TYPOS], ids=[t[0] for t in TYPOS])
def test_a_typo_fails_in_validate_with_its_path_and_a_suggestion(
    tmp_path: Path, old: str, new: str, path: str, hint: str
) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text(QUICKSTART.replace(old, new))
    with pytest.raises(ConfigError) as caught:
        check_config(config)
    problems = {e.path: str(e) for e in caught.value.errors}
    assert path in problems, problems
    assert f"did you mean '{hint}'?" in problems[path]


SCHEMA_ONLY_MISSES = {"edge", "panel model"}  # names of this config's own nodes and models


@pytest.mark.parametrize(
    ("old", "new"),
    [t[1:3] for t in TYPOS if t[0] not in SCHEMA_ONLY_MISSES],
    ids=[t[0] for t in TYPOS if t[0] not in SCHEMA_ONLY_MISSES],
)
def test_a_typo_fails_in_the_schema(old: str, new: str) -> None:
    assert schema_errors(yaml.safe_load(QUICKSTART.replace(old, new)))


def test_validate_reports_every_error_in_one_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = QUICKSTART
    # renaming budget: hides its field; an unknown kind: its fields cannot be checked
    everything = [t for t in TYPOS if t[0] not in {"top level", "node kind"}]
    for _, old, new, *_ in everything:
        text = text.replace(old, new)
    config = tmp_path / "typos.yaml"
    config.write_text(text)
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{len(everything)} problems" in err, err
    for _, _, _, path, hint in everything:
        assert f"{path}: " in err, (path, err)
        assert f"(did you mean '{hint}'?)" in err, (hint, err)


def test_config_error_lists_each_problem_and_stays_a_fusion_error(tmp_path: Path) -> None:
    config = tmp_path / "two.yaml"
    config.write_text(
        QUICKSTART.replace("quorum: 1}", "quorm: 1}").replace("max_tokens: 128", "max_tokns: 128")
    )
    with pytest.raises(FusionError) as caught:
        check_config(config)
    assert isinstance(caught.value, ConfigError)
    assert [e.path for e in caught.value.errors] == ["nodes.panel.quorm", "nodes.solo.max_tokns"]
    assert caught.value.path == "nodes.panel.quorm"  # the first, as a single error reads


def test_schema_command_prints_the_installed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (
        printed["$defs"]["ModelSpec"]["properties"]["provider"]["enum"]
        == schema()["$defs"]["ModelSpec"]["properties"]["provider"]["enum"]
    )
