"""Hostile configs: every outcome is a valid graph or a ConfigError naming where, quickly.

YAML is read within limits before pydantic sees it (size, encoding, depth, aliases, number
length); cycles without an exit and self-including subgraphs are refused at validation with their
path; parallel branches from START run. A seeded fuzz mutates the example configs (bounded in
time) and asserts each outcome within 2 s, and the CLI never prints a traceback.
"""

from __future__ import annotations

import copy
import random
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from fusionsdk.cli.app import main as cli
from fusionsdk.config.file import load_config
from fusionsdk.errors import ConfigError, FusionError, GraphError
from fusionsdk.graph import compile_config, compile_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODELS = {"box": {"provider": "fake", "options": {"responses": ["18"]}}}

BOMB = "\n".join(
    ["version: 1", "models: {}", "memory:", "  docs:", "    store: chroma", "    embedder: hashing"]
    + ["    embedder_options:", "      a: &a [x, x, x, x, x, x, x, x, x, x]"]
    + [f"      {chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(8)]
)
HOSTILE_TEXTS: dict[str, bytes] = {
    "alias bomb": BOMB.encode(),
    "deep nesting": b"version: 1\nmodels: " + b"[" * 20_000,
    "deep mappings": b"version: 1\nx: " + b"{a: " * 5_000 + b"1" + b"}" * 5_000,
    "huge integer": b"version: 1\nbudget: {max_tokens: " + b"9" * 5_000 + b"}",
    "recursive alias": b"version: 1\nmodels: &m {a: *m}",
    "utf-16": "version: 1\nmodels: {}\n".encode("utf-16"),
    "utf-32": "version: 1\nmodels: {}\n".encode("utf-32"),
    "invalid utf-8": b"version: 1\nmodels: {a: \xff\xfe\xfd}",
    "nul": b"version: 1\nmodels: {}\x00",
    "too large": b"version: 1\n# " + b"x" * (2 << 20),
    "many aliases": b"version: 1\na: &a 1\nb: [" + b"*a, " * 5000 + b"*a]",
    "python tag": b"version: 1\nmodels: !!python/object/apply:os.system [echo hi]",
    "not a mapping": b"- 1\n- 2",
    "empty": b"",
}


@pytest.mark.parametrize("name", HOSTILE_TEXTS)
def test_hostile_yaml_is_a_config_error_within_two_seconds(name: str, tmp_path: Path) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(HOSTILE_TEXTS[name])
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert time.perf_counter() - started < 2.0
    assert str(path) in str(caught.value) or caught.value.path


def graph(nodes: dict[str, Any], edges: list[list[str]]) -> dict[str, Any]:
    return copy.deepcopy({"version": 1, "models": MODELS, "nodes": nodes, "edges": edges})


AGENT = {"kind": "agent", "model": "box"}
ROUTER = {"kind": "router", "strategy": "rules", "options": {"routes": [], "default": "a"}}


@pytest.mark.parametrize(
    ("nodes", "edges", "cycle"),
    [
        ({"a": AGENT}, [["START", "a"], ["a", "a"], ["a", "END"]], "a -> a"),
        ({"a": AGENT, "b": AGENT}, [["START", "a"], ["a", "b"], ["b", "a"]], "a -> b -> a"),
        (
            {"a": AGENT, "b": AGENT, "c": AGENT},
            [["START", "a"], ["a", "b"], ["b", "c"], ["c", "a"], ["c", "END"]],
            "a -> b -> c -> a",
        ),
        (  # a router whose every target stays in the loop
            {"r": {**ROUTER, "targets": ["a"]}, "a": AGENT},
            [["START", "r"], ["a", "r"]],
            "a -> r -> a",
        ),
    ],
)
def test_cycles_without_an_exit_are_refused_with_their_path(
    nodes: dict[str, Any], edges: list[list[str]], cycle: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_config(graph(nodes, edges))
    assert caught.value.path == "edges" and cycle in str(caught.value)


def test_a_loop_with_a_router_exit_compiles_and_ends() -> None:
    stop = {"routes": [{"target": "END", "regex": "18"}], "default": "a"}
    nodes = {"r": {**ROUTER, "options": stop, "targets": ["a", "END"]}, "a": AGENT}
    compiled = compile_config(graph(nodes, [["START", "r"], ["a", "r"]]))
    assert compiled.run("hi 18").answer == ""  # the router took its exit at once
    endless = compile_config(
        graph({**nodes, "r": {**ROUTER, "targets": ["a", "END"]}}, [["START", "r"], ["a", "r"]])
    )
    with pytest.raises(GraphError, match="loop"):  # it never chose its exit: a typed error
        endless.run("hi")


def _write(path: Path, nodes: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(graph(nodes, [["START", next(iter(nodes))], [next(iter(nodes)), "END"]])))
    return path


def test_a_subgraph_that_includes_itself_is_refused(tmp_path: Path) -> None:
    own = _write(tmp_path / "self.yaml", {"deep": {"kind": "subgraph", "config": "self.yaml"}})
    with pytest.raises(ConfigError, match=r"nodes\.deep\.config: a subgraph that includes itself") as caught:
        compile_file(own)
    assert "self.yaml -> self.yaml" in str(caught.value)
    _write(tmp_path / "a.yaml", {"to_b": {"kind": "subgraph", "config": "b.yaml"}})
    _write(tmp_path / "b.yaml", {"to_a": {"kind": "subgraph", "config": "a.yaml"}})
    with pytest.raises(ConfigError, match="a.yaml -> b.yaml -> a.yaml"):
        compile_file(tmp_path / "a.yaml")


async def test_parallel_branches_from_start_run_and_fan_in() -> None:
    models = {"x": {"provider": "fake", "options": {"responses": ["18"]}}, "y": MODELS["box"]}
    nodes = {
        "a": {"kind": "agent", "model": "x"},
        "b": {"kind": "agent", "model": "y"},
        "fuse": {"kind": "fuse", "strategy": "majority_vote"},
    }
    edges = [["START", "a"], ["START", "b"], ["a", "fuse"], ["b", "fuse"], ["fuse", "END"]]
    compiled = compile_config({"version": 1, "models": models, "nodes": nodes, "edges": edges})
    result = await compiled.arun("What is 9 + 9?")
    assert result.answer == "18" and sorted(c["model"] for c in result.candidates) == ["x", "y"]
    assert [t["node"] for t in result.trace].count("fuse") == 1


async def test_parallel_routers_follow_their_own_choice() -> None:
    nodes = {
        "r1": {
            "kind": "router",
            "strategy": "rules",
            "options": {"routes": [], "default": "a"},
            "targets": ["a"],
        },
        "r2": {
            "kind": "router",
            "strategy": "rules",
            "options": {"routes": [], "default": "b"},
            "targets": ["b"],
        },
        "a": AGENT,
        "b": AGENT,
    }
    edges = [["START", "r1"], ["START", "r2"], ["a", "END"], ["b", "END"]]
    result = await compile_config(graph(nodes, edges)).arun("hi")
    assert sorted(t["node"] for t in result.trace) == ["a", "b", "r1", "r2"]


async def test_langgraph_errors_at_run_time_are_typed() -> None:
    from langgraph.errors import GraphRecursionError

    from fusionsdk.graph.run import _typed_errors

    with pytest.raises(GraphError, match="loop"):
        async with _typed_errors():
            raise GraphRecursionError("limit")


# -- the seeded fuzz --------------------------------------------------------------------------------

HOSTILE_VALUES: list[Any] = [
    None, -1, 0, 10**30, 1e308, "", " ", "\x00", "\u202e", "x" * 5000, [], {}, [[[[[]]]]],
    {"kind": "agent"}, "START", "END", "../../etc/passwd", "http://169.254.169.254", True,
    {"a": [1, {"b": None}]}, "{task}{answer}{nope}", "{0}", "{task.__class__}",
]  # fmt: skip


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


def _mutate(data: Any, rng: random.Random) -> Any:
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(data) if p]
        if not paths:
            return rng.choice(HOSTILE_VALUES)
        path = rng.choice(paths)
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        op = rng.random()
        if op < 0.5:
            parent[path[-1]] = copy.deepcopy(rng.choice(HOSTILE_VALUES))
        elif op < 0.7 and isinstance(parent, dict):
            del parent[path[-1]]
        elif op < 0.85 and isinstance(parent, dict):
            parent[f"{path[-1]}_{rng.randint(0, 9)}"] = copy.deepcopy(parent[path[-1]])
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(rng.choice(parent)))
        else:
            parent[path[-1]] = str(parent[path[-1]])
    return data


