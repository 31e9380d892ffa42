"""Fit the thresholds of a ``semantic`` router from labelled examples (``fusionsdk routes fit``).

An examples file is JSON Lines, one request a line, with the route it should take (``null``, or
a target that is no route, when it should fall through to the default)::

    {"text": "what is 15% of 80?", "route": "math"}
    {"text": "tell me a joke", "route": null}

:func:`fit_thresholds` scores every example against every route once, then raises or lowers
one route's threshold at a time (coordinate ascent, a few passes) to the value that routes the
most examples right, taking the middle of the best interval so that the threshold keeps a
margin on both sides.

Example:
    >>> fit = fit_thresholds(router, read_examples(Path("examples.jsonl")))  # doctest: +SKIP
    >>> write_routes_file(Path("routes.json"), router, fit)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fusionsdk.errors import ConfigError
from fusionsdk.files import write_json_file
from fusionsdk.routing.semantic import ROUTES_FORMAT, SemanticRouter

__all__ = ["Example", "ThresholdFit", "fit_thresholds", "read_examples", "write_routes_file"]

#: A labelled request: its text and the target it should go to (None: the default).
Example = tuple[str, str | None]


@dataclass(frozen=True)
class ThresholdFit:
    """Fitted thresholds and how well they route the examples.

    Attributes:
        thresholds: One per route, in the router's route order.
        accuracy: Share of examples routed right with the fitted thresholds.
        accuracy_before: The same with the thresholds the router had.
        n: Examples fitted on.
    """

    thresholds: list[float]
    accuracy: float
    accuracy_before: float
    n: int


def read_examples(path: Path) -> list[Example]:
    """Read a JSONL examples file.

    Raises:
        ConfigError: Missing file, no examples, or a malformed line (named by its number).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise ConfigError(
            f"cannot read examples file {path}: {err.strerror or err}", path="examples"
        ) from None
    examples: list[Example] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            text, route = data["text"], data.get("route")
        except (ValueError, KeyError, TypeError) as err:
            raise ConfigError(
                f"{path} line {number}: not an example ({type(err).__name__}: {err})", path="examples"
            ) from None
        if not isinstance(text, str) or not (route is None or isinstance(route, str)):
            raise ConfigError(
                f"{path} line {number}: 'text' must be a string and 'route' a string or null", path="examples"
            )
        examples.append((text, route))
    if not examples:
        raise ConfigError(f"{path} has no examples", path="examples")
    return examples


def _predict(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Index of the route each example takes, -1 for the default."""
    passing = np.where(scores >= thresholds, scores, -np.inf)
    best = passing.argmax(axis=1)
    return np.where(np.isfinite(passing.max(axis=1)), best, -1)


def fit_thresholds(
    router: SemanticRouter, examples: Sequence[Example], *, passes: int = 4, max_candidates: int = 256
) -> ThresholdFit:
    """Fit each route's threshold to route ``examples`` right as often as possible.

    Raises:
        ConfigError: No examples.
    """
    if not examples:
        raise ConfigError("no examples to fit thresholds on", path="examples")
    targets = [r.target for r in router.routes]
    labels = np.array([targets.index(label) if label in targets else -1 for _, label in examples])
    scores = router.route_scores([text for text, _ in examples])
    thresholds = np.array(router.thresholds(), dtype=float)
    before = float((_predict(scores, thresholds) == labels).mean())
    for _ in range(passes):
        changed = False
        for i in range(len(targets)):
            best = _best_threshold(scores, labels, thresholds, i, max_candidates)
            changed = changed or not np.isclose(best, thresholds[i])
            thresholds[i] = best
        if not changed:
            break
    after = float((_predict(scores, thresholds) == labels).mean())
    return ThresholdFit([round(float(t), 6) for t in thresholds], after, before, len(examples))


def _best_threshold(
    scores: np.ndarray, labels: np.ndarray, thresholds: np.ndarray, i: int, max_candidates: int
) -> float:
    values = np.unique(np.clip(scores[:, i], -1.0, 1.0))
    if len(values) > max_candidates:
        values = np.unique(np.quantile(values, np.linspace(0, 1, max_candidates)))
    # Thresholds between observed scores (and beyond both ends) cover every distinct outcome.
    candidates = np.concatenate([[values[0] - 1e-3], (values[1:] + values[:-1]) / 2, [values[-1] + 1e-3]])
    trial = thresholds.copy()
    right = np.empty(len(candidates))
    for k, value in enumerate(candidates):
        trial[i] = value
        right[k] = (_predict(scores, trial) == labels).sum()
    tied = np.flatnonzero(right == right.max())
    # The middle of the widest best plateau (a run of adjacent candidates) keeps a margin.
    runs = np.split(tied, np.flatnonzero(np.diff(tied) > 1) + 1)
    run = max(runs, key=lambda r: candidates[r[-1]] - candidates[r[0]])
    return float(np.clip((candidates[run[0]] + candidates[run[-1]]) / 2, -1.0, 1.0))


def write_routes_file(path: Path, router: SemanticRouter, fit: ThresholdFit, **extra: Any) -> dict[str, Any]:
    """Write the router's routes with the fitted thresholds (atomically); returns the content."""
    data = {
        "version": ROUTES_FORMAT,
        "embedder": router.embedder_name,
        "embedder_options": router.embedder_options,
        "default": router.default,
        "routes": [
            {"target": r.target, "utterances": list(r.utterances), "threshold": t}
            for r, t in zip(router.routes, fit.thresholds, strict=True)
        ],
        "fit": {"examples": fit.n, "accuracy": fit.accuracy, "accuracy_before": fit.accuracy_before, **extra},
    }
    write_json_file(path, data)
    return data
