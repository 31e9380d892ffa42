"""Secret hygiene: an API key read from ``api_key_env`` never shows up in errors, reprs,
completions, logs or CLI output, whatever the failure (a server echoing it back included)."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import fusionsdk
from fusionsdk.cli.app import main as cli
from fusionsdk.errors import (
    AllModelsFailed,
    AuthError,
    FusionError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    SecretMissing,
)
from fusionsdk.providers.hub import ModelHub
from fusionsdk.providers.model import Model
from tests.servers.base import free_port
from tests.servers.faults import EchoKey, FaultServer, Hang, Step
from tests.servers.tgi import TGIServer
from tests.servers.triton import TritonServer

pytestmark = pytest.mark.usefixtures("warm_litellm")

ENV = "FUSIONSDK_TEST_CANARY_KEY"
LOGGERS = ("fusionsdk", "LiteLLM", "httpx", "httpcore", "openai")
FAST = {"retry": {"attempts": 2, "initial_wait_s": 0, "max_wait_s": 0.01, "jitter_s": 0}, "timeout_s": 10}


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh fake key in ``$FUSIONSDK_TEST_CANARY_KEY``."""
    value = f"sk-canary-{secrets.token_hex(12)}"
    monkeypatch.setenv(ENV, value)
    return value


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture everything the SDK, LiteLLM and the HTTP clients log, at DEBUG."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def spec(base_url: str, provider: str = "openai_compatible", **extra: Any) -> dict[str, Any]:
    return {"provider": provider, "base_url": base_url, "model": "m", "api_key_env": ENV, **FAST, **extra}


def make_model(base_url: str, provider: str = "openai_compatible", **extra: Any) -> Model:
    return ModelHub.from_dict({"version": 1, "models": {"m": spec(base_url, provider, **extra)}})["m"]


def assert_clean(key: str, *texts: object) -> None:
    """None of ``texts`` contains ``key`` (nor its distinctive half)."""
    for text in texts:
        rendered = text if isinstance(text, str) else repr(text)
        assert key not in rendered, f"the key leaked into: {rendered[:300]}"
        assert key[-12:] not in rendered, f"part of the key leaked into: {rendered[:300]}"


def assert_error_clean(key: str, err: BaseException) -> None:
    assert type(err).__module__.startswith("fusionsdk")
    assert_clean(key, str(err), repr(err), *map(str, err.args))
    for inner in getattr(err, "errors", ()):
        assert_clean(key, str(inner), repr(inner), inner.message)
    if isinstance(err, ProviderError):
        assert_clean(key, err.message, str(err.deployment))


def assert_logs_clean(key: str, caplog: pytest.LogCaptureFixture) -> None:
    assert_clean(key, caplog.text)
    for record in caplog.records:
        assert_clean(key, record.getMessage())


# -- the key reaches the server and nothing else ---------------------------------------------


async def test_the_key_is_sent_as_a_bearer_token(faults: FaultServer, canary: str, logs: Any) -> None:
    model = make_model(faults.base_url)
    completion = await model.acomplete("hi")
    assert faults.chat_requests()[-1].headers["authorization"] == f"Bearer {canary}"
    assert_clean(canary, json.dumps(completion.as_dict()), repr(completion), repr(model), repr(model.spec))
    assert_clean(canary, model.spec.model_dump_json(), str(model.spec.deployment))
    assert_logs_clean(canary, logs)


SERVER_FAULTS: dict[str, list[Step]] = {
    "401-echoing-the-key": [EchoKey(401)],
    "500-echoing-the-key": [EchoKey(500)] * 2,
    "403-echoing-the-key": [EchoKey(403)],
    "hang": [Hang(2)] * 2,
}


@pytest.mark.parametrize("steps", SERVER_FAULTS.values(), ids=SERVER_FAULTS.keys())
@pytest.mark.parametrize("provider", ["openai_compatible", "vllm"])
@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
async def test_failures_never_show_the_key(
    faults: FaultServer, canary: str, logs: Any, steps: list[Step], provider: str, streaming: bool
) -> None:
    faults.script("m", steps)
    model = make_model(faults.base_url, provider, timeout_s=0.3 if isinstance(steps[0], Hang) else 10)
    with pytest.raises(FusionError) as caught:
        if streaming:
            async for _ in model.astream("hi"):
                pass
        else:
            await model.acomplete("hi")
    assert canary in json.dumps([r.headers for r in faults.chat_requests()])  # the key was sent
    assert_error_clean(canary, caught.value)
    assert_logs_clean(canary, logs)
    if isinstance(steps[0], EchoKey) and steps[0].status == 401:
        assert isinstance(caught.value, AuthError)
    if isinstance(steps[0], Hang):
        assert isinstance(caught.value, ProviderTimeout)


async def test_connection_refused_never_shows_the_key(canary: str, logs: Any) -> None:
    model = make_model(f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ProviderUnavailable) as caught:
        await model.acomplete("hi")
    assert_error_clean(canary, caught.value)
    assert_logs_clean(canary, logs)


