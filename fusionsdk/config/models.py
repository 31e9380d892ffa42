"""The validated description of one model deployment: :class:`ModelSpec`."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fusionsdk.config.urls import check_base_url
from fusionsdk.config.validation import config_error, in_config

__all__ = ["BreakerSpec", "Locality", "LocalitySetting", "ModelSpec", "Prices", "RetrySpec"]

#: Where a model runs, once decided.
Locality = Literal["local", "hosted"]
#: What a spec may say: a locality, or ``auto`` to let the host of ``base_url`` decide.
LocalitySetting = Literal["local", "hosted", "auto"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prices(_Strict):
    """List prices in USD per million tokens; override LiteLLM's price map when given."""

    input_usd_per_mtok: float = Field(0.0, ge=0)
    output_usd_per_mtok: float = Field(0.0, ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD cost of a call with these token counts."""
        return (prompt_tokens * self.input_usd_per_mtok + completion_tokens * self.output_usd_per_mtok) / 1e6


class RetrySpec(_Strict):
    """Retries of retryable failures (rate limits, timeouts, 5xx, dropped connections).

    Waits grow exponentially from ``initial_wait_s`` up to ``max_wait_s`` with random jitter; a
    server's ``Retry-After`` is honoured (capped at ``max_wait_s``).
    """

    attempts: int = Field(3, ge=1, le=20, description="Total attempts, the first one included.")
    prefer_fallback: bool = Field(
        True,
        description="A retryable failure moves at once to a healthy fallback (when the model has "
        "one) instead of retrying the deployment that just failed.",
    )
    initial_wait_s: float = Field(0.5, ge=0)
    max_wait_s: float = Field(20.0, ge=0)
    jitter_s: float = Field(0.25, ge=0)


class BreakerSpec(_Strict):
    """A circuit breaker per deployment: open after ``failures`` failures within ``window_s``."""

    failures: int = Field(5, ge=1)
    window_s: float = Field(30.0, gt=0)
    cooldown_s: float = Field(15.0, gt=0, description="Open time before a half-open probe.")


class ModelSpec(_Strict):
    """One model deployment as configs declare it.

    Attributes:
        name: The name graphs and the CLI use (the key under ``models:``).
        provider: A ``fusionsdk.providers`` plugin name (``litellm``, ``tgi``, ``llamacpp``, ...).
        model: The provider's model id (``openai/gpt-4o``, ``smollm2-135m-instruct``).
        base_url: HTTP(S) endpoint of a served model, or ``http+unix://`` with the
            percent-encoded path of a Unix socket (``http+unix://%2Frun%2Ftgi.sock``) for
            providers that support one.
        api_key_env: Name of the environment variable holding the API key (never the key).
        locality: ``local`` (data stays on your machines), ``hosted``, or ``auto`` (the default):
            local only for a loopback, private or link-local ``base_url`` host, a Unix socket or
            an in-process provider; any other host is hosted (see
            :mod:`fusionsdk.providers.locality`).
        context_window: Tokens the model accepts, prompt and output together.
        prices: USD per million tokens.
        tags: Free labels routers can match.
        max_concurrency: Calls in flight at once for this model.
        timeout_s: Per-attempt timeout.
        fallbacks: Names of other models to try, in order, when this one fails.
        retry: Retry policy.
        breaker: Circuit breaker policy.
        options: Provider-specific options, validated by the provider's ``Options``.

    Example:
        >>> ModelSpec(name="tgi", provider="tgi", base_url="http://127.0.0.1:8080").locality
        'auto'
    """

    name: str
    provider: str
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    locality: LocalitySetting = "auto"
    context_window: int | None = Field(None, gt=0)
    prices: Prices | None = None
    tags: tuple[str, ...] = ()
    max_concurrency: int = Field(64, ge=1)
    timeout_s: float = Field(120.0, gt=0)
    fallbacks: tuple[str, ...] = ()
    retry: RetrySpec = RetrySpec()
    breaker: BreakerSpec = BreakerSpec()
    options: dict[str, Any] = Field(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        # Built in code or nested in a config: either way a ConfigError naming models.<name>.
        try:
            super().__init__(**data)
        except ValidationError as err:
            if in_config():  # the whole config reports it, with its other problems
                raise
            name = data.get("name")
            raise config_error(err, f"models.{name}" if isinstance(name, str) else "", type(self)) from None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"'{value}' is not a valid model name (letters, digits, _ . -)")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        return None if value is None else check_base_url(value, allow_unix=True)

    @field_validator("api_key_env")
    @classmethod
    def _check_env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_VAR.match(value):
            raise ValueError("must be the NAME of an environment variable, not a key")
        return value

    @model_validator(mode="after")
    def _no_self_fallback(self) -> ModelSpec:
        if self.name in self.fallbacks:
            raise ValueError(f"model '{self.name}' lists itself as a fallback")
        return self

    @property
    def deployment(self) -> str:
        """A secret-free label of the endpoint: ``provider:model@base_url``."""
        label = f"{self.provider}:{self.model or self.name}"
        return f"{label}@{self.base_url}" if self.base_url else label
