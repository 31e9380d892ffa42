"""API keys: who is calling, what they may call, and the limits that apply to them.

Keys are known only by their SHA-256 digest: from the config's ``serve.keys`` (digests) and from
``FUSIONSDK_API_KEYS`` (comma-separated ``name=key`` or bare keys, hashed as they are read; the
clear text is not kept). Clients send ``Authorization: Bearer <key>``. With no key configured at
all the server is open (and says so when it starts).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fusionsdk.config.serve import ApiKeySpec
from fusionsdk.serve.errors import ApiError
from fusionsdk.serve.state.base import KeyLimits

__all__ = ["ENV_KEYS", "KeyRing", "Principal", "hash_key"]

#: Environment variable with extra keys (no limits, every model).
ENV_KEYS = "FUSIONSDK_API_KEYS"


def hash_key(key: str) -> str:
    """The hex SHA-256 digest a config stores for ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    Attributes:
        name: The key's label (for logs and metrics).
        limits: Its budget and rate limits.
        models: The served names it may call; empty allows every one.
    """

    name: str
    limits: KeyLimits
    models: frozenset[str] = field(default_factory=frozenset)

    @property
    def limited(self) -> bool:
        """Whether any budget or rate limit applies (else admission needs no state)."""
        lim = self.limits
        return any(v is not None for v in (lim.budget_usd, lim.requests_per_minute, lim.tokens_per_minute))

    def check_model(self, name: str) -> None:
        """Raise 403 unless this caller may use ``name``."""
        if self.models and name not in self.models:
            raise ApiError(
                403,
                f"this API key may not use '{name}'",
                type="permission_error",
                code="model_not_allowed",
                param="model",
            )


ANONYMOUS = Principal("anonymous", KeyLimits("anonymous"))


def _principal(spec: ApiKeySpec) -> Principal:
    limits = KeyLimits(spec.sha256[:16], spec.budget_usd, spec.requests_per_minute, spec.tokens_per_minute)
    return Principal(spec.name, limits, frozenset(spec.models))


class KeyRing:
    """The keys a server accepts, by digest.

    Args:
        keys: Keys from the config.
        environ: Where ``FUSIONSDK_API_KEYS`` is read (the process environment by default).
    """

    def __init__(self, keys: Iterable[ApiKeySpec] = (), environ: Mapping[str, str] | None = None) -> None:
        self._by_digest = {spec.sha256: _principal(spec) for spec in keys}
        raw = (os.environ if environ is None else environ).get(ENV_KEYS, "")
        for i, entry in enumerate(e.strip() for e in raw.split(",")):
            if not entry:
                continue
            name, sep, key = entry.partition("=")
            name, key = (name, key) if sep else (f"env-{i}", entry)
            digest = hash_key(key)
            self._by_digest.setdefault(digest, Principal(name, KeyLimits(digest[:16])))

    @property
    def enabled(self) -> bool:
        """Whether any key is configured (else every request is anonymous)."""
        return bool(self._by_digest)

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller of a request with this ``Authorization`` header.

        Raises:
            ApiError: 401 when keys are configured and this one is missing or unknown.
        """
        if not self._by_digest:
            return ANONYMOUS
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "missing API key: send 'Authorization: Bearer <key>'",
                type="authentication_error",
                code="missing_api_key",
            )
        found = self._by_digest.get(hash_key(token.strip()))
        if found is None:
            raise ApiError(
                401, "incorrect API key provided", type="authentication_error", code="invalid_api_key"
            )
        return found
