"""The prebuilt llama.cpp runtime: GGUF files served by xllamacpp inside this process.

xllamacpp ships prebuilt CPU wheels (no compiler, seconds to install) and runs llama.cpp's own
server code in-process: generation and embeddings through its JSON handlers
(``handle_chat_completions``, ``handle_completions``, ``handle_embeddings``), and tokenisation
and chat templates through the endpoints the same server answers on a loopback port
(``/tokenize``, ``/detokenize``, ``/apply-template``, ``/v1/models``). Nothing leaves the machine.

An :class:`XLlamaModel` is not safe for concurrent use: hold its ``lock`` while using it (the
server has one slot, so its prompt cache serves the caller that holds the lock).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fusionsdk.errors import BadRequest, ConfigError, ContextWindowExceeded, ProviderError
from fusionsdk.providers.llamacpp_runtime import LoadedGGUF

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from fusionsdk.providers.llamacpp_runtime import LlamaOptions

__all__ = ["XLlamaModel", "load_server"]

#: Conventional end-of-turn tokens, besides the model's EOS, that end a generation when the
#: model's vocabulary has them as one special token (llama.cpp's server does not list EOG ids).
_END_OF_TURN = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|endoftext|>", "<|end|>", "</s>")


class XLlamaModel(LoadedGGUF):
    """A GGUF file served in-process by xllamacpp, and the lock that serialises its use.

    Args:
        server: The ``xllamacpp.Server``.
        path: The GGUF file.
        options: How it was loaded.
    """

    runtime = "xllamacpp"

    def __init__(self, server: Any, path: str, options: LlamaOptions) -> None:
        import httpx

        super().__init__(path, options)
        self.server = server
        self._http = httpx.Client(base_url=server.listening_address, timeout=120)

    # -- the loopback endpoints --------------------------------------------------------------

    def _post(self, endpoint: str, body: dict[str, Any]) -> Any:
        response = self._http.post(endpoint, json=body)
        if response.status_code != 200:
            raise BadRequest(f"llama.cpp {endpoint}: {response.text[:300]}")
        return response.json()

    @functools.cached_property
    def meta(self) -> dict[str, Any]:
        """The model's sizes (``n_vocab``, ``n_embd``, ``n_ctx_train``, ...)."""
        data = self._http.get("/v1/models").json()["data"][0]
        return dict(data.get("meta") or {})

    def n_vocab(self) -> int:
        """The vocabulary size."""
        return int(self.meta["n_vocab"])

    def embedding_size(self) -> int:
        """The model's embedding size."""
        return int(self.meta["n_embd"])

    def tokenize(self, text: str, *, bos: bool = False, special: bool = True) -> list[int]:
        """``text`` in the model's vocabulary."""
        if not text:
            return []
        result = self._post("/tokenize", {"content": text, "add_special": bos, "parse_special": special})
        return [int(t) for t in result["tokens"]]

    def detokenize(self, tokens: list[int]) -> bytes:
        """The bytes of ``tokens``."""
        return str(self._post("/detokenize", {"tokens": tokens})["content"]).encode("utf-8")

    def apply_template(self, messages: list[dict[str, Any]]) -> str:
        """``messages`` rendered by the model's chat template, ready for the assistant's turn."""
        return str(self._post("/apply-template", {"messages": messages})["prompt"])

    @functools.cached_property
    def end_tokens(self) -> NDArray[np.intp]:
        """Ids of the model's end-of-generation tokens: its EOS and its end-of-turn token."""
        import numpy as np

        props = self._http.get("/props").json()
        ids: list[int] = []
        for text in (props.get("eos_token") or "", *_END_OF_TURN):
            tokens = self.tokenize(text, special=True) if text else []
            if len(tokens) == 1 and self.tokenize(text, special=False) != tokens and tokens[0] not in ids:
                ids.append(tokens[0])
        return np.array(ids, dtype=np.intp)

    # -- the in-process handlers -------------------------------------------------------------

    def call(
        self, handler: str, body: dict[str, Any], on_chunk: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """Run one of the server's JSON handlers (streaming into ``on_chunk`` when given: it
        returns True to stop the generation).

        Raises:
            ProviderError: The server refused the request (``ContextWindowExceeded`` when the
                prompt does not fit the context).
        """
        method = getattr(self.server, handler)
        errors: list[Any] = []

        def receive(chunk: dict[str, Any]) -> bool:
            if "error" in chunk:
                errors.append(chunk["error"])
                return True
            return bool(on_chunk(chunk)) if on_chunk else False

        try:  # the handlers raise on a malformed request (ValueError: "Expected 'messages' ...")
            result = method(body) if on_chunk is None else method({**body, "stream": True}, receive)
        except (RuntimeError, ValueError, TypeError) as err:
            raise BadRequest(f"llama.cpp refused the request: {err}") from None
        if isinstance(result, dict) and "error" in result:
            errors.append(result["error"])
        if errors:
            raise _map_error(errors[0])
        return result if isinstance(result, dict) else {}

    def embed(self, text: str) -> list[float]:
        """The pooled embedding of ``text`` (truncated to the context size)."""
        tokens = self.tokenize(text or " ", bos=True, special=False)[: self.options.n_ctx]
        result = self.call("handle_embeddings", {"input": [tokens]})
        return [float(x) for x in result["data"][0]["embedding"]]


def _map_error(error: Any) -> ProviderError:
    if not isinstance(error, dict):
        return BadRequest(str(error))
    message = str(error.get("message") or error)
    if error.get("type") == "exceed_context_size_error" or "context size" in message:
        return ContextWindowExceeded(message)
    return BadRequest(message)


def load_server(path: str, options: LlamaOptions) -> XLlamaModel:
    """Start xllamacpp's in-process server on ``path`` (quiet: llama.cpp logs nothing).

    Raises:
        ConfigError: xllamacpp is not installed, or the file cannot be loaded.
    """
    try:
        import xllamacpp
    except ImportError:
        raise ConfigError("the xllamacpp runtime is not installed: pip install 'fusionsdk[local]'") from None
    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_ctx = options.n_ctx
    params.n_parallel = 1  # one slot: its prompt cache serves the lock holder
    params.verbosity = -1  # llama.cpp's log lines would garble stderr (``--json`` pipelines)
    params.use_jinja = True  # the GGUF's own chat template (or a named one below)
    if options.n_threads:
        params.cpuparams.n_threads = options.n_threads
        params.cpuparams_batch.n_threads = options.n_threads
    if options.embedding:
        params.embedding = True
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        params.n_batch = params.n_ubatch = options.n_ctx  # a whole text in one batch
    elif options.chat_format:
        params.chat_template = options.chat_format  # llama.cpp's named templates: chatml, ...
    try:
        server = xllamacpp.Server(params)
    except (RuntimeError, ValueError) as err:
        purpose = " for embeddings" if options.embedding else ""
        raise ConfigError(f"llama.cpp (xllamacpp) could not load {path}{purpose}: {err}") from None
    return XLlamaModel(server, path, options)
