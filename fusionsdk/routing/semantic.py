"""``semantic``: route by embedding similarity to example utterances of each route.

Each route lists utterances typical of it. A request scores, for each route, its highest cosine
similarity to the route's utterances; the best-scoring route whose score reaches the route's
``threshold`` wins, else ``default``. Thresholds can be fitted from labelled examples with
``fusionsdk routes fit`` (:mod:`fusionsdk.tuning.semantic_routes`), which writes a routes file::

    {"version": 1, "embedder": "hashing", "embedder_options": {}, "default": "chat",
     "routes": [{"target": "math", "utterances": ["solve 3x + 2 = 11"], "threshold": 0.41}]}

Example::

    route:
      kind: router
      strategy: semantic
      options:
        routes:
          - {target: math, utterances: ["solve this equation", "what is 15% of 80"]}
          - {target: code, utterances: ["fix this python function", "why does my loop crash"]}
        default: chat
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fusionsdk.errors import ConfigError, GraphError
from fusionsdk.plugin import PluginOptions
from fusionsdk.registry import Registry
from fusionsdk.routing.base import RouteDecision, Router, RouteRequest
from fusionsdk.routing.embedding import default_embedder, embed_unit, shared_embedder

__all__ = ["ROUTES_FORMAT", "SemanticRoute", "SemanticRouter", "read_routes_file"]

ROUTES_FORMAT = 1


class SemanticRoute(BaseModel):
    """One route.

    Attributes:
        target: Where a matching request goes.
        utterances: Example requests of this route (at least one).
        threshold: Lowest similarity (-1 to 1) that matches; None takes the router's ``threshold``.
    """

    model_config = ConfigDict(extra="forbid")

    target: str = Field(min_length=1)
    utterances: list[str] = Field(min_length=1)
    threshold: float | None = Field(None, ge=-1, le=1)


def read_routes_file(path: Path) -> dict[str, Any]:
    """Read a routes file (``fusionsdk routes fit`` output) and validate its shape.

    Raises:
        ValueError: Missing, unreadable or malformed file; the message names the key.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"routes file not found: {path}") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read routes file {path}: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("routes"), list):
        raise ValueError(f"{path}: a routes file is a JSON object with a 'routes' list")
    if data.get("version", ROUTES_FORMAT) != ROUTES_FORMAT:
        raise ValueError(
            f"{path}: version: this fusionsdk reads version {ROUTES_FORMAT}, got {data['version']!r}"
        )
    for i, route in enumerate(data["routes"]):
        try:
            SemanticRoute.model_validate(route)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"{path}: routes[{i}]{'.' + where if where else ''}: {first['msg']}") from None
    return data


