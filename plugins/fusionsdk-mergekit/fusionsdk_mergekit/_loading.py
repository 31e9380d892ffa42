"""Load a Hugging Face model directory once per process, with its tokenizer and a lock.

A loaded model is shared by every provider instance that names the same directory, device and
dtype; its lock serialises generation (one ``generate`` at a time per model), since a model's
KV cache and the global random generator used for sampling are not safe to share.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsdk.errors import ConfigError

__all__ = ["LoadedModel", "load_model", "resolve_dtype"]

_LOADING = threading.Lock()


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to generate.

    Attributes:
        model: The ``AutoModelForCausalLM`` in eval mode on its device.
        tokenizer: The model's tokenizer.
        device: The torch device the model lives on.
        context_window: Positions the model accepts (``max_position_embeddings``), if it says.
        lock: Held while generating.
    """

    model: Any
    tokenizer: Any
    device: str
    context_window: int | None
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    @property
    def has_chat_template(self) -> bool:
        """Whether the tokenizer ships a chat template."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    @property
    def eos_ids(self) -> frozenset[int]:
        """Token ids that end generation."""
        ids = self.model.generation_config.eos_token_id
        if ids is None:
            ids = self.tokenizer.eos_token_id
        if ids is None:
            return frozenset()
        return frozenset(ids if isinstance(ids, list | tuple) else [ids])


def resolve_dtype(dtype: str, device: str) -> Any:
    """The torch dtype to load with: ``auto`` is float32 on the CPU, the checkpoint's on a GPU."""
    import torch

    if dtype == "auto":
        return torch.float32 if device == "cpu" else "auto"
    return getattr(torch, dtype)


def load_model(path: str, device: str, dtype: str) -> LoadedModel:
    """The model in ``path`` on ``device``, loaded on the first call and shared afterwards.

    Args:
        path: A Hugging Face model directory (config.json, weights, tokenizer).
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (already resolved).
        dtype: ``auto``, ``float32``, ``float16`` or ``bfloat16``.

    Raises:
        ConfigError: The directory is missing or transformers cannot load it.
    """
    with _LOADING:  # two first calls at once must not load the model twice
        return _load(str(Path(path).resolve()), device, dtype)


@functools.cache
def _load(path: str, device: str, dtype: str) -> LoadedModel:
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise ConfigError(f"not a Hugging Face model directory (no config.json): {path}", path="options.path")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Loading weights" bar on stderr under `fusionsdk run`
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=resolve_dtype(dtype, device), local_files_only=True
        )
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ConfigError(f"transformers could not load {path}: {err}", path="options.path") from None
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    model.to(device)  # type: ignore[arg-type]  # transformers types .to() oddly
    model.eval()
    window = getattr(model.config, "max_position_embeddings", None)
    return LoadedModel(model, tokenizer, device, int(window) if window else None)
