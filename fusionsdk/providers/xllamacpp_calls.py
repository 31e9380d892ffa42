"""The embedded provider's calls on the xllamacpp runtime: generation and token-level access.

Generation goes through llama.cpp's own server handlers: chat mode through
``handle_chat_completions`` (the chat template, tools and ``response_format`` as llama.cpp's
server applies them), completion mode through ``handle_completions``. Calls without tools stream
internally, so a cancelled or timed-out call stops at the next token.

Token-level access (:class:`XLlamaTokenScorer`, what ``token_ensemble`` reads) asks the server
for the top-N next-token candidates (``n_probs``, one-token completion of the context, the
prompt cache on) instead of the whole distribution llama-cpp-python's low-level API gives: every
token outside the top N has probability 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fusionsdk.providers.base import Message, StreamChunk, TokenLogprob, Usage
from fusionsdk.providers.llamacpp_tokens import HeldScorer

if TYPE_CHECKING:
    import threading

    import numpy as np
    from numpy.typing import NDArray

    from fusionsdk.providers.xllamacpp_runtime import XLlamaModel

__all__ = ["XLlamaTokenScorer", "logprobs_of", "render_prompt", "stream"]


def logprobs_of(entries: list[dict[str, Any]], top: int) -> list[TokenLogprob]:
    """Per-token log-probabilities from the server's ``logprobs.content`` entries."""
    return [
        TokenLogprob(
            str(e.get("token", "")),
            float(e["logprob"]),
            tuple((str(t.get("token", "")), float(t["logprob"])) for t in _top(e, top)),
        )
        for e in entries
    ]


def _top(entry: dict[str, Any], top: int) -> list[dict[str, Any]]:
    return list(entry.get("top_logprobs") or [])[:top]


def stream(
    model: XLlamaModel,
    body: dict[str, Any],
    *,
    chat: bool,
    cancel: threading.Event,
    emit: Callable[[StreamChunk], None],
    top: int | None,
) -> None:
    """Generate from ``body`` into ``emit``: text pieces, then one final chunk with the finish
    reason, usage and (when ``top`` is not None) log-probabilities. Stops early on ``cancel``.
    Completion text (``chat`` False) starts at its first non-space character, as the
    llama-cpp-python path gives it. The caller holds the model's lock.
    """
    if top is not None:  # the server gives no logprobs for n_probs 0
        asked = {"logprobs": True, "top_logprobs": max(top, 1)} if chat else {"n_probs": max(top, 1)}
        body = {**body, **asked}
    finish: str | None = None
    usage: dict[str, Any] = {}
    tokens: list[TokenLogprob] = []
    pieces = 0
    at_start = not chat

    def on_chunk(chunk: dict[str, Any]) -> bool:
        nonlocal finish, usage, pieces, at_start
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
            finish = choice.get("finish_reason") or finish
            if top is not None:
                tokens.extend(logprobs_of((choice.get("logprobs") or {}).get("content") or [], top))
            if at_start and piece:
                piece = piece.lstrip()
                at_start = not piece
            if piece:
                pieces += 1
                emit(StreamChunk(text=piece))
        return cancel.is_set()

    handler = "handle_chat_completions" if chat else "handle_completions"
    model.call(handler, {**body, "stream_options": {"include_usage": True}}, on_chunk)
    emit(
        StreamChunk(
            finish_reason=finish,
            usage=Usage(int(usage.get("prompt_tokens", 0)), pieces),
            logprobs=tuple(tokens) if top is not None else None,
        )
    )


def render_prompt(
    model: XLlamaModel, messages: list[Message], *, mode: str, prompt: str, stop: list[str]
) -> tuple[list[int], list[str]]:
    """The prompt tokens and stop sequences a generation of ``messages`` starts from, as the
    server builds them: chat models through their chat template (the end-of-turn token stops
    them), completion models from ``prompt`` (already filled in) with ``stop``."""
    if mode == "completion":
        return model.tokenize(prompt, bos=True), list(stop)
    return model.tokenize(model.apply_template(messages), bos=True), []


class XLlamaTokenScorer(HeldScorer):
    """The embedded provider's :class:`~fusionsdk.providers.base.TokenScorer` on xllamacpp.

    Args:
        model: The loaded model.
        prompt: The prompt in its vocabulary.
        stops: The stop sequences a generation from it uses.
        top_n: How many next-token candidates each step reads (the rest count as 0).
    """

    def __init__(self, model: XLlamaModel, prompt: list[int], stops: list[str], top_n: int) -> None:
        self.prompt = prompt
        self.stops = stops
        self.shared = model.key
        self.context_size = model.options.n_ctx
        self.end_tokens = model.end_tokens
        self._model = model
        self._top_n = top_n
        self._pieces: dict[int, str | None] = {}
        self._tokens: dict[str, list[int]] = {}
        self._context: list[int] | None = None
        self._probs: Any = None

    def _reset(self) -> None:
        self._context = None

    def probabilities(self, context: list[int]) -> NDArray[np.float64]:
        """The top-N next-token probabilities after ``context`` (0 for the other tokens)."""
        import numpy as np

        if context == self._context:
            return self._probs  # type: ignore[no-any-return]
        body = {"prompt": context, "max_tokens": 1, "n_probs": self._top_n, "temperature": 0}
        body["cache_prompt"] = True  # only the tokens after the cached prefix are evaluated
        result = self._model.call("handle_completions", body)
        entries = result["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        probs = np.zeros(self._model.n_vocab(), dtype=np.float64)
        for entry in entries:
            token = int(entry["id"])
            probs[token] = float(np.exp(entry["logprob"]))
            if token not in self._pieces:
                self._pieces[token] = self._text(token, bytes(entry.get("bytes") or b""))
        self._context, self._probs = list(context), probs
        return probs

    def _text(self, token: int, raw: bytes) -> str | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        # The server spells control tokens (<|im_start|>) out; they are no text to align on.
        if text.startswith("<") and text.endswith(">"):
            return text if self._model.tokenize(text, special=False) == [token] else ""
        return text

    def piece(self, token: int) -> str | None:
        """The text of ``token``; None when it is not whole UTF-8 (a byte of a character)."""
        if token not in self._pieces:
            self._pieces[token] = self._text(token, self._model.detokenize([token]))
        return self._pieces[token]

    def tokenize(self, text: str) -> list[int]:
        """``text`` in the model's vocabulary (no BOS, special tokens as plain text)."""
        if text not in self._tokens:
            self._tokens[text] = self._model.tokenize(text, special=False)
        return self._tokens[text]

    def detokenize(self, tokens: list[int]) -> bytes:
        """The bytes of ``tokens``."""
        return self._model.detokenize(tokens)
