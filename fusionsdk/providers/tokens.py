"""Offline token counting with tiktoken.

tiktoken downloads its encoding files on first use. LiteLLM ships ``cl100k_base``, ``o200k_base``
and ``p50k_base`` in its package; we point tiktoken's cache at that folder (unless the user set
``TIKTOKEN_CACHE_DIR``) and only ever ask for an encoding whose file is present, so counting
never touches the network.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

__all__ = ["count_tokens", "encoding_for"]

_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_O200K_PREFIXES = ("gpt-4o", "openai/gpt-4o", "o1", "o3", "o4", "openai/o", "gpt-4.1", "gpt-5")


def _bundled_cache_dir() -> Path | None:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    return folder if folder.is_dir() else None


def _cache_dir() -> Path | None:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    bundled = _bundled_cache_dir()
    if bundled is not None:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)
    return bundled


def _available(name: str, cache: Path | None) -> bool:
    if cache is None:
        return False
    return (cache / hashlib.sha1(_URL.format(name).encode()).hexdigest()).exists()


@functools.cache
def _encoding(name: str) -> tiktoken.Encoding:
    import tiktoken

    return tiktoken.get_encoding(name)


def encoding_for(model: str | None) -> tiktoken.Encoding | None:
    """The tiktoken encoding for ``model`` that is available offline, or None if none is."""
    return _encoding_for(model, os.environ.get("TIKTOKEN_CACHE_DIR"))


@functools.lru_cache(maxsize=256)
def _encoding_for(model: str | None, _cache_env: str | None) -> tiktoken.Encoding | None:
    # keyed on TIKTOKEN_CACHE_DIR too, so changing it is honoured
    cache = _cache_dir()
    wanted = "o200k_base" if model and model.startswith(_O200K_PREFIXES) else "cl100k_base"
    for name in (wanted, "cl100k_base"):
        if _available(name, cache):
            return _encoding(name)
    return None


def count_tokens(text: str, model: str | None = None) -> int:
    """Count tokens in ``text`` with tiktoken; about 4 characters a token if no file is present."""
    encoding = encoding_for(model)
    if encoding is None:
        return max(1, len(text) // 4) if text else 0
    return len(encoding.encode(text, disallowed_special=()))
