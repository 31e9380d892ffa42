"""The embedded provider ``llamacpp``: GGUF models in this process, on xllamacpp or llama-cpp-python.

No server process, network, key or GPU. The ``runtime`` option picks llama.cpp's runtime:
``xllamacpp`` (prebuilt wheels, the ``local`` extra; llama.cpp's own server code in-process, see
:mod:`~fusionsdk.providers.xllamacpp_calls`), ``llama-cpp-python`` (compiled at install, the
``llama-cpp-python`` extra), or ``auto`` (the default: xllamacpp when installed). The rest of
this docstring describes the llama-cpp-python path; xllamacpp gives the same features through
llama.cpp's server handlers. Each model file is loaded once per process by the llama.cpp
runtime (:mod:`~fusionsdk.providers.llamacpp_runtime`) and guarded by a lock (a ``Llama`` object
is not safe for concurrent use); generation runs in a worker thread so the event loop stays free,
and a cancelled or timed-out call stops generating at the next token. The provider also gives
token-level access (:class:`~fusionsdk.providers.base.TokenScoring`), which ``token_ensemble``
reads.

Tools go to the chat template (``tools``), and calls come back either as llama-cpp-python parsed
them (``chat_format: chatml-function-calling`` / ``functionary``) or as ``<tool_call>{...}</tool_call>``
text, which is read here; earlier tool turns reach the template as ``<tool_call>`` /
``<tool_response>`` text, which any template can render. ``response_format`` becomes a JSON
grammar, so even the smallest model replies with JSON that fits the schema.

Log-probabilities are recorded by a logits processor (llama.cpp's own ``logprobs`` would need
``logits_all=True``, which keeps logits for every position of the context window in memory).

Config::

    smol:  {provider: llamacpp, model: smollm2-135m-instruct}
    gemma: {provider: llamacpp, model: gemma3-270m}
    mine:  {provider: llamacpp, options: {path: ./my-model.gguf, mode: chat}}
    lcp:   {provider: llamacpp, model: smollm2, options: {runtime: llama-cpp-python}}
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from fusionsdk.config.models import Locality, ModelSpec
from fusionsdk.errors import BadRequest, ConfigError, ContextWindowExceeded, ProviderError
from fusionsdk.providers import xllamacpp_calls
from fusionsdk.providers.base import (
    CompletionRequest,
    Message,
    Provider,
    ProviderResponse,
    Reachability,
    StreamChunk,
    TokenLogprob,
    Usage,
)
from fusionsdk.providers.bundled import resolve_bundled
from fusionsdk.providers.llamacpp_runtime import (
    LlamaModel,
    LlamaOptions,
    Runtime,
    completion_prompt,
    load_llama,
    render_prompt,
)
from fusionsdk.providers.llamacpp_tokens import LlamaTokenScorer
from fusionsdk.providers.tool_calls import (
    parse_openai_tool_calls,
    parse_text_tool_calls,
    tool_choice_openai,
)
from fusionsdk.providers.xllamacpp_runtime import XLlamaModel

__all__ = ["LlamaCppProvider"]

_FINISHED = object()


class _Cancellation:
    """A logits processor that forces end-of-sequence once the call was cancelled or timed out,
    so the worker thread stops at the next token and frees the model."""

    def __init__(self, cancel: threading.Event, eos: int) -> None:
        self._cancel = cancel
        self._eos = eos

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self._cancel.is_set():
            scores[:] = -float("inf")
            scores[self._eos] = 0.0
        return scores


class _LogprobRecorder:
    """A logits processor that records each sampled token's log-probability.

    llama.cpp calls it before sampling each token with the ids so far; the previous step's choice
    is then the last id, so each step resolves the one before it. The final step is resolved
    after generation (greedy decoding: the argmax).
    """

    def __init__(self, llama: Any, top: int) -> None:
        self._llama = llama
        self._top = top
        self._pending: Any = None
        self.tokens: list[TokenLogprob] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self._pending is not None:
            self._resolve(int(input_ids[-1]))
        import numpy as np

        shifted = scores - scores.max()
        self._pending = shifted - np.log(np.exp(shifted).sum())
        return scores

    def _resolve(self, token_id: int) -> None:
        import numpy as np

        logprobs = self._pending
        top: tuple[tuple[str, float], ...] = ()
        if self._top:
            best = np.argpartition(-logprobs, self._top)[: self._top]
            best = best[np.argsort(-logprobs[best])]
            top = tuple((self._piece(int(i)), float(logprobs[i])) for i in best)
        self.tokens.append(TokenLogprob(self._piece(token_id), float(logprobs[token_id]), top))
        self._pending = None

    def finish(self, greedy: bool) -> tuple[TokenLogprob, ...]:
        if self._pending is not None and greedy:
            last = int(self._pending.argmax())
            if last != self._llama.token_eos():  # end-of-sequence is not part of the text
                self._resolve(last)
        return tuple(self.tokens)

    def _piece(self, token_id: int) -> str:
        return bytes(self._llama.detokenize([token_id])).decode("utf-8", "replace")


class LlamaCppProvider(Provider):
    """GGUF models run in-process by llama.cpp (xllamacpp or llama-cpp-python)."""

    default_locality: ClassVar[Locality] = "local"  # in-process: nothing leaves this machine

    class Options(BaseModel):
        """Embedded model options.

        Attributes:
            path: A GGUF file; when omitted, ``model`` names a bundled model.
            mode: ``chat`` (the model's chat template) or ``completion`` (prompt continuation).
            n_ctx: Context window in tokens.
            n_threads: CPU threads (llama.cpp's default when omitted).
            prompt_template: Completion mode: the prompt around ``{prompt}`` (few-shot examples).
            stop: Completion mode: default stop sequences.
            default_max_tokens: Output limit when the call gives none.
            chat_format: A named chat format (``chatml``, ...; llama-cpp-python's names, or
                llama.cpp's on xllamacpp); the GGUF's own template when omitted.
            runtime: ``auto`` (xllamacpp when installed, else llama-cpp-python), ``xllamacpp``
                or ``llama-cpp-python``.
            next_token_candidates: xllamacpp: how many next-token candidates token-level access
                (``token_ensemble``) reads per step; the others count as probability 0. The
                vocabulary size gives the whole distribution (slower: SmolLM2's 49,152 tokens
                take 0.4-0.5 s a step against about 20 ms for 1,000).
        """

        model_config = ConfigDict(extra="forbid")

        path: Path | None = None
        mode: Literal["chat", "completion"] | None = None
        n_ctx: int = Field(2048, ge=128)
        n_threads: int | None = Field(None, ge=1)
        prompt_template: str | None = None
        stop: list[str] | None = None
        default_max_tokens: int = Field(256, gt=0)
        chat_format: str | None = None
        runtime: Runtime = "auto"
        next_token_candidates: int = Field(1000, ge=1, le=1_000_000)

    def __init__(self, spec: ModelSpec, options: BaseModel | None = None) -> None:
        super().__init__(spec, options)
        opts: LlamaCppProvider.Options = self.options  # type: ignore[assignment]
        bundled = None if opts.path else resolve_bundled(spec.model or spec.name)
        self._bundled = bundled
        self.mode = opts.mode or (bundled.mode if bundled else "chat")
        self.template = opts.prompt_template or (bundled.prompt_template if bundled else "{prompt}")
        self.stop = opts.stop if opts.stop is not None else list(bundled.stop if bundled else ())

    @functools.cached_property
    def _path(self) -> str:
        opts: LlamaCppProvider.Options = self.options  # type: ignore[assignment]
        if opts.path is not None:
            return str(opts.path)
        from fusionsdk.settings import load_settings

        assert self._bundled is not None
        return str(self._bundled.locate(load_settings().home))

    def _model(self) -> LlamaModel | XLlamaModel:
        opts: LlamaCppProvider.Options = self.options  # type: ignore[assignment]
        chat_format = opts.chat_format or (self._bundled.chat_format if self._bundled else None)
        options = LlamaOptions(opts.n_ctx, opts.n_threads, chat_format, runtime=opts.runtime)
        # The path is found under the runtime's loading lock: Gemma's file is assembled once.
        return load_llama(lambda: self._path, options)

    async def prepare(self) -> None:
        """Load (or assemble and load) the GGUF file in a worker thread."""
        await asyncio.to_thread(self._model)

    def count_tokens(self, text: str) -> int:
        """Tokens by the model's own tokenizer."""
        return len(self._model().tokenize(text))

    def token_scorer(self, messages: list[Message]) -> LlamaTokenScorer | xllamacpp_calls.XLlamaTokenScorer:
        """Token-level access for the prompt this provider would generate from (the
        :class:`~fusionsdk.providers.base.TokenScoring` capability; loads the model). On
        xllamacpp it reads the top ``next_token_candidates`` tokens of each step.

        Raises:
            ConfigError: The model's chat format cannot be rendered as text.
        """
        model = self._model()
        if isinstance(model, XLlamaModel):
            opts: LlamaCppProvider.Options = self.options  # type: ignore[assignment]
            with model.lock:
                prompt_text = completion_prompt(self.template, messages)
                tokens, found = xllamacpp_calls.render_prompt(
                    model, messages, mode=self.mode, prompt=prompt_text, stop=self.stop
                )
            return xllamacpp_calls.XLlamaTokenScorer(model, tokens, found, opts.next_token_candidates)
        prompt, stops = render_prompt(model, messages, mode=self.mode, template=self.template, stop=self.stop)
        return LlamaTokenScorer(model, prompt, stops)

    async def reachability(self) -> Reachability:
        """Whether the model file is present (loading is not attempted)."""
        try:
            path = self._path
        except ConfigError as err:
            return Reachability("error", err.message)
        return Reachability("ok" if Path(path).is_file() else "unreachable", path)

    # -- generation --------------------------------------------------------------------------

    def _call_args(self, request: CompletionRequest, cancel: threading.Event) -> dict[str, Any]:
        params = request.params
        opts: LlamaCppProvider.Options = self.options  # type: ignore[assignment]
        args: dict[str, Any] = {
            "max_tokens": params.max_tokens or opts.default_max_tokens,
            "temperature": params.temperature if params.temperature is not None else 0.0,
        }
        if params.top_p is not None:
            args["top_p"] = params.top_p
        if params.seed is not None:
            args["seed"] = params.seed
        stop = params.stop if params.stop is not None else (self.stop if self.mode == "completion" else None)
        if stop:
            args["stop"] = stop
        if request.response_format is not None:
            fmt = request.response_format
            schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema")
            args["response_format"] = {"type": "json_object", **({"schema": schema} if schema else {})}
        args.update(params.extra)
        return args

    def _run(
        self, request: CompletionRequest, cancel: threading.Event, stream: bool
    ) -> tuple[Iterator[dict[str, Any]] | dict[str, Any], _LogprobRecorder | None]:
        """Start generation (the caller holds the model lock)."""
        loaded = self._model()
        assert isinstance(loaded, LlamaModel)
        llama = loaded.llama
        args = self._call_args(request, cancel)
        from llama_cpp import LogitsProcessorList

        processors: list[Any] = [_Cancellation(cancel, llama.token_eos())]
        recorder = None
        if request.params.logprobs:
            recorder = _LogprobRecorder(llama, request.params.top_logprobs)
            processors.append(recorder)
        args["logits_processor"] = LogitsProcessorList(processors)
        try:
            if self.mode == "chat":
                if request.tools:
                    args["tools"] = [tool.to_openai() for tool in request.tools]
                    if request.tool_choice is not None:
                        args["tool_choice"] = tool_choice_openai(request.tool_choice)
                return llama.create_chat_completion(
                    messages=_template_messages(request.messages), stream=stream, **args
                ), recorder
            prompt = completion_prompt(self.template, request.messages)
            return llama.create_completion(prompt=prompt, stream=stream, **args), recorder
        except ValueError as err:
            raise _map_value_error(err) from None

    def _complete_blocking(self, request: CompletionRequest, cancel: threading.Event) -> ProviderResponse:
        loaded = self._model()
        if isinstance(loaded, XLlamaModel):
            return self._complete_x(loaded, request, cancel)
        with loaded.lock:
            result, recorder = self._run(request, cancel, stream=False)
            assert isinstance(result, dict)
            choice = result["choices"][0]
            text = choice["message"]["content"] if self.mode == "chat" else choice["text"]
            usage = result.get("usage") or {}
            greedy = not request.params.temperature
            calls: tuple[Any, ...] = ()
            if request.tools and self.mode == "chat":
                calls = parse_openai_tool_calls(choice["message"].get("tool_calls"))
                if not calls:
                    text, calls = parse_text_tool_calls(text or "", request.tools)
            return ProviderResponse(
                text=(text or "").strip() if self.mode == "completion" else text or "",
                tool_calls=calls,
                finish_reason="tool_calls" if calls else choice.get("finish_reason"),
                usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
                logprobs=recorder.finish(greedy) if recorder else None,
                backend_model=Path(self._path).name,
            )

    # -- generation on xllamacpp -------------------------------------------------------------

    def _x_body(self, request: CompletionRequest, cancel: threading.Event) -> dict[str, Any]:
        body = self._call_args(request, cancel)
        if self.mode == "chat":
            return {"messages": _template_messages(request.messages), **body}
        fmt = body.pop("response_format", None)
        if fmt is not None:  # the completion handler takes the schema itself
            body["json_schema"] = fmt.get("schema") or {"type": "object"}
        return {"prompt": completion_prompt(self.template, request.messages), **body}

    def _complete_x(
        self, loaded: XLlamaModel, request: CompletionRequest, cancel: threading.Event
    ) -> ProviderResponse:
        top = request.params.top_logprobs if request.params.logprobs else None
        with loaded.lock:
            if request.tools and self.mode == "chat":
                return self._tools_x(loaded, request, cancel, top)
            chunks: list[StreamChunk] = []
            body = self._x_body(request, cancel)
            chat = self.mode == "chat"
            xllamacpp_calls.stream(loaded, body, chat=chat, cancel=cancel, emit=chunks.append, top=top)
        final = chunks[-1]
        text = "".join(c.text for c in chunks[:-1])
        return ProviderResponse(
            text=text if chat else text.strip(),
            finish_reason=final.finish_reason,
            usage=final.usage or Usage(),
            logprobs=final.logprobs,
            backend_model=Path(self._path).name,
        )

    def _tools_x(
        self, loaded: XLlamaModel, request: CompletionRequest, cancel: threading.Event, top: int | None
    ) -> ProviderResponse:
        """A chat call with tools, in one piece (whether the reply is a call is known at its end)."""
        body = self._x_body(request, cancel)
        body["tools"] = [tool.to_openai() for tool in request.tools]
        if request.tool_choice is not None:
            body["tool_choice"] = tool_choice_openai(request.tool_choice)
        if top is not None:
            body.update(logprobs=True, top_logprobs=max(top, 1))
        result = loaded.call("handle_chat_completions", body)
        choice = result["choices"][0]
        message = choice.get("message") or {}
        calls = parse_openai_tool_calls(message.get("tool_calls"))
        text = message.get("content") or ""
        if not calls:
            text, calls = parse_text_tool_calls(text, request.tools)
        usage = result.get("usage") or {}
        entries = (choice.get("logprobs") or {}).get("content") or []
        return ProviderResponse(
            text=text or "",
            tool_calls=calls,
            finish_reason="tool_calls" if calls else choice.get("finish_reason"),
            usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
            logprobs=tuple(xllamacpp_calls.logprobs_of(entries, top)) if top is not None else None,
            backend_model=Path(self._path).name,
        )

    def _stream_x(
        self,
        loaded: XLlamaModel,
        request: CompletionRequest,
        cancel: threading.Event,
        emit: Callable[[StreamChunk], None],
    ) -> None:
        """Stream on xllamacpp (the caller holds the model lock)."""
        top = request.params.top_logprobs if request.params.logprobs else None
        body = self._x_body(request, cancel)
        chat = self.mode == "chat"
        xllamacpp_calls.stream(loaded, body, chat=chat, cancel=cancel, emit=emit, top=top)

    async def complete(self, request: CompletionRequest) -> ProviderResponse:
        cancel = threading.Event()
        try:
            return await asyncio.to_thread(self._complete_blocking, request, cancel)
        finally:
            cancel.set()  # a cancelled or timed-out call stops generating at the next token

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamChunk]:
        if request.tools:  # whether the reply is a call is known only at its end
            async for chunk in super().stream(request):
                yield chunk
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        def produce() -> None:
            def emit(chunk: StreamChunk) -> None:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)

            try:
                loaded = self._model()
                if isinstance(loaded, XLlamaModel):
                    with loaded.lock:
                        self._stream_x(loaded, request, cancel, emit)
                else:
                    for chunk in self._stream_blocking(request, cancel):
                        emit(chunk)
            except BaseException as exc:  # handed to the consumer, raised there
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            loop.call_soon_threadsafe(queue.put_nowait, _FINISHED)

        worker = asyncio.ensure_future(asyncio.to_thread(produce))
        try:
            while (item := await queue.get()) is not _FINISHED:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancel.set()
            await asyncio.shield(worker)

    def _stream_blocking(self, request: CompletionRequest, cancel: threading.Event) -> Iterator[StreamChunk]:
        loaded = self._model()
        assert isinstance(loaded, LlamaModel)
        with loaded.lock:
            chunks, recorder = self._run(request, cancel, stream=True)
            assert not isinstance(chunks, dict)
            chunks = _mapping_errors(chunks)  # the stream checks the prompt on its first step
            completion_tokens, finish = 0, None
            at_start = self.mode == "completion"  # complete() strips completion text; match it
            for chunk in chunks:
                choice = chunk["choices"][0]
                piece = (
                    (choice.get("delta") or {}).get("content") if self.mode == "chat" else choice.get("text")
                )
                finish = choice.get("finish_reason") or finish
                if at_start and piece:
                    piece = piece.lstrip()
                    at_start = not piece
                if piece:
                    completion_tokens += 1
                    yield StreamChunk(text=piece)
            prompt_tokens = loaded.llama.n_tokens - completion_tokens
            logprobs = recorder.finish(not request.params.temperature) if recorder else None
            yield StreamChunk(
                finish_reason=finish,
                usage=Usage(max(prompt_tokens, 0), completion_tokens),
                logprobs=logprobs,
            )


def _template_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier tool turns as text any chat template renders: the assistant's calls as
    ``<tool_call>`` blocks, the tools' replies as user turns in ``<tool_response>`` blocks."""
    import json

    rendered = []
    for message in messages:
        if message.get("tool_calls"):
            blocks = [
                "<tool_call>"
                + json.dumps(
                    {
                        "name": c["function"]["name"],
                        "arguments": json.loads(c["function"]["arguments"] or "{}"),
                    }
                )
                + "</tool_call>"
                for c in message["tool_calls"]
            ]
            text = "\n".join([message.get("content") or "", *blocks]).strip()
            rendered.append({"role": "assistant", "content": text})
        elif message.get("role") == "tool":
            rendered.append(
                {
                    "role": "user",
                    "content": f"<tool_response>\n{message.get('content') or ''}\n</tool_response>",
                }
            )
        else:
            rendered.append(message)
    return rendered


def _mapping_errors(chunks: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``chunks`` with llama-cpp-python's ValueErrors mapped to provider errors."""
    try:
        yield from chunks
    except ValueError as err:
        raise _map_value_error(err) from None


def _map_value_error(err: ValueError) -> ProviderError:
    message = str(err)
    if "context window" in message or "exceed" in message:
        return ContextWindowExceeded(message)
    return BadRequest(message)
