"""Fakes and conformance kits for people who test with fusionsdk or write plugins for it.

The fakes need nothing beyond fusionsdk. The conformance suites (``FuserConformance``, ...)
are pytest test classes, imported on first use so that ``fusionsdk.testing`` does not need
pytest; see :mod:`fusionsdk.testing.conformance`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fusionsdk.testing.fakes import FakeEmbedder, FakeProvider, fake_model
from fusionsdk.testing.scripted import context_of, prompt_of, requests_of, responding_model, scripted

if TYPE_CHECKING:
    from fusionsdk.testing.conformance import (
        AnswerTypeConformance,
        ArbiterConformance,
        CommandConformance,
        EmbedderConformance,
        FuserConformance,
        MemoryStoreConformance,
        PluginConformance,
        ProviderConformance,
        RouterConformance,
        ScorerConformance,
        ToolConformance,
    )

_CONFORMANCE = frozenset(
    {
        "AnswerTypeConformance",
        "ArbiterConformance",
        "CommandConformance",
        "EmbedderConformance",
        "FuserConformance",
        "MemoryStoreConformance",
        "PluginConformance",
        "ProviderConformance",
        "RouterConformance",
        "ScorerConformance",
        "ToolConformance",
    }
)

__all__ = [
    "AnswerTypeConformance",
    "ArbiterConformance",
    "CommandConformance",
    "EmbedderConformance",
    "FakeEmbedder",
    "FakeProvider",
    "FuserConformance",
    "MemoryStoreConformance",
    "PluginConformance",
    "ProviderConformance",
    "RouterConformance",
    "ScorerConformance",
    "ToolConformance",
    "context_of",
    "fake_model",
    "prompt_of",
    "requests_of",
    "responding_model",
    "scripted",
]


def __getattr__(name: str) -> Any:
    if name not in _CONFORMANCE:
        raise AttributeError(f"module 'fusionsdk.testing' has no attribute '{name}'")
    try:
        module = importlib.import_module("fusionsdk.testing.conformance")
    except ImportError as err:
        raise ImportError(
            f"fusionsdk.testing.{name} needs pytest and pytest-asyncio: "
            f"pip install pytest pytest-asyncio ({err})"
        ) from err
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
