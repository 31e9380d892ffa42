"""The provider-agnostic adapter: :class:`Model`.

A ``Model`` wraps one provider instance and adds, in this order around every attempt: the
concurrency limit, the circuit breaker, the per-attempt timeout, error translation and secret
scrubbing; around the attempts, the single retry layer; and around the whole, the ordered
fallback list. It measures latency, fills in token usage the backend did not report, and prices
the call. Before a hosted model is called, the privacy policy checks the request: a sensitive
one (flagged in its metadata or found by a detector) is refused with :class:`PrivacyViolation`,
and in a fallback chain only the local models are tried. It also keeps the live signals load
balancers read: calls in flight and an EWMA of successful call latency.

A fallback is never silent: every model of the chain that fails, or that the privacy policy
skips, is logged as a warning on the ``fusionsdk`` logger (the CLI prints those on stderr), and
the :class:`Completion` names the model it stands in for (``fallback_from``) and why
(``fallback_reason``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from pydantic import ValidationError

from fusionsdk._sync import iterate_sync, run_sync
from fusionsdk.config.models import Locality, ModelSpec
from fusionsdk.config.validation import config_error
from fusionsdk.errors import (
    AllModelsFailed,
    BadRequest,
    ConfigError,
    FusionError,
    PrivacyViolation,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from fusionsdk.providers.base import (
    CompletionRequest,
    GenerationParams,
    Message,
    Provider,
    ProviderResponse,
    StreamChunk,
    TokenLogprob,
    TokenScorer,
    TokenScoring,
    Usage,
)
from fusionsdk.providers.breaker import CircuitBreaker
from fusionsdk.providers.privacy import PrivacyPolicy, Sensitivity
from fusionsdk.providers.retry import call_with_retries
from fusionsdk.providers.secrets import redact

__all__ = ["Completion", "Model", "ModelStreamChunk"]

logger = logging.getLogger(__name__)

_ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})
#: Weight of the newest latency in :attr:`Model.latency_ewma_s`.
EWMA_ALPHA = 0.2


@dataclass(frozen=True)
class Completion:
    """The answer of one call, whichever backend gave it.

    Attributes:
        text: The generated text.
        finish_reason: Why generation stopped (``stop``, ``length``, ...).
        usage: Token counts (counted locally when the backend did not report them).
        cost_usd: Price of the call; 0 for local models; None when no price is known.
        latency_s: Wall time of the successful attempt, in seconds.
        model: The configured name of the model that answered.
        deployment: Which deployment answered (``provider:model@base_url``).
        locality: ``local`` or ``hosted``.
        logprobs: Per-token log-probabilities when the backend gives them.
        backend_model: The model id the backend reported.
        attempts: Attempts made on the answering model (1 = no retry).
        fallback_from: The model that failed first when a fallback answered.
        fallback_reason: Why the models before the one that answered did not (their errors, or
            the privacy policy), when a fallback answered.
        privacy_skipped: Hosted models of the fallback chain skipped because the request was
            sensitive.
    """

    text: str
    finish_reason: str | None
    usage: Usage
    cost_usd: float | None
    latency_s: float
    model: str
    deployment: str
    locality: Locality
    logprobs: tuple[TokenLogprob, ...] | None = None
    backend_model: str | None = None
    attempts: int = 1
    fallback_from: str | None = None
    privacy_skipped: tuple[str, ...] = ()
    fallback_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``fusionsdk ask --json`` prints)."""
        return {
            "text": self.text,
            "model": self.model,
            "deployment": self.deployment,
            "locality": self.locality,
            "finish_reason": self.finish_reason,
            "usage": self.usage.as_dict(),
            "cost_usd": self.cost_usd,
            "latency_s": round(self.latency_s, 6),
            "attempts": self.attempts,
            "fallback_from": self.fallback_from,
            "fallback_reason": self.fallback_reason,
            "privacy_skipped": list(self.privacy_skipped),
            "backend_model": self.backend_model,
            "logprobs": None
            if self.logprobs is None
            else [{"token": t.token, "logprob": t.logprob} for t in self.logprobs],
        }


