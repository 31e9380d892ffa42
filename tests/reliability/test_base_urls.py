"""``base_url`` is parsed strictly, for models and embedders alike: hostile values are a
ConfigError naming the field at validation, never a retryable outage later, and link-local and
cloud-metadata addresses are refused unless ``FUSIONSDK_ALLOW_LINK_LOCAL_URLS=1``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fusionsdk.cli.app import main as cli
from fusionsdk.config.models import ModelSpec
from fusionsdk.config.urls import check_base_url
from fusionsdk.errors import ConfigError

HOSTILE = [
    "http://127.0.0.1:8080\n/v1",
    "http://127.0.0.1:8080/v1\r\nX-Injected: 1",
    "http://exa\x00mple.com",
    "http://exa\x7fmple.com",
    "http://example.com\u200b/v1",
    "http://exam ple.com",
    " http://example.com",
    "http://example.com:99999",
    "http://example.com:0",
    "http://example.com:-1",
    "http://example.com:80a",
    "http://example.com:",
    "http://user:pass@example.com",
    "http://@example.com",
    "http://-example.com",
    "http://example-.com",
    "http://exa_mple..com",
    "http://" + "a" * 64 + ".com",
    "http://" + "a." * 130 + "com",
    "http://xn--.com",
    "http://\u2488.com",
    "http://[zz::1]/",
    "http://[::1",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://0251.0376.0251.0376/",
    "http://169.254.43518/",
    "http://169.254.169.254/latest/meta-data",
    "http://[fe80::1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://metadata.google.internal/computeMetadata/v1",
    "http://100.100.100.200/",
    "http://[fd00:ec2::254]/",
    "http://224.0.0.1/",
    "ftp://example.com",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "http://example.com/v1?key=x",
    "http://example.com/v1#frag",
    "//example.com",
    "http:///v1",
    "",
    "http://" + "a" * 3000,
]
FINE = {
    "http://127.0.0.1:8080/v1/": "http://127.0.0.1:8080/v1",
    "https://api.openai.com/v1": "https://api.openai.com/v1",
    "http://[::1]:8000": "http://[::1]:8000",
    "http://localhost:8000": "http://localhost:8000",
    "http://tgi_server:80": "http://tgi_server:80",
    "http://10.1.2.3:8000/v1": "http://10.1.2.3:8000/v1",
    "http://BÜCHER.example/": "http://xn--bcher-kva.example",
    "HTTPS://Example.COM:443/V1": "https://example.com:443/V1",
}


@pytest.mark.parametrize("url", HOSTILE, ids=[ascii(u)[:40] for u in HOSTILE])
def test_hostile_model_urls_are_config_errors_naming_the_field(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ModelSpec(name="m", provider="openai_compatible", base_url=url)
    assert caught.value.path == "models.m.base_url"


@pytest.mark.parametrize("url", HOSTILE[:12] + HOSTILE[27:31], ids=lambda u: ascii(u)[:40])
def test_the_embedder_follows_the_same_rules(url: str) -> None:
    from fusionsdk.memory.embedders.litellm_embedder import LiteLLMEmbedder

    with pytest.raises(ConfigError, match=r"options\.base_url"):
        LiteLLMEmbedder({"model": "openai/e", "dimension": 8, "base_url": url})


@pytest.mark.parametrize(("url", "normalised"), FINE.items())
def test_ordinary_urls_pass_normalised(url: str, normalised: str) -> None:
    assert ModelSpec(name="m", provider="openai_compatible", base_url=url).base_url == normalised


def test_link_local_addresses_can_be_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://169.254.169.254/v1"
    with pytest.raises(ConfigError, match="FUSIONSDK_ALLOW_LINK_LOCAL_URLS"):
        ModelSpec(name="m", provider="openai_compatible", base_url=url)
    monkeypatch.setenv("FUSIONSDK_ALLOW_LINK_LOCAL_URLS", "1")
    assert ModelSpec(name="m", provider="openai_compatible", base_url=url).base_url == url
    assert check_base_url("http://metadata.google.internal") == "http://metadata.google.internal"


@pytest.mark.parametrize("url", HOSTILE, ids=[ascii(u)[:40] for u in HOSTILE])
def test_the_models_command_reports_hostile_urls_without_a_traceback(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "fusion.yaml"
    config.write_text(yaml.safe_dump({"version": 1, "models": {"m": {"provider": "tgi", "base_url": url}}}))
    assert cli(["models", "--config", str(config)]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "models.m.base_url" in err


UNIX_FINE = {
    "http+unix://%2Frun%2Ftgi.sock": "http+unix://%2Frun%2Ftgi.sock",
    "http+unix://%2Frun%2Fvllm.sock/v1/": "http+unix://%2Frun%2Fvllm.sock/v1",
    "HTTP+UNIX://%2Ftmp%2Fs.sock/api": "http+unix://%2Ftmp%2Fs.sock/api",
}
UNIX_HOSTILE = [
    "http+unix:///run/tgi.sock",  # not percent-encoded: no host
    "http+unix://run%2Ftgi.sock",  # relative path
    "http+unix://%2Frun%2Ftgi.sock:8080",
    "http+unix://user:pass@%2Frun%2Ftgi.sock",
    "http+unix://%2Frun%2Ftgi.sock?x=1",
    "http+unix://%2Frun%2Ftgi.sock#f",
    "http+unix://%2Frun%00%2Ftgi.sock",
    "http+unix://%2Frun%0A%2Ftgi.sock",
    "http+unix://%2Frun%2Ftgi.sock\n/v1",
    "http+unix://%2F%FF.sock",
    "http+unix://%2F" + "a" * 200,
    "https+unix://%2Frun%2Ftgi.sock",
]


@pytest.mark.parametrize(("url", "normalised"), UNIX_FINE.items())
def test_models_accept_unix_socket_urls_strictly(url: str, normalised: str) -> None:
    assert ModelSpec(name="m", provider="tgi", base_url=url).base_url == normalised
    assert check_base_url(url, allow_unix=True) == normalised


@pytest.mark.parametrize("url", UNIX_HOSTILE, ids=lambda u: ascii(u)[:40])
def test_hostile_unix_socket_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ModelSpec(name="m", provider="tgi", base_url=url)
    assert caught.value.path == "models.m.base_url"


def test_unix_sockets_only_where_allowed() -> None:
    with pytest.raises(ValueError, match=r"http:// or https://"):
        check_base_url("http+unix://%2Frun%2Ftgi.sock")
    from fusionsdk.memory.embedders.litellm_embedder import LiteLLMEmbedder

    with pytest.raises(ConfigError, match=r"options\.base_url"):
        LiteLLMEmbedder({"model": "openai/e", "dimension": 8, "base_url": "http+unix://%2Frun%2Fe.sock"})
