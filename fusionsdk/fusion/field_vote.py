"""``field_vote``: structured answers fused field by field.

Each candidate is read as a JSON object (validated against ``json_schema`` when one is given;
candidates that do not parse or validate are left out and named in the details). Every
top-level field is then decided by a weighted vote over the candidates' values for it (values
compared as canonical JSON; ties go to the value seen first), and the fused object is the
answer, as JSON text. The ``fuse`` node uses it when given a ``response_format``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.plugin import PluginOptions
from fusionsdk.providers.structured import ResponseFormat

__all__ = ["FieldVote"]


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


class FieldVote(Fuser):
    """Vote per field over the candidates' parsed JSON objects."""

    class Options(PluginOptions):
        """Options of field_vote.

        Attributes:
            json_schema: JSON Schema (or OpenAI ``response_format``) each candidate must satisfy;
                None accepts any JSON object.
        """

        json_schema: dict[str, Any] | None = None

    def _parse(
        self, candidates: Sequence[Candidate]
    ) -> tuple[list[tuple[Candidate, dict[str, Any]]], dict[str, str]]:
        schema = self.options.json_schema  # type: ignore[attr-defined]
        fmt = ResponseFormat.of(schema) if schema else ResponseFormat({"type": "json_object"})
        parsed: list[tuple[Candidate, dict[str, Any]]] = []
        rejected: dict[str, str] = {}
        for candidate in candidates:
            try:
                value = fmt.parse(candidate.text)
            except ValueError as err:
                rejected[candidate.model] = str(err)
                continue
            if not isinstance(value, dict):
                rejected[candidate.model] = "not a JSON object"
                continue
            parsed.append((candidate, value))
        return parsed, rejected

    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        parsed, rejected = self._parse(candidates)
        if not parsed:
            detail = "; ".join(f"{m}: {e}" for m, e in rejected.items()) or "no candidates"
            raise FusionError(f"field_vote: no candidate is a valid structured answer ({detail})")
        fields: list[str] = []
        for _, value in parsed:
            fields.extend(f for f in value if f not in fields)
        fused: dict[str, Any] = {}
        agreement: dict[str, float] = defaultdict(float)
        votes: dict[str, dict[str, float]] = {}
        for name in fields:
            totals: dict[str, float] = defaultdict(float)
            values: dict[str, Any] = {}
            for candidate, value in parsed:
                if name in value:
                    key = _key(value[name])
                    totals[key] += candidate.weight
                    values.setdefault(key, value[name])
            order = list(values)
            best = max(order, key=lambda k: (totals[k], -order.index(k)))
            fused[name] = values[best]
            votes[name] = {k: v for k, v in totals.items()}
            for candidate, value in parsed:
                if name in value and _key(value[name]) == best:
                    agreement[candidate.model] += 1.0
        text = json.dumps(fused, ensure_ascii=False)
        winner = max(parsed, key=lambda p: agreement[p[0].model])[0].model
        split = [f for f in fields if len(votes[f]) > 1]
        reason = f"{len(fields)} fields voted by {len(parsed)} valid candidates" + (
            f"; split on {', '.join(split)}" if split else "; unanimous"
        )
        return FusionResult(
            text=text,
            winner=winner,
            scores=dict(agreement),
            reason=reason,
            details={"rejected": rejected, "field_votes": votes},
        )
