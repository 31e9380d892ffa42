"""Scripted fake models for testing fusers, arbiters and nodes: replies that depend on the prompt.

Example:
    >>> from fusionsdk.testing import responding_model, scripted
    >>> yes = responding_model("yes", lambda prompt: "YES" if "?" in prompt else "no")
    >>> twice = scripted("b", "first", "second")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fusionsdk.config.models import ModelSpec
from fusionsdk.fusion.base import FusionContext
from fusionsdk.providers.base import CompletionRequest
from fusionsdk.providers.breaker import CircuitBreaker
from fusionsdk.providers.model import Model
from fusionsdk.testing.fakes import FakeProvider, fake_model

__all__ = ["context_of", "prompt_of", "requests_of", "responding_model", "scripted"]


def prompt_of(request: CompletionRequest) -> str:
    """Every message of a request, joined (what the model was shown)."""
    return "\n".join(str(m["content"]) for m in request.messages)


class _RespondingProvider(FakeProvider):
    def __init__(self, spec: ModelSpec, reply: Callable[[str], str]) -> None:
        super().__init__(spec)
        self.reply = reply

    def _next(self, request: CompletionRequest) -> str:
        with self._lock:
            self.requests.append(request)
        return self.reply(prompt_of(request))


def responding_model(name: str, reply: Callable[[str], str], **spec: Any) -> Model:
    """A fake model that answers ``reply(prompt)``; its requests are in ``model.provider.requests``."""
    model_spec = ModelSpec(name=name, provider="fake", **spec)
    provider = _RespondingProvider(model_spec, reply)
    return Model(model_spec, provider, CircuitBreaker(model_spec.deployment, model_spec.breaker))


def context_of(*models: Model, emitted: list[str] | None = None, **fields: Any) -> FusionContext:
    """A FusionContext with ``models`` (by name), collecting emitted text in ``emitted``."""
    emit = emitted.append if emitted is not None else (lambda text: None)
    return FusionContext(models={m.name: m for m in models}, emit=emit, **fields)


def scripted(name: str, *replies: str, **spec: Any) -> Model:
    """A fake model answering ``replies`` in turn (cycling)."""
    return fake_model(name, list(replies), **spec)


def requests_of(model: Model) -> list[CompletionRequest]:
    """What a fake model was asked."""
    return model.provider.requests  # type: ignore[attr-defined, no-any-return]
