"""Two replicas sharing one Redis behave as one server: breakers, budgets and rate limits.

The replicas are two apps in this process (each with its own state object, connection and
breakers: nothing is shared but Redis) and, in the last test, two `fusionsdk serve` processes.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from fusionsdk.errors import ProviderUnavailable
from fusionsdk.serve.app import create_app
from fusionsdk.serve.auth import hash_key
from tests.serve.helpers import AppServer, RedisServer, ServeProcess, write_config
from tests.servers.faults import Fail, FaultServer

KEY = "sk-shared-0123456789"
HELLO = [{"role": "user", "content": "hello"}]


def _config(redis: RedisServer, rpm: int = 1000, budget: float = 1000.0, models: str = "") -> str:
    return f"""
version: 1
models:{models}
  flaky:  {{provider: fake, retry: {{attempts: 1}}, breaker: {{failures: 2, cooldown_s: 60}}}}
  priced: {{provider: fake, options: {{responses: ["four words of answer"]}},
           prices: {{input_usd_per_mtok: 1000000, output_usd_per_mtok: 1000000}}}}
  echo:   {{provider: fake}}
serve:
  keys:
    - {{name: shared, sha256: {hash_key(KEY)}, budget_usd: {budget}, requests_per_minute: {rpm}}}
state: {{redis: "{redis.url}", prefix: "test-{uuid.uuid4().hex[:8]}"}}
"""


@pytest.fixture
def replicas(
    tmp_path: Path, redis_server: RedisServer, request: pytest.FixtureRequest
) -> Iterator[list[AppServer]]:
    """Two apps on one Redis; parametrise indirectly with config keyword arguments."""
    params = getattr(request, "param", {})
    path = write_config(tmp_path, "shared.yaml", _config(redis_server, **params))
    with ExitStack() as stack:
        yield [stack.enter_context(AppServer(create_app([path], environ={}))) for _ in range(2)]


def _wait(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _post(server: AppServer | str, model: str, key: str = KEY) -> httpx.Response:
    url = server if isinstance(server, str) else server.url
    return httpx.post(
        url + "/v1/chat/completions",
        json={"model": model, "messages": HELLO},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_a_breaker_opened_by_one_replica_is_seen_by_the_other(replicas: list[AppServer]) -> None:
    one, two = replicas
    failing = one.app.state.server.catalog.models["flaky"].provider
    failing.script = [ProviderUnavailable("down")]
    healthy = two.app.state.server.catalog.models["flaky"].provider
    assert [_post(one, "flaky").status_code for _ in range(2)] == [502, 502]  # opens the breaker
    skipped = _post(two, "flaky")
    assert skipped.status_code == 503 and skipped.json()["error"]["code"] == "circuit_open"
    assert healthy.requests == []  # the other replica never called the failing deployment
    metrics = httpx.get(two.url + "/metrics").text
    assert 'fusionsdk_breaker_state{deployment="fake:flaky"} 2.0' in metrics


@pytest.mark.parametrize("replicas", [{"budget": 1.0}], indirect=True)
def test_a_budget_spent_through_one_replica_is_refused_by_the_other(replicas: list[AppServer]) -> None:
    one, two = replicas
    assert _post(one, "priced").status_code == 200  # costs $5, over the $1 budget
    refused = _post(two, "echo")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "insufficient_quota"


@pytest.mark.parametrize("replicas", [{"rpm": 5}], indirect=True)
def test_a_rate_limit_holds_across_replicas(replicas: list[AppServer]) -> None:
    codes = [_post(server, "echo").status_code for server, _ in zip(itertools.cycle(replicas), range(12))]
    assert codes.count(200) == 5 and codes.count(429) == 7
    assert codes[:5] == [200] * 5


@pytest.mark.integration
def test_two_serve_processes_share_breakers_rate_limits_and_budgets(
    tmp_path: Path, redis_server: RedisServer, faults: FaultServer
) -> None:
    upstream = (
        f"\n  upstream: {{provider: openai_compatible, base_url: '{faults.base_url}', model: brk, timeout_s: 60,"
        " retry: {attempts: 1}, breaker: {failures: 2, cooldown_s: 60}}"
    )
    config = _config(redis_server, rpm=6, models=upstream).replace(
        "serve:\n  keys:\n",
        f"serve:\n  keys:\n    - {{name: spender, sha256: {hash_key('sk-spender-0123')}, budget_usd: 1.0}}\n",
    )
    path = write_config(tmp_path, "procs.yaml", config)
    with ServeProcess([path]) as first, ServeProcess([path]) as second:
        one, two = first.wait_ready(), second.wait_ready()
        faults.script("brk", [Fail(500), Fail(500)])
        assert [_post(one, "upstream").status_code for _ in range(2)] == [502, 502]  # opens the breaker
        skipped = _post(two, "upstream")
        assert skipped.status_code == 503 and skipped.json()["error"]["code"] == "circuit_open"
        assert len(faults.chat_requests("brk")) == 2  # the second process never called the upstream
        codes = [_post(url, "echo").status_code for url, _ in zip(itertools.cycle([one, two]), range(8))]
        assert codes == [200, 200, 200, 429, 429, 429, 429, 429]  # 6 a minute, 3 taken above
        assert _post(one, "priced", "sk-spender-0123").status_code == 200  # $5 of a $1 budget
        assert _post(two, "echo", "sk-spender-0123").json()["error"]["code"] == "insufficient_quota"


def test_the_balance_router_counts_calls_in_flight_on_every_replica(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    config = f"""
version: 1
models:
  x: {{provider: fake, options: {{delay_s: 1.5, responses: ["from x"]}}}}
  y: {{provider: fake, options: {{responses: ["from y"]}}}}
