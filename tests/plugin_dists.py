"""Installed-looking plugin distributions for tests, without pip.

A folder on ``sys.path`` holding ``<name>-<version>.dist-info/`` (``METADATA`` and
``entry_points.txt``) is a distribution as far as ``importlib.metadata`` is concerned, so the
registry discovers its entry points exactly as it would an installed plugin's.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from fusionsdk.registry import reset_default_registry

__all__ = ["FakeSite", "fake_site"]


class FakeSite:
    """A site-packages-like folder on ``sys.path`` that tests add distributions to.

    Args:
        root: The folder.
        monkeypatch: Puts the folder on ``sys.path`` for the test only.
    """

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self._monkeypatch = monkeypatch
        self._on_path = False

    def add(
        self,
        name: str,
        version: str,
        entry_points: Mapping[str, Mapping[str, str]],
        modules: Mapping[str, str] | None = None,
    ) -> None:
        """Add a distribution.

        Args:
            name: Distribution name (``mydist``).
            version: Its version.
            entry_points: ``{"fusionsdk.fusers": {"name": "module:Class"}}``.
            modules: Module name to source, written next to the dist-info folder.
        """
        dist_info = self.root / f"{name.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir(parents=True)
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        sections = [
            f"[{group}]\n" + "".join(f"{ep} = {target}\n" for ep, target in entries.items())
            for group, entries in entry_points.items()
        ]
        (dist_info / "entry_points.txt").write_text("\n".join(sections))
        self.add_modules(modules or {})

    def add_modules(self, modules: Mapping[str, str]) -> None:
        """Write modules (name to source) into the folder and make them importable."""
        self.root.mkdir(parents=True, exist_ok=True)
        for module, source in modules.items():
            (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        if not self._on_path:
            self._monkeypatch.syspath_prepend(str(self.root))
            self._on_path = True
        importlib.invalidate_caches()

    def forget_imports(self) -> None:
        """Drop every module imported from this folder from ``sys.modules``."""
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "") or "").startswith(str(self.root)):
                del sys.modules[name]


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    """A :class:`FakeSite` for one test; the process-wide registry is reset before and after."""
    for variable in ("FUSIONSDK_PLUGINS", "FUSIONSDK_DISABLE_PLUGIN_AUTOLOAD"):
        monkeypatch.delenv(variable, raising=False)
    site = FakeSite(tmp_path / "site", monkeypatch)
    reset_default_registry()
    yield site
    site.forget_imports()
    reset_default_registry()
    importlib.invalidate_caches()