async def test_all_models_failed_never_shows_the_key(faults: FaultServer, canary: str, logs: Any) -> None:
    models = {
        "a": {**spec(faults.base_url), "model": "a", "fallbacks": ["b"]},
        "b": {**spec(faults.base_url), "model": "b"},
    }
    faults.script("a", [EchoKey(500)] * 2)
    faults.script("b", [EchoKey(401)])
    hub = fusionsdk.ModelHub.from_dict({"version": 1, "models": models})
    with pytest.raises(AllModelsFailed) as caught:
        await hub["a"].acomplete("hi")
    assert_error_clean(canary, caught.value)
    assert_logs_clean(canary, logs)


async def test_native_http_providers_never_show_the_key(
    tgi: TGIServer, triton: TritonServer, canary: str, logs: Any
) -> None:
    tgi.fail(401, f"invalid token {canary}", "authentication")
    triton.fail(500, f"backend rejected Bearer {canary}")
    triton.fail(503, f"still rejecting {canary}")
    for model in (make_model(tgi.url, "tgi"), make_model(triton.url, "triton", model="ensemble")):
        with pytest.raises(ProviderError) as caught:
            await model.acomplete("hi")
        assert_error_clean(canary, caught.value)
    assert tgi.requests()[-1].headers["authorization"] == f"Bearer {canary}"
    assert_logs_clean(canary, logs)


async def test_reachability_never_shows_the_key(faults: FaultServer, canary: str) -> None:
    hub = fusionsdk.ModelHub.from_dict({"version": 1, "models": {"m": spec(faults.base_url)}})
    reach = await hub.reachability()
    assert reach["m"].ok
    assert_clean(canary, repr(reach))


# -- a missing key ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   "], ids=["unset", "empty", "blank"])
@pytest.mark.parametrize("provider", ["openai_compatible", "tgi", "triton"])
async def test_missing_key_names_the_variable(
    faults: FaultServer, monkeypatch: pytest.MonkeyPatch, value: str | None, provider: str
) -> None:
    if value is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, value)
    model = make_model(faults.base_url, provider)
    with pytest.raises(SecretMissing) as caught:
        await model.acomplete("hi")
    err = caught.value
    assert err.env_var == ENV and ENV in str(err) and err.model == "m"
    assert faults.requests() == []  # nothing was sent without a key
    reach = await fusionsdk.ModelHub.from_dict(
        {"version": 1, "models": {"m": spec(faults.base_url, provider)}}
    ).reachability()
    assert reach["m"].status == "missing-key" and ENV in reach["m"].detail


def test_secret_missing_carries_no_value() -> None:
    err = SecretMissing("OPENAI_API_KEY", model="gpt")
    assert str(err) == "model 'gpt' needs an API key: set the environment variable OPENAI_API_KEY"


# -- the CLI ---------------------------------------------------------------------------------


def write_config(tmp_path: Path, base_url: str, **extra: Any) -> Path:
    path = tmp_path / "fusion.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "models": {"m": spec(base_url, **extra)}}))
    return path


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_cli_errors_never_show_the_key(
    faults: FaultServer,
    canary: str,
    logs: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    debug: bool,
    stream: bool,
) -> None:
    faults.script("m", [EchoKey(401)])
    config = write_config(tmp_path, faults.base_url)
    args = [*(["--debug"] if debug else []), "ask", "m", "hi", "--config", str(config), "--json"]
    code = cli([*args, "--stream"] if stream else args)
    out, err = capsys.readouterr()
    assert code == 1
    assert "AuthError" in err or "Incorrect API key" in err
    assert_clean(canary, out, err)
    assert_logs_clean(canary, logs)


def test_cli_answers_and_lists_without_the_key(
    faults: FaultServer, canary: str, logs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, faults.base_url)
    assert cli(["ask", "m", "hi", "--config", str(config), "--json"]) == 0
    assert cli(["models", "--config", str(config), "--json"]) == 0
    assert cli(["models", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    # LiteLLM's own log handler writes records below WARNING to stdout once its logger is at
    # DEBUG (as here), so pick the answer's line out of the log lines.
    answer = json.loads(next(line for line in out.splitlines() if line.startswith('{"text"')))
    assert answer["text"] == "Hello from the fault server."
    assert_clean(canary, out, err)
    assert_logs_clean(canary, logs)


def test_cli_missing_key_names_the_variable(
    faults: FaultServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    config = write_config(tmp_path, faults.base_url)
    assert cli(["ask", "m", "hi", "--config", str(config)]) == 1
    assert cli(["models", "--config", str(config), "--json"]) == 0
    out, err = capsys.readouterr()
    assert ENV in err
    assert json.loads(out)[0]["status"] == "missing-key"


def test_child_logger_records_are_scrubbed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A key logged on a child logger (not the one the filter sits on) is scrubbed too."""
    import logging

    from fusionsdk.config.models import ModelSpec
    from fusionsdk.providers.secrets import api_key

    monkeypatch.setenv("CHILD_CANARY_KEY", "sk-canary-child-logger")
    api_key(ModelSpec(name="m", provider="fake", api_key_env="CHILD_CANARY_KEY"))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("openai._base_client").debug("sending with %s", "sk-canary-child-logger")
        logging.getLogger("fusionsdk.graph.compiler").warning("oops sk-canary-child-logger")
    assert "sk-canary-child-logger" not in caplog.text and caplog.text.count("***") == 2