nodes:
  answer: {{kind: agent, router: balance, models: [x, y],
           router_options: {{metrics: false, weights: {{latency: 0}}}}}}
edges: [[START, answer], [answer, END]]
state: {{redis: "{redis_server.url}", prefix: "test-{uuid.uuid4().hex[:8]}"}}
"""
    path = write_config(tmp_path, "balanced.yaml", config)
    with AppServer(create_app([path], environ={})) as one, AppServer(create_app([path], environ={})) as two:
        with ThreadPoolExecutor(1) as pool:
            busy = pool.submit(_post, one, "x")  # one call of x in flight on replica one
            load = one.app.state.server.catalog.models["x"].load
            assert _wait(lambda: load.local == 1)
            time.sleep(0.1)  # its count is written behind
            routed = _post(two, "graph:balanced")
            assert routed.json()["choices"][0]["message"]["content"] == "from y"
            assert busy.result().status_code == 200
        assert two.app.state.server.catalog.models["x"].provider.requests == []


def test_after_the_cooldown_one_replica_probes_and_both_close(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    config = _config(redis_server).replace("cooldown_s: 60", "cooldown_s: 0.5")
    path = write_config(tmp_path, "probe.yaml", config)
    with AppServer(create_app([path], environ={})) as one, AppServer(create_app([path], environ={})) as two:
        one.app.state.server.catalog.models["flaky"].provider.script = [ProviderUnavailable("down")]
        assert [_post(one, "flaky").status_code for _ in range(2)] == [502, 502]
        assert _post(two, "flaky").status_code == 503
        time.sleep(0.6)  # the cooldown (the open key's expiry) ends: half-open
        assert _post(two, "flaky").status_code == 200  # the probe succeeds and closes the breaker
        one.app.state.server.catalog.models["flaky"].provider.script = []  # one's backend is back too
        assert _post(one, "flaky").status_code == 200  # one sees the breaker closed
        breaker = one.app.state.server.catalog.models["flaky"].breaker
        assert breaker.state == "closed"
