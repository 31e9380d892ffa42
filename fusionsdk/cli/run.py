"""``fusionsdk run CONFIG PROMPT``: run a graph; ``--thread``/``--resume`` answer a paused one;
``--thread`` alone continues a run that stopped (crashed) from its last checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from fusionsdk._sync import iterate_sync
from fusionsdk.cli._common import JSON_OPTION, print_json, stdout
from fusionsdk.cli.base import Command
from fusionsdk.errors import GraphError
from fusionsdk.graph import RunResult, compile_file

__all__ = ["RunCommand"]

DEFAULT_CHECKPOINT = Path(".fusionsdk") / "checkpoints.sqlite"


#: How much of each answer the text trace shows.
ANSWER_CHARS = 72


def shorten(text: str, limit: int = ANSWER_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _candidates_by_node(result: RunResult) -> dict[str, list[dict[str, Any]]]:
    by_node: dict[str, list[dict[str, Any]]] = {}
    for candidate in result.candidates:
        by_node.setdefault(str(candidate.get("node")), []).append(candidate)
    return by_node


def step_lines(step: dict[str, Any], answers: list[dict[str, Any]]) -> list[str]:
    """The text trace of one step: its summary line, then its fallbacks, answers and clusters."""
    decisions = step.get("decisions", [])
    reasons = "; ".join(d.get("reason", "") for d in decisions if d.get("reason"))
    models = ",".join(step["models"])
    lines = [f"  {step['node']} ({step['kind']}) {step['latency_s']:.2f}s {models} {reasons}".rstrip()]
    for fallback in step.get("fallbacks", []):
        why = f": {fallback['reason']}" if fallback.get("reason") else ""
        lines.append(f"      fallback: {fallback['model']} answered for {fallback['fallback_from']}{why}")
    for answer in answers:
        lines.append(f"      {answer['model']}: {shorten(str(answer.get('text', '')))!r}")
    for decision in decisions:
        for failure in decision.get("failed") or ():
            lines.append(f"      {failure['model']} left out: {failure['error']}")
        clusters = decision.get("clusters") or ()
        if clusters:
            parts = [
                f"{shorten(str(c['answer']), 40)!r} ×{c['votes']} ({', '.join(c['models'])})"
                for c in clusters
            ]
            tie = len(clusters) > 1 and clusters[0]["votes"] == clusters[1]["votes"]
            label = f"{len(clusters)} cluster{'s' if len(clusters) > 1 else ''}"
            note = " (a tie: no answer has a majority)" if tie else ""
            lines.append(f"      {label}: " + " | ".join(parts) + note)
    return lines


def _print_result(result: RunResult) -> None:
    if result.interrupted is not None:
        stdout.print(Text.assemble(("paused: ", "yellow"), str(result.interrupted.get("question", ""))))
        stdout.print(f"answer so far: {result.answer}", markup=False)
        stdout.print(
            f'resume with: fusionsdk run CONFIG --thread {result.thread_id} --resume "..."', markup=False
        )
        return
    stdout.print(result.answer, markup=False)
    stdout.print(
        Text(
            f"\n{len(result.trace)} steps · {result.usage.get('total_tokens', 0)} tokens · "
            f"${result.cost_usd:.6f} · thread {result.thread_id}",
            style="dim",
        )
    )
    pending = _candidates_by_node(result)
    for step in result.trace:
        queue = pending.get(step["node"], [])
        answers, pending[step["node"]] = queue[: len(step["models"])], queue[len(step["models"]) :]
        for line in step_lines(step, answers):
            stdout.print(Text(line, style="dim"))


def run(
    config: Path = typer.Argument(..., help="Graph config (YAML)."),
    prompt: str | None = typer.Argument(None, help="The task (omit with --resume, or to continue --thread)."),
    as_json: bool = JSON_OPTION,
    stream: bool = typer.Option(False, "--stream", help="Print tokens and node events as they happen."),
    thread: str | None = typer.Option(None, "--thread", help="Thread id (durable: checkpointed)."),
    resume: str | None = typer.Option(None, "--resume", help="Reply to a paused human step of --thread."),
    checkpoint: str | None = typer.Option(
        None,
        "--checkpoint",
        help="SQLite checkpoint file or postgresql:// URL (default: the config's checkpoint section, "
        f"else with --thread {DEFAULT_CHECKPOINT}).",
    ),
) -> None:
    """Run a graph on PROMPT and print the answer with its trace.

    With --json, print one object with answer, trace, usage, cost_usd, decisions and thread_id;
    with --stream and --json, one JSON line per event and a last line with the result.
    """
    if resume is not None and thread is None:
        raise GraphError("--resume needs the --thread of the paused run")
    if resume is None and not prompt and thread is None:
        raise GraphError(
            "give a PROMPT (or --thread and --resume to answer a paused run, or --thread alone to "
            "continue a run that stopped)"
        )
    graph = compile_file(config)
    store = checkpoint or (DEFAULT_CHECKPOINT if thread and graph.config.checkpoint is None else None)
    kwargs: dict[str, Any] = {"thread_id": thread, "checkpoint": store, "resume": resume}
    result = None
    try:
        for event in iterate_sync(graph.astream(prompt, **kwargs)):
            if event.result is not None:
                result = event.result
            elif stream and as_json:
                typer.echo(
                    json.dumps(
                        {"type": event.type, "node": event.node, "text": event.text}, ensure_ascii=False
                    )
                )
            elif stream and event.type == "token":
                typer.echo(event.text, nl=False)
            elif stream and event.type == "discard":
                typer.echo(f"\n[{event.node}: a model failed midway; the answer starts again]", err=True)
            elif stream and event.type == "node":
                typer.echo(f"\n[{event.node} done]", err=True)
    finally:
        graph.close()  # the Postgres pool, if any
    assert result is not None
    if as_json:
        print_json({"type": "result", **result.as_dict()} if stream else result.as_dict())
    else:
        _print_result(result)


class RunCommand(Command):
    """``fusionsdk run``: run a graph config."""

    def build(self) -> Any:
        return run
