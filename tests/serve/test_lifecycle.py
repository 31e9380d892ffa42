"""Back-pressure, client disconnects, graceful shutdown, health, metrics and embeddings."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai

from fusionsdk.serve.app import create_app
from tests.serve.helpers import AppServer, write_config

CONFIG = """
version: 1
models:
  slow: {provider: fake, options: {delay_s: 1.5, responses: ["done"]}, timeout_s: 30}
  echo: {provider: fake}
memory:
  docs: {store: ephemeral, embedder: fake}
serve: {max_concurrency: 1, max_queue: 1}
"""
HELLO = [{"role": "user", "content": "hello"}]


def _chat(url: str, model: str, timeout: float = 30) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json={"model": model, "messages": HELLO}, timeout=timeout)


def _wait(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_full_queue_gives_429(tmp_path: Path) -> None:
    with AppServer(create_app([write_config(tmp_path, "bp.yaml", CONFIG)], environ={})) as server:
        gate = server.app.state.server.gate
        with ThreadPoolExecutor(2) as pool:
            running = pool.submit(_chat, server.url, "slow")
            assert _wait(lambda: gate.running == 1)
            queued = pool.submit(_chat, server.url, "echo")
            assert _wait(lambda: gate.waiting == 1)
            refused = _chat(server.url, "echo")
            assert refused.status_code == 429 and refused.json()["error"]["code"] == "server_busy"
            assert refused.headers["retry-after"] == "1"
            assert running.result().status_code == 200 and queued.result().status_code == 200


def test_client_disconnect_cancels_the_upstream_call(tmp_path: Path) -> None:
    with AppServer(create_app([write_config(tmp_path, "dc.yaml", CONFIG)], environ={})) as server:
        state = server.app.state.server
        slow = state.catalog.models["slow"]
        for stream in (False, True):
            started = time.monotonic()
            with contextlib.suppress(httpx.TimeoutException):
                httpx.post(
                    server.url + "/v1/chat/completions",
                    json={"model": "slow", "messages": HELLO, "stream": stream},
                    timeout=0.3,
                )
            assert _wait(lambda: slow.in_flight == 0 and state.gate.running == 0, timeout=1.0)
            assert time.monotonic() - started < 1.4  # cancelled, not waited out (the call takes 1.5s)


def test_graceful_shutdown_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    server = AppServer(create_app([write_config(tmp_path, "gs.yaml", CONFIG)], environ={})).__enter__()
    results: list[httpx.Response] = []
    streamed: list[str] = []

    def stream() -> None:
        with httpx.stream(
            "POST",
            server.url + "/v1/chat/completions",
            json={"model": "slow", "messages": HELLO, "stream": True},
            timeout=30,
        ) as reply:
            streamed.extend(reply.iter_lines())

    worker = threading.Thread(target=lambda: results.append(_chat(server.url, "slow")))
    streamer = threading.Thread(target=stream)
    worker.start()
    streamer.start()
    assert _wait(lambda: server.app.state.server.gate.running >= 1)
    time.sleep(0.2)
    server.stop()  # like SIGTERM: stop accepting, finish what runs, then shut down
    worker.join(10)
    streamer.join(10)
    assert (
        results
        and results[0].status_code == 200
        and results[0].json()["choices"][0]["message"]["content"] == "done"
    )
    assert [line for line in streamed if line][-1] == "data: [DONE]"


def test_health_metrics_and_embeddings(tmp_path: Path) -> None:
    with AppServer(create_app([write_config(tmp_path, "hm.yaml", CONFIG)], environ={})) as server:
        health = httpx.get(server.url + "/health").json()
        assert health["status"] == "ok" and health["models"] == 2
        assert _chat(server.url, "echo").status_code == 200
        assert _chat(server.url, "nope").status_code == 404
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
        vectors = client.embeddings.create(model="memory:docs", input=["a cat", "a dog"])
        assert len(vectors.data) == 2 and len(vectors.data[0].embedding) == 64
        assert "memory:docs" in [m.id for m in client.models.list()]
        metrics = httpx.get(server.url + "/metrics").text
        assert 'fusionsdk_requests_total{status="200",target="echo"} 1.0' in metrics
        assert (
            'fusionsdk_requests_total{status="404",target="nope"}' not in metrics
        )  # unknown names: no label
        assert 'fusionsdk_breaker_state{deployment="fake:slow"} 0.0' in metrics
        assert 'fusionsdk_tokens_total{kind="prompt",target="echo"}' in metrics
        assert "fusionsdk_request_latency_seconds_bucket" in metrics


def test_a_stream_that_cannot_start_within_the_time_limit_is_a_504(tmp_path: Path) -> None:
    config = CONFIG.replace("serve: {max_concurrency: 1, max_queue: 1}", "serve: {request_timeout_s: 1.0}")
    with AppServer(create_app([write_config(tmp_path, "to.yaml", config)], environ={})) as server:
        reply = httpx.post(
            server.url + "/v1/chat/completions",
            json={"model": "slow", "messages": HELLO, "stream": True},
            timeout=30,
        )
        assert reply.status_code == 504 and reply.json()["error"]["code"] == "timeout"
