"""The plugin's errors, both under fusionsdk's tree so one ``except FusionError`` still catches all::

FusionError
├── ConfigError
│   └── RecipeError   a recipe is invalid; ``recipe`` is its file, ``path`` the field in it
└── MergeError        mergekit failed while merging a valid recipe (out of memory, disk full)
"""

from __future__ import annotations

from pathlib import Path

from fusionsdk.errors import ConfigError, FusionError

__all__ = ["MergeError", "RecipeError"]


class RecipeError(ConfigError):
    """A merge recipe is invalid; raised before any merging starts.

    Args:
        message: What is wrong.
        recipe: The recipe file.
        path: The offending field inside the recipe, e.g. ``models[1].model``.

    Example:
        >>> str(RecipeError("directory not found: ./b", recipe="merge.yaml", path="models[1].model"))
        'merge.yaml: models[1].model: directory not found: ./b'
    """

    def __init__(self, message: str, *, recipe: str | Path, path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.recipe = str(recipe)
        where = f"{self.recipe}: {path}" if path else self.recipe
        self.args = (f"{where}: {message}",)


class MergeError(FusionError):
    """mergekit failed while merging a recipe that passed validation."""
