"""``fusionsdk router train`` and ``fusionsdk routes fit``: learn routers from data.

``router train`` evaluates the models of a routed agent on a dataset and writes the ``learned``
router's model file; ``routes fit`` fits the thresholds of a ``semantic`` router on labelled
examples and writes a routes file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from fusionsdk._sync import run_sync
from fusionsdk.cli._common import JSON_OPTION, command_group, print_json, stdout
from fusionsdk.cli.base import Command
from fusionsdk.cli.eval import CONCURRENCY, DATASET, LIMIT, SCORER, SEED, SPLIT, _rows, _scorer
from fusionsdk.cli.progress import progress
from fusionsdk.config.lookup import find_node
from fusionsdk.errors import ConfigError

__all__ = ["RouterCommand", "RoutesCommand"]

_OPTIONS = {"node": "--node", "method": "--method", "settings": "--setting", "embedder": "--embedder"}


def _writable(out: Path) -> None:
    if out.is_dir() or not out.parent.is_dir():
        raise ConfigError(f"cannot write a file at {out}: not a file in an existing folder", path="--out")


def _settings(raw: list[str]) -> dict[str, float]:
    settings = {}
    for i, item in enumerate(raw):
        key, sep, value = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            settings[key.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"expected NAME=NUMBER, got {item!r}", path=f"--setting[{i}]") from None
    return settings


def train_command(
    config: Path = typer.Argument(
        ..., help="Graph config (YAML) with an agent routed over models, or a panel."
    ),
    dataset: Path = DATASET,
    scorer: str = SCORER,
    out: Path = typer.Option(..., "--out", "-o", help="Write the router model file (JSON) here."),
    split: str | None = SPLIT,
    seed: int = SEED,
    limit: int | None = LIMIT,
    node: str | None = typer.Option(None, "--node", help="The agent (or panel) node to train for."),
    method: str = typer.Option("knn", "--method", help="knn, logistic, mlp or mf (matrix factorisation)."),
    embedder: str | None = typer.Option(
        None, "--embedder", help="A fusionsdk.embedders plugin (default: minilm, else hashing)."
    ),
    setting: list[str] = typer.Option(
        [], "--setting", help="Predictor setting NAME=NUMBER, e.g. k=20 (repeatable)."
    ),
    feedback: Path | None = typer.Option(
        None, "--feedback", help="Also learn from the scored decisions of this feedback log."
    ),
    concurrency: int = CONCURRENCY,
    as_json: bool = JSON_OPTION,
) -> None:
    """Evaluate every model of the node on the dataset, learn to predict each model's success
    from the prompt, and write the model file of the ``learned`` router."""
    from fusionsdk.config.file import load_config
    from fusionsdk.routing.feedback import FeedbackLog
    from fusionsdk.routing.router_file import write_router_model
    from fusionsdk.tuning.router_training import train_config

    _writable(out)
    if feedback is not None and not feedback.is_file():
        raise ConfigError(f"feedback log not found: {feedback}", path="--feedback")
    parsed, settings = load_config(config), _settings(setting)
    rows, judge = _rows(dataset, split, seed, limit), _scorer(scorer)
    try:
        with progress("router train: evaluating the models", total=len(rows)) as bar:
            fit = run_sync(
                train_config(
                    parsed,
                    rows,
                    judge,
                    node=node,
                    method=method,
                    embedder=embedder,
                    settings=settings,
                    seed=seed,
                    concurrency=concurrency,
                    feedback=FeedbackLog(feedback) if feedback else None,
                    base_dir=config.resolve().parent,
                    on_row=bar.advance,
                )
            )
    except ConfigError as err:
        if err.path in _OPTIONS or (err.path or "").startswith("options.embedder"):
            raise ConfigError(err.message, path=_OPTIONS.get(err.path or "", "--embedder")) from None
        raise
    fit.model.extra.update(
        config=str(config),
        dataset=str(dataset),
        scorer=scorer,
        split=split,
        seed=seed,
        brier=fit.brier,
        brier_prior=fit.brier_prior,
    )
    try:
        write_router_model(out, fit.model)
    except OSError as err:
        raise ConfigError(f"cannot write {out}: {err.strerror or err}", path="--out") from None
    summary = _summary(fit, out)
    if as_json:
        print_json(summary)
        return
    _print_train(fit, summary)


def _summary(fit: Any, out: Path) -> dict[str, Any]:
    model = fit.model
    counts = model.counts
    return {
        "out": str(out),
        "node": model.extra.get("node"),
        "method": model.method,
        "embedder": model.embedder,
        "prompts": len(fit.data.texts),
        "models": {
            m: {"accuracy": counts[m][0] / max(1.0, sum(counts[m])), "cost_usd": model.costs.get(m, 0.0)}
            for m in model.models
        },
        "brier": fit.brier,
        "brier_prior": fit.brier_prior,
    }


def _print_train(fit: Any, summary: dict[str, Any]) -> None:
    listing = Table("model", "accuracy", "mean cost (USD)")
    for name, figures in sorted(summary["models"].items(), key=lambda kv: kv[1]["cost_usd"]):
        listing.add_row(name, f"{figures['accuracy']:.4f}", f"{figures['cost_usd']:.6f}")
    stdout.print(listing)
    held = (
        f"held-out Brier {summary['brier']:.4f} (success rates alone: {summary['brier_prior']:.4f})"
        if summary["brier"] is not None
        else "too few prompts to hold any out"
    )
    lines = [
        f"{summary['prompts']} prompts, {len(summary['models'])} models, {summary['method']} on "
        f"{summary['embedder']} embeddings; {held}",
        f"wrote {summary['out']}: use it with {{kind: agent, router: learned, models: "
        f"[{', '.join(fit.model.models)}], router_options: {{model_file: {summary['out']}}}}}",
    ]
    for line in lines:
        stdout.print(line, markup=False)


def _semantic_options(config: Any, node: str | None) -> tuple[str, str, dict[str, Any]]:
    """(node, options path, options) of the config's semantic router."""
    found = find_node(
        config,
        node,
        where=lambda n: n.router is not None and n.router.strategy == "semantic",
        arg="--node",
        unnamed="name the node whose semantic router to fit (semantic routers: {found})",
        unknown="'{name}' has no semantic router (nodes with one: {found})",
    )
    router = found.router
    assert router is not None
    return found.name, router.path, router.options


