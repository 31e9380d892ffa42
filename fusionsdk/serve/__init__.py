"""``fusionsdk serve``: models and graphs behind an OpenAI-compatible HTTP API.

The app (:func:`~fusionsdk.serve.app.create_app`) is a Starlette app run by uvicorn. Modules:

* :mod:`~fusionsdk.serve.app`: the app factory and its routes table;
* :mod:`~fusionsdk.serve.routes`, :mod:`~fusionsdk.serve.sse`: the endpoints and the event stream;
* :mod:`~fusionsdk.serve.schemas`: OpenAI's wire formats;
* :mod:`~fusionsdk.serve.chat`: chat completions on a model or a graph;
* :mod:`~fusionsdk.serve.catalog`: what is served under which name;
* :mod:`~fusionsdk.serve.auth`: API keys (hashed), allowed models, limits;
* :mod:`~fusionsdk.serve.state`: breakers, rate limits, budgets, in the process or in Redis;
* :mod:`~fusionsdk.serve.backpressure`, :mod:`~fusionsdk.serve.metrics`,
  :mod:`~fusionsdk.serve.errors`: the bounded queue, Prometheus, OpenAI-shaped errors.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":  # lazy: importing the room must not need the serve extra
        from fusionsdk.serve.app import create_app

        return create_app
    raise AttributeError(name)
