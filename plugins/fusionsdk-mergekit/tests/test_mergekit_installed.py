"""The installed distribution: fusionsdk finds the ``merge`` command and the ``transformers`` provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fusionsdk.cli.app import main
from fusionsdk.registry import default_registry, reset_default_registry
from fusionsdk.testing import CommandConformance

from fusionsdk_mergekit import MergeCommand, TransformersProvider

DISTRIBUTION = "fusionsdk-mergekit"


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("FUSIONSDK_PLUGINS", "FUSIONSDK_DISABLE_PLUGIN_AUTOLOAD"):
        monkeypatch.delenv(variable, raising=False)
    reset_default_registry()
    yield
    reset_default_registry()


class TestMergeCommandConformance(CommandConformance):
    plugin_class = MergeCommand
    command_name = "merge"


def test_registered_by_name_under_this_distribution() -> None:
    registry = default_registry()
    assert registry.get("commands", "merge") is MergeCommand
    assert registry.get("providers", "transformers") is TransformersProvider
    assert registry.get("providers", f"{DISTRIBUTION}:transformers") is TransformersProvider
    record = registry.resolve("commands", "merge")
    assert (record.distribution, record.builtin) == (DISTRIBUTION, False)


def test_merge_help_is_on_the_fusionsdk_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["merge", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--out" in text and "--dry-run" in text and "slerp" in text


def test_importing_the_plugin_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, fusionsdk_mergekit.command, fusionsdk_mergekit.provider; "
        "print([m for m in ('torch', 'transformers', 'mergekit') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
