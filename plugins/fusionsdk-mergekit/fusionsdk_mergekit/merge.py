"""Run a validated recipe through mergekit and describe what it wrote.

Example:
    >>> from fusionsdk_mergekit import load_recipe, merge_models
    >>> result = merge_models(load_recipe("merge.yaml"), "./merged")  # doctest: +SKIP
    >>> result.tensors, result.files  # doctest: +SKIP
    (21, ('model.safetensors',))
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fusionsdk.errors import ConfigError
from rich.progress import Progress

from fusionsdk_mergekit.errors import MergeError
from fusionsdk_mergekit.progress import mergekit_progress
from fusionsdk_mergekit.recipe import Recipe

__all__ = ["MergeResult", "merge_models", "resolve_device"]


@dataclass(frozen=True)
class MergeResult:
    """A finished merge.

    Attributes:
        out_dir: The merged model's directory (Hugging Face format, safetensors).
        method: The merge method.
        models: The input model directories.
        device: Where the arithmetic ran.
        tensors: Tensors written.
        files: Weight files written.
        seconds: Wall time of the merge.
    """

    out_dir: str
    method: str
    models: tuple[str, ...]
    device: str
    tensors: int
    files: tuple[str, ...]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["models"], data["files"] = list(self.models), list(self.files)
        return data


def resolve_device(device: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N``, ``mps`` as given, or ``auto``: a GPU when there is one.

    Raises:
        ConfigError: A GPU was asked for and torch sees none.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device '{device}' asked for, but torch sees no CUDA GPU", path="device")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' asked for, but torch sees no Apple GPU", path="device")
    if device != "cpu" and not device.startswith(("cuda", "mps")):
        raise ConfigError(f"unknown device '{device}'; use cpu, cuda, cuda:N, mps or auto", path="device")
    return device


def merge_models(
    recipe: Recipe,
    out_dir: str | Path,
    *,
    device: str = "cpu",
    seed: int | None = None,
    overwrite: bool = False,
    copy_tokenizer: bool = True,
    progress: Progress | None = None,
) -> MergeResult:
    """Merge the recipe's models into ``out_dir``.

    Args:
        recipe: A recipe from :func:`~fusionsdk_mergekit.recipe.load_recipe`.
        out_dir: Where to write the merged model; created if missing.
        device: Where the arithmetic runs (see :func:`resolve_device`); CPU by default.
        seed: Seed of the random methods (``dare_ties``, ``dare_linear``) for a reproducible merge.
        overwrite: Write into a directory that already has files in it.
        copy_tokenizer: Copy the base (or first) model's tokenizer next to the weights.
        progress: A rich progress display to show mergekit's steps on; none when omitted.

    Raises:
        ConfigError: ``out_dir`` is not empty (without ``overwrite``) or the device is unavailable.
        MergeError: mergekit failed; a directory this call created is removed again.
    """
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a directory", path="out")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"{out} is not empty (overwrite it with --force)", path="out")
    created = not out.exists()
    options = MergeOptions(
        device=resolve_device(device),
        random_seed=seed,
        copy_tokenizer=copy_tokenizer,
        quiet=progress is None,
        safe_serialization=True,
    )
    started = time.perf_counter()
    try:
        with _quiet_libraries(), mergekit_progress(progress) if progress else contextlib.nullcontext():
            run_merge(recipe.config, str(out), options=options, config_source=recipe.source)
    except Exception as err:  # mergekit raises bare RuntimeError/ValueError/OSError/torch errors
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise MergeError(f"merging {recipe.path} failed: {type(err).__name__}: {err}") from err
    files = tuple(sorted(p.name for p in out.glob("*.safetensors")))
    return MergeResult(
        out_dir=str(out),
        method=recipe.method,
        models=recipe.models,
        device=options.device or "cpu",
        tensors=_count_tensors(out),
        files=files,
        seconds=round(time.perf_counter() - started, 3),
    )


def _count_tensors(out: Path) -> int:
    from safetensors import safe_open

    count = 0
    for file in out.glob("*.safetensors"):
        with safe_open(str(file), framework="pt") as handle:
            count += len(list(handle.keys()))
    return count


@contextlib.contextmanager
def _quiet_libraries() -> Any:
    """Hide transformers' and mergekit's informational chatter (deprecation notes) during a merge."""
    import transformers

    verbosity = transformers.logging.get_verbosity()
    mergekit_log = logging.getLogger("mergekit")
    level = mergekit_log.level
    transformers.logging.set_verbosity_error()
    mergekit_log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        mergekit_log.setLevel(level)
