"""The provider contract: what every model backend plugin implements.

A provider (entry-point group ``fusionsdk.providers``) talks to one kind of backend. It receives a
:class:`CompletionRequest` and returns a :class:`ProviderResponse` or yields
:class:`StreamChunk` objects, and translates every backend error into a
:class:`~fusionsdk.errors.ProviderError` subclass. Retries, timeouts, circuit breaking,
fallbacks, cost and latency are added around it by :class:`~fusionsdk.providers.model.Model`,
so a provider stays small and does one honest attempt per call.

Example:
    A minimal provider::

        class Echo(Provider):
            async def complete(self, request):
                return ProviderResponse(text=request.messages[-1]["content"])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar, cast, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from fusionsdk.config.models import Locality, ModelSpec
from fusionsdk.providers.locality import LocalityDecision, decide_locality

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "CompletionRequest",
    "GenerationParams",
    "Message",
    "Provider",
    "ProviderResponse",
    "Reachability",
    "StreamChunk",
    "TokenLogprob",
    "TokenScorer",
    "TokenScoring",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolSpec",
    "Usage",
]

#: An OpenAI-style chat message: ``{"role": "user", "content": "..."}``. An assistant message
#: that calls tools carries ``tool_calls`` (OpenAI form, see :meth:`ToolCall.to_openai`) and may
#: have ``content: None``; a tool's reply is ``{"role": "tool", "tool_call_id": ..., "content": ...}``.
Message = dict[str, Any]

#: ``"auto"`` (the model decides), ``"none"``, ``"required"`` (some tool), or a tool's name.
ToolChoice = str


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call, as the OpenAI API describes a function tool.

    Every provider maps it at its boundary (LiteLLM and the OpenAI-compatible servers pass it
    on as is; llama.cpp hands it to the chat template). Build one from a Python function with
    :func:`fusionsdk.providers.tool_calls.spec_from_function`.

    Attributes:
        name: The function name the model uses (``[A-Za-z0-9_-]``, at most 64 characters).
        description: What the tool does, for the model.
        parameters: JSON Schema of the arguments object.
    """

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def to_openai(self) -> dict[str, Any]:
        """``{"type": "function", "function": {...}}``."""
        function = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}

    @classmethod
    def from_openai(cls, data: dict[str, Any]) -> ToolSpec:
        """Read an OpenAI tool dict (or its bare ``function`` part)."""
        function = data.get("function", data)
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        return cls(str(function["name"]), str(function.get("description") or ""), dict(parameters))


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for.

    Attributes:
        id: The call id (made up when the backend gives none), echoed in the tool's reply.
        name: The tool's name.
        arguments: The decoded arguments object.
    """

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI form used inside an assistant message's ``tool_calls``."""
        import json

        function = {"name": self.name, "arguments": json.dumps(self.arguments, ensure_ascii=False)}
        return {"id": self.id, "type": "function", "function": function}


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A streamed piece of a tool call: fragments with the same ``index`` join into one call
    (``id`` and ``name`` arrive once, ``arguments`` is JSON text in pieces)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class GenerationParams(BaseModel):
    """Sampling parameters every provider understands; unknown ones are refused.

    Backend-specific parameters go in ``extra`` and are passed through untouched.
    """

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(None, gt=0)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: list[str] | None = None
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = Field(0, ge=0, le=20)
    extra: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One call as a provider receives it.

    Attributes:
        messages: The conversation, OpenAI style.
        params: Sampling parameters.
        metadata: Run metadata (row ids, thread ids); providers may read it, never send it.
        tools: Tools the model may call.
        tool_choice: Whether and which tool to call (None: the backend's default).
        response_format: OpenAI ``response_format`` (``{"type": "json_schema", ...}`` or
            ``{"type": "json_object"}``): providers constrain or ask for JSON where they can.
    """

    messages: list[Message]
    params: GenerationParams = field(default_factory=GenerationParams)
    metadata: dict[str, Any] = field(default_factory=dict)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    response_format: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        """JSON-ready form with the total."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One generated token with its log-probability and, if asked, the top alternatives."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderResponse:
    """What a provider returns from one attempt; the adapter adds cost, latency and identity.

    Attributes:
        text: The generated text.
        finish_reason: ``stop``, ``length``, ... as the backend said.
        usage: Token counts if the backend reported them (counted by the adapter otherwise).
        logprobs: Per-token log-probabilities when the backend gives them.
        backend_model: The model id the backend says answered.
        tool_calls: Tools the model asked to call (``finish_reason`` is then ``tool_calls``).
    """

    text: str
    finish_reason: str | None = None
    usage: Usage | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    backend_model: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """A piece of a streamed answer; the last chunk carries ``finish_reason`` (and usage).
    Tool calls stream as :class:`ToolCallDelta` pieces, assembled by the adapter."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()


@dataclass(frozen=True, slots=True)
class Reachability:
    """Whether a deployment answers, as ``fusionsdk models`` shows it."""

    status: Literal["ok", "unreachable", "missing-key", "not-probed", "error"]
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when the deployment answered (or, for files, is present)."""
        return self.status == "ok"


#: The type of a provider's validated ``options`` (its ``Options`` model).
ProviderOptionsT = TypeVar("ProviderOptionsT", bound=BaseModel)


class Provider(Generic[ProviderOptionsT], ABC):
    """Base class of model backends (plugins of ``fusionsdk.providers``).

    Subclasses set :attr:`default_locality` (``local`` only for in-process backends) and
    :attr:`locality_by_host` (for model servers), may declare backend options in a nested
    ``Options`` model, and implement :meth:`complete` and :meth:`stream`. They raise only
    :class:`~fusionsdk.errors.ProviderError` subclasses.

    Args:
        spec: The model's validated spec.
        options: The spec's ``options`` validated against :attr:`Options`.
    """

    #: Plugin API version this provider was written for.
    api_version: ClassVar[int] = 1
    #: Where the model runs when neither the spec nor the ``base_url`` host decides. Hosted
    #: unless the provider runs the model in this process: doubt must not count as local.
    default_locality: ClassVar[Locality] = "hosted"
    #: Whether the provider serves the model from ``base_url``, so that a loopback, private or
    #: link-local host (or a Unix socket) makes it local (:mod:`fusionsdk.providers.locality`).
    locality_by_host: ClassVar[bool] = False
    #: Whether the spec must give ``base_url``.
    requires_base_url: ClassVar[bool] = False
    #: Whether ``base_url`` may be an ``http+unix://`` Unix socket.
    supports_unix_socket: ClassVar[bool] = False

    class Options(BaseModel):
        """Backend-specific options (none by default)."""

        model_config = ConfigDict(extra="forbid")

    def __init__(self, spec: ModelSpec, options: BaseModel | None = None) -> None:
        self.spec = spec
        chosen = options if options is not None else self.Options()
        self.options: ProviderOptionsT = cast("ProviderOptionsT", chosen)

    async def prepare(self) -> None:
        """One-time set-up before the first call (import a client library, load weights).

        The adapter awaits it once, outside the per-call timeout, so a slow first import or
        model load never counts as the backend being slow.
        """

    @abstractmethod
    async def complete(self, request: CompletionRequest) -> ProviderResponse:
        """Make one attempt at a completion."""

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamChunk]:
        """Yield the answer in pieces. The default yields the whole completion as one chunk."""
        response = await self.complete(request)
        calls = tuple(
            ToolCallDelta(i, c.id, c.name, c.to_openai()["function"]["arguments"])
            for i, c in enumerate(response.tool_calls)
        )
        yield StreamChunk(response.text, response.finish_reason, response.usage, response.logprobs, calls)

    async def reachability(self) -> Reachability:
        """Probe the deployment cheaply (no generation). Default: not probed."""
        return Reachability("not-probed")

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by this model's tokenizer (tiktoken's approximation by default)."""
        from fusionsdk.providers.tokens import count_tokens

        return count_tokens(text, self.spec.model)

    def cost_usd(self, usage: Usage) -> float | None:
        """USD cost of a call: the spec's prices, else 0 for local models, else unknown."""
        if self.spec.prices is not None:
            return self.spec.prices.cost(usage.prompt_tokens, usage.completion_tokens)
        if self.locality == "local":
            return 0.0
        return None

    @property
    def locality_decision(self) -> LocalityDecision:
        """Where the model runs and why (the spec, the ``base_url`` host, or the provider).
        Kept for the spec it was decided for: every call reads it, several times."""
        spec, default, by_host = self.spec, self.default_locality, self.locality_by_host
        kept = self.__dict__.get("_locality")
        if kept is not None and kept[0] is spec and kept[1] == default and kept[2] == by_host:
            return kept[3]  # type: ignore[no-any-return]
        decision = decide_locality(spec, default=default, by_host=by_host)
        self.__dict__["_locality"] = (spec, default, by_host, decision)
        return decision

    @property
    def locality(self) -> Locality:
        """``local`` or ``hosted``, failing closed (see :attr:`locality_decision`)."""
        return self.locality_decision.locality

    async def aclose(self) -> None:
        """Release connections; called when the owning hub closes."""


