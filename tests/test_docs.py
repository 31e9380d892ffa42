"""Every code block of README.md and docs/*.md runs as written (new pages are found by glob).

Per page, in order, in one fresh workspace (a temporary folder holding a copy of ``examples/``
and ``tests/data``), sharing one Python namespace:

- ``python`` blocks are executed;
- ``bash`` blocks: each ``fusionsdk ...`` command (``\\`` continuations joined, a trailing
  ``# comment`` dropped, ``> FILE`` honoured) runs through the CLI in-process and must exit 0;
  other commands (``pip``, ``python -m venv``, ...) are not run. ``console`` blocks: the same
  for lines starting with ``$ fusionsdk``. A server started in the background,
  ``fusionsdk serve ... --port N & echo $! > PIDFILE``, runs as a process of its own (the test
  waits for its ``/health``), and ``kill "$(cat PIDFILE)"`` stops it (so do the page's end and
  the end of the module);
- ``yaml`` blocks that are whole configs (``version:`` at the top) are validated against the
  loader and the JSON Schema (``fusionsdk validate`` when it names a file, see below).

Markers, an HTML comment on the line right before a block:

- ``<!-- skip: needs OPENAI_API_KEY -->``: the block is skipped with that reason (it needs a key,
  a GPU, a server or is a synopsis with placeholders);
- ``<!-- slow: loads MiniLM and both embedded models -->``: run only with
  ``FUSIONSDK_DOCS_SLOW=1`` (skipped with that reason otherwise), to keep the suite fast;
- ``<!-- file: graph.yaml -->``: the block is also written to that file in the workspace, for
  later blocks of the page to use;
- ``<!-- fails -->``: the block is expected to fail (a command's exit code is not 0, a config
  is invalid).

A yaml block whose first line is a comment naming a file (``# fusion.yaml``) is written to that
file as with ``<!-- file: fusion.yaml -->``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import jsonschema
import pytest
import yaml

from fusionsdk.errors import FusionError
from tests.llama_runtimes import HAS_LLAMA_CPP_PYTHON, HAS_XLLAMACPP

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^(?P=indent)```", re.M | re.S
)
_MARKER = re.compile(r"<!--\s*(?P<key>skip|slow|file|fails)\s*(?::\s*(?P<value>.*?))?\s*-->\s*$")
_NAMED = re.compile(r"#\s*(?P<name>[\w./-]+\.ya?ml)\s*\n")  # a block starting "# graph.yaml"
KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY", "COHERE_API_KEY")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    code: str
    markers: dict[str, str]

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page`` with the markers on the lines right before them."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").splitlines()
        markers: dict[str, str] = {}
        for previous in reversed(before[-3:]):
            marker = _MARKER.search(previous.strip())
            if not marker:
                break
            markers[marker["key"]] = marker["value"] or ""
        code = "\n".join(row[len(match["indent"]) :] for row in match["code"].splitlines())
        named = _NAMED.match(code)
        if named and "file" not in markers:
            markers["file"] = named["name"]
        name = str(page.relative_to(ROOT))
        found.append(Block(name, line, match["lang"], code, markers))
    return found


ALL = [b for page in PAGES for b in blocks(page) if b.lang in ("python", "bash", "console", "yaml")]


class Workspace:
    """One page's folder and Python namespace."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        shutil.copytree(ROOT / "examples", folder / "examples")
        shutil.copytree(ROOT / "tests" / "data", folder / "tests" / "data")
        self.namespace: dict[str, Any] = {"__name__": "__docs__"}


_WORKSPACES: dict[str, Workspace] = {}


