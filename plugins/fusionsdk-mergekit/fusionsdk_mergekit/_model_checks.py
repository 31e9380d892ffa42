"""Checks of the model directories a recipe names: present, Hugging Face format, compatible.

Each model's ``config.json`` is read (no weights are loaded) and compared with the base model's
(or, without a base, the first model's): weights merge tensor by tensor, so the architecture and
every dimension that shapes a tensor must agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionsdk_mergekit.errors import RecipeError

if TYPE_CHECKING:
    from mergekit.common import ModelReference
    from mergekit.config import MergeConfiguration

__all__ = ["check_architecture", "check_models", "model_references"]

#: config.json keys that shape tensors; models that differ in one cannot be merged.
SHAPE_KEYS = (
    "model_type",
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "tie_word_embeddings",
)
_WEIGHTS = ("*.safetensors", "pytorch_model*.bin", "model*.bin")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def model_references(config: MergeConfiguration) -> Iterator[tuple[str, ModelReference]]:
    """Every model reference in the recipe with its field path, base model first."""
    if config.base_model is not None:
        yield "base_model", config.base_model
    for i, item in enumerate(config.models or ()):
        yield f"models[{i}].model", item.model
    for s, piece in enumerate(config.slices or ()):
        if piece.base_model is not None:
            yield f"slices[{s}].base_model", piece.base_model
        for j, src in enumerate(piece.sources):
            yield f"slices[{s}].sources[{j}].model", src.model
    for name, module in (config.modules or {}).items():
        for i, item in enumerate(module.models or ()):
            yield f"modules.{name}.models[{i}].model", item.model
        for s, piece in enumerate(module.slices or ()):
            for j, src in enumerate(piece.sources):
                yield f"modules.{name}.slices[{s}].sources[{j}].model", src.model


def check_models(config: MergeConfiguration, recipe: str) -> tuple[list[str], str]:
    """Check every model directory.

    Returns:
        The distinct directories, base model first, and their architecture (from config.json).

    Raises:
        RecipeError: A directory is missing, is not a Hugging Face model, or does not match.
    """
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    for loc, ref in model_references(config):
        path = ref.model.path
        if path in seen:
            continue
        seen[path] = (loc, _read_model_dir(path, recipe, loc))
        if ref.lora is not None and not Path(ref.lora.path).is_dir():
            raise RecipeError(f"LoRA directory not found: {ref.lora.path}", recipe=recipe, path=loc)
    entries = list(seen.items())
    if not entries:
        raise RecipeError("the recipe names no model", recipe=recipe)
    (first_path, (first_loc, first)), *others = entries
    check_layers = bool(config.models)  # slices pick layer ranges, so depths may differ there
    vocab_is_aligned = config.tokenizer_source is not None or config.tokenizer is not None
    for _path, (loc, other) in others:
        _compare(
            first,
            other,
            recipe,
            loc,
            f"{first_loc} ({first_path})",
            layers=check_layers,
            vocab=not vocab_is_aligned,
        )
    architectures = first.get("architectures") or [first.get("model_type") or "unknown"]
    return list(seen), str(architectures[0])


def check_architecture(config: MergeConfiguration, recipe: str) -> None:
    """mergekit knows how to merge the models' architecture."""
    from mergekit.architecture import get_architecture_info
    from mergekit.options import MergeOptions

    try:
        get_architecture_info(config, MergeOptions())
    except (RuntimeError, ValueError, KeyError, OSError) as err:
        raise RecipeError(f"mergekit cannot merge these models: {err}", recipe=recipe) from None


def _read_model_dir(path: str, recipe: str, loc: str) -> dict[str, Any]:
    folder = Path(path)
    if not folder.is_dir():
        hint = ""
        if _HUB_ID.match(path) and not folder.exists():
            hint = f" (fusionsdk merge reads local directories: hf download {path} --local-dir DIR first)"
        raise RecipeError(f"directory not found: {path}{hint}", recipe=recipe, path=loc)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise RecipeError(
            f"no config.json in {path}: not a Hugging Face model directory", recipe=recipe, path=loc
        )
    try:
        data = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RecipeError(f"cannot read {config_file}: {err}", recipe=recipe, path=loc) from None
    if not isinstance(data, dict):
        raise RecipeError(f"{config_file} is not a JSON object", recipe=recipe, path=loc)
    if not any(next(folder.glob(pattern), None) for pattern in _WEIGHTS):
        raise RecipeError(
            f"no weights (*.safetensors or pytorch_model*.bin) in {path}", recipe=recipe, path=loc
        )
    return data


def _compare(
    reference: dict[str, Any],
    other: dict[str, Any],
    recipe: str,
    loc: str,
    against: str,
    *,
    layers: bool,
    vocab: bool,
) -> None:
    ref_arch, arch = reference.get("architectures"), other.get("architectures")
    if ref_arch and arch and ref_arch != arch:
        raise RecipeError(
            f"architecture {'/'.join(arch)} differs from {'/'.join(ref_arch)} of {against}",
            recipe=recipe,
            path=loc,
        )
    keys = list(SHAPE_KEYS)
    if layers:
        keys.append("num_hidden_layers")
    if vocab:
        keys.append("vocab_size")
    for key in keys:
        if key in reference and key in other and reference[key] != other[key]:
            hint = " (align vocabularies with tokenizer_source: base)" if key == "vocab_size" else ""
            raise RecipeError(
                f"{key} is {other[key]} here but {reference[key]} in {against}: "
                f"the weights cannot be merged tensor by tensor{hint}",
                recipe=recipe,
                path=loc,
            )