def _text_mutation(text: str, rng: random.Random) -> bytes:
    choice = rng.random()
    if choice < 0.3:
        cut = rng.randint(0, len(text))
        return text[:cut].encode()
    if choice < 0.5:
        return text.encode(rng.choice(["utf-16", "utf-32", "latin-1"]), errors="replace")
    if choice < 0.7:
        at = rng.randint(0, len(text))
        return (
            text[:at] + rng.choice(["\t", "\x00", "&a ", "*a", "!!binary ", "{", "]", "\ufeff"]) + text[at:]
        ).encode()
    return text.replace("\n", "\n" + " " * rng.randint(1, 3), rng.randint(1, 3)).encode()


def _outcome_ok(path: Path, err: BaseException | None) -> None:
    if err is None:
        return
    assert isinstance(err, ConfigError), f"{type(err).__name__}: {err}"
    assert err.path or str(path) in str(err), f"no path in: {err}"


def test_seeded_fuzz_over_the_examples(tmp_path: Path) -> None:
    rng = random.Random(20261202)
    sources = sorted(EXAMPLES.glob("*.yaml"))
    assert sources
    deadline = time.monotonic() + 60  # bounded: CI stays quick whatever the machine
    cases = 0
    while cases < 240 and time.monotonic() < deadline:
        source = rng.choice(sources)
        text = source.read_text()
        path = tmp_path / f"case{cases}.yaml"
        if rng.random() < 0.7:
            mutated = _mutate(yaml.safe_load(text), rng)
            path.write_text(
                yaml.safe_dump(mutated, allow_unicode=True) if rng.random() < 0.9 else str(mutated)
            )
        else:
            path.write_bytes(_text_mutation(text, rng))
        for doc in (EXAMPLES / "docs").glob("*"):  # relative paths in the examples resolve
            (tmp_path / "docs").mkdir(exist_ok=True)
            (tmp_path / "docs" / doc.name).write_bytes(doc.read_bytes())
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            compile_file(path)
        except Exception as err:  # every outcome is judged below
            error = err
        assert time.perf_counter() - started < 2.0, f"case {cases} took too long"
        _outcome_ok(path, error)
        cases += 1
    assert cases >= 50


def test_the_cli_prints_no_traceback_for_hostile_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, raw in HOSTILE_TEXTS.items():
        path = tmp_path / f"{name.replace(' ', '_')}.yaml"
        path.write_bytes(raw)
        for args in (["validate", str(path)], ["graph", str(path)], ["models", "--config", str(path)]):
            assert cli(args) == 2, (name, args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err


def test_unexpected_errors_reach_the_cli_user_as_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import fusionsdk.cli.validate as validate_module

    def boom(*_: Any, **__: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(validate_module, "load_config", boom, raising=False)
    monkeypatch.setattr(validate_module, "compile_file", boom, raising=False)
    path = _write(tmp_path / "ok.yaml", {"a": AGENT})
    code = cli(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code in (1, 2) and "Traceback" not in out + err
    assert isinstance(FusionError(), Exception)
