"""Token-level access to a loaded llama.cpp model: the :class:`~fusionsdk.providers.base.TokenScorer`
of the embedded provider, through llama-cpp-python's low-level API.

Next-token distributions are read from the logits of the last evaluated position. Only the tokens
after the longest prefix the model has already evaluated are fed (``Llama.eval`` drops the cache
past ``n_tokens``), so extending a context by one token costs one token.

Scorers of one loaded model (two config names for one GGUF file) share one :class:`LlamaEngine`,
which remembers the last distribution so identical contexts are evaluated once.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from fusionsdk.providers.llamacpp_runtime import LlamaModel

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from typing_extensions import Self

__all__ = ["HeldScorer", "LlamaEngine", "LlamaTokenScorer"]


class HeldScorer:
    """A token scorer's ``with`` block: holds its model's lock and starts from a fresh context.

    Subclasses set ``_model`` (a loaded model with a ``lock``) and say how to start afresh.
    """

    _model: Any

    def _reset(self) -> None:
        """Forget the context evaluated so far (called with the lock held)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._model.lock.acquire()
        self._reset()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._model.lock.release()


class LlamaEngine:
    """One loaded model's token-level state: tokenizer caches and the last distribution.

    Used only while its model's lock is held; :meth:`reset` when the lock is taken again.
    """

    def __init__(self, model: LlamaModel) -> None:
        self.model = model
        self.llama = model.llama
        self.reset()

    @classmethod
    def of(cls, model: LlamaModel) -> LlamaEngine:
        """The engine of ``model`` (one per loaded model)."""
        with _GUARD:
            engine = _ENGINES.get(model.key)
            if engine is None:
                engine = _ENGINES[model.key] = cls(model)
            return engine

    def reset(self) -> None:
        """Forget the caches (the model may have run other generations since)."""
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
            self._tokens[text] = self.model.tokenize(text, special=False)
        return self._tokens[text]

    def probabilities(self, context: list[int]) -> NDArray[np.float64]:
        """The next-token distribution after ``context``, feeding only what is not cached."""
        import llama_cpp
        import numpy as np

        if context == self._context:
            return self._probs  # type: ignore[no-any-return]
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


_ENGINES: dict[str, LlamaEngine] = {}
_GUARD = threading.Lock()


class LlamaTokenScorer(HeldScorer):
    """The embedded provider's :class:`~fusionsdk.providers.base.TokenScorer` for one prompt.

    Args:
        model: The loaded model.
        prompt: The prompt in its vocabulary.
        stops: The stop sequences a generation from it uses.
    """

    def __init__(self, model: LlamaModel, prompt: list[int], stops: list[str]) -> None:
        self.prompt = prompt
        self.stops = stops
        self.shared = model.key
        self.context_size = int(model.llama.n_ctx())
        self.end_tokens = model.end_tokens
        self._model = model
        self._engine = LlamaEngine.of(model)

    def _reset(self) -> None:
        self._engine.reset()

    def probabilities(self, context: list[int]) -> NDArray[np.float64]:
        """The next-token distribution after ``context`` (the prompt and the answer so far)."""
        return self._engine.probabilities(context)

    def piece(self, token: int) -> str | None:
        """The text of ``token``; None when it is not whole UTF-8."""
        return self._engine.piece(token)

    def tokenize(self, text: str) -> list[int]:
        """``text`` in the model's vocabulary (no BOS, special tokens as plain text)."""
        return self._engine.tokenize(text)

    def detokenize(self, tokens: list[int]) -> bytes:
        """The bytes of ``tokens``."""
        return bytes(self._engine.llama.detokenize(tokens))