@pytest.fixture
def workspace(
    block: Block, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Workspace:
    if block.page not in _WORKSPACES:
        _WORKSPACES[block.page] = Workspace(tmp_path_factory.mktemp(Path(block.page).stem))
    space = _WORKSPACES[block.page]
    monkeypatch.chdir(space.folder)
    for variable in KEY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("FUSIONSDK_HOME", str(space.folder / ".fusionsdk"))
    return space


def commands(block: Block) -> list[str]:
    """The ``fusionsdk`` command lines of a bash or console block."""
    joined = re.sub(r"\\\n\s*", " ", block.code)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if block.lang == "console":
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if line.startswith("fusionsdk "):
            found.append(line)
    return found


def run_command(line: str) -> tuple[int, str]:
    """Run one ``fusionsdk`` line in-process; its exit code and output."""
    from fusionsdk.cli.app import main
    from fusionsdk.registry import reset_default_registry

    words = shlex.split(line, comments=True)
    if "|" in words:  # `... --json | jq ...`: the fusionsdk part only
        words = words[: words.index("|")]
    target = None
    if ">" in words:
        at = words.index(">")
        target, words = words[at + 1], words[:at]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(words[1:])
    reset_default_registry()
    if target:
        Path(target).write_text(out.getvalue())
    return code, out.getvalue() + err.getvalue()


_BACKGROUND = re.compile(r"^(?P<command>fusionsdk serve .*?)\s*&\s*echo \$! > (?P<pidfile>\S+)$")
_KILL = re.compile(r"""^kill\s+(?P<files>(?:"\$\(cat \S+\)"\s*)+)""")
_SERVERS: dict[str, subprocess.Popen[bytes]] = {}


def start_server(line: str, pidfile: str) -> None:
    """Start ``fusionsdk serve ...`` as a process of its own; wait until it answers /health."""
    words = shlex.split(line)
    port = int(words[words.index("--port") + 1]) if "--port" in words else 8000
    log = open(Path(pidfile).with_suffix(".log"), "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "fusionsdk.cli.app", *words[1:]], stdout=log, stderr=subprocess.STDOUT
    )
    _SERVERS[pidfile] = process
    Path(pidfile).write_text(f"{process.pid}\n")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{line}: exited {process.returncode}\n{Path(log.name).read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_server(pidfile)
    raise AssertionError(f"{line}: no /health answer on port {port} within 180 s")


def stop_server(pidfile: str) -> None:
    process = _SERVERS.pop(pidfile, None)
    if process is None:
        return
    process.terminate()  # SIGTERM: what the page's `kill` sends
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def background_lines(block: Block) -> None:
    """Start and stop the background servers a bash block names, in order."""
    for line in re.sub(r"\\\n\s*", " ", block.code).splitlines():
        line = line.strip()
        started = _BACKGROUND.match(line)
        if started:
            start_server(started["command"], started["pidfile"])
        killed = _KILL.match(line)
        if killed:
            for pidfile in re.findall(r"cat (\S+?)\)", killed["files"]):
                stop_server(pidfile)


def check_yaml(block: Block) -> None:
    from fusionsdk.cli.validate import installed_schema
    from fusionsdk.config.file import parse_config

    data = yaml.safe_load(block.code)
    if not isinstance(data, dict) or "version" not in data:
        return  # a fragment of a config: shown for one section, not a whole file
    parse_config(data)
    errors = [e.message for e in jsonschema.Draft202012Validator(installed_schema()).iter_errors(data)]
    assert errors == [], errors


@pytest.mark.parametrize("block", ALL, ids=[b.id for b in ALL])
def test_block_runs_as_written(block: Block, workspace: Workspace) -> None:
    if "skip" in block.markers:
        pytest.skip(block.markers["skip"] or "marked skip")
    if "slow" in block.markers and not os.environ.get("FUSIONSDK_DOCS_SLOW"):
        pytest.skip(f"slow: {block.markers['slow']} (FUSIONSDK_DOCS_SLOW=1 runs it)")
    if "file" in block.markers:
        (workspace.folder / block.markers["file"]).write_text(block.code + "\n")
    if block.lang == "yaml" and "fails" in block.markers:
        with pytest.raises(FusionError):
            check_yaml(block)
    elif block.lang == "yaml":
        check_yaml(block)
        if "file" in block.markers and "version:" in block.code:
            code, output = run_command(f"fusionsdk validate {block.markers['file']}")
            assert code == 0, output
    elif block.lang == "python":
        exec(compile(block.code, block.id, "exec"), workspace.namespace)
    else:
        background_lines(block)
        for line in commands(block):
            if _BACKGROUND.match(line):
                continue  # started above
            code, output = run_command(line)
            if "fails" in block.markers:
                assert code != 0, f"{line}: expected to fail\n{output}"
            else:
                assert code == 0, f"{line}: exit {code}\n{output}"


def test_the_pages_are_found() -> None:
    names = {p.name for p in PAGES}
    assert {"README.md", "getting-started.md", "fusion.md"} <= names
    assert len(ALL) > 50


def test_skips_say_why() -> None:
    for block in ALL:
        if "skip" in block.markers:
            assert block.markers["skip"].strip(), f"{block.id}: say why it is skipped"


@pytest.fixture(autouse=True, scope="module")
def _forget_workspaces() -> Any:
    yield
    _WORKSPACES.clear()
    for pidfile in list(_SERVERS):
        stop_server(pidfile)


def run_notebook(path: Path) -> list[Any]:
    """Execute a notebook's code cells in order, in one namespace, the way a kernel does (the
    value of a cell's last expression is its output); the outputs."""
    import ast

    namespace: dict[str, Any] = {"__name__": "__main__"}
    outputs = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, path.name, "exec"), namespace)
        if last is not None:
            outputs.append(eval(compile(ast.Expression(last.value), path.name, "eval"), namespace))
    return outputs


def test_the_notebook_runs_headless_and_draws_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (HAS_XLLAMACPP or HAS_LLAMA_CPP_PYTHON):
        pytest.skip("the notebook runs the embedded models: fusionsdk[local]")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path / "examples")  # where Jupyter starts it
    monkeypatch.setenv("FUSIONSDK_HOME", str(tmp_path / ".fusionsdk"))
    outputs = run_notebook(tmp_path / "examples" / "quickstart.ipynb")
    graphs = [o for o in outputs if hasattr(o, "_repr_html_")]
    assert graphs, "the notebook shows its graph"
    drawing = graphs[0].svg()
    ElementTree.fromstring(drawing)  # well-formed SVG
    assert drawing.startswith("<svg") and "<script" not in drawing and "cdn" not in drawing.lower()
    shown = graphs[0]._repr_html_()  # what the notebook displays: the diagram and a node table
    assert "<svg" in shown and "<script" not in shown and "cdn" not in shown.lower()
    for name in ("panel", "fuse", "route", "solo"):
        assert f">{name}</text>" in drawing
    printed = capsys.readouterr().out
    assert "panel" in printed and "fuse" in printed  # the trace cell ran
