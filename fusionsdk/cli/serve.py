"""``fusionsdk serve CONFIG...``: the models and graphs of configs behind an OpenAI-compatible API."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from fusionsdk.cli.base import Command
from fusionsdk.errors import ConfigError

__all__ = ["ServeCommand"]


def serve(
    configs: list[Path] = typer.Argument(..., help="Config files (YAML) to serve."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(8000, "--port", help="Port to bind (0: any free port)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (share state with Redis)."),
    graceful_timeout: float = typer.Option(
        30.0, "--graceful-timeout", help="Seconds in-flight requests get to finish on shutdown."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve every model of CONFIG... and each graph as `graph:<file stem>` over the OpenAI API.

    POST /v1/chat/completions, GET /v1/models, POST /v1/embeddings, GET /health, GET /metrics.
    With several --workers, put `state: {redis: URL}` in a config so they share breakers, rate
    limits and budgets.
    """
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("fusionsdk serve needs its extra: pip install 'fusionsdk[serve]'") from None
    from fusionsdk.serve.app import CONFIGS_ENV, create_app

    paths = [str(p.resolve()) for p in configs]
    app = create_app(paths)  # fails fast, with the field's path, on a bad config
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "timeout_graceful_shutdown": graceful_timeout,
        "lifespan": "on",
    }
    if workers == 1:
        uvicorn.run(app, **options)
        return
    os.environ[CONFIGS_ENV] = json.dumps(paths)
    uvicorn.run("fusionsdk.serve.app:app_from_environment", factory=True, workers=workers, **options)


class ServeCommand(Command):
    """``fusionsdk serve``: run the OpenAI-compatible server."""

    def build(self) -> Any:
        return serve
