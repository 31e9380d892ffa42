"""``rules``: route by metadata, regex, keywords, language hints and length; first match wins."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fusionsdk.errors import GraphError
from fusionsdk.plugin import PluginOptions
from fusionsdk.routing.base import RouteDecision, Router, RouteRequest

__all__ = ["Rule", "RulesRouter"]


class Rule(BaseModel):
    """One rule; every condition given must hold.

    Attributes:
        target: Where a matching request goes.
        keywords: Any of these words appears (case-insensitive).
        regex: The text matches this regular expression.
        metadata: Each key has this value in the request metadata.
        min_length: At least this many characters.
        max_length: At most this many characters.
    """

    model_config = ConfigDict(extra="forbid")

    target: str
    keywords: list[str] = Field(default_factory=list)
    regex: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=0)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"invalid regular expression: {err}") from None
        return value

    def why(self, request: RouteRequest) -> str | None:
        """The reason this rule matches ``request``, or None."""
        text = request.text
        reasons = []
        if self.keywords:
            found = [k for k in self.keywords if re.search(rf"\b{re.escape(k)}\b", text, re.IGNORECASE)]
            if not found:
                return None
            reasons.append(f"keyword '{found[0]}'")
        if self.regex is not None:
            if not re.search(self.regex, text):
                return None
            reasons.append(f"regex /{self.regex}/")
        for key, value in self.metadata.items():
            if request.metadata.get(key) != value:
                return None
            reasons.append(f"metadata {key}={value!r}")
        if self.min_length is not None:
            if len(text) < self.min_length:
                return None
            reasons.append(f"length {len(text)} >= {self.min_length}")
        if self.max_length is not None:
            if len(text) > self.max_length:
                return None
            reasons.append(f"length {len(text)} <= {self.max_length}")
        return ", ".join(reasons) or "unconditional rule"


class RulesRouter(Router["RulesRouter.Options"]):
    """Try ``routes`` in order; the first rule that matches picks the target, else ``default``."""

    class Options(PluginOptions):
        """Rules router options.

        Attributes:
            routes: The rules, tried in order.
            default: Target when no rule matches (error if none matches and no default).
        """

        routes: list[Rule] = Field(default_factory=list)
        default: str | None = None

    def declared_targets(self) -> list[str]:
        opts: RulesRouter.Options = self.options
        targets = [r.target for r in opts.routes] + ([opts.default] if opts.default else [])
        return list(dict.fromkeys(targets))

    async def route(self, request: RouteRequest, targets: Sequence[str]) -> RouteDecision:
        opts: RulesRouter.Options = self.options
        for i, rule in enumerate(opts.routes):
            reason = rule.why(request)
            if reason is not None and rule.target in targets:
                return RouteDecision(rule.target, f"rule {i}: {reason}")
        if opts.default is not None and opts.default in targets:
            return RouteDecision(opts.default, "no rule matched: default")
        raise GraphError(f"no routing rule matched and no default among {list(targets)}")
