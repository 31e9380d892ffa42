"""The ``replay`` provider: real models' recorded answers, served as if the model answered now.

A replay file is JSON Lines (optionally gzipped), one question a row::

    {"id": "gsm8k-main-test-#0", "question": "...", "answer": "18", "outputs": {"gpt-4o": "...", ...}}

A prices file (``models.json``) beside it gives each model's USD per million tokens. The question
being asked is found by the row id in the run's metadata (``row_id``), else by the question text
inside the prompt. Tokens are counted with tiktoken, cost comes from the prices file, and latency
can be simulated, so a replay model works in panels, routers and fusion exactly like a live one.

Config::

    gpt4o: {provider: replay, model: gpt-4o-2024-08-06,
            options: {dataset: tests/data/gsm8k_subset.jsonl, latency_s: 0.2}}
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fusionsdk.config.models import ModelSpec, Prices
from fusionsdk.errors import BadRequest, ConfigError
from fusionsdk.providers.base import (
    CompletionRequest,
    Provider,
    ProviderResponse,
    Reachability,
    Usage,
)

__all__ = ["ReplayDataset", "ReplayProvider", "ReplayRow", "load_replay"]


@dataclass(frozen=True)
class ReplayRow:
    """One recorded question: its id, text, gold answer and each model's output."""

    id: str
    question: str
    answer: str
    outputs: dict[str, str] = field(default_factory=dict)


def _normalize(text: str) -> str:
    return " ".join(text.split())


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        yield from enumerate(handle, start=1)


class ReplayDataset:
    """A replay file in memory, indexed by row id and by question text.

    Args:
        path: The ``.jsonl`` or ``.jsonl.gz`` file.
        prices_path: The prices file (default: ``models.json`` beside the dataset, if present).

    Raises:
        ConfigError: Missing file, or a malformed row (named by its line number).
    """

    def __init__(self, path: Path, prices_path: Path | None = None) -> None:
        if not path.is_file():
            raise ConfigError(f"replay dataset not found: {path}")
        self.path = path
        self.rows: list[ReplayRow] = []
        for number, line in _read_lines(path):
            if line.strip():
                self.rows.append(self._parse(line, number))
        self.by_id = {row.id: row for row in self.rows}
        self.by_question = {_normalize(row.question): row for row in self.rows}
        self.models = sorted({m for row in self.rows for m in row.outputs})
        self.prices = self._load_prices(prices_path or path.with_name("models.json"))

    def _parse(self, line: str, number: int) -> ReplayRow:
        try:
            data = json.loads(line)
            return ReplayRow(
                str(data["id"]),
                str(data["question"]),
                str(data.get("answer", "")),
                {str(k): str(v) for k, v in (data.get("outputs") or {}).items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ConfigError(
                f"{self.path} line {number}: not a replay row ({type(err).__name__}: {err})"
            ) from None

    @staticmethod
    def _load_prices(path: Path) -> dict[str, dict[str, Any]]:
        if not path.is_file():
            return {}
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")).get("models", {}))
        except (ValueError, AttributeError) as err:
            raise ConfigError(f"{path}: not a prices file ({err})") from None

    def price(self, model: str) -> Prices | None:
        """The model's prices from the prices file, if listed."""
        entry = self.prices.get(model)
        if entry is None:
            return None
        return Prices(
            input_usd_per_mtok=float(entry.get("input_usd_per_mtok", 0.0)),
            output_usd_per_mtok=float(entry.get("output_usd_per_mtok", 0.0)),
        )

    def find(self, prompt: str, row_id: str | None) -> ReplayRow:
        """The row asked about: by ``row_id``, else the question text contained in ``prompt``.

        Raises:
            BadRequest: No row matches.
        """
        if row_id is not None:
            row = self.by_id.get(str(row_id))
            if row is None:
                raise BadRequest(f"row id '{row_id}' is not in replay dataset {self.path.name}")
            return row
        text = _normalize(prompt)
        row = self.by_question.get(text)
        if row is not None:
            return row
        for question, candidate in self.by_question.items():
            if question and question in text:
                return candidate
        raise BadRequest(f"the question is not in replay dataset {self.path.name}: {text[:80]!r}")


@functools.cache
def load_replay(path: str, prices: str | None = None) -> ReplayDataset:
    """Load (once per process) the replay dataset at ``path``."""
    return ReplayDataset(Path(path), Path(prices) if prices else None)


class ReplayProvider(Provider["ReplayProvider.Options"]):
    """Answers with a model's recorded output for the question being asked."""

    default_locality = "hosted"

    class Options(BaseModel):
        """Replay options.

        Attributes:
            dataset: The replay file (``.jsonl`` or ``.jsonl.gz``), relative to the working folder.
            prices: The prices file (default: ``models.json`` beside the dataset).
            latency_s: Simulated latency per call.
        """

        model_config = ConfigDict(extra="forbid")

        dataset: Path
        prices: Path | None = None
        latency_s: float = Field(0.0, ge=0)

    def __init__(self, spec: ModelSpec, options: BaseModel | None = None) -> None:
        super().__init__(spec, options)
        opts: ReplayProvider.Options = self.options
        self.dataset = load_replay(str(opts.dataset), str(opts.prices) if opts.prices else None)
        self.replayed = spec.model or spec.name
        if self.replayed not in self.dataset.models:
            known = ", ".join(self.dataset.models[:8]) + (", ..." if len(self.dataset.models) > 8 else "")
            raise ConfigError(f"model '{self.replayed}' is not in {opts.dataset} (known: {known})")
        self._prices = spec.prices or self.dataset.price(self.replayed)

    async def complete(self, request: CompletionRequest) -> ProviderResponse:
        opts: ReplayProvider.Options = self.options
        prompt = "\n".join(str(m["content"]) for m in request.messages if m["role"] == "user")
        metadata = request.metadata
        row = self.dataset.find(prompt, metadata.get("row_id", metadata.get("id")))
        text = row.outputs.get(self.replayed)
        if text is None:
            raise BadRequest(f"model '{self.replayed}' has no recorded answer for row '{row.id}'")
        if opts.latency_s:
            await asyncio.sleep(opts.latency_s)
        usage = Usage(self.count_tokens(prompt), self.count_tokens(text))
        return ProviderResponse(text=text, finish_reason="stop", usage=usage, backend_model=self.replayed)

    def cost_usd(self, usage: Usage) -> float | None:
        """From the prices file (or the spec's prices); unknown when neither lists the model."""
        if self._prices is None:
            return None
        return self._prices.cost(usage.prompt_tokens, usage.completion_tokens)

    async def reachability(self) -> Reachability:
        return Reachability("ok", f"{len(self.dataset.rows)} rows in {self.dataset.path.name}")
