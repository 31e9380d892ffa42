"""Small pieces: the in-process sliding windows, key hashing, the serve command's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionsdk.cli.app import main
from fusionsdk.config.file import parse_config
from fusionsdk.errors import ConfigError
from fusionsdk.serve.auth import KeyRing, hash_key
from fusionsdk.serve.errors import ApiError
from fusionsdk.serve.state.base import KeyLimits
from fusionsdk.serve.state.memory import MemoryState


async def test_memory_state_windows_slide() -> None:
    now = [0.0]
    state = MemoryState(clock=lambda: now[0])
    limits = KeyLimits("k", budget_usd=1.0, requests_per_minute=2, tokens_per_minute=100)
    assert (await state.admit(limits)).allowed and (await state.admit(limits)).allowed
    refused = await state.admit(limits)
    assert not refused.allowed and refused.reason == "requests" and refused.retry_after_s == 60
    now[0] = 60.5
    assert (await state.admit(limits)).allowed
    await state.record_usage(limits, 150, 0.4)
    now[0] = 200
    assert (await state.admit(limits)).allowed  # tokens and requests slid out; $0.4 of $1 spent
    await state.record_usage(limits, 0, 0.7)
    assert (await state.admit(limits)).reason == "budget"
    assert await state.spent_usd("k") == pytest.approx(1.1)


def test_keys_are_kept_as_digests() -> None:
    ring = KeyRing(
        parse_config(
            {"version": 1, "serve": {"keys": [{"name": "a", "sha256": hash_key("sk-a"), "models": ["m"]}]}}
        ).serve.keys,
        environ={},
    )
    assert ring.authenticate("Bearer sk-a").name == "a"
    with pytest.raises(ApiError) as refused:
        ring.authenticate("Bearer sk-b")
    assert refused.value.status == 401
    with pytest.raises(ApiError):
        ring.authenticate("Bearer sk-a").check_model("other")
    with pytest.raises(ConfigError, match=r"serve.keys\[0\].sha256"):
        parse_config({"version": 1, "serve": {"keys": [{"name": "a", "sha256": "sk-a-in-clear"}]}})


def test_serve_reports_bad_configs_before_listening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    (tmp_path / "a.yaml").write_text("version: 1\nstate: {redis: 'redis://127.0.0.1:1/0'}\n")
    (tmp_path / "b.yaml").write_text("version: 1\nstate: {redis: 'redis://127.0.0.1:1/0'}\n")
    assert main(["serve", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]) == 2
    assert "only one config may have a 'state:' section" in capsys.readouterr().err


def test_cors_is_off_unless_origins_are_listed(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from fusionsdk.serve.app import create_app

    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    (tmp_path / "closed.yaml").write_text("version: 1\nmodels: {echo: {provider: fake}}\n")
    with TestClient(create_app([tmp_path / "closed.yaml"], environ={})) as client:
        reply = client.options("/v1/chat/completions", headers=preflight)
        assert "access-control-allow-origin" not in reply.headers
    (tmp_path / "open.yaml").write_text(
        "version: 1\nmodels: {echo: {provider: fake}}\nserve: {cors_origins: ['https://app.example']}\n"
    )
    with TestClient(create_app([tmp_path / "open.yaml"], environ={})) as client:
        reply = client.options("/v1/chat/completions", headers=preflight)
        assert reply.headers["access-control-allow-origin"] == "https://app.example"


def test_unexpected_failures_are_a_bare_500(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from fusionsdk.serve.app import create_app

    (tmp_path / "c.yaml").write_text("version: 1\nmodels: {echo: {provider: fake}}\n")
    app = create_app([tmp_path / "c.yaml"], environ={})

    async def broken() -> None:
        raise RuntimeError("secret sk-live-0123456789abcdef in a traceback")

    app.state.server.state.refresh = broken
    with TestClient(app) as client:
        reply = client.post(
            "/v1/chat/completions", json={"model": "echo", "messages": [{"role": "user", "content": "x"}]}
        )
    assert reply.status_code == 500 and reply.json()["error"]["message"] == "internal server error"
