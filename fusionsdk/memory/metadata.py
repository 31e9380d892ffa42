"""The chunk metadata fusionsdk writes and reads: source, trust, sensitivity, created_at.

Stores keep metadata values as strings, numbers or booleans; :func:`clean_metadata` checks that
before anything reaches a store, naming the offending key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Literal

from fusionsdk.memory.errors import MemoryStoreError
from fusionsdk.providers.privacy import SENSITIVE_KEY

__all__ = [
    "SENSITIVITY",
    "TRUST",
    "Sensitivity",
    "Trust",
    "clean_metadata",
    "is_sensitive",
    "now_iso",
]

Trust = Literal["trusted", "untrusted"]
Sensitivity = Literal["normal", "sensitive"]
TRUST: tuple[str, ...] = ("trusted", "untrusted")
SENSITIVITY: tuple[str, ...] = ("normal", "sensitive")


def now_iso() -> str:
    """The current UTC time as ISO-8601 with seconds (``2025-01-31T09:30:00+00:00``)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def is_sensitive(metadata: Mapping[str, Any]) -> bool:
    """Whether a chunk is labelled sensitive (``sensitivity: sensitive`` or ``sensitive: true``)."""
    return metadata.get("sensitivity") == "sensitive" or metadata.get(SENSITIVE_KEY) is True


def clean_metadata(metadata: Any, where: str = "metadata") -> dict[str, str | int | float | bool]:
    """``metadata`` as a dict a store accepts: string keys, scalar values; None values dropped.

    Raises:
        MemoryStoreError: Not a mapping, a non-string key, or a value that is not a string,
            finite number or boolean.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise MemoryStoreError(f"{where} must be a mapping, got {type(metadata).__name__}")
    clean: dict[str, str | int | float | bool] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise MemoryStoreError(f"{where} keys must be non-empty strings, got {key!r}")
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise MemoryStoreError(f"{where}.{key} must be finite, got {value!r}")
        if not isinstance(value, str | int | float | bool):
            raise MemoryStoreError(
                f"{where}.{key} must be a string, number or boolean, got {type(value).__name__}"
            )
        clean[key] = value
    return clean