# -- optional capability: token-level access ---------------------------------------------------


@runtime_checkable
class TokenScorer(Protocol):
    """One model's next-token distributions for one prompt, in its own vocabulary.

    What token-level fusion reads: the candidates for the next token with their probabilities
    after any context (the prompt and an answer so far), and the means to score a continuation
    text (tokenize it; its first token's probability). Blocking and not thread-safe: use it in one
    worker thread, inside ``with scorer:``, which holds the model exclusively. Scorers with equal
    :attr:`shared` run on one model instance: hold only one of them, and hold several in the
    order of :attr:`shared` (so two holders never wait on each other).

    Attributes:
        prompt: The prompt's tokens.
        stops: The stop sequences a generation from this prompt uses.
        context_size: The context window in tokens.
        end_tokens: Ids of the end-of-generation tokens.
        shared: Identity of the model instance behind the scorer.
    """

    prompt: list[int]
    stops: list[str]
    context_size: int
    end_tokens: NDArray[np.intp]
    shared: str

    def __enter__(self) -> TokenScorer: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None: ...

    def probabilities(self, context: list[int]) -> NDArray[np.float64]:
        """The next-token distribution after ``context`` (indexed by token id)."""

    def piece(self, token: int) -> str | None:
        """The text of ``token``; None when it is not whole UTF-8 (a byte of a character)."""

    def tokenize(self, text: str) -> list[int]:
        """``text`` in the model's vocabulary (no BOS, special tokens as plain text)."""

    def detokenize(self, tokens: list[int]) -> bytes:
        """The bytes of ``tokens``."""


@runtime_checkable
class TokenScoring(Protocol):
    """Optional provider capability: token-level access (embedded llama.cpp models have it).

    Callers go through :meth:`Model.token_scorer <fusionsdk.providers.model.Model.token_scorer>`,
    which applies the privacy gate and loads the model first.
    """

    def token_scorer(self, messages: list[Message]) -> TokenScorer:
        """A scorer for the prompt of ``messages`` (blocking: renders and tokenizes it).

        Raises:
            ConfigError: The prompt cannot be rendered for token-level access.
        """
