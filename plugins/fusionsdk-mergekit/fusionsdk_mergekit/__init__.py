"""fusionsdk-mergekit: weight-space fusion for fusionsdk.

* ``fusionsdk merge RECIPE.yaml --out DIR`` (:class:`MergeCommand`) merges models' weights with
  mergekit: linear, slerp, task_arithmetic, ties, dare_ties, dare_linear and the rest of
  mergekit's methods, from a recipe in mergekit's own YAML format, validated before any work.
* The ``transformers`` provider (:class:`TransformersProvider`) runs the merged directory (or any
  local Hugging Face model) in-process, so a graph can route to it and fuse it with others.

Importing this package is cheap: torch, transformers and mergekit load on first use.
"""

from fusionsdk_mergekit.command import MergeCommand
from fusionsdk_mergekit.errors import MergeError, RecipeError
from fusionsdk_mergekit.merge import MergeResult, merge_models
from fusionsdk_mergekit.provider import TransformersProvider
from fusionsdk_mergekit.recipe import Recipe, load_recipe, parse_recipe

__all__ = [
    "MergeCommand",
    "MergeError",
    "MergeResult",
    "Recipe",
    "RecipeError",
    "TransformersProvider",
    "load_recipe",
    "merge_models",
    "parse_recipe",
]
