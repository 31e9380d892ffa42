"""Load- and latency-aware balancing: metrics parsing, polling, the adapter's live signals and the
``balance`` router against loopback metrics servers."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import Any

import pytest

from fusionsdk.errors import CircuitOpen, ConfigError, GraphError, ProviderUnavailable
from fusionsdk.graph import compile_config
from fusionsdk.providers.hub import ModelHub
from fusionsdk.routing.balance import BalanceRouter
from fusionsdk.routing.base import RouteRequest
from fusionsdk.routing.metrics import (
    BackendLoad,
    MetricsPoller,
    metrics_url,
    parse_load,
    parse_prometheus,
)
from fusionsdk.testing import fake_model
from tests.servers.base import free_port
from tests.servers.fixtures import tgi, tgi_server  # noqa: F401 - fixtures are found by name
from tests.servers.metrics import MetricsServer, prometheus_text

REQUEST = RouteRequest("Summarise this report.")


@pytest.fixture(scope="module")
def servers() -> Iterator[list[MetricsServer]]:
    started = [MetricsServer().start() for _ in range(3)]
    try:
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def engines(servers: list[MetricsServer]) -> list[MetricsServer]:
    for server in servers:
        server.reset()
    return servers


def vllm_hub(servers: list[MetricsServer], **spec: Any) -> ModelHub:
    models = {
        f"vllm-{i}": {"provider": "vllm", "model": "m", "base_url": f"{s.url}/v1", **spec}
        for i, s in enumerate(servers)
    }
    return ModelHub.from_dict({"version": 1, "models": models})


def router(hub: ModelHub | None = None, **options: Any) -> BalanceRouter:
    balance = BalanceRouter(options)
    if hub is not None:
        balance.bind(hub)
    return balance


# -- parsing ---------------------------------------------------------------------------------------


def test_parses_prometheus_text() -> None:
    text = (
        "# HELP vllm:num_requests_waiting Requests waiting.\n"
        "# TYPE vllm:num_requests_waiting gauge\n"
        'vllm:num_requests_waiting{model_name="a",engine="0"} 3.0\n'
        'vllm:num_requests_waiting{model_name="b \\"quoted\\", x",engine="1"} 2 1700000000000\n'
        "tgi_queue_size NaN\n"
        "not a metric line\n"
        'vllm:e2e_request_latency_seconds_bucket{le="+Inf"} 7\n'
    )
    samples = list(parse_prometheus(text))
    assert [s.name for s in samples][:2] == ["vllm:num_requests_waiting"] * 2
    assert samples[1].labels == {"model_name": 'b "quoted", x', "engine": "1"} and samples[1].value == 2
    assert math.isnan(samples[2].value)
    load = parse_load(text)
    assert load == BackendLoad(queued=5.0, running=None, kv_cache=None, engine="vllm")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (prometheus_text({"tgi_queue_size": 4, "tgi_batch_current_size": 2}), BackendLoad(4, 2, None, "tgi")),
        (
            prometheus_text({"vllm:num_requests_running": 8, "vllm:gpu_cache_usage_perc": 0.75}),
            BackendLoad(None, 8, 0.75, "vllm"),
        ),
        (
            prometheus_text(
                {"sglang:num_queue_reqs": 1, "sglang:num_running_reqs": 5, "sglang:token_usage": 0.2}
            ),
            BackendLoad(1, 5, 0.2, "sglang"),
        ),
        (
            prometheus_text({"llamacpp:requests_deferred": 2, "llamacpp:requests_processing": 1}),
            BackendLoad(2, 1, None, "llamacpp"),
        ),
        (prometheus_text({"trtllm_num_requests_waiting": 6}), BackendLoad(6, None, None, "prometheus")),
        (
            '[{"iter": 1, "numQueuedRequests": 9}, {"iter": 2, "numQueuedRequests": 2, '
            '"numActiveRequests": 4, "kvCacheStats": {"usedNumBlocks": 30, "maxNumBlocks": 120}}]',
            BackendLoad(2, 4, 0.25, "trtllm"),
        ),
        ("[]", BackendLoad(0, 0, None, "trtllm")),
        ('{"num_queued_requests": 1, "num_active_requests": 3}', BackendLoad(1, 3, None, "trtllm")),
        ("# nothing here\n", BackendLoad()),
    ],
)
def test_reads_the_load_of_each_engine(body: str, expected: BackendLoad) -> None:
    assert parse_load(body) == expected


def test_broken_json_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_load("[{not json")


def test_default_metrics_urls_per_provider() -> None:
    hub = ModelHub.from_dict(
        {
            "version": 1,
            "models": {
                "tgi": {"provider": "tgi", "base_url": "http://127.0.0.1:8080"},
                "vllm": {"provider": "vllm", "base_url": "http://127.0.0.1:8000/v1"},
                "trt": {"provider": "trtllm", "base_url": "http://127.0.0.1:8001/v1"},
                "ollama": {"provider": "ollama", "base_url": "http://127.0.0.1:11434/v1"},
                "fake": {"provider": "fake"},
            },
        }
    )
    assert metrics_url(hub["tgi"]) == "http://127.0.0.1:8080/metrics"
    assert metrics_url(hub["vllm"]) == "http://127.0.0.1:8000/metrics"
    assert metrics_url(hub["trt"]) == "http://127.0.0.1:8001/metrics"
    assert metrics_url(hub["ollama"]) is None and metrics_url(hub["fake"]) is None


# -- polling ---------------------------------------------------------------------------------------


async def test_poller_caches_for_the_ttl_and_shares_concurrent_polls(engines: list[MetricsServer]) -> None:
    now = [100.0]
    poller = MetricsPoller(ttl_s=5.0, clock=lambda: now[0])
    server = engines[0]
    server.set_tgi(queue=3, batch=1)
    url = f"{server.url}/metrics"
    readings = await asyncio.gather(*(poller.read(url) for _ in range(10)))
    assert server.polls == 1 and {r.load for r in readings} == {BackendLoad(3, 1, None, "tgi")}
    server.set_tgi(queue=0, batch=0)
    now[0] += 4.9
    assert (await poller.read(url)).load == BackendLoad(3, 1, None, "tgi")  # still fresh
    now[0] += 0.2
    assert (await poller.read(url)).load == BackendLoad(0, 0, None, "tgi")  # stale: polled again
    assert server.polls == 2
    await poller.aclose()


async def test_poller_reports_failures_without_raising(engines: list[MetricsServer]) -> None:
    poller = MetricsPoller(ttl_s=60)
    down = await poller.read(f"http://127.0.0.1:{free_port()}/metrics")
    assert down.status == "unreachable" and down.load is None
    engines[0].set_body("oops", status=500)
    failed = await poller.read(f"{engines[0].url}/metrics")
    assert failed.status == "error" and "HTTP 500" in failed.detail
    engines[1].set_body("[{broken", "application/json")
    unreadable = await poller.read(f"{engines[1].url}/metrics")
    assert unreadable.status == "error" and "unreadable" in unreadable.detail


async def test_reads_the_tgi_test_server(tgi: Any) -> None:  # noqa: F811 - the fixture
    hub = ModelHub.from_dict({"version": 1, "models": {"t": {"provider": "tgi", "base_url": tgi.url}}})
    reading = await MetricsPoller().read(metrics_url(hub["t"]) or "")
    assert reading.status == "ok" and reading.load == BackendLoad(0, 0, None, "tgi")


# -- the adapter's live signals --------------------------------------------------------------------


async def test_the_adapter_counts_calls_in_flight_and_their_latency() -> None:
    model = fake_model("m", ["a"])
    model.provider.options = model.provider.Options(delay_s=0.05)  # type: ignore[attr-defined]
    assert model.in_flight == 0 and model.latency_ewma_s is None
    calls = [asyncio.ensure_future(model.acomplete("hi")) for _ in range(3)]
    await asyncio.sleep(0.02)
    assert model.in_flight == 3
    await asyncio.gather(*calls)
    assert model.in_flight == 0 and model.latency_ewma_s is not None and model.latency_ewma_s >= 0.04
    stream = model.astream("hi")
    await anext(stream)
    assert model.in_flight == 1
    async for _ in stream:
        pass
    assert model.in_flight == 0


async def test_the_in_flight_count_drops_after_failures() -> None:
    model = fake_model("m", [ProviderUnavailable("down")], retry={"attempts": 1})
    with pytest.raises(ProviderUnavailable):
        await model.acomplete("hi")
    with pytest.raises(ProviderUnavailable):
        async for _ in model.astream("hi"):
            pass
    assert model.in_flight == 0 and model.latency_ewma_s is None


# -- the balance router ----------------------------------------------------------------------------


async def test_picks_the_least_loaded_deployment(engines: list[MetricsServer]) -> None:
    engines[0].set_vllm(waiting=6, running=16, kv_cache=0.9)
    engines[1].set_vllm(waiting=0, running=2, kv_cache=0.1)
    engines[2].set_vllm(waiting=2, running=8, kv_cache=0.5)
    hub = vllm_hub(engines)
    balance = router(hub)
    targets = list(hub)
    decision = await balance.route(REQUEST, targets)
    assert decision.target == "vllm-1"
    assert decision.scores["vllm-1"] > decision.scores["vllm-2"] > decision.scores["vllm-0"]
    assert (
        "queued 0" in decision.reason and "running 2" in decision.reason and "kv cache 10%" in decision.reason
    )
    assert all(0.0 <= s <= 1.0 for s in decision.scores.values())
    assert [(await balance.route(REQUEST, targets)).target for _ in range(3)] == ["vllm-1"] * 3


async def test_trtllm_json_and_tgi_text_are_balanced_alike(engines: list[MetricsServer]) -> None:
    engines[0].set_trtllm([{"numQueuedRequests": 5, "numActiveRequests": 8}])
    engines[1].set_tgi(queue=0, batch=1)
    models = {
        "trt": {"provider": "trtllm", "model": "m", "base_url": f"{engines[0].url}/v1"},
        "tgi": {"provider": "tgi", "base_url": engines[1].url},
    }
    balance = router(ModelHub.from_dict({"version": 1, "models": models}))
    assert (await balance.route(REQUEST, ["trt", "tgi"])).target == "tgi"


async def test_an_open_breaker_is_skipped_and_all_open_is_an_error(engines: list[MetricsServer]) -> None:
    engines[0].set_vllm(waiting=0, running=0)
    engines[1].set_vllm(waiting=5, running=5)
    hub = vllm_hub(engines[:2], breaker={"failures": 1, "cooldown_s": 60})
    balance = router(hub)
    assert (await balance.route(REQUEST, ["vllm-0", "vllm-1"])).target == "vllm-0"
    hub["vllm-0"].breaker.record_failure()
    decision = await balance.route(REQUEST, ["vllm-0", "vllm-1"])
    assert decision.target == "vllm-1" and "breaker open: vllm-0" in decision.reason
    assert "vllm-0" not in decision.scores
    hub["vllm-1"].breaker.record_failure()
    with pytest.raises(CircuitOpen, match=r"vllm-0 \(vllm:m@http.*vllm-1 \(vllm:m@"):
        await balance.route(REQUEST, ["vllm-0", "vllm-1"])


async def test_stale_metrics_refresh_after_the_interval(engines: list[MetricsServer]) -> None:
    engines[0].set_vllm(waiting=0, running=1)
    engines[1].set_vllm(waiting=4, running=4)
    hub = vllm_hub(engines[:2])
    balance = router(hub, poll_interval_s=30)
    now = [0.0]
    balance.poller.clock = lambda: now[0]
    targets = ["vllm-0", "vllm-1"]
    assert (await balance.route(REQUEST, targets)).target == "vllm-0"
    engines[0].set_vllm(waiting=9, running=9)
    engines[1].set_vllm(waiting=0, running=0)
    now[0] = 29.0
    assert (await balance.route(REQUEST, targets)).target == "vllm-0"  # the cached readings
    assert engines[0].polls == engines[1].polls == 1
    now[0] = 31.0
    assert (await balance.route(REQUEST, targets)).target == "vllm-1"
    assert engines[0].polls == engines[1].polls == 2


async def test_concurrent_routes_poll_each_deployment_once(engines: list[MetricsServer]) -> None:
    hub = vllm_hub(engines)
    balance = router(hub)
    decisions = await asyncio.gather(*(balance.route(REQUEST, list(hub)) for _ in range(20)))
    assert [s.polls for s in engines] == [1, 1, 1]
    assert {d.target for d in decisions} == set(hub)  # idle and tied: round-robin


async def test_unreachable_metrics_are_skipped_unless_all_are(engines: list[MetricsServer]) -> None:
    models = {
        "dead": {"provider": "vllm", "model": "m", "base_url": f"http://127.0.0.1:{free_port()}/v1"},
        "busy": {"provider": "vllm", "model": "m", "base_url": f"{engines[0].url}/v1"},
    }
    engines[0].set_vllm(waiting=50, running=50, kv_cache=1.0)
    balance = router(ModelHub.from_dict({"version": 1, "models": models}))
    decision = await balance.route(REQUEST, ["dead", "busy"])
    assert decision.target == "busy" and "metrics unreachable: dead" in decision.reason
    assert (await balance.route(REQUEST, ["dead"])).target == "dead"


async def test_in_flight_calls_and_latency_steer_without_metrics() -> None:
    slow, fast = fake_model("slow", ["x"]), fake_model("fast", ["y"])
    balance = BalanceRouter({"metrics": False})
    balance.bind({"slow": slow, "fast": fast})
    slow.in_flight = 3
    decision = await balance.route(REQUEST, ["slow", "fast"])
    assert decision.target == "fast" and decision.scores == {"slow": 0.0, "fast": 1.0}
    slow.in_flight, slow.latency_ewma_s, fast.latency_ewma_s = 0, 2.0, 0.5
    decision = await balance.route(REQUEST, ["slow", "fast"])
    assert decision.target == "fast" and "latency 0.5s" in decision.reason
    assert decision.scores == {"slow": 0.5, "fast": 0.875}
    balance = BalanceRouter({"metrics": False, "weights": {"latency": 0}})  # latency ignored: a tie
    balance.bind({"slow": slow, "fast": fast})
    assert {(await balance.route(REQUEST, ["slow", "fast"])).target for _ in range(2)} == {"slow", "fast"}


async def test_metrics_urls_option_and_unknown_targets(engines: list[MetricsServer]) -> None:
    engines[0].set_tgi(queue=7, batch=7)
    engines[1].set_tgi(queue=0, batch=0)
    urls = {"a": f"{engines[0].url}/metrics", "b": f"{engines[1].url}/metrics"}
    balance = BalanceRouter({"metrics_urls": urls})
    assert (await balance.route(REQUEST, ["a", "b", "c"])).target in {"b", "c"}
    with pytest.raises(GraphError):
        await balance.route(REQUEST, [])


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"weights": {"latency": -1}}, "options.weights.latency"),
        ({"weights": {"speed": 1}}, "options.weights.speed"),
        ({"poll_interval_s": 0}, "options.poll_interval_s"),
        ({"metrics_urls": ["x"]}, "options.metrics_urls"),
    ],
)
def test_option_errors_name_the_path(options: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        BalanceRouter(options)
    assert caught.value.path == path


async def test_balance_in_a_graph_records_reason_and_scores(engines: list[MetricsServer]) -> None:
    engines[0].set_vllm(waiting=3, running=3)
    engines[1].set_vllm(waiting=0, running=0)
    fake = {"provider": "fake", "options": {"responses": ["ok"]}}
    config = {
        "version": 1,
        "models": {"a": fake, "b": fake},
        "nodes": {
            "ask": {
                "kind": "agent",
                "router": "balance",
                "router_options": {
                    "metrics_urls": {m: f"{s.url}/metrics" for m, s in zip("ab", engines[:2], strict=True)}
                },
                "models": ["a", "b"],
            }
        },
        "edges": [["START", "ask"], ["ask", "END"]],
    }
    result = await compile_config(config).arun("hello")
    route = next(d for d in result.decisions if d["type"] == "route")
    assert route["target"] == "b" and route["scores"]["b"] > route["scores"]["a"]
    assert "queued 0" in route["reason"]
    assert result.trace[0]["decisions"][0] == route
