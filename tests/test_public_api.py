"""The public surface: pinned exports, one exception root, a cheap import."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import fusionsdk
from fusionsdk import errors

ROOT = Path(__file__).resolve().parents[1]


def test_exports_are_pinned() -> None:
    assert fusionsdk.__all__ == [
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
    for name in fusionsdk.__all__:
        assert getattr(fusionsdk, name) is not None


def test_every_error_derives_from_fusion_error() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert len(classes) >= 13
    assert all(issubclass(c, errors.FusionError) for c in classes)


def test_import_is_light() -> None:
    code = (
        "import sys, fusionsdk; heavy = [m for m in ('litellm', 'langgraph', 'llama_cpp', 'chromadb',"
        " 'openai', 'httpx', 'yaml', 'fusionsdk.providers.llamacpp', 'fusionsdk.fusion.majority_vote')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_py_typed_ships() -> None:
    assert (ROOT / "fusionsdk" / "py.typed").exists()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_line = next(line for line in readme.splitlines() if "pytest" in line and "pip install" in line)
    assert test_line.strip() in [line.strip() for line in ci.splitlines()]
