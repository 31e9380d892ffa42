"""The Python builder gives the same spec as YAML, and spec -> YAML -> spec round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionsdk.config.file import load_config
from fusionsdk.errors import ConfigError
from fusionsdk.graph.builder import GraphBuilder, config_to_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def builder() -> GraphBuilder:
    return (
        GraphBuilder()
        .model("smol", provider="llamacpp", model="smollm2-135m-instruct")
        .model("gemma", provider="llamacpp", model="gemma3-270m")
        .node("panel", "panel", models=["smol", "gemma"])
        .node("fuse", "fuse", strategy="majority_vote")
        .edge("START", "panel")
        .edge("panel", "fuse")
        .edge("fuse", "END")
    )


def test_builder_equals_yaml(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(
        "version: 1\nmodels:\n  smol: {provider: llamacpp, model: smollm2-135m-instruct}\n"
        "  gemma: {provider: llamacpp, model: gemma3-270m}\n"
        "nodes:\n  panel: {kind: panel, models: [smol, gemma]}\n  fuse: {kind: fuse, strategy: majority_vote}\n"
        "edges:\n  - [START, panel]\n  - [panel, fuse]\n  - [fuse, END]\n"
    )
    assert builder().build() == load_config(path)


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_yaml_round_trip(example: str, tmp_path: Path) -> None:
    original = load_config(EXAMPLES / example)
    again = tmp_path / example
    again.write_text(config_to_yaml(original))
    assert load_config(again) == original


def test_builder_errors_have_paths() -> None:
    with pytest.raises(ConfigError) as info:
        builder().edge("fuse", "nowhere").build()
    assert info.value.path == "edges[3][1]"


def test_builder_compiles() -> None:
    assert "panel" in builder().compile().mermaid()
