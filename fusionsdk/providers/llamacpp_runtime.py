"""The llama.cpp runtime: GGUF files loaded into this process, shared by every part that uses them.

The embedded provider (``llamacpp``), the ``llamacpp`` embedder and token-level fusion (through
:class:`~fusionsdk.providers.llamacpp_tokens.LlamaTokenScorer`) all load models here, on one of
two runtimes (:data:`Runtime`):

- ``xllamacpp`` (prebuilt wheels, the ``local`` extra): llama.cpp's own server code in-process,
  see :mod:`~fusionsdk.providers.xllamacpp_runtime`;
- ``llama-cpp-python`` (compiled at install, the ``llama-cpp-python`` extra): its ``Llama``
  objects, with the low-level API (whole next-token distributions);
- ``auto`` (the default): xllamacpp when it is installed, else llama-cpp-python.

For llama-cpp-python models:

- :func:`load_llama` loads a file once per process per :class:`LlamaOptions`, one load at a time;
- llama.cpp's native log lines go to the ``llama-cpp-python`` Python logger (at DEBUG);
- every loaded model is freed before interpreter shutdown;
- :func:`render_prompt` renders messages as the model's prompt tokens (chat template or
  completion template) with its stop sequences.

A :class:`LlamaModel` is not safe for concurrent use: hold its ``lock`` while using it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from fusionsdk.errors import ConfigError
from fusionsdk.providers.base import Message
from fusionsdk.providers.prompt import render_transcript

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from fusionsdk.providers.xllamacpp_runtime import XLlamaModel

__all__ = [
    "LlamaModel",
    "LlamaOptions",
    "Runtime",
    "completion_prompt",
    "load_llama",
    "render_prompt",
    "resolve_runtime",
    "route_llama_logs",
]

logger = logging.getLogger("llama-cpp-python")

#: Which llama.cpp runtime loads the models: ``auto`` is xllamacpp when installed, else
#: llama-cpp-python.
Runtime = Literal["auto", "xllamacpp", "llama-cpp-python"]
_MODULES = {"xllamacpp": "xllamacpp", "llama-cpp-python": "llama_cpp"}


def resolve_runtime(runtime: Runtime = "auto") -> str:
    """The installed runtime ``runtime`` names (``auto``: xllamacpp, else llama-cpp-python).

    Raises:
        ConfigError: That runtime (or, for ``auto``, neither) is installed; the message names
            the extra to install.
    """
    import importlib.util

    if runtime not in get_args(Runtime):
        raise ConfigError(f"unknown llama.cpp runtime '{runtime}' (known: {', '.join(get_args(Runtime))})")
    names = list(_MODULES) if runtime == "auto" else [runtime]
    for name in names:
        if importlib.util.find_spec(_MODULES[name]) is not None:
            return name
    if runtime == "auto":
        raise ConfigError(
            "llama.cpp models need a runtime: pip install 'fusionsdk[local]' (prebuilt xllamacpp) "
            "or 'fusionsdk[llama-cpp-python]' (compiles llama.cpp)"
        )
    extra = "local" if runtime == "xllamacpp" else "llama-cpp-python"
    raise ConfigError(f"the {runtime} runtime is not installed: pip install 'fusionsdk[{extra}]'")


@dataclass(frozen=True, slots=True)
class LlamaOptions:
    """How a GGUF file is loaded; each distinct set is one loaded model.

    Attributes:
        n_ctx: Context window in tokens.
        n_threads: CPU threads (llama.cpp's default when None).
        chat_format: A named chat format (``chatml``, ...); the GGUF's own template when None.
        embedding: Load for embeddings (mean pooling, whole texts in one batch).
        runtime: Which runtime loads it (resolved by :func:`resolve_runtime` at load).
    """

    n_ctx: int = 2048
    n_threads: int | None = None
    chat_format: str | None = None
    embedding: bool = False
    runtime: Runtime = "auto"


class LoadedGGUF:
    """What every runtime's loaded model holds: its file, its options and the lock that
    serialises its use.

    Args:
        path: The GGUF file.
        options: How it was loaded.

    Attributes:
        key: Identity of the loaded model (file and options); orders locks taken together.
    """

    runtime = ""

    def __init__(self, path: str, options: LlamaOptions) -> None:
        self.path = path
        self.options = options
        self.lock = threading.Lock()
        self.key = f"{path}|{options}"


class LlamaModel(LoadedGGUF):
    """A loaded ``Llama`` object and the lock that serialises its use.

    Args:
        llama: The ``llama_cpp.Llama`` object.
        path: The GGUF file.
        options: How it was loaded.
    """

    runtime = "llama-cpp-python"

    def __init__(self, llama: Any, path: str, options: LlamaOptions) -> None:
        super().__init__(path, options)
        self.llama = llama

    @functools.cached_property
    def end_tokens(self) -> NDArray[np.intp]:
        """Ids of the model's end-of-generation tokens (scanned once)."""
        import llama_cpp
        import numpy as np

        llama = self.llama
        vocab = llama_cpp.llama_model_get_vocab(llama.model)
        ids = [i for i in range(llama.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, i)]
        return np.array(ids or [llama.token_eos()], dtype=np.intp)

    def tokenize(self, text: str, *, bos: bool = False, special: bool = True) -> list[int]:
        """``text`` in the model's vocabulary."""
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=bos, special=special))

    def embedding_size(self) -> int:
        """The model's embedding size."""
        return int(self.llama.n_embd())

    def embed(self, text: str) -> list[float]:
        """The pooled embedding of ``text`` (truncated to the context size)."""
        return list(self.llama.embed(text or " ", truncate=True))