@dataclass(frozen=True)
class ModelStreamChunk:
    """A streamed piece of an answer; the last one carries the finished :class:`Completion`."""

    text: str = ""
    completion: Completion | None = field(default=None)


def normalize_messages(messages: str | Sequence[Message], model: str) -> list[Message]:
    """Accept a prompt string or OpenAI-style messages; reject anything else clearly."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, Sequence) or not messages:
        raise BadRequest("messages must be a prompt string or a non-empty list of messages", model=model)
    checked: list[Message] = list(cast(Sequence[Message], messages))
    for i, message in enumerate(checked):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise BadRequest(f"messages[{i}] must be a dict with a role in {sorted(_ROLES)}", model=model)
        if not isinstance(message.get("content"), (str, list)):
            raise BadRequest(f"messages[{i}].content must be a string or a list of parts", model=model)
    return checked


def _params(params: dict[str, Any]) -> GenerationParams:
    try:
        return GenerationParams(**params)
    except ValidationError as err:
        raise config_error(err, "params") from None


def _prompt_text(messages: list[Message]) -> str:
    parts = [m["content"] if isinstance(m["content"], str) else str(m["content"]) for m in messages]
    return "\n".join(parts)


def _log_failure(model: Model, error: ProviderError, chain: Sequence[Model]) -> None:
    """Warn that ``model`` failed, saying what the chain tries next (or that it is the last).
    A model without fallbacks is not logged: its error reaches the caller."""
    if len(chain) < 2:
        return
    names = [m.name for m in chain]
    after = names[names.index(model.name) + 1 :] if model.name in names else []
    then = f"falling back to '{after[0]}'" if after else "no fallback left"
    logger.warning("model '%s' failed (%s: %s); %s", model.name, type(error).__name__, error.message, then)


def _fallback_reason(errors: Sequence[ProviderError], refused: Sequence[str]) -> str:
    """Why the models before a fallback did not answer, in one line."""
    parts = [f"{e.model or '?'}: {type(e).__name__}: {e.message}" for e in errors]
    parts += [f"{name}: skipped (sensitive request, hosted model)" for name in refused]
    return "; ".join(parts)


class _PrivacyScreen:
    """Assesses one request at most once, and only when a hosted model is about to get it."""

    __slots__ = ("assessed", "policy", "refused", "request", "sensitivity")

    def __init__(self, policy: PrivacyPolicy, request: CompletionRequest) -> None:
        self.policy, self.request = policy, request
        self.sensitivity: Sensitivity | None = None
        self.assessed = False
        self.refused: list[str] = []

    def refuses(self, model: Model) -> bool:
        """True (and the model recorded) when ``model`` is hosted and the request sensitive."""
        if model.locality != "hosted":
            return False
        if not self.assessed:
            self.sensitivity = self.policy.assess_messages(self.request.messages, self.request.metadata)
            self.assessed = True
        if self.sensitivity is None:
            return False
        self.refused.append(model.name)
        logger.warning("model '%s' skipped: the request is sensitive and the model is hosted", model.name)
        return True

    def failure(self, errors: list[ProviderError]) -> FusionError:
        """The error when no model of the chain answered."""
        if self.refused:
            kinds = list(self.sensitivity.kinds) if self.sensitivity else []
            return PrivacyViolation(self.refused, kinds, errors)
        return errors[0] if len(errors) == 1 else AllModelsFailed(errors)


class Model:
    """One configured model: call it with :meth:`acomplete`/:meth:`astream` (or the sync
    :meth:`complete`/:meth:`stream`).

    Args:
        spec: The validated spec.
        provider: The provider instance that talks to the backend.
        breaker: The deployment's circuit breaker (shared by models on the same deployment).
        resolve: Looks up fallback models by name (given by the owning hub).
        privacy: The privacy policy (the hub's; the default policy when omitted).

    Attributes:
        in_flight: Calls of this model under way now (what least-outstanding balancing reads).
        latency_ewma_s: Exponentially weighted mean latency of successful calls (None before
            the first).

    Example:
        >>> hub = ModelHub.embedded()  # doctest: +SKIP
        >>> hub["smollm2"].complete("What is the capital of France?").text  # doctest: +SKIP
    """

    def __init__(
        self,
        spec: ModelSpec,
        provider: Provider,
        breaker: CircuitBreaker,
        resolve: Callable[[str], Model] | None = None,
        privacy: PrivacyPolicy | None = None,
    ) -> None:
        self.spec = spec
        self.provider = provider
        self.breaker = breaker
        self.privacy = privacy or PrivacyPolicy()
        self.in_flight = 0
        self.latency_ewma_s: float | None = None
        self._resolve = resolve
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._semaphores = weakref.WeakKeyDictionary()
        self._prepared = False

    def __repr__(self) -> str:
        return f"Model(name={self.spec.name!r}, deployment={self.spec.deployment!r})"

    @property
    def name(self) -> str:
        """The configured name."""
        return self.spec.name

    @property
    def locality(self) -> Locality:
        """``local`` or ``hosted``."""
        return self.provider.locality

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.spec.max_concurrency)
        return semaphore

    def _chain(self) -> list[Model]:
        if not self.spec.fallbacks or self._resolve is None:
            return [self]
        return [self, *(self._resolve(name) for name in self.spec.fallbacks)]

    def check_privacy(self, messages: str | Sequence[Message], metadata: dict[str, Any] | None) -> None:
        """Raise :class:`PrivacyViolation` if this model is hosted and the request sensitive.

        The gate of calls that reach the provider without :meth:`acomplete`
        (:meth:`token_scorer`).
        """
        request = CompletionRequest(normalize_messages(messages, self.name), metadata=metadata or {})
        screen = _PrivacyScreen(self.privacy, request)
        if screen.refuses(self):
            raise screen.failure([])

    # -- token-level access ------------------------------------------------------------------

    @property
    def scores_tokens(self) -> bool:
        """Whether the provider gives token-level access (:meth:`token_scorer`)."""
        return isinstance(self.provider, TokenScoring)

    async def token_scorer(
        self, messages: str | Sequence[Message], *, metadata: dict[str, Any] | None = None
    ) -> TokenScorer:
        """Token-level access to this model for the prompt of ``messages`` (what token-level
        fusion reads: next-token candidates with their probabilities, continuations scored).

        The privacy gate applies as for :meth:`acomplete`, and the model is prepared (loaded)
        first; the scorer is then used blocking, in a worker thread (see
        :class:`~fusionsdk.providers.base.TokenScorer`).

        Raises:
            ConfigError: The provider gives no token-level access, or cannot render the prompt.
            PrivacyViolation: This model is hosted and the request sensitive.
        """
        provider = self.provider
        if not isinstance(provider, TokenScoring):
            raise ConfigError(
                f"model '{self.name}' (provider '{self.spec.provider}') gives no token-level access"
            )
        checked = normalize_messages(messages, self.name)
        self.check_privacy(checked, metadata)
        await self._prepare()
        return await asyncio.to_thread(provider.token_scorer, checked)

    # -- completion --------------------------------------------------------------------------

    async def acomplete(
        self,
        messages: str | Sequence[Message],
        *,
        metadata: dict[str, Any] | None = None,
        **params: Any,
    ) -> Completion:
        """Complete ``messages``, with retries, breaker and fallbacks.

        Args:
            messages: A prompt string or OpenAI-style messages.
            metadata: Run metadata handed to the provider (never sent to the backend).
            **params: :class:`GenerationParams` fields (``max_tokens``, ``temperature``,
                ``stop``, ``logprobs``, ...). Unknown names are a ConfigError.

        Raises:
            ProviderError: The model failed and it has no fallbacks.
            AllModelsFailed: The model and each of its fallbacks failed.
            PrivacyViolation: The request is sensitive and no local model of the chain answered.
        """
        request = CompletionRequest(normalize_messages(messages, self.name), _params(params), metadata or {})
        errors: list[ProviderError] = []
        screen = _PrivacyScreen(self.privacy, request)
        chain = self._chain()
        for candidate in chain:
            if screen.refuses(candidate):
                continue
            try:
                completion = await candidate._complete_with_retries(request)
            except ProviderError as exc:
                errors.append(exc)
                _log_failure(candidate, exc, chain)
                continue
            if errors or screen.refused:
                return replace(
                    completion,
                    fallback_from=self.name,
                    privacy_skipped=tuple(screen.refused),
                    fallback_reason=_fallback_reason(errors, screen.refused),
                )
            return completion
        raise screen.failure(errors)

    async def _prepare(self) -> None:
        """Run the provider's one-time set-up before the first timed attempt."""
        if self._prepared:
            return
        try:
            await self.provider.prepare()
        except FusionError as exc:
            if isinstance(exc, ProviderError):
                raise self._failed(exc) from None
            raise  # a ConfigError (missing package, bad model file) stays what it is
        except Exception as exc:
            raise self._failed(exc) from None
        self._prepared = True

    async def _complete_with_retries(self, request: CompletionRequest) -> Completion:
        self.in_flight += 1
        try:
            await self._prepare()

            async def timed() -> tuple[ProviderResponse, float]:
                started = time.perf_counter()
                response = await self._attempt(request)
                return response, time.perf_counter() - started

            (response, latency), attempts = await call_with_retries(self.spec.retry, timed)
        finally:
            self.in_flight -= 1
        return self._finish(request, response, latency, attempts)

    async def _attempt(self, request: CompletionRequest) -> ProviderResponse:
        async with self._semaphore():
            self.breaker.before_call(self.name)
            try:
                response = await asyncio.wait_for(
                    self.provider.complete(request), timeout=self.spec.timeout_s
                )
            except BaseException as exc:
                raise self._failed(exc) from None
            self.breaker.record_success()
            return response

    def _failed(self, exc: BaseException) -> BaseException:
        """Record the failure on the breaker and return the error to raise, scrubbed."""
        if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
            self.breaker.release_probe()
            return exc
        if isinstance(exc, TimeoutError):
            exc = ProviderTimeout(f"no answer within {self.spec.timeout_s:g}s")
        elif not isinstance(exc, ProviderError):
            exc = ProviderError(f"unexpected {type(exc).__name__}: {exc}")
        if isinstance(exc, ProviderTimeout | ProviderUnavailable):
            self.breaker.record_failure()
        else:
            self.breaker.release_probe()
        exc.relabel(redact(exc.message), model=self.name, deployment=self.spec.deployment)
        return exc

    def _finish(
        self, request: CompletionRequest, response: ProviderResponse, latency: float, attempts: int
    ) -> Completion:
        usage = response.usage or Usage(
            self.provider.count_tokens(_prompt_text(request.messages)),
            self.provider.count_tokens(response.text),
        )
        ewma = self.latency_ewma_s
        self.latency_ewma_s = latency if ewma is None else ewma + EWMA_ALPHA * (latency - ewma)
        return Completion(
            text=response.text,
            finish_reason=response.finish_reason,
            usage=usage,
            cost_usd=self.provider.cost_usd(usage),
            latency_s=latency,
            model=self.name,
            deployment=self.spec.deployment,
            locality=self.locality,
            logprobs=response.logprobs,
            backend_model=response.backend_model,
            attempts=attempts,
        )

    # -- streaming ---------------------------------------------------------------------------

    async def astream(
        self,
        messages: str | Sequence[Message],
        *,
        metadata: dict[str, Any] | None = None,
        **params: Any,
    ) -> AsyncIterator[ModelStreamChunk]:
        """Stream the answer. Retries and fallbacks apply until the first chunk arrives; a
        failure after that raises :class:`ProviderUnavailable` (text already yielded stays
        yielded). The last chunk carries the finished :class:`Completion`.
        """
        request = CompletionRequest(normalize_messages(messages, self.name), _params(params), metadata or {})
        errors: list[ProviderError] = []
        screen = _PrivacyScreen(self.privacy, request)
        chain = self._chain()
        for candidate in chain:
            if screen.refuses(candidate):
                continue
            try:
                opened = await candidate._open_stream(request)
            except ProviderError as exc:
                errors.append(exc)
                _log_failure(candidate, exc, chain)
                continue
            fallback_from = self.name if errors or screen.refused else None
            reason = _fallback_reason(errors, screen.refused) if fallback_from else None
            async for chunk in candidate._drain(
                request, *opened, fallback_from, tuple(screen.refused), reason
            ):
                yield chunk
            return
        raise screen.failure(errors)

    async def _open_stream(
        self, request: CompletionRequest
    ) -> tuple[AsyncIterator[StreamChunk], StreamChunk | None, float, int]:
        self.in_flight += 1  # until _drain ends
        try:
            return await self._open_stream_counted(request)
        except BaseException:
            self.in_flight -= 1
            raise

    async def _open_stream_counted(
        self, request: CompletionRequest
    ) -> tuple[AsyncIterator[StreamChunk], StreamChunk | None, float, int]:
        await self._prepare()

        async def open_once() -> tuple[AsyncIterator[StreamChunk], StreamChunk | None, float]:
            started = time.perf_counter()
            async with self._semaphore():
                self.breaker.before_call(self.name)
                stream = self.provider.stream(request)
                try:
                    first = await asyncio.wait_for(anext(stream), self.spec.timeout_s)
                except StopAsyncIteration:
                    first = None
                except BaseException as exc:
                    raise self._failed(exc) from None
            return stream, first, started

        (stream, first, started), attempts = await call_with_retries(self.spec.retry, open_once)
        return stream, first, started, attempts

    async def _drain(
        self,
        request: CompletionRequest,
        stream: AsyncIterator[StreamChunk],
        first: StreamChunk | None,
        started: float,
        attempts: int,
        fallback_from: str | None,
        privacy_skipped: tuple[str, ...] = (),
        fallback_reason: str | None = None,
    ) -> AsyncIterator[ModelStreamChunk]:
        text: list[str] = []
        logprobs: list[TokenLogprob] = []
        finish: str | None = None
        usage: Usage | None = None
        chunk = first
        try:
            while chunk is not None:
                text.append(chunk.text)
                logprobs.extend(chunk.logprobs or ())
                finish, usage = chunk.finish_reason or finish, chunk.usage or usage
                if chunk.text:
                    yield ModelStreamChunk(chunk.text)
                try:
                    chunk = await asyncio.wait_for(anext(stream), self.spec.timeout_s)
                except StopAsyncIteration:
                    chunk = None
                except BaseException as exc:
                    raise self._failed(exc) from None
        finally:
            self.in_flight -= 1  # counted from _open_stream
        self.breaker.record_success()
        response = ProviderResponse("".join(text), finish, usage, tuple(logprobs) or None)
        completion = self._finish(request, response, time.perf_counter() - started, attempts)
        yield ModelStreamChunk(
            "",
            replace(
                completion,
                fallback_from=fallback_from,
                privacy_skipped=privacy_skipped,
                fallback_reason=fallback_reason,
            ),
        )

    # -- sync wrappers -----------------------------------------------------------------------

    def complete(self, messages: str | Sequence[Message], **kwargs: Any) -> Completion:
        """Blocking :meth:`acomplete` (works inside notebooks too)."""
        return run_sync(self.acomplete(messages, **kwargs))

    def stream(self, messages: str | Sequence[Message], **kwargs: Any) -> Iterator[ModelStreamChunk]:
        """Blocking :meth:`astream`."""
        return iterate_sync(self.astream(messages, **kwargs))
