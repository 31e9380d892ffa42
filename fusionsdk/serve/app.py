"""The ASGI app: :func:`create_app` (Starlette), run by uvicorn (``fusionsdk serve``).

Routes: ``POST /v1/chat/completions``, ``GET /v1/models``, ``POST /v1/embeddings``,
``GET /health``, ``GET /metrics``. CORS is off unless ``serve.cors_origins`` lists origins.

Example:
    >>> app = create_app(["examples/quickstart.yaml"])  # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fusionsdk.registry import Registry
from fusionsdk.serve import routes
from fusionsdk.serve.errors import api_error_from
from fusionsdk.serve.server import Server

__all__ = ["CONFIGS_ENV", "app_from_environment", "create_app"]

#: How ``fusionsdk serve --workers N`` hands the config paths to each worker (a JSON list).
CONFIGS_ENV = "FUSIONSDK_SERVE_CONFIGS"


Endpoint = Callable[[Request], Awaitable[Response]]


def _guarded(endpoint: Endpoint) -> Endpoint:
    """Turn every failure of ``endpoint`` into an OpenAI-shaped error response, so none reaches
    Starlette's server-error middleware (which would log a traceback)."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:
            err = api_error_from(exc)
            return JSONResponse(err.body(), err.status, headers=err.headers())

    return guarded


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    status = int(getattr(exc, "status_code", 500))
    kind = "not_found_error" if status == 404 else "invalid_request_error"
    detail = str(getattr(exc, "detail", "")) or "error"
    body = {"error": {"message": detail, "type": kind, "param": None, "code": None}}
    return JSONResponse(body, status)


def create_app(
    configs: Sequence[str | Path],
    *,
    registry: Registry | None = None,
    environ: Mapping[str, str] | None = None,
) -> Starlette:
    """An OpenAI-compatible app serving the models and graphs of ``configs``.

    Args:
        configs: Config files; their ``serve:`` and ``state:`` sections (at most one of each)
            set keys, limits and shared state.
        registry: Where plugins come from (the process-wide one by default).
        environ: Where ``FUSIONSDK_API_KEYS`` is read (the process environment by default).

    Raises:
        ConfigError: A config is invalid.
    """
    server = Server(configs, registry, environ)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    middleware = []
    if server.spec.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(server.spec.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-fusion-sensitive"],
                expose_headers=["x-fusion-trace-id", "retry-after"],
            )
        )
    from starlette.exceptions import HTTPException

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", _guarded(routes.chat_completions), methods=["POST"]),
            Route("/v1/models", _guarded(routes.list_models), methods=["GET"]),
            Route("/v1/models/{name:path}", _guarded(routes.get_model), methods=["GET"]),
            Route("/v1/embeddings", _guarded(routes.embeddings), methods=["POST"]),
            Route("/health", _guarded(routes.health), methods=["GET"]),
            Route("/metrics", _guarded(routes.metrics), methods=["GET"]),
        ],
        middleware=middleware,
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.server = server
    return app


def app_from_environment() -> Starlette:
    """The app of the configs named in ``FUSIONSDK_SERVE_CONFIGS`` (uvicorn's factory for workers)."""
    return create_app(json.loads(os.environ[CONFIGS_ENV]))
