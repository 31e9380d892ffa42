"""Turn pydantic validation errors into :class:`~fusionsdk.errors.ConfigError` with paths, every
problem listed (:attr:`ConfigError.errors <fusionsdk.errors.ConfigError.errors>`), each with a
"did you mean" where a known name is close to a typo."""

from __future__ import annotations

import contextlib
import difflib
import re
import types
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from fusionsdk.errors import ConfigError

__all__ = [
    "combine_errors",
    "config_error",
    "config_errors",
    "did_you_mean",
    "format_loc",
    "in_config",
    "nested_in_config",
    "validate_model",
]

M = TypeVar("M", bound=BaseModel)

#: True while a whole config is validated: nested models then leave their errors to it, so that
#: every problem of the file is reported together (see :func:`nested_in_config`).
_IN_CONFIG: ContextVar[bool] = ContextVar("fusionsdk_in_config", default=False)


@contextlib.contextmanager
def nested_in_config() -> Iterator[None]:
    """While active, models that turn their own errors into a ConfigError (``ModelSpec``) let
    the pydantic error through instead, so the enclosing config reports it with the others."""
    token = _IN_CONFIG.set(True)
    try:
        yield
    finally:
        _IN_CONFIG.reset(token)


def in_config() -> bool:
    """Whether a whole config is being validated (see :func:`nested_in_config`)."""
    return _IN_CONFIG.get()


_QUOTED = re.compile(r"'([^']*)'")


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'panel'?)`` when one of ``choices`` is close to ``word``, else ``""``.

    Example:
        >>> did_you_mean("panle", ["agent", "panel", "fuse"])
        " (did you mean 'panel'?)"
    """
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def format_loc(loc: Sequence[str | int], prefix: str = "") -> str:
    """Render a pydantic error location as ``models.smol.fallbacks[2]``."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part:
            path = f"{path}.{part}" if path else str(part)
    return path


def _members(tp: Any) -> tuple[Any, ...]:
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return get_args(tp)
    return (tp,)


def _step(tp: Any, part: str | int) -> Any:
    """The type found at ``part`` inside a value of type ``tp`` (None when unknown)."""
    for member in _members(tp):
        if isinstance(member, type) and issubclass(member, BaseModel):
            if isinstance(part, str) and part in member.model_fields:
                return member.model_fields[part].annotation
            continue
        origin, args = get_origin(member), get_args(member)
        if origin in (dict, Mapping) and isinstance(part, str) and len(args) == 2:
            return args[1]
        if origin in (list, tuple, Sequence) and isinstance(part, int) and args:
            return args[0]
    return None


def _fields_at(model: type[BaseModel] | None, loc: Sequence[str | int]) -> list[str]:
    """The field names of the model that holds the last part of ``loc``."""
    tp: Any = model
    for part in loc[:-1]:
        tp = _step(tp, part)
        if tp is None:
            return []
    return [
        name
        for member in _members(tp)
        if isinstance(member, type) and issubclass(member, BaseModel)
        for name in member.model_fields
    ]


def config_errors(
    err: ValidationError, prefix: str = "", model: type[BaseModel] | None = None
) -> list[ConfigError]:
    """Every problem of ``err`` as a ConfigError at its path under ``prefix``; an unknown field
    or value close to a known one says which (``unknown field (did you mean 'quorum'?)``).

    Args:
        err: The pydantic error.
        prefix: Where the validated data sits in the config (``nodes.panel``).
        model: The model validated, to suggest its field names for unknown ones.
    """
    problems = []
    for item in err.errors(include_url=False, include_input=True):
        loc = item["loc"]
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field" + did_you_mean(loc[-1] if loc else None, _fields_at(model, loc))
        elif item["type"] == "literal_error":
            expected = _QUOTED.findall(str((item.get("ctx") or {}).get("expected", "")))
            message += did_you_mean(item.get("input"), expected)
        problems.append(ConfigError(message, path=format_loc(loc, prefix) or None))
    return problems


def combine_errors(errors: Sequence[ConfigError]) -> ConfigError:
    """One ConfigError standing for all of ``errors`` (at least one): it names the first
    problem's path, lists the others after it, and keeps each in :attr:`~ConfigError.errors`."""
    flat = [e for error in errors for e in error.errors]
    if len(flat) == 1:
        return flat[0]
    first = flat[0]
    extra = "".join(f"; {e}" for e in flat[1:])
    return ConfigError(first.message + extra, path=first.path, errors=flat)


def config_error(err: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> ConfigError:
    """One ConfigError for all of ``err``'s problems (see :func:`config_errors`)."""
    return combine_errors(config_errors(err, prefix, model))


def validate_model(model: type[M], data: Any, path: str = "") -> M:
    """Validate ``data`` as ``model``; errors become a ConfigError naming ``path.field``.

    Args:
        model: The pydantic model class.
        data: The raw value, usually from YAML.
        path: Where ``data`` sits in the config, e.g. ``nodes.fuse.options``.

    Raises:
        ConfigError: Every problem, each with its path (:attr:`ConfigError.errors`).
    """
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise config_error(err, path, model) from None
