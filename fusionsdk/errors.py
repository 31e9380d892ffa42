"""The fusionsdk exception tree.

Every error fusionsdk raises derives from :class:`FusionError`, so one ``except FusionError``
catches them all. Third-party errors (LiteLLM, openai, httpx, llama.cpp) are translated at the
provider boundary and never escape raw::

    FusionError
    ├── ConfigError              bad configuration; ``path`` names the offending field
    ├── PluginError              a plugin is missing, ambiguous, broken or incompatible
    ├── ProviderError            a model call failed; ``model`` and ``deployment`` say where
    │   ├── AuthError            credentials refused (never retried)
    │   │   └── SecretMissing    an ``api_key_env`` variable is unset (names it, never a value)
    │   ├── BadRequest           the request was rejected as invalid (never retried)
    │   │   └── ContextWindowExceeded   the prompt does not fit (never retried)
    │   ├── RateLimited          throttled; ``retry_after`` in seconds when the server said
    │   ├── ProviderTimeout      no answer within the timeout
    │   ├── ProviderUnavailable  connection refused, 5xx, broken stream
    │   └── CircuitOpen          the deployment's breaker is open; the call was not attempted
    ├── AllModelsFailed          a model and all its fallbacks failed; ``errors`` lists each
    ├── GraphError               a graph could not run a step (quorum not met, no route, ...)
    ├── StructuredOutputError    a model's reply never validated against the requested schema
    ├── BudgetExceeded           a run would exceed, or exceeded, its cost/token/time budget
    └── PrivacyViolation         sensitive data would reach a hosted model; refused, never retried
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AllModelsFailed",
    "AuthError",
    "BadRequest",
    "BudgetExceeded",
    "CircuitOpen",
    "ConfigError",
    "ContextWindowExceeded",
    "FusionError",
    "GraphError",
    "PluginError",
    "PrivacyViolation",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "SecretMissing",
    "StructuredOutputError",
    "require_extra",
]


class FusionError(Exception):
    """Root of every error raised by fusionsdk."""


class ConfigError(FusionError):
    """A configuration value is invalid.

    Args:
        message: What is wrong.
        path: Dotted path of the offending field (``models.gpt4o.base_url``), if known.
        errors: All the problems, when this error stands for several.

    Attributes:
        errors: Every problem found, each a ConfigError with its own path (this error alone when
            there was one): ``fusionsdk validate`` lists them all.
    """

    def __init__(
        self, message: str, *, path: str | None = None, errors: list[ConfigError] | None = None
    ) -> None:
        self.path = path
        self.message = message
        self.errors: list[ConfigError] = list(errors) if errors else [self]
        super().__init__(f"{path}: {message}" if path else message)


class PluginError(FusionError):
    """A plugin could not be found, chosen, imported or accepted."""


class ProviderError(FusionError):
    """A call to a model failed.

    Args:
        message: What happened, already free of secrets.
        model: The configured model name.
        deployment: The deployment that was called (provider and endpoint, no secrets).
    """

    retryable: bool = False

    def __init__(self, message: str, *, model: str | None = None, deployment: str | None = None) -> None:
        super().__init__(message)
        self.relabel(message, model=model, deployment=deployment)

    def relabel(self, message: str, *, model: str | None, deployment: str | None) -> None:
        """Set the message and where the error happened (the adapter fills these in)."""
        self.message, self.model, self.deployment = message, model, deployment
        where = f" [{model} @ {deployment}]" if model and deployment else ""
        self.args = (f"{message}{where}",)


class AuthError(ProviderError):
    """The provider refused the credentials."""


class SecretMissing(AuthError):
    """The environment variable that should hold an API key is unset or empty.

    Args:
        env_var: The variable's name (its value is never part of any message).
        model: The model that needs it.
    """

    def __init__(self, env_var: str, *, model: str | None = None) -> None:
        self.env_var = env_var
        who = f"model '{model}' needs" if model else "needs"
        super().__init__(f"{who} an API key: set the environment variable {env_var}", model=model)


class BadRequest(ProviderError):
    """The provider rejected the request as invalid."""


class ContextWindowExceeded(BadRequest):
    """The prompt and requested output do not fit the model's context window."""


