"""Process settings read from ``FUSIONSDK_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Settings of one fusionsdk process.

    Attributes:
        plugins: Comma-separated allow-list of third-party plugins to load, each a distribution
            name, a plugin name or ``distribution:name`` (``FUSIONSDK_PLUGINS``). Empty allows all.
        disable_plugin_autoload: Load only built-ins and the plugins named in ``plugins``
            (``FUSIONSDK_DISABLE_PLUGIN_AUTOLOAD=1``).
        home: Where fusionsdk keeps caches such as assembled model files (``FUSIONSDK_HOME``).
        langchain_modules: Comma-separated module prefixes, besides ``langchain_*``, whose chat
            model classes ``provider: langchain`` may import (``FUSIONSDK_LANGCHAIN_MODULES``).
        trace_content: Put prompts and completions on OpenTelemetry spans
            (``FUSIONSDK_TRACE_CONTENT=1``; off by default).
        allow_link_local_urls: Accept ``base_url`` values that point at link-local and
            cloud-metadata addresses (``169.254.169.254``, ``fe80::/10``,
            ``metadata.google.internal``), refused by default
            (``FUSIONSDK_ALLOW_LINK_LOCAL_URLS=1``; see :mod:`fusionsdk.config.urls`).
    """

    model_config = SettingsConfigDict(env_prefix="FUSIONSDK_", extra="ignore")

    plugins: str = ""
    disable_plugin_autoload: bool = False
    home: Path = Field(default_factory=lambda: Path.home() / ".cache" / "fusionsdk")
    langchain_modules: str = ""
    trace_content: bool = False
    allow_link_local_urls: bool = False

    @property
    def plugin_allow_list(self) -> frozenset[str]:
        """The allow-list as a set of stripped, non-empty entries."""
        return frozenset(p.strip() for p in self.plugins.split(",") if p.strip())


def load_settings() -> Settings:
    """Read the settings from the environment now (not cached: tests change the environment)."""
    return Settings()
