"""The floor plan in docs/architecture.md holds: no import runs up the house, no circle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fusionsdk"


def _room_order() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = text.split("<!-- rooms:start -->")[1].split("<!-- rooms:end -->")[0]
    return re.findall(r"^\d+\. `([a-z_]+)`", block, flags=re.M)


def _module_name(path: Path) -> tuple[list[str], bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return (parts[:-1] if is_package else parts), is_package


def _imports(path: Path) -> list[tuple[int, str]]:
    parts, is_package = _module_name(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts if is_package else parts[:-1]
                base = base[: len(base) - node.level + 1]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            else:
                found.append((node.lineno, node.module or ""))
    return found


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "fusionsdk" else None


def _room_edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _room(".".join(_module_name(path)[0]))
        if source is None:
            continue
        for line, target in _imports(path):
            dest = _room(target)
            if dest is not None and dest != source:
                edges.setdefault((source, dest), []).append(f"{path.relative_to(ROOT)}:{line} -> {target}")
    return edges


def test_every_room_is_in_the_floor_plan() -> None:
    order = _room_order()
    assert len(order) >= 20
    rooms = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if not p.name.startswith("__")}
    rooms = {r for r in rooms if (PACKAGE / r).is_dir() or (PACKAGE / f"{r}.py").is_file()}
    assert rooms - {"py"} <= set(order), f"rooms missing from docs/architecture.md: {rooms - set(order)}"


def test_no_import_runs_up_the_house() -> None:
    order = _room_order()
    upward = [
        site
        for (source, dest), sites in _room_edges().items()
        if order.index(dest) > order.index(source)
        for site in sites
    ]
    assert upward == [], "imports from a lower room to a higher one:\n" + "\n".join(upward)


def test_no_circle_between_rooms() -> None:
    graph: dict[str, set[str]] = {}
    for source, dest in _room_edges():
        graph.setdefault(source, set()).add(dest)
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(room: str, trail: list[str]) -> None:
        if room in visiting:
            pytest.fail("circle between rooms: " + " -> ".join([*trail, room]))
        if room in done:
            return
        visiting.add(room)
        for nxt in sorted(graph.get(room, ())):
            visit(nxt, [*trail, room])
        visiting.discard(room)
        done.add(room)

    for room in sorted(graph):
        visit(room, [])


def test_no_private_provider_name_is_imported_from_outside() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(PACKAGE / "providers"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fusionsdk.providers"):
                private_module = any(part.startswith("_") for part in (node.module or "").split("."))
                private_names = [a.name for a in node.names if a.name.startswith("_")]
                if private_module or private_names:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_plugins_do_not_reach_for_the_default_registry() -> None:
    allowed_rooms = {"registry", "cli", "testing"}
    allowed_files = {"graph/compiler.py", "providers/hub.py", "memory/hub.py", "serve/catalog.py"}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.split("/")[0] in allowed_rooms or rel in allowed_files:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#")[0]
            if "default_registry()" in code and ">>>" not in line:
                offenders.append(f"{rel}:{number}")
    assert offenders == []
