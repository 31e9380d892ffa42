"""Every example config compiles, and runs with hosted models replaced by local fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fusionsdk.config.file import load_config
from fusionsdk.graph import compile_config
from fusionsdk.graph.builder import config_to_data

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
YAMLS = sorted(p.name for p in EXAMPLES.glob("*.yaml"))


def with_fakes(name: str) -> dict[str, Any]:
    """The example with every model swapped for a scripted fake that answers '42', and every
    memory for an empty in-memory store with the fake embedder (nothing written to examples/)."""
    data = config_to_data(load_config(EXAMPLES / name))
    for spec in data["models"].values():
        spec.update(provider="fake", options={"responses": ["The answer is 42"]})
        spec.pop("model", None)
        spec.pop("api_key_env", None)
    for memory in data.get("memory", {}):
        data["memory"][memory] = {"store": "ephemeral", "embedder": "fake"}
    return data


@pytest.mark.parametrize("name", YAMLS)
async def test_example_runs_on_fakes(name: str) -> None:
    result = await compile_config(with_fakes(name), base_dir=EXAMPLES).arun(
        "What is 6 times 7?", metadata={"sensitive": False}
    )
    assert "42" in result.answer and result.trace
    json.dumps(result.as_dict())


async def test_hybrid_keeps_sensitive_requests_local() -> None:
    result = await compile_config(with_fakes("hybrid.yaml")).arun(
        "my IBAN is ...", metadata={"sensitive": True}
    )
    assert [s["node"] for s in result.trace] == ["START", "route", "private"]
    assert result.trace[0]["kind"] == "privacy" and result.decisions[0]["type"] == "privacy"


def test_every_example_is_documented_in_its_header() -> None:
    for name in YAMLS:
        assert (EXAMPLES / name).read_text().startswith("#"), f"{name} needs a header comment"


@pytest.mark.integration
async def test_debate_runs_on_the_embedded_models() -> None:
    from fusionsdk.graph import compile_file

    result = await compile_file(EXAMPLES / "debate.yaml").arun("What is 2 plus 3? Answer with a number.")
    assert [s["node"] for s in result.trace] == ["round1", "round2", "vote"]
    assert len(result.candidates) == 4


@pytest.mark.integration
def test_notebook_cells_run(monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = json.loads((EXAMPLES / "quickstart.ipynb").read_text())
    monkeypatch.chdir(EXAMPLES)
    namespace: dict[str, Any] = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec("".join(cell["source"]), namespace)
    assert namespace["result"].answer
    for shown in (namespace["graph"], namespace["result"]):  # what Jupyter displays: offline HTML
        html = shown._repr_mimebundle_()["text/html"]
        assert "<svg" in html and "<table" in html and "<script" not in html