def fit_routes_command(
    config: Path = typer.Argument(..., help="Graph config (YAML) with a semantic router."),
    examples: Path = typer.Option(
        ..., "--examples", "-e", help='JSONL examples: {"text": ..., "route": TARGET or null}.'
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Write the routes file (JSON) here."),
    node: str | None = typer.Option(None, "--node", help="The node whose semantic router to fit."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Fit each route's similarity threshold to route the labelled examples right, and write a
    routes file for ``{strategy: semantic, options: {routes_file: OUT}}``."""
    from fusionsdk.config.file import load_config
    from fusionsdk.config.validation import validate_model
    from fusionsdk.routing.semantic import SemanticRouter
    from fusionsdk.tuning.semantic_routes import fit_thresholds, read_examples, write_routes_file

    _writable(out)
    name, path, options = _semantic_options(load_config(config), node)
    try:
        labelled = read_examples(examples)
    except ConfigError as err:
        raise ConfigError(err.message, path="--examples") from None
    router = SemanticRouter(validate_model(SemanticRouter.Options, options, path))
    before = router.thresholds()
    fit = fit_thresholds(router, labelled)
    try:
        data = write_routes_file(out, router, fit, config=str(config), node=name, examples_file=str(examples))
    except OSError as err:
        raise ConfigError(f"cannot write {out}: {err.strerror or err}", path="--out") from None
    if as_json:
        print_json(data)
        return
    table = Table("route", "utterances", "threshold before", "fitted")
    for route, old, new in zip(router.routes, before, fit.thresholds, strict=True):
        table.add_row(route.target, str(len(route.utterances)), f"{old:.3f}", f"{new:.3f}")
    stdout.print(table)
    stdout.print(
        f"{fit.n} examples routed right: {fit.accuracy_before:.2%} before, {fit.accuracy:.2%} fitted "
        f"({router.embedder_name} embeddings); wrote {out}: use it with "
        f"{{strategy: semantic, options: {{routes_file: {out}}}}}",
        markup=False,
    )


class RouterCommand(Command):
    """``fusionsdk router``: train the ``learned`` router (``router train``)."""

    def build(self) -> Any:
        return command_group("Train learned routers from evaluation data.", train=train_command)


class RoutesCommand(Command):
    """``fusionsdk routes``: fit a ``semantic`` router's thresholds (``routes fit``)."""

    def build(self) -> Any:
        return command_group("Fit semantic routes from labelled examples.", fit=fit_routes_command)
