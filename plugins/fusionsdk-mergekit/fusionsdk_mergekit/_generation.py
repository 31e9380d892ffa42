"""One blocking ``generate`` call on a loaded model, as the transformers provider makes it.

The caller runs :func:`generate` in a worker thread; it takes the model's lock, stops at the next
token once ``cancel`` is set (a cancelled or timed-out call frees the model quickly), honours
stop strings, and returns the text, token counts, finish reason and, when asked, each token's
log-probability computed from the raw output logits.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from fusionsdk.errors import BadRequest, ContextWindowExceeded, ProviderError, ProviderUnavailable
from fusionsdk.providers.base import CompletionRequest, TokenLogprob, Usage

from fusionsdk_mergekit._loading import LoadedModel

__all__ = ["Generated", "Settings", "StopTrimmer", "encode_prompt", "generate"]


@dataclass(frozen=True)
class Settings:
    """Per-provider generation settings (from its options)."""

    chat: bool
    prompt_template: str
    stop: tuple[str, ...]
    default_max_tokens: int
    context_window: int | None


@dataclass(frozen=True)
class Generated:
    """What one ``generate`` produced."""

    text: str
    usage: Usage
    finish_reason: str
    logprobs: tuple[TokenLogprob, ...] | None


class StopTrimmer:
    """Cuts text at the first stop string, also when it arrives split across streamed pieces.

    Text that could still be the start of a stop string is held back until the next piece
    shows it is not.
    """

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._hold = max((len(s) for s in self.stops), default=1) - 1
        self._buffer = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Add a piece; return the text now safe to emit."""
        if self.stopped:
            return ""
        self._buffer += piece
        cuts = [i for i in (self._buffer.find(s) for s in self.stops) if i >= 0]
        if cuts:
            self.stopped = True
            text, self._buffer = self._buffer[: min(cuts)], ""
            return text
        safe = max(len(self._buffer) - self._hold, 0)
        text, self._buffer = self._buffer[:safe], self._buffer[safe:]
        return text

    def flush(self) -> str:
        """The held-back rest, at the end of the text."""
        text, self._buffer = ("" if self.stopped else self._buffer), ""
        return text


def encode_prompt(loaded: LoadedModel, request: CompletionRequest, settings: Settings) -> list[int]:
    """Token ids of the prompt: the chat template when the tokenizer has one, else plain text."""
    from fusionsdk.providers.prompt import render_transcript

    if not request.messages:
        raise BadRequest("no messages to answer")
    tokenizer = loaded.tokenizer
    if settings.chat and not loaded.has_chat_template:
        raise BadRequest("mode is chat but the tokenizer has no chat template (use mode: completion)")
    if settings.chat:
        try:
            text = tokenizer.apply_chat_template(request.messages, add_generation_prompt=True, tokenize=False)
        except Exception as err:  # jinja errors: a role the template refuses, ...
            raise BadRequest(f"the chat template refused the messages: {err}") from None
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    else:
        text = settings.prompt_template.replace("{prompt}", render_transcript(request.messages))
        ids = tokenizer(text)["input_ids"]
    return list(ids)


def generate(
    loaded: LoadedModel,
    request: CompletionRequest,
    settings: Settings,
    cancel: threading.Event,
    streamer: Any = None,
) -> Generated:
    """Run one generation (blocking; hold no lock when calling it).

    Raises:
        ContextWindowExceeded: The prompt fills the model's context window (a long output is cut
            where the window ends, with finish reason ``length``).
        BadRequest: The request cannot be encoded or its parameters are refused.
        ProviderError: Generation failed (``ProviderUnavailable`` when out of memory).
    """
    try:
        prompt = encode_prompt(loaded, request, settings)
        max_new = request.params.max_tokens or settings.default_max_tokens
        window = settings.context_window
        if window is not None:
            if len(prompt) >= window:
                raise ContextWindowExceeded(
                    f"{len(prompt)} prompt tokens leave no room in the context window of {window}"
                )
            max_new = min(max_new, window - len(prompt))  # as llama.cpp: stop, "length", when full
        with loaded.lock:
            return _generate_locked(loaded, request, settings, cancel, streamer, prompt, max_new)
    finally:
        if streamer is not None:
            streamer.end()  # a consumer waiting on the streamer must wake up even after an error


def _generate_locked(
    loaded: LoadedModel,
    request: CompletionRequest,
    settings: Settings,
    cancel: threading.Event,
    streamer: Any,
    prompt: list[int],
    max_new: int,
) -> Generated:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    tokenizer, params = loaded.tokenizer, request.params
    trimmer = StopTrimmer(tuple(params.stop if params.stop is not None else settings.stop))
    start = len(prompt)

    class _Stop(StoppingCriteria):  # type: ignore[misc]
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            done = cancel.is_set()
            if not done and trimmer.stops:
                done = any(s in tokenizer.decode(input_ids[0, start:]) for s in trimmer.stops)
            return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

    kwargs: dict[str, Any] = {
        "max_new_tokens": max_new,
        "stopping_criteria": StoppingCriteriaList([_Stop()]),
        "return_dict_in_generate": True,
        "output_logits": params.logprobs,
        "pad_token_id": tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else tokenizer.eos_token_id,
    }
    if params.temperature:
        kwargs.update(do_sample=True, temperature=params.temperature)
        if params.top_p is not None:
            kwargs["top_p"] = params.top_p
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    kwargs.update(params.extra)
    if streamer is not None:
        kwargs["streamer"] = streamer
    if params.seed is not None:
        torch.manual_seed(params.seed)  # the lock is held: no other call draws from the generator
    input_ids = torch.tensor([prompt], device=loaded.device)
    try:
        with torch.inference_mode():
            out = loaded.model.generate(input_ids, attention_mask=torch.ones_like(input_ids), **kwargs)
    except torch.OutOfMemoryError as err:
        raise ProviderUnavailable(f"out of memory while generating: {err}") from None
    except (TypeError, ValueError) as err:
        raise BadRequest(f"transformers refused the request: {err}") from None
    except RuntimeError as err:
        raise ProviderError(f"generation failed: {err}") from None
    new = [int(t) for t in out.sequences[0, start:]]
    eos = loaded.eos_ids
    ended = next((k for k, t in enumerate(new) if t in eos), None)
    kept = new if ended is None else new[:ended]
    text = trimmer.feed(tokenizer.decode(kept, skip_special_tokens=True)) + trimmer.flush()
    finish = "stop" if ended is not None or trimmer.stopped or len(new) < max_new else "length"
    logprobs = _logprobs(tokenizer, out.logits, kept, params.top_logprobs) if params.logprobs else None
    return Generated(text, Usage(len(prompt), len(kept)), finish, logprobs)


def _logprobs(tokenizer: Any, logits: Any, tokens: list[int], top: int) -> tuple[TokenLogprob, ...]:
    """Each generated token's log-probability under the model (the raw logits, before sampling)."""
    import torch

    result = []
    for step, token in enumerate(tokens):
        logprobs = torch.log_softmax(logits[step][0].float(), dim=-1)
        alternatives: tuple[tuple[str, float], ...] = ()
        if top:
            values, ids = torch.topk(logprobs, min(top, logprobs.shape[-1]))
            alternatives = tuple(
                (tokenizer.decode([int(i)]), float(v)) for v, i in zip(values, ids, strict=True)
            )
        result.append(TokenLogprob(tokenizer.decode([token]), float(logprobs[token]), alternatives))
    return tuple(result)
