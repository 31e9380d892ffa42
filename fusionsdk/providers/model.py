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
import functools
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

from pydantic import ValidationError

from fusionsdk._sync import iterate_sync, run_sync
from fusionsdk.config.models import Locality, ModelSpec, RetrySpec
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
    StructuredOutputError,
)
from fusionsdk.providers import telemetry
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
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
)
from fusionsdk.providers.breaker import CircuitBreaker
from fusionsdk.providers.load import InFlightCounter
from fusionsdk.providers.privacy import PrivacyPolicy, Sensitivity, sensitive_flag
from fusionsdk.providers.privacy_scope import current_scope
from fusionsdk.providers.retry import call_with_retries
from fusionsdk.providers.secrets import redact, scrub_exception
from fusionsdk.providers.structured import ResponseFormat
from fusionsdk.providers.tool_calls import ToolCallAssembler, coerce_tools

__all__ = ["Completion", "Model", "ModelStreamChunk"]

logger = logging.getLogger(__name__)

_ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})
_NO_RETRY = RetrySpec(attempts=1)
#: Weight of the newest latency in :attr:`Model.latency_ewma_s`.
EWMA_ALPHA = 0.2

T = TypeVar("T")

#: ``asyncio.timeout`` (Python 3.11+): the per-attempt and per-chunk timeouts run the awaited
#: call in the caller's task (``asyncio.wait_for`` of 3.11 starts a task for it on every call).
_timeout: Callable[[float | None], Any] | None = getattr(asyncio, "timeout", None)


async def _within(awaitable: Awaitable[T], timeout_s: float | None) -> T:
    """``awaitable``'s result, or TimeoutError after ``timeout_s`` (the per-chunk timeouts)."""
    if _timeout is None:  # pragma: no cover  # Python 3.10
        return await asyncio.wait_for(awaitable, timeout_s)
    async with _timeout(timeout_s):
        return await awaitable


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
        tool_calls: Tools the model asked to call (empty when it answered in text).
        parsed: With ``response_format``: the reply validated (a pydantic model instance, or
            JSON data for a schema dict); None otherwise.
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
    tool_calls: tuple[ToolCall, ...] = ()
    parsed: Any = None
    fallback_reason: str | None = None

    def message(self) -> Message:
        """The reply as an assistant message, tool calls included, to continue a conversation."""
        message: Message = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        return message

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
            "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.tool_calls],
            "parsed": self.parsed.model_dump(mode="json")
            if hasattr(self.parsed, "model_dump")
            else self.parsed,
            "logprobs": None
            if self.logprobs is None
            else [{"token": t.token, "logprob": t.logprob} for t in self.logprobs],
        }


@dataclass(frozen=True)
class ModelStreamChunk:
    """A streamed piece of an answer; the last one carries the finished :class:`Completion`
    (with the tool calls assembled).

    Attributes:
        text: The next piece of text.
        completion: The finished answer (last chunk only).
        tool_calls: The raw pieces of tool calls, as they arrive.
        discard: The deployment streaming this answer failed after some text or tool-call
            pieces were sent, and the answer starts again from the next model of the fallback
            chain: drop what was received so far (``failed`` says which model failed). Never
            set on a chunk with text or tool calls.
        failed: With ``discard``, the model that failed.
    """

    text: str = ""
    completion: Completion | None = field(default=None)
    tool_calls: tuple[ToolCallDelta, ...] = ()
    discard: bool = False
    failed: str | None = None


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
        content = message.get("content")
        if content is None and message.get("tool_calls"):
            continue  # an assistant turn that only called tools
        if not isinstance(content, (str, list)):
            raise BadRequest(f"messages[{i}].content must be a string or a list of parts", model=model)
    return checked


def _params(params: dict[str, Any]) -> GenerationParams:
    try:
        return GenerationParams(**params)
    except ValidationError as err:
        raise config_error(err, "params") from None


def _prompt_text(messages: list[Message]) -> str:
    return "\n".join(
        m["content"] if isinstance(m.get("content"), str) else str(m.get("content") or "") for m in messages
    )


def build_request(
    messages: str | Sequence[Message],
    model: str,
    params: dict[str, Any],
    metadata: dict[str, Any] | None,
    tools: Sequence[Any] | None,
    tool_choice: ToolChoice | None,
    response_format: ResponseFormat | None,
) -> CompletionRequest:
    """One provider request from what a caller passed, its ``sensitive`` flag checked (a bool
    or absent) whichever model gets it."""
    sensitive_flag(metadata)
    return CompletionRequest(
        normalize_messages(messages, model),
        _params(params),
        dict(metadata or {}),
        tools=coerce_tools(tools),
        tool_choice=tool_choice,
        response_format=response_format.openai if response_format else None,
    )


