"""Errors in OpenAI's shape with the right status; keys, allowed models, budgets, rate limits,
the privacy gate. No traceback and no secret in any body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from fusionsdk.errors import ProviderUnavailable
from fusionsdk.serve.app import create_app
from fusionsdk.serve.auth import hash_key
from tests.serve.helpers import AppServer, write_config

KEY, OTHER = "sk-test-alice-0123456789", "sk-test-bob-0123456789"
CONFIG = f"""
version: 1
models:
  echo:   {{provider: fake}}
  priced: {{provider: fake, options: {{responses: ["four words of answer"]}},
           prices: {{input_usd_per_mtok: 1000000, output_usd_per_mtok: 1000000}}}}
  hosted: {{provider: fake, locality: hosted}}
  flaky:  {{provider: fake, retry: {{attempts: 1}}, breaker: {{failures: 2, cooldown_s: 60}}}}
  slow:   {{provider: fake, options: {{delay_s: 2}}, timeout_s: 0.2, retry: {{attempts: 1}}}}
serve:
  max_body_bytes: 2048
  keys:
    - {{name: alice, sha256: {hash_key(KEY)}, requests_per_minute: 1000}}
    - {{name: bob, sha256: {hash_key(OTHER)}, budget_usd: 1.0, requests_per_minute: 3,
       models: [echo, priced]}}
"""
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    path = write_config(tmp_path_factory.mktemp("keys"), "keys.yaml", CONFIG)
    with AppServer(create_app([path], environ={"FUSIONSDK_API_KEYS": "ci=sk-env-key-42"})) as server:
        yield server


def _post(server: AppServer, body: object, key: str | None = KEY, **headers: str) -> httpx.Response:
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.post(server.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)


def _error(reply: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code
    assert "Traceback" not in reply.text and "sk-test" not in reply.text
    return error  # type: ignore[no-any-return]


def test_keys_are_required_and_checked(keyed: AppServer) -> None:
    _error(_post(keyed, {"model": "echo", "messages": HELLO}, key=None), 401, "missing_api_key")
    _error(_post(keyed, {"model": "echo", "messages": HELLO}, key="sk-wrong"), 401, "invalid_api_key")
    assert _post(keyed, {"model": "echo", "messages": HELLO}, key="sk-env-key-42").status_code == 200
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=keyed.url + "/v1", api_key="nope", max_retries=0).models.list()


def test_bad_requests_are_400_404_413(keyed: AppServer) -> None:
    _error(_post(keyed, {"model": "echo"}), 400, "invalid_request")
    _error(_post(keyed, {"model": "echo", "messages": HELLO, "temperature": 5}), 400, "invalid_request")
    bad_json = httpx.post(
        keyed.url + "/v1/chat/completions", content=b"{nope", headers={"Authorization": f"Bearer {KEY}"}
    )
    _error(bad_json, 400, "invalid_json")
    _error(_post(keyed, {"model": "gpt-9", "messages": HELLO}), 404, "model_not_found")
    big = [{"role": "user", "content": "x" * 4096}]
    _error(_post(keyed, {"model": "echo", "messages": big}), 413, "request_too_large")


def test_allowed_models_budget_and_rate_limit(keyed: AppServer) -> None:
    _error(_post(keyed, {"model": "hosted", "messages": HELLO}, key=OTHER), 403, "model_not_allowed")
    assert [
        m["id"]
        for m in httpx.get(keyed.url + "/v1/models", headers={"Authorization": f"Bearer {OTHER}"}).json()[
            "data"
        ]
    ] == ["echo", "priced"]
    first = _post(keyed, {"model": "priced", "messages": HELLO}, key=OTHER)  # costs well over $1
    assert first.status_code == 200 and first.json()["usage"]["cost_usd"] > 1.0
    _error(_post(keyed, {"model": "echo", "messages": HELLO}, key=OTHER), 429, "insufficient_quota")


def test_rate_limit_gives_429_with_retry_after(tmp_path: Path) -> None:
    config = CONFIG.replace("budget_usd: 1.0, ", "")
    with AppServer(create_app([write_config(tmp_path, "rl.yaml", config)], environ={})) as server:
        codes = [_post(server, {"model": "echo", "messages": HELLO}, key=OTHER).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        limited = _post(server, {"model": "echo", "messages": HELLO}, key=OTHER)
        _error(limited, 429, "rate_limit_exceeded")
        assert 1 <= int(limited.headers["retry-after"]) <= 60


def test_upstream_failures_map_to_502_503_504(keyed: AppServer) -> None:
    flaky = keyed.app.state.server.catalog.models["flaky"].provider
    flaky.script = [ProviderUnavailable("backend said 500 with token sk-live-abcdefghijklmnop1234")]
    for _ in range(2):
        _error(_post(keyed, {"model": "flaky", "messages": HELLO}), 502, "upstream_error")
    opened = _post(keyed, {"model": "flaky", "messages": HELLO})
    _error(opened, 503, "circuit_open")
    assert "retry-after" in opened.headers
    _error(_post(keyed, {"model": "slow", "messages": HELLO}), 504, "upstream_timeout")
    assert "sk-live" not in _post(keyed, {"model": "flaky", "messages": HELLO}).text


def test_sensitive_requests_reach_only_local_models(keyed: AppServer) -> None:
    assert _post(keyed, {"model": "hosted", "messages": HELLO}).status_code == 200
    flagged = _post(keyed, {"model": "hosted", "messages": HELLO}, **{"X-Fusion-Sensitive": "true"})
    _error(flagged, 403, "privacy_violation")
    detected = [{"role": "user", "content": "mail me at jane.doe@example.com"}]
    _error(_post(keyed, {"model": "hosted", "messages": detected}), 403, "privacy_violation")
    local = _post(keyed, {"model": "echo", "messages": HELLO}, **{"X-Fusion-Sensitive": "true"})
    assert local.status_code == 200
