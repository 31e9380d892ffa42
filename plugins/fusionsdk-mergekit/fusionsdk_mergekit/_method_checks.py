"""Checks of a recipe against its merge method's declared contract (mergekit's method spec).

mergekit declares, for each method, whether it needs a base model, how many inputs it takes and
which parameters it reads (shared, per input, or per non-base input) with their types and
defaults. These checks read that spec, so they follow mergekit as it adds methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from fusionsdk_mergekit.errors import RecipeError

if TYPE_CHECKING:
    from mergekit.common import ModelReference
    from mergekit.config import MergeConfiguration
    from mergekit.merge_methods.base import MergeMethod, ParameterSpec

__all__ = ["DTYPES", "check_dtypes", "check_method"]

#: The dtype names mergekit accepts for ``dtype`` and ``out_dtype``.
DTYPES = ("float32", "float16", "bfloat16", "float64")

#: Parameters that are fractions of a tensor's entries.
_FRACTIONS = ("density",)


@dataclass(frozen=True)
class _Input:
    loc: str
    model: ModelReference
    parameters: dict[str, Any]


@dataclass(frozen=True)
class _Group:
    """One set of tensors merged together: the ``models`` list, or one slice."""

    loc: str
    params_loc: str
    inputs: tuple[_Input, ...]
    base: ModelReference | None
    parameters: tuple[dict[str, Any], ...]


def check_dtypes(config: MergeConfiguration, recipe: str) -> None:
    """``dtype`` and ``out_dtype`` name a floating-point type mergekit knows."""
    for field in ("dtype", "out_dtype"):
        value = getattr(config, field)
        if value is not None and str(value).removeprefix("torch.") not in DTYPES:
            raise RecipeError(
                f"unknown dtype '{value}'; use one of {', '.join(DTYPES)}", recipe=recipe, path=field
            )


def check_method(config: MergeConfiguration, recipe: str) -> None:
    """The method exists, gets a base model if it needs one, the right number of inputs, and
    every parameter it requires; no parameter is unknown to it or of the wrong type."""
    from mergekit.merge_methods import registry

    try:
        method = registry.get(config.merge_method)
    except RuntimeError:
        known = ", ".join(sorted(m.spec.name for m in registry.registered_methods()))
        raise RecipeError(
            f"unknown merge method '{config.merge_method}'; mergekit has: {known}",
            recipe=recipe,
            path="merge_method",
        ) from None
    for group in _groups(config):
        _check_inputs(method, group, recipe)
        _check_parameters(method, group, recipe)


def _groups(config: MergeConfiguration) -> Iterator[_Group]:
    base = config.base_model
    shared = config.parameters or {}
    if config.models:
        inputs = tuple(
            _Input(f"models[{i}]", m.model, m.parameters or {}) for i, m in enumerate(config.models)
        )
        if base is not None and all(i.model != base for i in inputs):  # mergekit adds the base
            inputs += (_Input("base_model", base, {}),)
        yield _Group("models", "parameters", inputs, base, (shared,))
    for s, piece in enumerate(config.slices or ()):
        inputs = tuple(
            _Input(f"slices[{s}].sources[{j}]", src.model, src.parameters or {})
            for j, src in enumerate(piece.sources)
        )
        yield _Group(
            f"slices[{s}]",
            f"slices[{s}].parameters",
            inputs,
            piece.base_model or base,
            (piece.parameters or {}, shared),
        )


def _check_inputs(method: MergeMethod, group: _Group, recipe: str) -> None:
    try:
        method.validate_inputs([i.model for i in group.inputs], group.base)
    except ValueError as err:
        message = f"merge method '{method.spec.name}': {str(err)[0].lower()}{str(err)[1:]}"
        path = "base_model" if "base" in str(err).lower() else group.loc
        raise RecipeError(message, recipe=recipe, path=path) from None


def _check_parameters(method: MergeMethod, group: _Group, recipe: str) -> None:
    from mergekit.merge_methods.base import ParameterScope

    specs = {p.name: p for p in method.spec.parameters}
    name = method.spec.name
    blocks = [(group.params_loc if k == 0 else "parameters", b) for k, b in enumerate(group.parameters)]
    blocks += [(f"{i.loc}.parameters", i.parameters) for i in group.inputs]
    for loc, block in blocks:
        for key, value in block.items():
            if key not in specs:
                takes = ", ".join(specs) or "no parameters"
                raise RecipeError(
                    f"merge method '{name}' has no parameter '{key}' (it takes: {takes})",
                    recipe=recipe,
                    path=f"{loc}.{key}",
                )
            _check_value(specs[key], value, recipe, f"{loc}.{key}")
    group_level = set().union(*group.parameters)
    for spec in method.spec.parameters:
        if not spec.required or spec.name in group_level:
            continue
        if spec.scope == ParameterScope.SHARED:
            raise RecipeError(
                f"merge method '{name}' needs the parameter '{spec.name}'",
                recipe=recipe,
                path=f"{group.params_loc}.{spec.name}",
            )
        for item in group.inputs:
            if spec.scope == ParameterScope.NON_BASE and item.model == group.base:
                continue
            if spec.name not in item.parameters:
                raise RecipeError(
                    f"merge method '{name}' needs '{spec.name}' for each "
                    f"{'non-base ' if spec.scope == ParameterScope.NON_BASE else ''}model "
                    f"(give it here or under {group.params_loc})",
                    recipe=recipe,
                    path=f"{item.loc}.parameters.{spec.name}",
                )


def _check_value(spec: ParameterSpec, value: Any, recipe: str, loc: str) -> None:
    """Each scalar of a value (a scalar, a gradient list, or filtered conditions) has the right type."""
    for where, scalar in _scalars(value, loc):
        try:
            checked = spec.validate(scalar)
        except ValidationError as err:
            problem = err.errors(include_url=False)[0]["msg"]
            raise RecipeError(f"{problem}, got {scalar!r}", recipe=recipe, path=where) from None
        if spec.name in _FRACTIONS and not 0 <= float(checked) <= 1:
            raise RecipeError(
                f"{spec.name} is a fraction in [0, 1], got {scalar!r}", recipe=recipe, path=where
            )


def _scalars(value: Any, loc: str) -> Iterator[tuple[str, Any]]:
    from mergekit.config import ConditionalParameter

    if isinstance(value, ConditionalParameter):
        yield from _scalars(value.value, f"{loc}.value")
    elif isinstance(value, list):
        for k, item in enumerate(value):
            yield from _scalars(item, f"{loc}[{k}]")
    else:
        yield loc, value
