"""Merge recipes: mergekit's own YAML format, loaded and checked before any work starts.

A recipe is exactly what ``mergekit-yaml`` reads, so one file works with both tools::

    merge_method: slerp
    base_model: ./models/a
    models:
      - model: ./models/a
      - model: ./models/b
    parameters:
      t: 0.5
    dtype: float32

:func:`load_recipe` parses it with mergekit's own :class:`~mergekit.config.MergeConfiguration`
and then checks what mergekit would only find out halfway through a merge: the method exists
and gets the inputs and parameters it needs, every model directory exists and holds a
Hugging Face model, and the models' architectures and shapes agree. Every problem is a
:class:`~fusionsdk_mergekit.errors.RecipeError` naming the recipe file and the field, e.g.
``merge.yaml: models[1].model: directory not found: ./b``.

Model paths are read the way mergekit reads them: relative to the working folder. Only local
directories are accepted (fusionsdk never downloads weights behind your back); fetch hub models
first, e.g. ``hf download ORG/NAME --local-dir ./NAME``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from fusionsdk.config.validation import config_error
from pydantic import ValidationError

from fusionsdk_mergekit._method_checks import check_dtypes, check_method
from fusionsdk_mergekit._model_checks import check_architecture, check_models
from fusionsdk_mergekit.errors import RecipeError

if TYPE_CHECKING:
    from mergekit.config import MergeConfiguration

__all__ = ["Recipe", "load_recipe", "parse_recipe"]


@dataclass(frozen=True)
class Recipe:
    """A validated recipe, ready to merge.

    Attributes:
        path: The recipe file (``<string>`` for one parsed from text).
        source: The YAML text, copied next to the merged model as ``mergekit_config.yml``.
        config: mergekit's parsed configuration.
        models: The local model directories the recipe reads, base model first when it has one.
        architecture: The models' architecture, e.g. ``LlamaForCausalLM``.
    """

    path: str
    source: str
    config: MergeConfiguration
    models: tuple[str, ...]
    architecture: str

    @property
    def method(self) -> str:
        """The merge method, e.g. ``slerp``."""
        return str(self.config.merge_method)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description for ``fusionsdk merge --dry-run --json``."""
        return {
            "recipe": self.path,
            "merge_method": self.method,
            "base_model": self.config.base_model.model.path if self.config.base_model else None,
            "models": list(self.models),
            "architecture": self.architecture,
            "dtype": self.config.dtype,
        }


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file.

    Args:
        path: A mergekit YAML recipe.

    Raises:
        RecipeError: The file is missing or invalid; the message names the field.
    """
    file = Path(path)
    try:
        source = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError("recipe file not found", recipe=file) from None
    except (OSError, UnicodeDecodeError) as err:
        raise RecipeError(f"cannot read the recipe: {err}", recipe=file) from None
    return parse_recipe(source, name=str(file))


def parse_recipe(source: str, *, name: str = "<string>") -> Recipe:
    """Validate recipe text (see :func:`load_recipe`); ``name`` labels errors."""
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as err:
        raise RecipeError(f"not valid YAML: {err}", recipe=name) from None
    if not isinstance(data, dict):
        raise RecipeError("a recipe is a YAML mapping with merge_method, models, ...", recipe=name)
    config = _parse_config(data, name)
    check_dtypes(config, name)
    check_method(config, name)
    models, architecture = check_models(config, name)
    check_architecture(config, name)
    return Recipe(name, source, config, tuple(models), architecture)


def _parse_config(data: dict[str, Any], name: str) -> MergeConfiguration:
    """mergekit's own pydantic model; its errors become RecipeErrors naming the field."""
    from mergekit.config import InputModelDefinition, MergeConfiguration

    _refuse_unknown_keys(data, MergeConfiguration.model_fields, "", name)
    for i, item in enumerate(data.get("models") or ()):
        if isinstance(item, dict):
            _refuse_unknown_keys(item, InputModelDefinition.model_fields, f"models[{i}].", name)
    try:
        return MergeConfiguration.model_validate(data)
    except ValidationError as err:
        problem = config_error(err)
        raise RecipeError(problem.message, recipe=name, path=problem.path) from None
    except (RuntimeError, ValueError) as err:  # mergekit's model validators raise RuntimeError
        raise RecipeError(str(err), recipe=name) from None


def _refuse_unknown_keys(data: dict[str, Any], fields: Any, prefix: str, name: str) -> None:
    """mergekit ignores unknown keys; a misspelt ``dtype`` or ``parameters`` is refused here."""
    for key in data:
        if key not in fields:
            raise RecipeError(
                f"unknown field (mergekit reads: {', '.join(fields)})", recipe=name, path=f"{prefix}{key}"
            )
