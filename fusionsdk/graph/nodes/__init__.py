"""The built-in node kinds (each registered under ``fusionsdk.nodes`` in pyproject.toml)."""
