"""The llama.cpp half of ``token_ensemble``: each model's prompt, answer tokens and next-token
distribution, through llama-cpp-python's low-level API.

A :class:`LlamaSession` keeps one model's view of the answer in its own vocabulary. When the
ensemble picks a text the model itself proposed, its own token is appended; otherwise the whole
answer is re-tokenised by the model's tokenizer. Only the tokens after the longest prefix the
model has already evaluated are fed (``Llama.eval`` drops the cache past ``n_tokens``), so each
step costs one token per model unless a re-tokenisation rewrote the end of the answer.

Sessions of models that share one loaded ``Llama`` (two config names for one GGUF file) share a
:class:`LlamaEngine`, which remembers the last distribution so identical contexts are evaluated
once. The caller holds each model's lock for the whole generation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fusionsdk.errors import ConfigError, ContextWindowExceeded
from fusionsdk.fusion._token_union import END, Proposal, start_key
from fusionsdk.providers.base import Message
from fusionsdk.providers.prompt import render_transcript

if TYPE_CHECKING:
    import numpy as np

    from fusionsdk.providers.llamacpp import LlamaCppProvider, _LoadedModel

__all__ = ["LlamaEngine", "LlamaSession", "render_prompt"]


@functools.cache
def _end_tokens(loaded: _LoadedModel) -> np.ndarray:
    """Ids of the model's end-of-generation tokens (scanned once per loaded model)."""
    import llama_cpp
    import numpy as np

    llama = loaded.llama
    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    ids = [i for i in range(llama.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, i)]
    return np.array(ids or [llama.token_eos()], dtype=np.intp)


class LlamaEngine:
    """One loaded model during an ensemble run: tokenizer caches and the last distribution."""

    def __init__(self, loaded: _LoadedModel) -> None:
        self.loaded = loaded
        self.llama = loaded.llama
        self.end_tokens = _end_tokens(loaded)
        self._pieces: dict[int, str | None] = {}
        self._tokens: dict[str, list[int]] = {}
        self._context: list[int] | None = None
        self._probs: Any = None

    def piece(self, token: int) -> str | None:
        """The text of ``token``; None when it is not whole UTF-8 (a byte of a character)."""
        if token not in self._pieces:
            try:
                self._pieces[token] = bytes(self.llama.detokenize([token])).decode("utf-8")
            except UnicodeDecodeError:
                self._pieces[token] = None
        return self._pieces[token]

    def tokenize(self, text: str) -> list[int]:
        """``text`` in this model's vocabulary (no BOS, special tokens as plain text)."""
        if text not in self._tokens:
            self._tokens[text] = list(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))
        return self._tokens[text]

    def probabilities(self, context: list[int]) -> np.ndarray:
        """The next-token distribution after ``context``, feeding only what is not cached."""
        import llama_cpp
        import numpy as np

        if context == self._context:
            return self._probs
        llama = self.llama
        cached = llama.input_ids[: llama.n_tokens]
        size = min(len(cached), len(context))
        differs = np.nonzero(cached[:size] != np.asarray(context[:size], dtype=cached.dtype))[0]
        keep = int(differs[0]) if differs.size else size
        llama.n_tokens = min(keep, len(context) - 1)  # the last token is always fed: its logits
        llama.eval(context[llama.n_tokens :])
        logits = np.ctypeslib.as_array(
            llama_cpp.llama_get_logits_ith(llama.ctx, -1), shape=(llama.n_vocab(),)
        )
        probs = logits.astype(np.float64)
        probs -= probs.max()
        np.exp(probs, out=probs)
        probs /= probs.sum()
        self._context, self._probs = list(context), probs
        return probs