def _log_failure(model: Model, error: ProviderError, chain: Sequence[Model], following: str | None) -> None:
    """Warn that ``model`` failed, saying what the chain tries next (``following``; None: it
    was the last). A model without fallbacks is not logged: its error reaches the caller."""
    if len(chain) < 2:
        return
    then = f"falling back to '{following}'" if following else "no fallback left"
    logger.warning("model '%s' failed (%s: %s); %s", model.name, type(error).__name__, error.message, then)


def _fallback_reason(errors: Sequence[ProviderError], refused: Sequence[str]) -> str:
    """Why the models before a fallback did not answer, in one line."""
    parts = [f"{e.model or '?'}: {type(e).__name__}: {e.message}" for e in errors]
    parts += [f"{name}: skipped (sensitive request, hosted model)" for name in refused]
    return "; ".join(parts)


class _PrivacyScreen:
    """Assesses one request at most once, and only when a hosted model is about to get it.

    A request is sensitive when its metadata says so, when it runs in a sensitive
    :func:`~fusionsdk.providers.privacy_scope.privacy_scope` (its thread has seen sensitive
    data), or when a detector finds personal data in any field that reaches the provider:
    every message field (content, ``name``, tool calls), ``stop`` and ``extra``. What is found
    marks the scope, so the thread stays sensitive.
    """

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
            self.sensitivity = self._assess()
            self.assessed = True
        if self.sensitivity is None:
            return False
        self.refused.append(model.name)
        logger.warning("model '%s' skipped: the request is sensitive and the model is hosted", model.name)
        return True

    def blocks(self, model: Model) -> bool:
        """Whether :meth:`refuses` would refuse ``model`` (nothing recorded or logged)."""
        if model.locality != "hosted":
            return False
        if not self.assessed:
            self.sensitivity = self._assess()
            self.assessed = True
        return self.sensitivity is not None

    def _assess(self) -> Sensitivity | None:
        scope = current_scope()
        if scope is not None and scope.sensitive:
            return Sensitivity("thread", tuple(scope.kinds))
        params = self.request.params
        sensitivity = self.policy.assess_messages(
            self.request.messages, self.request.metadata, params.stop, params.extra
        )
        if sensitivity is not None and scope is not None:
            scope.mark(sensitivity.kinds or ("flag",))
        return sensitivity

    def failure(self, errors: list[ProviderError]) -> FusionError:
        """The error when no model of the chain answered."""
        for error in errors:  # chained on the way up (retries): cut the chains once more
            scrub_exception(error)
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
        load: Counts the calls in flight (a server with replicas swaps in a shared counter).
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
        self.load = InFlightCounter()
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
    def in_flight(self) -> int:
        """Calls of this model under way now (what least-outstanding balancing reads)."""
        return self.load.value

    @in_flight.setter
    def in_flight(self, value: int) -> None:
        self.load.add(value - self.load.local)

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

    @property
    def healthy(self) -> bool:
        """No sign that a call would fail now: the breaker is closed with no recent failure,
        and the model is not busy without ever having answered (a backend that hangs)."""
        stuck = self.load.local > 0 and self.latency_ewma_s is None
        return self.breaker.healthy and not stuck

    def _chain(self) -> list[Model]:
        """This model, then its fallbacks in the order configured."""
        if not self.spec.fallbacks or self._resolve is None:
            return [self]
        return [self, *(self._resolve(name) for name in self.spec.fallbacks)]

    @staticmethod
    def _upcoming(remaining: Sequence[Model], screen: _PrivacyScreen) -> str | None:
        """The name of the model the chain fails over to next (as :meth:`_next` will choose,
        skipping those the privacy screen refuses), or None when none is left."""
        usable = [m for m in remaining if not screen.blocks(m)]
        if not usable:
            return None
        return next((m for m in usable if m.healthy), usable[0]).name

    def _turns(
        self, chain: Sequence[Model], screen: _PrivacyScreen, errors: Sequence[ProviderError]
    ) -> Iterator[tuple[Model, bool, list[Model]]]:
        """The models of ``chain`` in the order a call tries them: the first, then after each
        failure (the caller adds it to ``errors``) the fallback :meth:`_next` chooses; those the
        privacy screen refuses are skipped. Each comes with whether to retry it (only when no
        healthy fallback is left to fail over to) and the models still left."""
        remaining = list(chain)
        while remaining:
            candidate = self._next(remaining) if errors else remaining.pop(0)
            if screen.refuses(candidate):
                continue
            retry = not (
                self.spec.retry.prefer_fallback and any(m.healthy and not screen.blocks(m) for m in remaining)
            )
            yield candidate, retry, remaining

    @staticmethod
    def _next(remaining: list[Model]) -> Model:
        """Take the fallback to fail over to: the first healthy one now (health is read at the
        moment of failing over, not when the call started), else the first one."""
        chosen = next((m for m in remaining if m.healthy), remaining[0])
        remaining.remove(chosen)
        return chosen

    def check_privacy(self, messages: str | Sequence[Message], metadata: dict[str, Any] | None) -> None:
        """Raise :class:`PrivacyViolation` if this model is hosted and the request sensitive.

        The gate of calls that reach the provider without :meth:`acomplete`
        (:meth:`token_scorer`).
        """
        request = build_request(messages, self.name, {}, metadata, None, None, None)
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
        tools: Sequence[Any] | None = None,
        tool_choice: ToolChoice | None = None,
        response_format: Any = None,
        structured_retries: int = 2,
        **params: Any,
    ) -> Completion:
        """Complete ``messages``, with retries, breaker and fallbacks.

        Args:
            messages: A prompt string or OpenAI-style messages.
            metadata: Run metadata handed to the provider (never sent to the backend).
            tools: Tools the model may call: :class:`~fusionsdk.providers.base.ToolSpec`
                objects, OpenAI tool dicts, ``fusionsdk.tools`` plugins or Python functions.
                Calls come back in :attr:`Completion.tool_calls` (nothing is run here).
            tool_choice: ``auto``, ``none``, ``required`` or a tool's name.
            response_format: A pydantic model class, an OpenAI ``response_format`` dict or a
                JSON Schema: the reply is validated into :attr:`Completion.parsed`.
            structured_retries: With ``response_format``: how many times to ask again (telling
                the model what was wrong) after a reply that does not validate.
            **params: :class:`GenerationParams` fields (``max_tokens``, ``temperature``,
                ``stop``, ``logprobs``, ...). Unknown names are a ConfigError.

        Raises:
            ProviderError: The model failed and it has no fallbacks.
            AllModelsFailed: The model and each of its fallbacks failed.
            PrivacyViolation: The request is sensitive and no local model of the chain answered.
            StructuredOutputError: No reply validated against ``response_format``.
        """
        fmt = ResponseFormat.of(response_format) if response_format is not None else None
        request = build_request(messages, self.name, params, metadata, tools, tool_choice, fmt)
        if fmt is None:
            return await self._complete_request(request)
        return await self._complete_structured(request, fmt, structured_retries)

    async def _complete_structured(
        self, request: CompletionRequest, fmt: ResponseFormat, retries: int
    ) -> Completion:
        """Ask, validate, and ask again with the error until a reply validates."""
        spent: list[Completion] = []
        for attempt in range(1, retries + 2):
            completion = await self._complete_request(request)
            spent.append(completion)
            if completion.tool_calls:  # the caller runs the tools first; nothing to validate
                return completion
            try:
                parsed = fmt.parse(completion.text)
            except ValueError as err:
                error = str(err)
                messages = [*request.messages, completion.message(), fmt.retry_message(error)]
                request = replace(request, messages=messages)
                if attempt > retries:
                    raise StructuredOutputError(self.name, attempt, error, completion.text) from None
                continue
            usage = Usage(
                sum(c.usage.prompt_tokens for c in spent), sum(c.usage.completion_tokens for c in spent)
            )
            costs = [c.cost_usd for c in spent]
            cost = None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
            return replace(completion, parsed=parsed, usage=usage, cost_usd=cost)
        raise AssertionError("unreachable")

    async def _complete_request(self, request: CompletionRequest) -> Completion:
        """One completion through the fallback chain."""
        errors: list[ProviderError] = []
        screen = _PrivacyScreen(self.privacy, request)
        chain = self._chain()
        for candidate, retry, remaining in self._turns(chain, screen, errors):
            try:
                attributes = functools.partial(candidate._span_attributes, request)
                with telemetry.span(candidate._span_name(), attributes) as span:
                    completion = await candidate._complete_with_retries(request, retry=retry)
                    if span is not None:  # attributes cost a settings read: only for a real span
                        telemetry.set_attributes(span, telemetry.response_attributes(completion))
            except ProviderError as exc:
                errors.append(exc)
                _log_failure(candidate, exc, chain, self._upcoming(remaining, screen))
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

    def _span_name(self) -> str:
        return telemetry.span_name("chat", self.spec.model or self.name)

    def _span_attributes(self, request: CompletionRequest, stream: bool = False) -> dict[str, Any]:
        return telemetry.model_attributes(self.spec, request, stream)

    async def _prepare(self) -> None:
        """Run the provider's one-time set-up before the first timed attempt."""
        if self._prepared:
            return
        failure: BaseException | None = None
        try:
            await self.provider.prepare()
        except FusionError as exc:
            if not isinstance(exc, ProviderError):
                raise  # a ConfigError (missing package, bad model file) stays what it is
            failure = self._failed(exc)
        except Exception as exc:
            failure = self._failed(exc)
        if failure is not None:
            raise failure  # outside the handler: nothing chains to the error it replaced
        self._prepared = True

    async def _complete_with_retries(self, request: CompletionRequest, retry: bool = True) -> Completion:
        policy = self.spec.retry if retry else _NO_RETRY
        self.load.add(1)
        try:
            await self._prepare()
            attempt = functools.partial(self._attempt, request)
            (response, latency), attempts = await call_with_retries(policy, attempt)
        finally:
            self.load.add(-1)
        return self._finish(request, response, latency, attempts)

    async def _attempt(self, request: CompletionRequest) -> tuple[ProviderResponse, float]:
        """One attempt under the concurrency limit, breaker and timeout: the response and its
        latency (from before the wait for a slot). The provider is awaited here, with no
        coroutine in between: each time it waits on the network, every frame above it is
        resumed."""
        started = time.perf_counter()
        async with self._semaphore():
            self.breaker.before_call(self.name)
            try:
                if _timeout is None:  # pragma: no cover  # Python 3.10
                    response = await asyncio.wait_for(self.provider.complete(request), self.spec.timeout_s)
                else:
                    async with _timeout(self.spec.timeout_s):
                        response = await self.provider.complete(request)
            except BaseException as exc:
                failure = self._failed(exc)
            else:
                self.breaker.record_success()
                return response, time.perf_counter() - started
        raise failure  # outside the handler: nothing chains to the error it replaced

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
        return scrub_exception(exc)

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
            tool_calls=response.tool_calls,
        )

    # -- streaming ---------------------------------------------------------------------------

    async def astream(
        self,
        messages: str | Sequence[Message],
        *,
        metadata: dict[str, Any] | None = None,
        tools: Sequence[Any] | None = None,
        tool_choice: ToolChoice | None = None,
        response_format: Any = None,
        **params: Any,
    ) -> AsyncIterator[ModelStreamChunk]:
        """Stream the answer; the last chunk carries the finished :class:`Completion`, its tool
        calls assembled from the streamed pieces.

        Retries and fallbacks apply until the first chunk with text or a tool call arrives (an
        empty first ``role`` chunk does not count). If the deployment fails after that and the
        chain has another model, a chunk with ``discard=True`` says to drop the text (and
        tool-call pieces) received so far and the answer starts again from that model (so
        nothing is ever duplicated); the last model's failure is raised (text already yielded
        stays yielded). With ``response_format`` the finished reply is validated into
        :attr:`Completion.parsed` (no retry: the text was already streamed;
        :class:`StructuredOutputError` when it does not validate).
        """
        fmt = ResponseFormat.of(response_format) if response_format is not None else None
        request = build_request(messages, self.name, params, metadata, tools, tool_choice, fmt)
        async for chunk in self._stream_request(request):
            if chunk.completion is not None and fmt is not None and not chunk.completion.tool_calls:
                try:
                    parsed = fmt.parse(chunk.completion.text)
                except ValueError as err:
                    raise StructuredOutputError(self.name, 1, str(err), chunk.completion.text) from None
                chunk = replace(chunk, completion=replace(chunk.completion, parsed=parsed))
            yield chunk

    async def _stream_request(self, request: CompletionRequest) -> AsyncIterator[ModelStreamChunk]:
        errors: list[ProviderError] = []
        screen = _PrivacyScreen(self.privacy, request)
        chain = self._chain()
        for candidate, retry, remaining in self._turns(chain, screen, errors):
            span = telemetry.start_span(
                candidate._span_name(), functools.partial(candidate._span_attributes, request, stream=True)
            )
            try:
                try:
                    opened = await candidate._open_stream(request, retry)
                except ProviderError as exc:
                    errors.append(exc)
                    telemetry.fail(span, exc)
                    _log_failure(candidate, exc, chain, self._upcoming(remaining, screen))
                    continue
                fallback_from = self.name if errors or screen.refused else None
                reason = _fallback_reason(errors, screen.refused) if fallback_from else None
                chunks = candidate._drain(request, *opened, fallback_from, tuple(screen.refused), reason)
                sent = False
                try:
                    async for chunk in chunks:
                        sent = sent or bool(chunk.text or chunk.tool_calls)
                        if chunk.completion is not None and span is not None:
                            telemetry.set_attributes(span, telemetry.response_attributes(chunk.completion))
                        yield chunk
                    return
                except ProviderError as exc:
                    if not any(not screen.blocks(m) for m in remaining):
                        raise  # the last model: the text already yielded stays, and the error says why
                    errors.append(exc)
                    telemetry.fail(span, exc)
                    _log_failure(candidate, exc, chain, self._upcoming(remaining, screen))
                if sent:  # the next model starts the answer again: the caller drops this text
                    yield ModelStreamChunk(discard=True, failed=candidate.name)
            except BaseException as exc:
                telemetry.fail(span, exc)
                raise
            finally:
                if span is not None:
                    span.end()
        raise screen.failure(errors)

    async def _open_stream(
        self, request: CompletionRequest, retry: bool = True
    ) -> tuple[AsyncIterator[StreamChunk], StreamChunk | None, float, int]:
        self.load.add(1)  # until _drain ends
        try:
            return await self._open_stream_counted(request, retry)
        except BaseException:
            self.load.add(-1)
            raise

    async def _open_stream_counted(
        self, request: CompletionRequest, retry: bool
    ) -> tuple[AsyncIterator[StreamChunk], StreamChunk | None, float, int]:
        await self._prepare()

        async def open_once() -> tuple[AsyncIterator[StreamChunk], StreamChunk | None, float]:
            started = time.perf_counter()
            async with self._semaphore():
                self.breaker.before_call(self.name)
                stream = self.provider.stream(request)
                failure: BaseException | None = None
                try:
                    first = await self._first_chunk(stream)
                except BaseException as exc:
                    failure = self._failed(exc)
            if failure is not None:
                raise failure  # outside the handler: nothing chains to the error it replaced
            return stream, first, started

        policy = self.spec.retry if retry else _NO_RETRY
        (stream, first, started), attempts = await call_with_retries(policy, open_once)
        return stream, first, started, attempts

    async def _first_chunk(self, stream: AsyncIterator[StreamChunk]) -> StreamChunk | None:
        """The first chunk that carries something (text, a tool call, an end, usage, logprobs): the empty
        ``role`` chunk some servers (vLLM) send first is not text sent, so retries and
        fallbacks still apply while only such chunks have arrived."""
        while True:
            try:
                chunk = await _within(anext(stream), self.spec.timeout_s)
            except StopAsyncIteration:
                return None
            if chunk.text or chunk.tool_calls or chunk.finish_reason or chunk.usage or chunk.logprobs:
                return chunk

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
        calls = ToolCallAssembler()
        logprobs: list[TokenLogprob] = []
        finish: str | None = None
        usage: Usage | None = None
        chunk = first
        try:
            while chunk is not None:
                text.append(chunk.text)
                calls.add(chunk.tool_calls)
                logprobs.extend(chunk.logprobs or ())
                finish, usage = chunk.finish_reason or finish, chunk.usage or usage
                if chunk.text or chunk.tool_calls:
                    yield ModelStreamChunk(chunk.text, tool_calls=chunk.tool_calls)
                failure: BaseException | None = None
                try:
                    chunk = await _within(anext(stream), self.spec.timeout_s)
                except StopAsyncIteration:
                    chunk = None
                except BaseException as exc:
                    failure = self._failed(exc)
                if failure is not None:
                    raise failure  # outside the handler: nothing chains to the error it replaced
        finally:
            self.load.add(-1)  # counted from _open_stream
        self.breaker.record_success()
        response = ProviderResponse(
            "".join(text), finish, usage, tuple(logprobs) or None, tool_calls=calls.calls()
        )
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