class RateLimited(ProviderError):
    """The provider throttled the call.

    Args:
        retry_after: Seconds the provider asked to wait, if it said.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        model: str | None = None,
        deployment: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, model=model, deployment=deployment)


class ProviderTimeout(ProviderError):
    """The provider gave no (complete) answer within the timeout."""

    retryable = True


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed on its side (5xx, dropped stream)."""

    retryable = True


class CircuitOpen(ProviderError):
    """The deployment's circuit breaker is open, so the call was not attempted."""


class AllModelsFailed(FusionError):
    """A model and every one of its fallbacks failed.

    Args:
        errors: The error of each model tried, in order.
    """

    def __init__(self, errors: list[ProviderError]) -> None:
        self.errors = errors
        tried = "; ".join(f"{e.model}: {type(e).__name__}: {e.message}" for e in errors)
        super().__init__(f"all {len(errors)} models failed ({tried})")


class GraphError(FusionError):
    """A graph step could not run: a panel missed its quorum, a router chose no target, ..."""


class StructuredOutputError(FusionError):
    """A model's reply did not validate against the requested schema, retries included.

    Args:
        model: The model asked.
        attempts: Replies tried.
        error: Why the last one failed validation.
        text: The last reply (truncated), to see what the model wrote.
    """

    def __init__(self, model: str, attempts: int, error: str, text: str) -> None:
        self.model, self.attempts, self.error, self.text = model, attempts, error, text[:500]
        super().__init__(
            f"model '{model}' gave no valid structured output in {attempts} attempt(s); "
            f"last error: {error}; last reply: {self.text[:200]!r}"
        )


class BudgetExceeded(FusionError):
    """A run would exceed (estimate before a fan-out) or exceeded its budget.

    Args:
        limit: Which limit: ``max_cost_usd``, ``max_tokens`` or ``max_wall_s``.
        spent: What was spent (or would be) when it was checked.
        allowed: The limit's value.
    """

    def __init__(self, limit: str, spent: float, allowed: float, *, estimate: bool = False) -> None:
        self.limit, self.spent, self.allowed = limit, spent, allowed
        what = "would reach" if estimate else "reached"
        super().__init__(f"budget.{limit}: run {what} {spent:.6g}, over the limit {allowed:g}")


class PrivacyViolation(FusionError):
    """A sensitive request would have reached a hosted model, so the call was refused.

    Raised before any attempt (so never retried). In a fallback chain the hosted models are
    skipped and a local one may still answer; this is raised when none could.

    Args:
        refused: The hosted models (or non-local route targets) the request was kept from.
        kinds: What made the request sensitive (``email``, ``card``, ``flag``, ...), never the data.
        errors: The failure of each local model that was tried, if any.
    """

    def __init__(
        self, refused: list[str], kinds: list[str], errors: list[ProviderError] | None = None
    ) -> None:
        self.refused, self.kinds, self.errors = list(refused), list(kinds), list(errors or [])
        why = ", ".join(self.kinds) or "flagged"
        detail = "; ".join(f"{e.model}: {type(e).__name__}: {e.message}" for e in self.errors)
        tail = f"; local models failed ({detail})" if detail else "; no local model could serve it"
        super().__init__(
            f"sensitive request ({why}) may only reach local models; kept from: "
            f"{', '.join(self.refused) or 'none'}{tail}"
        )


def require_extra(module: str, extra: str, what: str) -> Any:
    """Import ``module`` (an optional dependency), or fail naming the extra that installs it.

    Args:
        module: The module to import (``chromadb``, ``math_verify``, ``sacrebleu.metrics``).
        extra: The fusionsdk extra that brings it (``memory``, ``local``, ``eval``).
        what: What needs it, for the message (``Chroma memory stores``).

    Raises:
        PluginError: The module's package is not installed.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.partition(".")[0]
        if (err.name or "").partition(".")[0] != top:
            raise  # installed, but one of its own imports is broken: show that
        raise PluginError(
            f"{what} need the package providing '{top}', which is not installed: "
            f"pip install 'fusionsdk[{extra}]'"
        ) from None
