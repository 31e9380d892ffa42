"""``fusionsdk eval`` and ``fusionsdk sweep``: measure a graph on a dataset."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from fusionsdk._sync import run_sync
from fusionsdk.cli._common import JSON_OPTION, print_json, stderr, stdout
from fusionsdk.cli.base import Command
from fusionsdk.cli.progress import progress
from fusionsdk.errors import ConfigError
from fusionsdk.eval.base import Scorer
from fusionsdk.eval.engines import EvalEngine, build_engine
from fusionsdk.eval.explain import ExplainedRow, explain_rows
from fusionsdk.eval.harness import EvalReport, evaluate, split_rows
from fusionsdk.providers.replay import ReplayRow, load_replay
from fusionsdk.registry import PluginKind, default_registry

__all__ = ["EvalCommand", "SweepCommand"]

DATASET = typer.Option(..., "--dataset", "-d", help="JSONL(.gz) rows with id, question, answer.")
SCORER = typer.Option("exact", "--scorer", "-s", help="A fusionsdk.scorers plugin (numeric, exact, ...).")
LIMIT = typer.Option(None, "--limit", min=1, help="Only the first N rows (after the split).")
SPLIT = typer.Option(None, "--split", help="train or test half, shuffled with --seed.")
SEED = typer.Option(0, "--seed", help="Seed of the train/test shuffle.")
CONCURRENCY = typer.Option(16, "--concurrency", min=1, help="Rows run at once.")
REPORT = typer.Option(None, "--report", help="Write an HTML report with plots here.")
ENGINE = typer.Option(
    "in_process", "--engine", help="Where rows run: in_process, or ray (a fusionsdk.engines plugin)."
)
ADDRESS = typer.Option(
    None, "--address", help="Ray cluster to join (auto, ray://HOST:10001); local if omitted."
)
WORKERS = typer.Option(None, "--workers", min=1, help="CPUs of a local Ray cluster (default: all).")


def _engine(name: str, address: str | None, workers: int | None) -> EvalEngine:
    """The engine plugin ``name``, with the Ray options given."""
    options: dict[str, Any] = {}
    if address is not None:
        options["address"] = address
    if workers is not None:
        options["num_cpus"] = workers
    if options and name == "in_process":
        raise ConfigError("--address and --workers need --engine ray", path="--engine")
    return build_engine(name, options)


def _run_with(engine: EvalEngine, coro: Any) -> Any:
    """Run an evaluation coroutine, then close the engine (a local Ray cluster stops)."""
    try:
        return run_sync(coro)
    finally:
        run_sync(engine.aclose())


def _rows(dataset: Path, split: str | None, seed: int, limit: int | None) -> list[ReplayRow]:
    if split not in (None, "train", "test"):
        raise ConfigError(f"--split must be train or test, got '{split}'")
    rows = split_rows(load_replay(str(dataset)).rows, split, seed)  # type: ignore[arg-type]
    return rows[:limit] if limit else rows


def _scorer(name: str) -> Scorer:
    from fusionsdk.errors import PluginError

    try:
        return default_registry().get(PluginKind.SCORERS, name)()  # type: ignore[no-any-return]
    except PluginError as err:
        raise ConfigError(str(err), path="--scorer") from None


_NUMBER = re.compile(r"\s*[-−]?\$?\d[\d,]*(?:\.\d+)?%?\s*")


def scorer_hint(scorer: str, report: EvalReport, rows: Sequence[ReplayRow]) -> str | None:
    """A hint when the scorer looks wrong for the data: ``exact`` scoring nothing while most
    references are numbers (replies such as "The answer is 18." never equal "18")."""
    if scorer != "exact" or report.accuracy > 0 or not rows:
        return None
    numeric = sum(1 for row in rows if _NUMBER.fullmatch(row.answer))
    if numeric < 0.8 * len(rows):
        return None
    return (
        f"every answer scored 0 with the exact scorer, and {numeric} of {len(rows)} references are "
        "numbers: try -s numeric (it compares the final number of each reply)"
    )


def _print_report(report: EvalReport) -> None:
    low, high = report.ci95
    stdout.print(
        f"accuracy {report.accuracy:.4f} (95% CI {low:.4f}-{high:.4f}, n={report.n}) · oracle "
        f"{report.oracle_accuracy:.4f} · cost ${report.cost_usd:.4f} · tokens {report.tokens} · "
        f"latency p50 {report.latency_p50_s:.3f}s p95 {report.latency_p95_s:.3f}s · errors {report.errors}",
        markup=False,
    )
    table = Table("model", "accuracy", "cost (USD)", "answered", "call share")
    for model, figures in sorted(report.per_model.items(), key=lambda kv: -kv[1]["accuracy"]):
        table.add_row(
            model,
            f"{figures['accuracy']:.4f}",
            f"{figures['cost_usd']:.4f}",
            str(int(figures["answered"])),
            f"{report.call_share.get(model, 0):.2%}",
        )
    stdout.print(table)
    if report.route_share:
        stdout.print(
            "routes: " + ", ".join(f"{t} {s:.1%}" for t, s in report.route_share.items()), markup=False
        )


def _print_explained(explained: list[ExplainedRow]) -> None:
    for row in explained:
        table = Table("reply", "tail", "answer read", "score", title=f"{row.id}: reference {row.reference!r}")
        table.add_row("reference", "", repr(row.reference_answer), "")
        for line in row.lines:
            table.add_row(line.source, line.tail, repr(line.answer), f"{line.score:g}")
        stdout.print(table)


def eval_command(
    config: Path = typer.Argument(..., help="Graph config (YAML)."),
    dataset: Path = DATASET,
    scorer: str = SCORER,
    limit: int | None = LIMIT,
    split: str | None = SPLIT,
    seed: int = SEED,
    concurrency: int = CONCURRENCY,
    as_json: bool = JSON_OPTION,
    report: Path | None = REPORT,
    ratings: bool = typer.Option(False, "--ratings", help="Also rate the models (Elo, Bradley-Terry)."),
    explain: int | None = typer.Option(
        None, "--explain", min=1, help="Show N sampled rows: each reply's tail, the answer read, the verdict."
    ),
    engine: str = ENGINE,
    address: str | None = ADDRESS,
    workers: int | None = WORKERS,
) -> None:
    """Run the graph on every row of a dataset and report accuracy (with a 95% interval), cost,
    tokens, latency, each model's accuracy and cost, the oracle and the routing shares. With
    --engine ray, rows run as Ray tasks (a local cluster, or --address)."""
    from fusionsdk.graph import compile_file

    graph = compile_file(config)
    runner = _engine(engine, address, workers)
    rows = _rows(dataset, split, seed, limit)
    judge = _scorer(scorer)
    with progress("eval", total=len(rows)) as bar:
        result = _run_with(
            runner, evaluate(graph, rows, judge, concurrency=concurrency, on_row=bar.advance, engine=runner)
        )
    hint = scorer_hint(scorer, result, rows)
    if hint is not None:
        stderr.print(Text.assemble(("hint: ", "cyan"), hint))
    if report is not None:
        from fusionsdk.eval.report import render_html

        report.write_text(render_html(result, title=f"{config.name} on {dataset.name}"), encoding="utf-8")
    rated = result.ratings() if ratings else None
    explained = explain_rows(result.rows, rows, judge, explain, seed=seed) if explain else None
    if as_json:
        extra = {"explain": [row.as_dict() for row in explained]} if explained is not None else {}
        print_json({**result.as_dict(), **({"ratings": rated} if rated else {}), **extra})
        return
    _print_report(result)
    if explained is not None:
        _print_explained(explained)
    if rated:
        table = Table("model", "Elo", "Bradley-Terry")
        for model, elo in sorted(rated["elo"].items(), key=lambda kv: -kv[1]):
            table.add_row(model, f"{elo:.0f}", f"{rated['bradley_terry'][model]:.0f}")
        stdout.print(table)


def sweep_command(
    config: Path = typer.Argument(..., help="Graph config (YAML)."),
    param: str = typer.Option(..., "--param", help="Config path to vary, e.g. nodes.panel.models."),
    values: list[str] = typer.Option(..., "--value", help="A JSON value for --param (repeat the option)."),
    dataset: Path = DATASET,
    scorer: str = SCORER,
    limit: int | None = LIMIT,
    split: str | None = SPLIT,
    seed: int = SEED,
    concurrency: int = CONCURRENCY,
    as_json: bool = JSON_OPTION,
    report: Path | None = REPORT,
    engine: str = ENGINE,
    address: str | None = ADDRESS,
    workers: int | None = WORKERS,
) -> None:
    """Evaluate the graph once per --value of --param; report the cost-accuracy curve, its
    Pareto frontier, AIQ and APGR."""
    from fusionsdk.config.file import load_config
    from fusionsdk.eval.sweep import sweep

    parsed: list[Any] = []
    for i, raw in enumerate(values):
        try:
            parsed.append(json.loads(raw))
        except ValueError:
            raise ConfigError(f"not JSON: {raw!r}", path=f"--value[{i}]") from None
    with progress(f"sweep of {param}", total=len(parsed)) as bar:
        result = run_sync(
            sweep(
                load_config(config),
                param,
                parsed,
                _rows(dataset, split, seed, limit),
                _scorer(scorer),
                concurrency=concurrency,
                on_value=bar.advance,
            )
        )
    summary = result.as_dict()
    if report is not None:
        from fusionsdk.eval.report import render_html

        best = max(result.reports, key=lambda r: r.accuracy)
        report.write_text(render_html(best, title=f"sweep of {param}", sweep=result), encoding="utf-8")
    if as_json:
        print_json(summary)
        return
    table = Table(param, "accuracy", "cost (USD)")
    for point in summary["points"]:
        table.add_row(json.dumps(point["value"]), f"{point['accuracy']:.4f}", f"{point['cost_usd']:.4f}")
    stdout.print(table)
    apgr = "n/a" if summary["apgr"] is None else f"{summary['apgr']:.3f}"
    stdout.print(
        f"AIQ {summary['aiq']:.4f} · APGR {apgr} · frontier {len(summary['frontier'])} points", markup=False
    )


class EvalCommand(Command):
    """``fusionsdk eval``: evaluate a graph on a dataset."""

    def build(self) -> Any:
        return eval_command


class SweepCommand(Command):
    """``fusionsdk sweep``: a cost-quality curve over one config parameter."""

    def build(self) -> Any:
        return sweep_command
