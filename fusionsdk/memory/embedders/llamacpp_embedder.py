"""``llamacpp``: embeddings from a GGUF model in this process, on xllamacpp or llama-cpp-python.

The model is loaded by the llama.cpp runtime (:mod:`fusionsdk.providers.llamacpp_runtime`; the
``runtime`` option as for the ``llamacpp`` provider, xllamacpp when installed) with
``embedding=True`` and mean pooling, once per process per file, and used under its lock (a
loaded model is not safe for concurrent use). Texts longer than the context
are truncated. Any GGUF works; dedicated embedding models (nomic-embed, bge, e5 in GGUF form)
give the best results; the bundled ``smollm2`` is small enough for tests.

Config::

    embedder: llamacpp
    embedder_options: {path: ./models/nomic-embed-text-v1.5.Q4_K_M.gguf}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, model_validator

from fusionsdk.errors import ConfigError, ProviderError
from fusionsdk.memory.base import Embedder
from fusionsdk.memory.embedders._vectors import check_texts, normalise
from fusionsdk.memory.errors import EmbedderError
from fusionsdk.plugin import PluginOptions
from fusionsdk.providers.llamacpp_runtime import LlamaModel, LlamaOptions, Runtime, load_llama
from fusionsdk.providers.xllamacpp_runtime import XLlamaModel

__all__ = ["LlamaCppEmbedder"]


class LlamaCppEmbedder(Embedder["LlamaCppEmbedder.Options"]):
    """Mean-pooled, unit-length embeddings of a GGUF model run by llama.cpp in this process."""

    class Options(PluginOptions):
        """Embedded embedder options.

        Attributes:
            model: A bundled model id (``smollm2-135m-instruct``, ``gemma3-270m``), or use ``path``.
            path: A GGUF file.
            n_ctx: Context size in tokens (longer texts are truncated).
            n_threads: CPU threads (llama.cpp's default when omitted).
            runtime: ``auto`` (xllamacpp when installed, else llama-cpp-python), ``xllamacpp``
                or ``llama-cpp-python``.
        """

        model: str | None = None
        path: str | None = None
        n_ctx: int = Field(512, ge=16, le=131072)
        n_threads: int | None = Field(None, ge=1)
        runtime: Runtime = "auto"

        @model_validator(mode="after")
        def _one_source(self) -> LlamaCppEmbedder.Options:
            if (self.model is None) == (self.path is None):
                raise ValueError("give either 'model' (a bundled model id) or 'path' (a GGUF file)")
            return self

    def _file(self) -> str:
        opts: LlamaCppEmbedder.Options = self.options
        if opts.path is not None:
            path = Path(opts.path).expanduser()
        else:
            from fusionsdk.providers.bundled import resolve_bundled
            from fusionsdk.settings import load_settings

            assert opts.model is not None
            path = resolve_bundled(opts.model).locate(load_settings().home)
        if not path.is_file():
            raise ConfigError(f"GGUF model file not found: {path}")
        return str(path.resolve())

    def _loaded(self) -> LlamaModel | XLlamaModel:
        opts: LlamaCppEmbedder.Options = self.options
        file = self._file()  # a missing file stays a ConfigError
        options = LlamaOptions(opts.n_ctx, opts.n_threads, embedding=True, runtime=opts.runtime)
        try:
            return load_llama(file, options)
        except ConfigError as err:  # no runtime installed, or the file not loadable
            raise EmbedderError(err.message) from None

    @property
    def dimension(self) -> int:  # type: ignore[override]
        """The model's embedding size (loads the model)."""
        return self._loaded().embedding_size()

    @property
    def identity(self) -> str:
        opts: LlamaCppEmbedder.Options = self.options
        return f"llamacpp:{opts.model or Path(opts.path or '').name}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        items = check_texts(texts)
        if not items:
            return []
        loaded = self._loaded()
        vectors = []
        with loaded.lock:
            for text in items:  # one at a time: batched sequences would share the context
                try:
                    vectors.append(normalise(loaded.embed(text)))
                except (ValueError, RuntimeError, ProviderError) as err:
                    raise EmbedderError(f"llama.cpp could not embed a text: {err}") from None
        return vectors
