"""ModelSpec and config-file validation: every error names its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionsdk.config.file import load_config, parse_config
from fusionsdk.config.models import ModelSpec, Prices
from fusionsdk.errors import ConfigError


def config(**models: dict[str, object]) -> dict[str, object]:
    return {"version": 1, "models": models}


def test_issue_example_config_parses() -> None:
    cfg = parse_config(
        config(
            smol={"provider": "llamacpp", "model": "smollm2-135m-instruct"},
            gpt4o={"provider": "litellm", "model": "openai/gpt-4o", "api_key_env": "OPENAI_API_KEY"},
            tgi={"provider": "tgi", "base_url": "http://127.0.0.1:8080/"},
        )
    )
    assert cfg.models["smol"].name == "smol"
    assert cfg.models["tgi"].base_url == "http://127.0.0.1:8080"
    assert cfg.models["gpt4o"].deployment == "litellm:openai/gpt-4o"


@pytest.mark.parametrize(
    ("spec", "path", "fragment"),
    [
        ({"provider": "tgi", "base_url": "file:///etc/passwd"}, "models.m.base_url", "http://"),
        ({"provider": "tgi", "base_url": "ftp://host"}, "models.m.base_url", "http://"),
        ({"provider": "tgi", "base_url": "http://user:pw@host"}, "models.m.base_url", "credentials"),
        ({"provider": "x", "api_key_env": "sk-live-123"}, "models.m.api_key_env", "NAME"),
        ({"provider": "x", "timeout_s": 0}, "models.m.timeout_s", "greater than 0"),
        ({"provider": "x", "max_concurrency": 0}, "models.m.max_concurrency", ""),
        ({"provider": "x", "locality": "moon"}, "models.m.locality", "local"),
        ({"provider": "x", "temprature": 1}, "models.m.temprature", "unknown field"),
        ({"provider": "x", "retry": {"attempts": 0}}, "models.m.retry.attempts", ""),
        ({"provider": "x", "prices": {"input_usd_per_mtok": -1}}, "models.m.prices.input_usd_per_mtok", ""),
        ({"provider": "x", "fallbacks": ["m"]}, "models.m", "itself"),
        ({"model": "x"}, "models.m.provider", "required"),
    ],
)
def test_bad_specs_name_their_path(spec: dict[str, object], path: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config(m=spec))
    assert info.value.path == path
    assert fragment in str(info.value)


def test_unknown_fallback_lists_known_models() -> None:
    with pytest.raises(ConfigError, match=r"unknown model 'gpt5' \(known: a, b\)") as info:
        parse_config(config(a={"provider": "x", "fallbacks": ["b", "gpt5"]}, b={"provider": "x"}))
    assert info.value.path == "models.a.fallbacks[1]"


def test_version_is_required_and_checked() -> None:
    with pytest.raises(ConfigError, match="version"):
        parse_config({"models": {}})
    with pytest.raises(ConfigError, match="version"):
        parse_config({"version": 2, "models": {}})


def test_top_level_must_be_mapping() -> None:
    with pytest.raises(ConfigError, match="mapping"):
        parse_config(["models"])


def test_bad_model_name() -> None:
    with pytest.raises(ConfigError, match="not a valid model name"):
        ModelSpec(name="a b", provider="x")


def test_prices_cost() -> None:
    assert Prices(input_usd_per_mtok=1, output_usd_per_mtok=2).cost(1_000_000, 500_000) == 2.0


def test_spec_repr_holds_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANARY_KEY", "sk-canary-spec")
    spec = ModelSpec(name="m", provider="litellm", api_key_env="CANARY_KEY")
    assert "sk-canary-spec" not in repr(spec) and "sk-canary-spec" not in spec.model_dump_json()


def test_load_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nmodels: {a: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml at line \d+"):
        load_config(bad)


def test_load_config_uses_safe_loader(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("version: 1\nmodels: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError):
        load_config(evil)


def test_load_config_ok(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\nmodels:\n  smol: {provider: llamacpp, model: smollm2-135m-instruct}\n")
    assert load_config(good).models["smol"].provider == "llamacpp"
