"""fusionsdk: route, fan out, fuse and arbitrate across local and hosted LLMs.

Importing fusionsdk is cheap: the public names below are imported on first use, and LiteLLM,
LangGraph and llama.cpp only when a model that needs them is called.

Example:
    >>> import fusionsdk
    >>> hub = fusionsdk.ModelHub.embedded()  # doctest: +SKIP
    >>> hub["smollm2"].complete("What is the capital of France?").text  # doctest: +SKIP
    'The capital of France is Paris.'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fusionsdk.errors import (
    AllModelsFailed,
    AuthError,
    BadRequest,
    BudgetExceeded,
    CircuitOpen,
    ConfigError,
    ContextWindowExceeded,
    FusionError,
    GraphError,
    PluginError,
    PrivacyViolation,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    SecretMissing,
)

__version__ = "0.1.0"

__all__ = [
    "AllModelsFailed",
    "AuthError",
    "BadRequest",
    "BudgetExceeded",
    "Candidate",
    "CircuitOpen",
    "Completion",
    "ConfigError",
    "ContextWindowExceeded",
    "FusionConfig",
    "FusionError",
    "FusionResult",
    "Graph",
    "GraphBuilder",
    "GraphError",
    "Model",
    "ModelHub",
    "ModelSpec",
    "PluginError",
    "PluginKind",
    "PrivacyViolation",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "RunResult",
    "SecretMissing",
    "Usage",
    "__version__",
    "compile_file",
    "load_config",
    "register",
]

_LAZY = {
    "Candidate": "fusionsdk.fusion.base",
    "Completion": "fusionsdk.providers.model",
    "FusionConfig": "fusionsdk.config.file",
    "FusionResult": "fusionsdk.fusion.base",
    "Graph": "fusionsdk.graph.run",
    "GraphBuilder": "fusionsdk.graph.builder",
    "Model": "fusionsdk.providers.model",
    "ModelHub": "fusionsdk.providers.hub",
    "ModelSpec": "fusionsdk.config.models",
    "PluginKind": "fusionsdk.registry",
    "RunResult": "fusionsdk.graph.run",
    "compile_file": "fusionsdk.graph.compiler",
    "Usage": "fusionsdk.providers.base",
    "load_config": "fusionsdk.config.file",
    "register": "fusionsdk.registry",
}

if TYPE_CHECKING:
    from fusionsdk.config.file import FusionConfig, load_config
    from fusionsdk.config.models import ModelSpec
    from fusionsdk.fusion.base import Candidate, FusionResult
    from fusionsdk.graph.builder import GraphBuilder
    from fusionsdk.graph.compiler import compile_file
    from fusionsdk.graph.run import Graph, RunResult
    from fusionsdk.providers.base import Usage
    from fusionsdk.providers.hub import ModelHub
    from fusionsdk.providers.model import Completion, Model
    from fusionsdk.registry import PluginKind, register


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fusionsdk' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
