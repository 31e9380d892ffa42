"""``llm``: a (small) model reads the request and names the route.

The classifier model is one of the graph's models, given by name. It sees each route's name
and description and the request, and is asked for the route name alone; the reply is read
leniently (the whole reply, else the first route name it mentions, else a route number). A reply
naming no offered route, or a failed call, falls back to ``default``. The call carries the run
metadata, so a request marked sensitive only goes to a local classifier. The classifier's tokens
are not added to the run's cost (a router returns a decision, not a completion): use a local or
cheap model.

Example::

    route:
      kind: router
      strategy: llm
      options:
        model: smol
        routes:
          - {target: math, description: "arithmetic, algebra, word problems with numbers"}
          - {target: code, description: "programming questions and code to fix or write"}
        default: chat
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fusionsdk.errors import FusionError, GraphError
from fusionsdk.plugin import PluginOptions, check_models
from fusionsdk.routing.base import RouteDecision, Router, RouteRequest

__all__ = ["DEFAULT_PROMPT", "LLMRoute", "LLMRouter", "parse_route"]

DEFAULT_PROMPT = (
    "Classify the request into exactly one of these routes:\n\n{routes}\n\n"
    "Request:\n{task}\n\nReply with the route name only."
)


class LLMRoute(BaseModel):
    """A route the classifier may name.

    Attributes:
        target: The route (a model or node name).
        description: What requests belong to it, for the classifier.
    """

    model_config = ConfigDict(extra="forbid")

    target: str = Field(min_length=1)
    description: str = ""


def parse_route(reply: str, names: Sequence[str]) -> str | None:
    """The route ``reply`` names: the whole reply, else the earliest name mentioned as a word
    (the longest on a tie), else a 1-based number into ``names``; None when it names none.

    Example:
        >>> parse_route("Route: code.", ["math", "code"]), parse_route("2", ["math", "code"])
        ('code', 'code')
    """
    text = reply.strip().strip("\"'`.*").strip()
    by_fold = {name.casefold(): name for name in names}
    if text.casefold() in by_fold:
        return by_fold[text.casefold()]
    found = []
    for name in names:
        match = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", reply, re.IGNORECASE)
        if match:
            found.append((match.start(), -len(name), name))
    if found:
        return min(found)[2]
    number = re.fullmatch(r"\D{0,12}?(\d{1,4})\D{0,3}", text)
    if number and 1 <= int(number.group(1)) <= len(names):
        return names[int(number.group(1)) - 1]
    return None


class LLMRouter(Router["LLMRouter.Options"]):
    """Ask a classifier model which route the request belongs to (see the module docstring)."""

    deterministic: ClassVar[bool] = False  # a model's reply may vary
    model_refs: ClassVar[tuple[str, ...]] = ("model",)

    class Options(PluginOptions):
        """Options of llm.

        Attributes:
            model: The graph model that classifies.
            routes: Routes with descriptions (default: every offered target, by name only).
            default: Target when the reply names no offered route or the call fails.
            prompt: Template with ``{routes}`` and ``{task}``.
            max_tokens: Reply limit.
            temperature: Sampling temperature (0: the most likely reply).
        """

        model: str = Field(min_length=1)
        routes: list[LLMRoute] = Field(default_factory=list)
        default: str | None = None
        prompt: str = DEFAULT_PROMPT
        max_tokens: int = Field(16, gt=0)
        temperature: float = Field(0.0, ge=0, le=2)

        @field_validator("prompt")
        @classmethod
        def _has_task(cls, prompt: str) -> str:
            if "{task}" not in prompt:
                raise ValueError("the prompt must contain {task}")
            return prompt

    def __init__(self, options: PluginOptions | dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self._models: Mapping[str, Any] = {}

    def declared_targets(self) -> list[str]:
        opts: LLMRouter.Options = self.options
        targets = [r.target for r in opts.routes] + ([opts.default] if opts.default else [])
        return list(dict.fromkeys(targets))

    def bind(self, models: Mapping[str, Any]) -> None:
        """Keep the graph's models; the classifier must be one of them.

        Raises:
            ConfigError: ``model`` is not a graph model (at ``options.model``).
        """
        check_models(self, models, "options")
        self._models = models

    def _routes(self, targets: Sequence[str]) -> list[LLMRoute]:
        opts: LLMRouter.Options = self.options
        described = [r for r in opts.routes if r.target in targets]
        return described or [LLMRoute(target=t) for t in dict.fromkeys(targets) if t != opts.default]

    def _fallback(self, targets: Sequence[str], why: str) -> RouteDecision:
        default = self.options.default
        if default is not None and default in targets:
            return RouteDecision(default, f"{why}: default")
        raise GraphError(f"llm router: {why}, and no default among the targets")

    async def route(self, request: RouteRequest, targets: Sequence[str]) -> RouteDecision:
        if not targets:
            raise GraphError("llm router: no targets to choose from")
        opts: LLMRouter.Options = self.options
        if opts.model not in self._models:
            raise GraphError("llm router: no models bound; it runs inside a graph (router or agent node)")
        routes = self._routes(targets)
        if not routes:
            return self._fallback(targets, "no route to classify into")
        listing = "\n".join(
            f"{i}. {r.target}" + (f": {r.description}" if r.description else "")
            for i, r in enumerate(routes, start=1)
        )
        prompt = opts.prompt.replace("{routes}", listing).replace("{task}", request.text)
        try:
            completion = await self._models[opts.model].acomplete(
                prompt,
                metadata=dict(request.metadata),
                max_tokens=opts.max_tokens,
                temperature=opts.temperature,
            )
        except FusionError as err:  # provider errors, all fallbacks failed, privacy refusals
            return self._fallback(targets, f"classifier '{opts.model}' failed ({type(err).__name__})")
        chosen = parse_route(completion.text, [r.target for r in routes])
        if chosen is None:
            return self._fallback(targets, f"reply {completion.text.strip()[:40]!r} names no route")
        return RouteDecision(chosen, f"'{opts.model}' classified it as '{chosen}'", {chosen: 1.0})