class SemanticRouter(Router["SemanticRouter.Options"]):
    """Pick the route whose example utterances are most similar to the request (cosine of
    embeddings), if that similarity reaches the route's threshold; else ``default``."""

    class Options(PluginOptions):
        """Options of semantic.

        Attributes:
            routes: The routes, each with utterances (or give ``routes_file``).
            routes_file: A routes file written by ``fusionsdk routes fit`` (utterances and
                fitted thresholds, and the embedder they were fitted with).
            threshold: Threshold of routes that set none.
            default: Target when no route reaches its threshold (error if none and no default).
            embedder: A ``fusionsdk.embedders`` plugin (default: the routes file's, else
                ``minilm`` when installed, else ``hashing``).
            embedder_options: Its options.
        """

        routes: list[SemanticRoute] = Field(default_factory=list)
        routes_file: Path | None = None
        threshold: float = Field(0.5, ge=-1, le=1)
        default: str | None = None
        embedder: str | None = None
        embedder_options: dict[str, Any] = Field(default_factory=dict)

        @field_validator("routes_file")
        @classmethod
        def _readable(cls, path: Path | None) -> Path | None:
            if path is not None:
                read_routes_file(path)
            return path

        @model_validator(mode="after")
        def _one_source(self) -> SemanticRouter.Options:
            if bool(self.routes) == (self.routes_file is not None):
                raise ValueError("give either 'routes' or 'routes_file'")
            targets = [r.target for r in self.routes]
            duplicate = next((t for t in targets if targets.count(t) > 1), None)
            if duplicate is not None:
                raise ValueError(f"two routes go to '{duplicate}': merge their utterances")
            return self

    def __init__(
        self, options: PluginOptions | dict[str, Any] | None = None, *, registry: Registry | None = None
    ) -> None:
        super().__init__(options, registry=registry)
        opts: SemanticRouter.Options = self.options
        self.default = opts.default
        self.embedder_name, self.embedder_options = opts.embedder, dict(opts.embedder_options)
        self.routes = list(opts.routes)
        if opts.routes_file is not None:
            self._load_file(opts.routes_file)
        if self.embedder_name is not None:  # a named embedder is checked now (its model loads later)
            shared_embedder(self.embedder_name, self.embedder_options, registry=self.registry)
        self._lock = threading.Lock()
        self._matrix: np.ndarray | None = None
        self._owners: np.ndarray | None = None

    def _load_file(self, path: Path) -> None:
        opts: SemanticRouter.Options = self.options
        data = read_routes_file(path)
        fitted_with = data.get("embedder")
        if opts.embedder is not None and fitted_with not in (None, opts.embedder):
            raise ConfigError(
                f"the routes file was fitted with embedder '{fitted_with}', not '{opts.embedder}'",
                path="options.embedder",
            )
        self.embedder_name = opts.embedder or fitted_with
        if not opts.embedder_options:
            self.embedder_options = dict(data.get("embedder_options") or {})
        self.routes = [SemanticRoute.model_validate(r) for r in data["routes"]]
        if self.default is None:
            self.default = data.get("default")

    def declared_targets(self) -> list[str]:
        targets = [r.target for r in self.routes] + ([self.default] if self.default else [])
        return list(dict.fromkeys(targets))

    def thresholds(self) -> list[float]:
        """Each route's threshold (the router's ``threshold`` where the route sets none)."""
        fallback = self.options.threshold
        return [fallback if r.threshold is None else r.threshold for r in self.routes]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings of ``texts`` with the router's embedder."""
        if self.embedder_name is None:
            self.embedder_name = default_embedder(self.registry)
        embedder = shared_embedder(self.embedder_name, self.embedder_options, registry=self.registry)
        return embed_unit(embedder, texts)

    def _utterances(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:  # embedded once, on first use: building a router stays cheap
            if self._matrix is None:
                texts = [u for r in self.routes for u in r.utterances]
                self._owners = np.array([i for i, r in enumerate(self.routes) for _ in r.utterances])
                self._matrix = self.embed(texts)
            assert self._owners is not None
            return self._matrix, self._owners

    def route_scores(self, texts: Sequence[str]) -> np.ndarray:
        """For each text, each route's score (highest similarity to one of its utterances)."""
        matrix, owners = self._utterances()
        similarities = self.embed(texts) @ matrix.T
        scores = np.full((len(texts), len(self.routes)), -1.0)
        for i in range(len(self.routes)):
            scores[:, i] = similarities[:, owners == i].max(axis=1)
        return scores

    async def route(self, request: RouteRequest, targets: Sequence[str]) -> RouteDecision:
        if not targets:
            raise GraphError("semantic router: no targets to choose from")
        offered = [i for i, r in enumerate(self.routes) if r.target in targets]
        scores = (await asyncio.to_thread(self.route_scores, [request.text]))[0] if offered else np.zeros(0)
        thresholds = self.thresholds()
        passing = [i for i in offered if scores[i] >= thresholds[i]]
        reported = {self.routes[i].target: round(float(scores[i]), 6) for i in offered}
        if passing:
            best = max(passing, key=lambda i: scores[i])
            target = self.routes[best].target
            reason = f"similarity {scores[best]:.3f} to route '{target}' >= {thresholds[best]:.3f}"
            return RouteDecision(self.routes[best].target, reason, reported)
        if self.default is not None and self.default in targets:
            best_score = max((float(scores[i]) for i in offered), default=float("nan"))
            return RouteDecision(
                self.default, f"no route reached its threshold (best {best_score:.3f}): default", reported
            )
        raise GraphError(
            f"semantic router: no route reached its threshold and no default among {list(targets)[:10]}"
        )
