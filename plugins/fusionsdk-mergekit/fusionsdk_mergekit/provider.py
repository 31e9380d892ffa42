"""The in-process provider ``transformers``: Hugging Face-format models run with transformers.

Made for models ``fusionsdk merge`` writes, and for any other local Hugging Face model directory
(config.json, safetensors weights, tokenizer). No server and no network: the directory is loaded
once per process (on a GPU when there is one, else on the CPU) and shared by every model entry
that names it; calls take turns on it behind a lock, generation runs in a worker thread so the
event loop stays free, and a cancelled or timed-out call stops at the next token.

Prompts go through the tokenizer's chat template when it has one, else the conversation is sent
as plain text (``mode`` overrides the choice). Token counts use the model's own tokenizer;
log-probabilities come from the output logits when a call asks for them.

Config::

    models:
      merged: {provider: transformers, options: {path: ./merged}}
      gpu:    {provider: transformers, options: {path: /data/merged, device: cuda, dtype: bfloat16}}

For heavy traffic on a GPU, serve the same directory with TGI, vLLM or TensorRT-LLM instead and
use the ``tgi``, ``vllm`` or ``trtllm`` provider (see docs/merging.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar, Literal

from fusionsdk.config.models import Locality, ModelSpec
from fusionsdk.errors import ConfigError
from fusionsdk.providers.base import (
    CompletionRequest,
    Provider,
    ProviderResponse,
    Reachability,
    StreamChunk,
)
from pydantic import BaseModel, ConfigDict, Field

from fusionsdk_mergekit._generation import Settings, StopTrimmer, generate
from fusionsdk_mergekit._loading import LoadedModel, load_model

__all__ = ["TransformersProvider"]


class TransformersProvider(Provider):
    """Hugging Face-format model directories run in-process with transformers (CPU or GPU)."""

    default_locality: ClassVar[Locality] = "local"  # in-process: nothing leaves this machine

    class Options(BaseModel):
        """Options of a local transformers model.

        Attributes:
            path: The model directory; when omitted, the spec's ``model`` is taken as the path.
            device: ``auto`` (a CUDA GPU when torch sees one, else the CPU), ``cpu``, ``cuda``,
                ``cuda:N`` or ``mps``.
            dtype: ``auto`` (float32 on the CPU, the checkpoint's dtype on a GPU), ``float32``,
                ``float16`` or ``bfloat16``.
            mode: ``chat`` (the tokenizer's chat template) or ``completion`` (plain prompt);
                ``chat`` exactly when the tokenizer has a template, when omitted.
            prompt_template: Completion mode: the prompt around ``{prompt}``.
            stop: Default stop sequences (a call's own ``stop`` replaces them).
            default_max_tokens: Output limit when the call gives none.
        """

        model_config = ConfigDict(extra="forbid")

        path: Path | None = None
        device: str = "auto"
        dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
        mode: Literal["chat", "completion"] | None = None
        prompt_template: str = "{prompt}"
        stop: list[str] | None = None
        default_max_tokens: int = Field(256, gt=0)

    def __init__(self, spec: ModelSpec, options: BaseModel | None = None) -> None:
        super().__init__(spec, options)
        opts: TransformersProvider.Options = self.options  # type: ignore[assignment]
        path = opts.path or (Path(spec.model) if spec.model else None)
        if path is None:
            raise ConfigError(
                "the transformers provider needs a model directory: options.path (or model)",
                path=f"models.{spec.name}.options.path",
            )
        self.path = path

    @functools.cached_property
    def _device(self) -> str:
        from fusionsdk_mergekit.merge import resolve_device

        opts: TransformersProvider.Options = self.options  # type: ignore[assignment]
        try:
            return resolve_device(opts.device)
        except ConfigError as err:
            raise ConfigError(err.message, path=f"models.{self.spec.name}.options.device") from None

    def _loaded(self) -> LoadedModel:
        opts: TransformersProvider.Options = self.options  # type: ignore[assignment]
        try:
            return load_model(str(self.path), self._device, opts.dtype)
        except ConfigError as err:
            raise ConfigError(err.message, path=f"models.{self.spec.name}.options.path") from None

    def _settings(self, loaded: LoadedModel) -> Settings:
        opts: TransformersProvider.Options = self.options  # type: ignore[assignment]
        chat = opts.mode == "chat" if opts.mode else loaded.has_chat_template
        return Settings(
            chat=chat,
            prompt_template=opts.prompt_template,
            stop=tuple(opts.stop or ()),
            default_max_tokens=opts.default_max_tokens,
            context_window=self.spec.context_window or loaded.context_window,
        )

    async def prepare(self) -> None:
        """Load the model (once per process) in a worker thread."""
        await asyncio.to_thread(self._loaded)

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the model's own tokenizer."""
        return len(self._loaded().tokenizer(text, add_special_tokens=False)["input_ids"])

    async def reachability(self) -> Reachability:
        """Whether the directory holds a model (loading is not attempted)."""
        present = (self.path / "config.json").is_file()
        return Reachability("ok" if present else "unreachable", str(self.path))

    # -- generation --------------------------------------------------------------------------

    def _strip(self, settings: Settings, text: str) -> str:
        return text if settings.chat else text.lstrip()

    async def complete(self, request: CompletionRequest) -> ProviderResponse:
        loaded = await asyncio.to_thread(self._loaded)
        settings = self._settings(loaded)
        cancel = threading.Event()
        try:
            result = await asyncio.to_thread(generate, loaded, request, settings, cancel)
        finally:
            cancel.set()  # a cancelled or timed-out call stops generating at the next token
        return ProviderResponse(
            text=self._strip(settings, result.text),
            finish_reason=result.finish_reason,
            usage=result.usage,
            logprobs=result.logprobs,
            backend_model=self.path.name,
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamChunk]:
        from transformers import TextIteratorStreamer

        loaded = await asyncio.to_thread(self._loaded)
        settings = self._settings(loaded)
        streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True)
        pieces = iter(streamer)
        cancel = threading.Event()
        job = asyncio.ensure_future(asyncio.to_thread(generate, loaded, request, settings, cancel, streamer))
        trimmer = StopTrimmer(
            tuple(request.params.stop if request.params.stop is not None else settings.stop)
        )
        at_start = not settings.chat  # complete() strips leading whitespace in completion mode
        try:
            while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
                text = trimmer.feed(piece)
                if at_start and text:
                    text = text.lstrip()
                    at_start = not text
                if text:
                    yield StreamChunk(text=text)
            result = await job
            if tail := trimmer.flush():
                yield StreamChunk(text=tail.lstrip() if at_start else tail)
            yield StreamChunk(
                finish_reason=result.finish_reason, usage=result.usage, logprobs=result.logprobs
            )
        finally:
            cancel.set()
            with contextlib.suppress(Exception):
                await asyncio.shield(job)
            streamer.end()  # wake a reader still waiting if generation never started
