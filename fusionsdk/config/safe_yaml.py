"""Read YAML that may be hostile, within limits, before anything else sees it.

PyYAML's safe loader refuses to build arbitrary objects, but not to exhaust the machine: a few
lines of anchors expand to billions of nodes (and pydantic then walks each one), ten thousand
``[`` overflow the composer's recursion, an integer of 5,000 digits trips Python's
int-conversion limit, and a UTF-16 file is not text to it. :func:`read_yaml` streams the
parser's events first, which needs neither recursion nor expansion, and refuses, with a
:class:`~fusionsdk.errors.ConfigError` saying which limit and where:

===================  =========================================================================
limit                default
===================  =========================================================================
size                 1 MiB of file
encoding             UTF-8 (a UTF-8 byte-order mark is fine; UTF-16/32 and invalid bytes are not)
depth                64 nested mappings and lists
aliases              1,000 ``*alias`` uses, none of them recursive
expanded size        200,000 values once every alias is expanded
number length        100 characters for a plain scalar that reads as a number
===================  =========================================================================

Example:
    >>> read_yaml("version: 1\\nmodels: {a: &x {provider: fake}, b: *x}")["models"]["b"]
    {'provider': 'fake'}
    >>> read_yaml("a: [[[[1]]]]", max_depth=3)
    Traceback (most recent call last):
    ...
    fusionsdk.errors.ConfigError: config: line 1, column 6: nested deeper than 3 levels
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionsdk.errors import ConfigError

__all__ = ["YamlLimits", "read_yaml", "read_yaml_file"]

_NUMBERISH = re.compile(r"^[-+]?(?:[0-9][0-9_:]*|0[box][0-9a-f_]+|[0-9._]*[0-9][eE][-+]?[0-9]+)$", re.I)
_BOMS = {  # longest first: a UTF-32 LE mark starts like a UTF-16 LE one
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


@dataclass(frozen=True)
class YamlLimits:
    """How much YAML a config may hold (see the module docstring)."""

    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_aliases: int = 1000
    max_nodes: int = 200_000
    max_number_chars: int = 100


def _decode(raw: bytes, source: str) -> str:
    for bom, name in _BOMS.items():
        if raw.startswith(bom):
            raise ConfigError(f"{source}: config files must be UTF-8, this one is {name}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{source}: not UTF-8 text (invalid byte at offset {err.start})") from None
    if "\x00" in text:
        raise ConfigError(f"{source}: contains NUL characters; config files are text")
    return text


def _where(source: str, event: Any) -> str:
    mark = getattr(event, "start_mark", None)
    return f"{source}: line {mark.line + 1}, column {mark.column + 1}" if mark else source


def _check_events(text: str, source: str, limits: YamlLimits) -> None:
    """Walk the parser's events (no recursion, no expansion) and enforce the limits."""
    import yaml

    sizes: dict[str, int] = {}  # anchor -> expanded size of what it names
    stack: list[list[Any]] = [[None, 0]]  # open collections: [anchor, expanded size so far]
    aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > limits.max_aliases:
                raise ConfigError(f"{_where(source, event)}: more than {limits.max_aliases} aliases")
            if event.anchor not in sizes:
                raise ConfigError(f"{_where(source, event)}: alias *{event.anchor} refers to itself")
            stack[-1][1] += sizes[event.anchor]
        elif isinstance(event, yaml.ScalarEvent):
            value = event.value
            if event.style is None and len(value) > limits.max_number_chars and _NUMBERISH.match(value):
                raise ConfigError(
                    f"{_where(source, event)}: a number longer than {limits.max_number_chars} characters"
                )
            if event.anchor is not None:
                sizes[event.anchor] = 1
            stack[-1][1] += 1
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(stack) > limits.max_depth:
                raise ConfigError(f"{_where(source, event)}: nested deeper than {limits.max_depth} levels")
            stack.append([event.anchor, 1])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = stack.pop()
            if anchor is not None:
                sizes[anchor] = size
            stack[-1][1] += size
        else:
            continue
        if stack[-1][1] > limits.max_nodes or sum(item[1] for item in stack) > limits.max_nodes:
            raise ConfigError(
                f"{_where(source, event)}: more than {limits.max_nodes} values once aliases are expanded"
            )


def read_yaml(text: str, source: str = "config", limits: YamlLimits | None = None, **overrides: int) -> Any:
    """Parse YAML ``text`` with the safe loader, within ``limits``.

    Args:
        text: The YAML.
        source: What to call it in errors (the file name).
        limits: The limits (defaults: :class:`YamlLimits`).
        **overrides: Single limits to change (``max_depth=8``).

    Raises:
        ConfigError: Invalid YAML, or beyond a limit; the message says where.
    """
    import yaml

    limits = limits or YamlLimits(**overrides)
    if len(text) > limits.max_bytes:
        raise ConfigError(f"{source}: larger than {limits.max_bytes} bytes")
    try:
        _check_events(text, source, limits)
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError(f"{source}{where}: {problem}") from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as err:  # limits missed
        raise ConfigError(f"{source}: cannot be read ({type(err).__name__})") from None


def read_yaml_file(path: str | Path, limits: YamlLimits | None = None) -> Any:
    """Read and parse a YAML (or JSON) file within ``limits`` (its size checked before reading).

    Raises:
        ConfigError: Missing, unreadable, too large, not UTF-8, not YAML, or beyond a limit.
    """
    limits = limits or YamlLimits()
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {file}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {file} is a directory") from None
    except OSError as err:
        raise ConfigError(f"cannot read config file {file}: {err.strerror}") from None
    if len(raw) > limits.max_bytes:
        raise ConfigError(f"{file}: larger than {limits.max_bytes} bytes")
    return read_yaml(_decode(raw, str(file)), str(file), limits)
