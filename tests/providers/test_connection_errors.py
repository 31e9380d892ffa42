"""A server that cannot be reached reads in plain words with its URL, whichever provider talks to
it (issue 15, item 5): "cannot connect to http://127.0.0.1:9/v1: connection refused", not
"InternalServerError: OpenAIException - Connection error."."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from fusionsdk.cli.app import main
from fusionsdk.config.file import parse_config
from fusionsdk.errors import ProviderUnavailable
from fusionsdk.providers.http import map_transport_error, unreachable_reason
from fusionsdk.providers.hub import ModelHub
from fusionsdk.providers.litellm_boundary import connection_failure, map_litellm_error


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hub(**spec: Any) -> ModelHub:
    return ModelHub(parse_config({"version": 1, "models": {"m": {"retry": {"attempts": 1}, **spec}}}))


@pytest.mark.parametrize(
    ("provider", "path", "model"),
    [
        ("openai_compatible", "/v1", "m"),
        ("vllm", "/v1", "m"),
        ("tgi", "", "m"),
        ("triton", "", "m"),
    ],
)
async def test_a_refused_connection_names_the_url(provider: str, path: str, model: str) -> None:
    base = f"http://127.0.0.1:{closed_port()}{path}"
    with pytest.raises(ProviderUnavailable) as caught:
        await hub(provider=provider, base_url=base, model=model)["m"].acomplete("hi")
    message = caught.value.message
    assert message.startswith(f"cannot connect to {base}") and message.endswith(": connection refused")
    assert "InternalServerError" not in str(caught.value) and "OpenAIException" not in str(caught.value)


def test_ask_prints_one_plain_line(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    base = f"http://127.0.0.1:{closed_port()}/v1"
    config = tmp_path / "m.yaml"
    config.write_text(
        f"version: 1\nmodels:\n  m: {{provider: openai_compatible, base_url: '{base}', model: m, "
        "retry: {attempts: 1}}\n"
    )
    assert main(["ask", "--config", str(config), "m", "hi"]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot connect to {base}: connection refused" in err


def test_boundary_mapping_reads_the_cause_chain() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connect call failed")
        except ConnectionRefusedError as inner:
            raise httpx.ConnectError("All connection attempts failed") from inner
    except httpx.ConnectError as exc:
        error = exc
    assert unreachable_reason(error) == "connection refused"
    mapped = map_litellm_error(error, "http://10.0.0.1:8000/v1")
    assert isinstance(mapped, ProviderUnavailable)
    assert mapped.message == "cannot connect to http://10.0.0.1:8000/v1: connection refused"
    assert map_transport_error(error).message == "cannot connect to the server: connection refused"
    assert connection_failure(ValueError("bad json")) is None
    lookup = httpx.ConnectError("no host")
    lookup.__cause__ = socket.gaierror(-2, "Name or service not known")
    assert connection_failure(lookup, "http://nowhere:1").message == (  # type: ignore[union-attr]
        "cannot connect to http://nowhere:1: host not found"
    )
