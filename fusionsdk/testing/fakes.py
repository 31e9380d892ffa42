"""Fakes for testing code that uses fusionsdk, with no network and no model.

``FakeProvider`` is a real provider plugin (entry-point name ``fake``), so a config can use it::

    models:
      a: {provider: fake, options: {responses: ["42", "41"]}}

and :func:`fake_model` builds one in code, with errors scripted too::

    model = fake_model("a", ["hello", ProviderUnavailable("down"), "again"])

A step may also be a tool-calling turn, ``{"tool_calls": [{"name": "add", "arguments": {"a": 1}}]}``
(with an optional ``"text"``), so agents can be tested against a model that calls tools; streamed,
each call's arguments arrive in two pieces, as real backends send them.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from fusionsdk.config.models import Locality, ModelSpec
from fusionsdk.errors import BadRequest
from fusionsdk.memory.base import Embedder
from fusionsdk.plugin import PluginOptions
from fusionsdk.providers.base import (
    CompletionRequest,
    Provider,
    ProviderResponse,
    Reachability,
    StreamChunk,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
)
from fusionsdk.providers.breaker import CircuitBreaker
from fusionsdk.providers.model import Model

__all__ = ["FakeEmbedder", "FakeProvider", "fake_model"]

#: A scripted step: the text to answer, a tool-calling turn, or an exception to raise.
Step = str | dict[str, Any] | BaseException


class FakeProvider(Provider["FakeProvider.Options"]):
    """Answers from a script, in order (cycling), or echoes the last message.

    Every request it receives is kept in :attr:`requests`, so tests can assert on what was sent.
    """

    default_locality: ClassVar[Locality] = "local"  # in-process: nothing leaves this machine

    class Options(BaseModel):
        """Fake options.

        Attributes:
            responses: Texts (or ``{"tool_calls": [...], "text": ...}`` turns) to answer in
                turn (cycled); empty echoes the prompt.
            delay_s: Seconds to wait before answering.
            logprob: Log-probability reported for every token (None: no logprobs).
        """

        model_config = ConfigDict(extra="forbid")

        responses: list[str | dict[str, Any]] = Field(default_factory=list)
        delay_s: float = Field(0.0, ge=0)
        logprob: float | None = None

    def __init__(self, spec: ModelSpec, options: BaseModel | None = None) -> None:
        super().__init__(spec, options)
        opts: FakeProvider.Options = self.options
        self.script: list[Step] = list(opts.responses)
        self.requests: list[CompletionRequest] = []
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def _next(self, request: CompletionRequest) -> str | dict[str, Any]:
        with self._lock:
            self.requests.append(request)
            index = next(self._counter)
        if not self.script:
            if not request.messages:
                raise BadRequest("the fake provider echoes the last message, and the request has none")
            return str(request.messages[-1]["content"])
        step = self.script[index % len(self.script)]
        if isinstance(step, BaseException):
            raise step
        return step

    def _logprobs(self, text: str) -> tuple[TokenLogprob, ...] | None:
        opts: FakeProvider.Options = self.options
        if opts.logprob is None:
            return None
        return tuple(TokenLogprob(word, opts.logprob) for word in text.split())

    async def complete(self, request: CompletionRequest) -> ProviderResponse:
        opts: FakeProvider.Options = self.options
        if opts.delay_s:
            await asyncio.sleep(opts.delay_s)
        step = self._next(request)
        if isinstance(step, dict):
            calls = tuple(
                ToolCall(str(c.get("id") or f"call_{i}"), str(c["name"]), dict(c.get("arguments") or {}))
                for i, c in enumerate(step.get("tool_calls") or ())
            )
            text = str(step.get("text") or "")
            return ProviderResponse(
                text=text, finish_reason="tool_calls" if calls else "stop", tool_calls=calls
            )
        return ProviderResponse(text=step, finish_reason="stop", logprobs=self._logprobs(step))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamChunk]:
        response = await self.complete(request)
        words = response.text.split(" ") if response.text or not response.tool_calls else []
        for i, word in enumerate(words):
            yield StreamChunk(text=word if i == 0 else " " + word)
        for i, call in enumerate(response.tool_calls):
            arguments = json.dumps(call.arguments)
            half = len(arguments) // 2
            yield StreamChunk(tool_calls=(ToolCallDelta(i, call.id, call.name, arguments[:half]),))
            yield StreamChunk(tool_calls=(ToolCallDelta(i, arguments=arguments[half:]),))
        yield StreamChunk(finish_reason=response.finish_reason, logprobs=response.logprobs)

    async def reachability(self) -> Reachability:
        return Reachability("ok", "fake")


def fake_model(name: str = "fake", script: Sequence[Step] = (), **spec: Any) -> Model:
    """A :class:`Model` backed by a :class:`FakeProvider` that follows ``script``.

    Args:
        name: The model's name.
        script: Texts to answer and exceptions to raise, in order (cycled).
        **spec: Other :class:`ModelSpec` fields (``retry``, ``timeout_s``, ``locality``, ...).
    """
    model_spec = ModelSpec(name=name, provider="fake", **spec)
    provider = FakeProvider(model_spec)
    provider.script = list(script)
    return Model(model_spec, provider, CircuitBreaker(model_spec.deployment, model_spec.breaker))


class FakeEmbedder(Embedder["FakeEmbedder.Options"]):
    """Deterministic embeddings from a hash of the text's words (similar texts share words,
    so they land near each other). No model, no network."""

    dimension: ClassVar[int] = 64

    class Options(PluginOptions):
        """No options."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * self.dimension
            for word in text.lower().split():
                digest = hashlib.sha256(word.encode()).digest()
                vector[digest[0] % self.dimension] += 1.0 if digest[1] % 2 else -1.0
            norm = sum(v * v for v in vector) ** 0.5 or 1.0
            vectors.append([v / norm for v in vector])
        return vectors
