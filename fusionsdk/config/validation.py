"""Turn pydantic validation errors into :class:`~fusionsdk.errors.ConfigError` with paths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fusionsdk.errors import ConfigError

__all__ = ["config_error", "format_loc", "validate_model"]

M = TypeVar("M", bound=BaseModel)


def format_loc(loc: Sequence[str | int], prefix: str = "") -> str:
    """Render a pydantic error location as ``models.smol.fallbacks[2]``."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part:
            path = f"{path}.{part}" if path else str(part)
    return path


def config_error(err: ValidationError, prefix: str = "") -> ConfigError:
    """One ConfigError naming the first problem's path, listing the others after it."""
    problems = []
    for item in err.errors(include_url=False, include_input=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append((format_loc(item["loc"], prefix), message))
    first_path, first_message = problems[0]
    extra = "".join(f"; {p}: {m}" for p, m in problems[1:])
    return ConfigError(first_message + extra, path=first_path or None)


def validate_model(model: type[M], data: Any, path: str = "") -> M:
    """Validate ``data`` as ``model``; errors become a ConfigError naming ``path.field``.

    Args:
        model: The pydantic model class.
        data: The raw value, usually from YAML.
        path: Where ``data`` sits in the config, e.g. ``nodes.fuse.options``.
    """
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise config_error(err, path) from None
