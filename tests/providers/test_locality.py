"""Locality fails closed: only a loopback, private or link-local host, a Unix socket or an
in-process provider is local; any other host is hosted for the privacy gate and for cost.

No test here sends traffic anywhere but loopback or a Unix socket: the remote hosts below are
only classified, and the one call at a remote host is answered by a patched ``httpx`` client.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fusionsdk.config.models import ModelSpec
from fusionsdk.errors import ConfigError, PrivacyViolation
from fusionsdk.providers.hub import ModelHub
from fusionsdk.providers.locality import decide_locality, host_locality
from tests.servers.base import BackgroundServer
from tests.servers.tgi import TGIServer

REMOTE_TGI = "https://tgi.example.com"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080", "loopback"),
        ("http://127.3.4.5", "loopback"),
        ("http://localhost:8000/v1", "loopback"),
        ("http://gpu.localhost", "loopback"),
        ("http://[::1]:8080", "loopback"),
        ("http://10.1.2.3:8000/v1", "private"),
        ("http://172.16.0.5", "private"),
        ("http://192.168.1.20:8080", "private"),
        ("http://[fd12:3456::1]", "private"),
        ("http://[::ffff:10.0.0.1]", "private"),
        ("http://169.254.3.4", "link-local"),
        ("http://[fe80::1]", "link-local"),
        ("http://0.0.0.0:8000", "this machine"),
        ("http+unix://%2Frun%2Ftgi.sock", "Unix socket /run/tgi.sock"),
    ],
)
def test_local_hosts(url: str, reason: str) -> None:
    decision = host_locality(url)
    assert decision.locality == "local" and reason in decision.reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (REMOTE_TGI, "host name"),
        ("https://xyz.endpoints.huggingface.cloud", "host name"),
        ("http://my-vllm:8000/v1", "host name"),  # a bare name is never resolved: hosted
        ("http://8.8.8.8", "public address"),
        ("http://172.32.0.1", "public address"),  # just outside 172.16/12
        ("http://100.64.0.1", "public address"),  # carrier-grade NAT is not yours
        ("http://[2606:4700::1111]", "public address"),
        ("http://[::ffff:8.8.8.8]", "public address"),
    ],
)
def test_every_other_host_is_hosted(url: str, reason: str) -> None:
    decision = host_locality(url)
    assert decision.locality == "hosted" and reason in decision.reason


def spec(**fields: Any) -> ModelSpec:
    return ModelSpec(name="m", **fields)


def test_the_spec_decides_when_it_says_so() -> None:
    remote = spec(provider="tgi", base_url=REMOTE_TGI, locality="local")
    assert decide_locality(remote, default="hosted", by_host=True).reason == "config says local"
    near = spec(provider="tgi", base_url="http://127.0.0.1:1", locality="hosted")
    assert decide_locality(near, default="local", by_host=True).locality == "hosted"


def test_decisions_worked_out_once_still_follow_each_spec() -> None:
    decided = [
        decide_locality(
            spec(provider="tgi", base_url=url, locality=setting), default="local", by_host=by_host
        )
        for _ in range(2)  # the second round is answered from the cache: the same answers
        for url in (REMOTE_TGI, "http://127.0.0.1:1")
        for setting in ("auto", "hosted")
        for by_host in (True, False)
    ]
    first, second = decided[:8], decided[8:]
    assert first == second
    assert [d.locality for d in first] == [
        "hosted",
        "local",
        "hosted",
        "hosted",
        "local",
        "local",
        "hosted",
        "hosted",
    ]
    assert host_locality(REMOTE_TGI) is host_locality(REMOTE_TGI)


def test_bad_locality_names_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        ModelSpec(name="m", provider="tgi", locality="nearby")  # type: ignore[arg-type]
    assert caught.value.path == "models.m.locality"


@pytest.mark.parametrize(
    ("model", "locality"),
    [
        ({"provider": "tgi", "base_url": REMOTE_TGI}, "hosted"),
        ({"provider": "vllm", "base_url": "https://vllm.example.com/v1"}, "hosted"),
        ({"provider": "openai_compatible", "base_url": "https://api.example.com/v1"}, "hosted"),
        ({"provider": "triton", "base_url": "https://triton.example.com"}, "hosted"),
        ({"provider": "vllm", "base_url": "http://127.0.0.1:8000/v1"}, "local"),
        ({"provider": "tgi", "base_url": "http://10.0.0.7:8080"}, "local"),
        ({"provider": "fake"}, "local"),
        ({"provider": "llamacpp", "model": "smollm2-135m-instruct"}, "local"),
        ({"provider": "litellm", "model": "openai/gpt-4o"}, "hosted"),
        # A LiteLLM route at loopback may be a gateway to a hosted API: only the config says local.
        ({"provider": "litellm", "model": "openai/x", "base_url": "http://127.0.0.1:4000"}, "hosted"),
    ],
)
def test_providers_decide_by_host_or_by_what_they_are(model: dict[str, Any], locality: str) -> None:
    hub = ModelHub.from_dict({"version": 1, "models": {"m": model}})
    assert hub["m"].locality == locality


def test_a_remote_host_is_not_free() -> None:
    hub = ModelHub.from_dict({"version": 1, "models": {"m": {"provider": "tgi", "base_url": REMOTE_TGI}}})
    from fusionsdk.providers.base import Usage

    assert hub["m"].provider.cost_usd(Usage(1000, 1000)) is None  # unknown, never $0


class NoNetwork:
    """Every DNS look-up and socket connection fails the test; ``httpx`` sends are recorded and
    answered with ``reply`` (None: fail the test)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, reply: dict[str, Any] | None = None) -> None:
        self.sent: list[httpx.Request] = []
        self.resolved: list[object] = []
        self.reply = reply

        def resolve(*args: object, **kwargs: object) -> object:
            self.resolved.append(args[0])
            raise AssertionError(f"DNS look-up of {args[0]!r}")

        async def send(client: httpx.AsyncClient, request: httpx.Request, **kwargs: object) -> httpx.Response:
            self.sent.append(request)
            if self.reply is None:
                raise AssertionError(f"request sent to {request.url}")
            return httpx.Response(200, json=self.reply, request=request)

        monkeypatch.setattr(socket, "getaddrinfo", resolve)
        monkeypatch.setattr(httpx.AsyncClient, "send", send)