_LOADING = threading.RLock()
_LOADED: dict[tuple[str, LlamaOptions], LlamaModel | XLlamaModel] = {}


def load_llama(path: str | Callable[[], str], options: LlamaOptions) -> LlamaModel | XLlamaModel:
    """The model of ``path`` loaded with ``options``, loading it on first use.

    The runtime is resolved first (``auto`` becomes the installed one), so one file loaded by
    ``auto`` and by the runtime it resolves to is one model. One load at a time:
    llama-cpp-python swaps the process's stdout/stderr during a quiet load,
    and two loads at once restore them in the wrong order (output then vanishes); it also keeps a
    cold model from being loaded twice.

    Args:
        path: The GGUF file, or a function that finds it (called under the loading lock, so a
            file it assembles on first use is assembled once).
        options: How to load it.

    Raises:
        ConfigError: The runtime is not installed, the file is missing or cannot be loaded.
    """
    import dataclasses

    options = dataclasses.replace(options, runtime=resolve_runtime(options.runtime))  # type: ignore[arg-type]
    with _LOADING:
        file = path if isinstance(path, str) else path()
        loaded = _LOADED.get((file, options))
        if loaded is None:
            loaded = _LOADED[(file, options)] = _load_model(file, options)
        return loaded


def _load_model(path: str, options: LlamaOptions) -> LlamaModel | XLlamaModel:
    if options.runtime == "xllamacpp":
        if not Path(path).is_file():
            raise ConfigError(f"GGUF model file not found: {path}")
        from fusionsdk.providers.xllamacpp_runtime import load_server

        return load_server(path, options)
    return LlamaModel(_load(path, options), path, options)


def _load(path: str, options: LlamaOptions) -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise ConfigError(
            "the llama-cpp-python runtime is not installed: pip install 'fusionsdk[llama-cpp-python]'"
        ) from None
    if not Path(path).is_file():
        raise ConfigError(f"GGUF model file not found: {path}")
    route_llama_logs()
    args: dict[str, Any] = {"n_ctx": options.n_ctx, "n_threads": options.n_threads, "verbose": False}
    if options.embedding:
        pooling = llama_cpp.LLAMA_POOLING_TYPE_MEAN
        args.update(embedding=True, pooling_type=pooling, n_batch=options.n_ctx, n_ubatch=options.n_ctx)
    else:
        args["chat_format"] = options.chat_format
    try:
        llama = llama_cpp.Llama(model_path=path, **args)
    except (ValueError, RuntimeError) as err:
        purpose = " for embeddings" if options.embedding else ""
        raise ConfigError(f"llama.cpp could not load {path}{purpose}: {err}") from None
    _close_at_exit(llama)
    return llama


@functools.cache
def route_llama_logs() -> Any:
    """Send llama.cpp's native log lines to the ``llama-cpp-python`` Python logger at DEBUG.

    llama-cpp-python's own callback prints some load-time notes to stderr even with
    ``verbose=False``, which would garble ``--json`` pipelines' stderr. The callback object is
    returned (and cached) so it is never garbage-collected while llama.cpp holds it.
    """
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback  # type: ignore[misc]
    def to_logging(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        logger.debug(text.decode("utf-8", "replace").rstrip())

    llama_cpp.llama_log_set(to_logging, ctypes.c_void_p(0))
    return to_logging


_OPEN: list[Any] = []


def _close_at_exit(llama: Any) -> None:
    if not _OPEN:
        atexit.register(_close_all)
    _OPEN.append(llama)


def _close_all() -> None:
    """Free the models before interpreter shutdown: llama-cpp-python's own finalisers run too
    late, when its module globals are gone, and print a TypeError traceback at exit."""
    while _OPEN:
        with contextlib.suppress(Exception):
            _OPEN.pop().close()


# -- prompts -----------------------------------------------------------------------------------


def completion_prompt(template: str, messages: list[Message]) -> str:
    """A completion model's prompt: ``template`` around the messages' transcript."""
    return template.replace("{prompt}", render_transcript(messages))


def render_prompt(
    model: LlamaModel, messages: list[Message], *, mode: str, template: str, stop: Sequence[str]
) -> tuple[list[int], list[str]]:
    """The prompt tokens and stop sequences a generation of ``messages`` starts from.

    Completion models get their few-shot ``template`` and default ``stop`` sequences; chat
    models their chat format (a llama-cpp-python format such as ``chatml``, or the GGUF's own
    template) and its stop sequences.

    Raises:
        ConfigError: The model's chat format cannot be rendered as text.
    """
    if mode == "completion":
        return model.tokenize(completion_prompt(template, messages), bos=True), list(stop)
    result = _chat_formatter(model.llama)(messages=messages)
    tokens = model.tokenize(result.prompt, bos=not result.added_special)
    stops = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
    return tokens, [s for s in stops if s]


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
        f"cannot render the chat format '{name}' as text for token-level scoring; "
        "use a GGUF chat template, a llama-cpp-python format such as chatml, or mode: completion"
    )