class LlamaSession:
    """One model's part in an ensemble run.

    Args:
        name: The model's name in the graph.
        engine: Its loaded model.
        prompt: The prompt in its vocabulary.
        weight: Its weight in the vote.
    """

    def __init__(self, name: str, engine: LlamaEngine, prompt: list[int], weight: float) -> None:
        self.name = name
        self.engine = engine
        self.prompt = prompt
        self.weight = weight
        self.answer: list[int] = []
        self.text = ""  # the answer as this model wrote it (its own leading whitespace)
        self._own: dict[str, int] = {}
        self._probability: Callable[[str], float] = lambda text: 0.0
        if len(prompt) >= engine.llama.n_ctx():
            raise ContextWindowExceeded(
                f"the prompt's {len(prompt)} tokens do not fit the {engine.llama.n_ctx()}-token context",
                model=name,
            )

    def has_room(self) -> bool:
        """Whether one more token fits the model's context window."""
        return len(self.prompt) + len(self.answer) + 1 < self.engine.llama.n_ctx()

    def propose(self, top_k: int, at_start: bool = False) -> Proposal:
        """This model's top-k next tokens as texts, and the means to score other texts.

        Args:
            top_k: How many tokens to propose.
            at_start: Whether the answer has no text yet (candidates keyed by
                :func:`~fusionsdk.fusion._token_union.start_key`).
        """
        import numpy as np

        engine = self.engine
        probs = engine.probabilities(self.prompt + self.answer)
        k = min(top_k, probs.size)
        best = np.argpartition(-probs, k - 1)[:k]
        best = best[np.lexsort((best, -probs[best]))]  # by probability, then by id: stable
        ends = set(engine.end_tokens.tolist())
        top: list[tuple[str | None, float]] = []
        self._own = {}
        for token in best.tolist():
            text = END if token in ends else engine.piece(token)
            if token not in ends and not text:
                continue  # a control token, or a byte of a character: not text to align on
            top.append((text, float(probs[token])))
            if text is not None:
                self._own.setdefault(start_key(text) if at_start else text, token)

        def probability(text: str) -> float:
            tokens = engine.tokenize(text)
            return float(probs[tokens[0]]) if tokens else 0.0

        self._probability = probability
        end = float(probs[engine.end_tokens].max())
        return Proposal(self.name, tuple(top), end, probability, self.weight)

    def advance(self, choice: str, at_start: bool = False) -> None:
        """Take the ensemble's ``choice`` (keyed as in the last :meth:`propose`)."""
        engine = self.engine
        if choice in self._own:  # the model proposed it: its own token, as greedy decoding would
            token = self._own[choice]
            self.answer.append(token)
            self.text += engine.piece(token) or choice
            return
        if at_start and choice.strip() and self._probability(" " + choice) > self._probability(choice):
            choice = " " + choice  # this model starts its answers after a space
        self.text += choice
        tokens = engine.tokenize(self.text)
        if bytes(engine.llama.detokenize(tokens)) == self.text.encode("utf-8"):
            self.answer = list(tokens)  # the whole answer re-tokenised: in-distribution tokens
        else:  # the tokenizer does not round-trip the answer alone: append the text's tokens
            self.answer += engine.tokenize(choice)


def render_prompt(
    provider: LlamaCppProvider, llama: Any, messages: list[Message]
) -> tuple[list[int], list[str]]:
    """The prompt tokens and stop sequences the provider itself would use for ``messages``.

    Completion models get their few-shot template and default stop sequences; chat models their
    chat format (a llama-cpp-python format such as ``chatml``, or the GGUF's own template).

    Raises:
        ConfigError: The model's chat format cannot be rendered as text.
    """
    if provider.mode == "completion":
        prompt = provider.template.replace("{prompt}", render_transcript(messages))
        return list(llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)), list(provider.stop)
    result = _chat_formatter(llama)(messages=messages)
    tokens = llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
    stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
    return list(tokens), [s for s in stop if s]


def _chat_formatter(llama: Any) -> Callable[..., Any]:
    """The llama-cpp-python chat formatter behind ``llama.chat_format``."""
    from llama_cpp import llama_chat_format as formats

    name = llama.chat_format or ""
    if llama.chat_handler is None and name.startswith("chat_template."):
        key = "tokenizer.chat_template" if name == "chat_template.default" else f"tokenizer.{name}"

        def special(token: int) -> str:
            if token < 0:
                return ""
            return bytes(llama.detokenize([token], special=True)).decode("utf-8", "replace")

        return formats.Jinja2ChatFormatter(
            template=llama.metadata[key],
            eos_token=special(llama.token_eos()),
            bos_token=special(llama.token_bos()),
            stop_token_ids=[llama.token_eos()],
        )
    try:
        handler = llama.chat_handler or formats.get_chat_completion_handler(name)
    except (KeyError, ValueError):
        handler = None
    # Named formats are plain formatters wrapped in a handler; the formatter is in its closure.
    code = getattr(handler, "__code__", None)
    closure = getattr(handler, "__closure__", None) or ()
    cells = dict(zip(code.co_freevars, closure, strict=False)) if code else {}
    if "chat_formatter" in cells:
        return cells["chat_formatter"].cell_contents  # type: ignore[no-any-return]
    raise ConfigError(
        f"token_ensemble cannot render the chat format '{name}' as text; "
        "use a GGUF chat template, a llama-cpp-python format such as chatml, or mode: completion"
    )