TGI_REPLY = {
    "generated_text": "ok",
    "details": {"finish_reason": "eos_token", "generated_tokens": 1, "tokens": []},
}
SENSITIVE = {"sensitive": True}


async def test_a_remote_tgi_model_is_refused_a_sensitive_request_before_any_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = ModelHub.from_dict({"version": 1, "models": {"tgi": {"provider": "tgi", "base_url": REMOTE_TGI}}})
    network = NoNetwork(monkeypatch)
    with pytest.raises(PrivacyViolation, match="kept from: tgi"):
        await hub["tgi"].acomplete("How many eggs are left?", metadata=SENSITIVE)
    with pytest.raises(PrivacyViolation):
        await hub["tgi"].acomplete("Mail jane.doe@example.com the totals")  # detected, not flagged
    with pytest.raises(PrivacyViolation):
        async for _ in hub["tgi"].astream("How many eggs are left?", metadata=SENSITIVE):
            pass
    assert network.sent == [] and network.resolved == []
    await hub.aclose()


async def test_locality_local_on_a_remote_tgi_model_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    model = {"provider": "tgi", "base_url": REMOTE_TGI, "locality": "local"}
    hub = ModelHub.from_dict({"version": 1, "models": {"tgi": model}})
    network = NoNetwork(monkeypatch, reply=TGI_REPLY)
    completion = await hub["tgi"].acomplete("How many eggs are left?", metadata=SENSITIVE)
    assert completion.text == "ok" and completion.locality == "local" and completion.cost_usd == 0.0
    assert [str(r.url) for r in network.sent] == [f"{REMOTE_TGI}/generate"]
    await hub.aclose()


@pytest.fixture
def socket_path() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:  # short: Unix socket paths are limited to ~100
        yield str(Path(folder) / "tgi.sock")


async def test_tgi_over_a_unix_socket_is_local_and_answers(tgi_server: TGIServer, socket_path: str) -> None:
    tgi_server.reset()
    with BackgroundServer(tgi_server.app, uds=socket_path) as server:
        hub = ModelHub.from_dict(
            {"version": 1, "models": {"tgi": {"provider": "tgi", "base_url": server.url}}}
        )
        assert hub["tgi"].locality == "local"
        assert (await hub["tgi"].provider.reachability()).ok
        completion = await hub["tgi"].acomplete("Hello", metadata=SENSITIVE)
        assert completion.text and completion.cost_usd == 0.0
        await hub.aclose()


def test_a_unix_socket_for_a_provider_that_cannot_use_one_names_its_path() -> None:
    model = {"provider": "vllm", "base_url": "http+unix://%2Frun%2Fvllm.sock/v1"}
    with pytest.raises(ConfigError) as caught:
        ModelHub.from_dict({"version": 1, "models": {"v": model}})
    assert caught.value.path == "models.v.base_url"
