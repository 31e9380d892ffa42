"""The tuning room's contract, and the evaluation every fit starts from.

``fusionsdk.tuning`` holds everything that *fits from evaluation data*, offline: vote weights
and panels for ``weighted_vote`` (:mod:`~fusionsdk.tuning.fusion_weights`,
:mod:`~fusionsdk.tuning.fusion_fit`), the ``learned`` router's model
(:mod:`~fusionsdk.tuning.router_training`) and a ``semantic`` router's thresholds
(:mod:`~fusionsdk.tuning.semantic_routes`).

Contract:
    - Tuning reads configs, compiles graphs and runs evaluations; the runtime rooms (fusion,
      routing, graph nodes) never do. It sits above ``graph`` and ``eval`` and below the CLI.
    - What it learns leaves as a file the runtime reads (a weights file, a router model file,
      a routes file), written atomically; nothing here is imported at run time.
    - Nodes are found with :func:`fusionsdk.config.lookup.find_node`, and a config is rewritten
      for measuring only by :func:`evaluate_panel` ("panel -> vote -> evaluate").
    - Bad arguments are :class:`~fusionsdk.errors.ConfigError` whose ``path`` names the
      argument; a dataset every run of which failed is a :class:`~fusionsdk.errors.FusionError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionsdk.errors import FusionError

if TYPE_CHECKING:
    from fusionsdk.config.file import FusionConfig
    from fusionsdk.eval.base import Scorer
    from fusionsdk.eval.engines import EvalEngine
    from fusionsdk.eval.harness import EvalReport, RowResult
    from fusionsdk.providers.replay import ReplayRow
    from fusionsdk.registry import Registry

__all__ = ["evaluate_panel"]


async def evaluate_panel(
    config: FusionConfig,
    rows: Sequence[ReplayRow],
    scorer: Scorer,
    *,
    panel: str,
    vote: str,
    node: Mapping[str, Any] | None = None,
    vote_options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
    base_dir: Path | None = None,
    concurrency: int = 16,
    on_row: Callable[[RowResult], None] | None = None,
    engine: EvalEngine | str | None = None,
) -> EvalReport:
    """Rewrite ``config`` into "panel -> vote" (its models kept, every other node dropped),
    compile it and evaluate it on ``rows``, which gives each panel model's score and cost per row.

    Args:
        config: The config whose models are measured.
        rows: The dataset.
        scorer: Scores the answers.
        panel: The panel node's name.
        vote: The name of the ``majority_vote`` fuse node placed behind it.
        node: The panel node's fields (``kind`` included); default: ``panel``'s node as written.
        vote_options: The vote's ``options`` (none when omitted).
        registry: Resolves the plugins (default: the default registry).
        base_dir: Folder that relative paths in the config resolve against.
        concurrency: Rows run at once.
        on_row: Called with each row's result as it finishes (progress, caches).
        engine: Where the rows run (``in_process`` or ``ray``; :mod:`fusionsdk.eval.engines`).

    Raises:
        ConfigError: The rewritten config does not compile.
        FusionError: Every row's run failed.
    """
    from fusionsdk.eval.harness import evaluate
    from fusionsdk.graph.builder import config_to_data
    from fusionsdk.graph.compiler import compile_config

    data = config_to_data(config)
    vote_node: dict[str, Any] = {"kind": "fuse", "strategy": "majority_vote"}
    if vote_options is not None:
        vote_node["options"] = dict(vote_options)
    data["nodes"] = {panel: dict(node) if node is not None else data["nodes"][panel], vote: vote_node}
    data["edges"] = [["START", panel], [panel, vote], [vote, "END"]]
    graph = compile_config(data, registry=registry, base_dir=base_dir)
    report = await evaluate(graph, rows, scorer, concurrency=concurrency, on_row=on_row, engine=engine)
    if report.errors == report.n:
        first = next(r.error for r in report.rows if r.error)
        raise FusionError(f"every row failed, so there is nothing to learn from (first: {first})")
    return report
