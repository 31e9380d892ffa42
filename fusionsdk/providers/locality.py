"""Where a model runs, decided so that doubt means hosted: :func:`decide_locality`.

Locality decides two things: whether a sensitive request may reach the model (the privacy gate
refuses ``hosted`` models) and whether its calls cost nothing when no prices are given. Getting it
wrong in the ``local`` direction leaks data and hides cost, so the decision fails closed:

1. ``locality: local`` or ``locality: hosted`` in the spec is honoured as written.
2. ``locality: auto`` (the default), with a ``base_url``, for providers that talk to a model
   server (``tgi``, ``vllm``, ``triton``, ...): local only when the host is loopback
   (``127.0.0.0/8``, ``::1``, ``localhost``), a private address (``10/8``, ``172.16/12``,
   ``192.168/16``, ``fc00::/7``), a link-local address (``169.254/16``, ``fe80::/10``) or a Unix
   socket (``http+unix://``). Any other host, every host name included (names are never resolved:
   DNS answers can change and resolving would contact the network), is hosted.
3. Otherwise the provider's default: ``local`` only for in-process providers (the embedded
   llama.cpp models, fakes), ``hosted`` for API clients (``litellm``) and the base class.

Example:
    >>> from fusionsdk.config.models import ModelSpec
    >>> spec = ModelSpec(name="m", provider="tgi", base_url="https://tgi.example.com")
    >>> decide_locality(spec, default="local", by_host=True)
    LocalityDecision(locality='hosted', reason='tgi.example.com: a host name (never resolved)')
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from fusionsdk.config.models import Locality, LocalitySetting, ModelSpec

__all__ = ["LocalityDecision", "decide_locality", "host_locality", "unix_socket_path"]

#: Scheme of a ``base_url`` that names a Unix socket: ``http+unix://%2Frun%2Ftgi.sock``.
UNIX_SCHEME = "http+unix"

_NETWORKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loopback", ("127.0.0.0/8", "::1/128")),
    ("private", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")),
    ("link-local", ("169.254.0.0/16", "fe80::/10")),
    ("this machine", ("0.0.0.0/32", "::/128")),
)
_KINDS = tuple((kind, tuple(ipaddress.ip_network(n) for n in nets)) for kind, nets in _NETWORKS)


@dataclass(frozen=True)
class LocalityDecision:
    """A model's locality and the reason, as ``fusionsdk models`` shows it.

    Attributes:
        locality: ``local`` or ``hosted``.
        reason: Why, in a few words.
    """

    locality: Locality
    reason: str


def unix_socket_path(base_url: str) -> str | None:
    """The socket path of an ``http+unix://`` URL (percent-encoded host), else None.

    Example:
        >>> unix_socket_path("http+unix://%2Frun%2Ftgi.sock")
        '/run/tgi.sock'
    """
    parts = urlsplit(base_url)
    return unquote(parts.netloc) if parts.scheme == UNIX_SCHEME and parts.netloc else None


@functools.lru_cache(maxsize=1024)
def host_locality(base_url: str) -> LocalityDecision:
    """Classify the host of ``base_url`` alone (no DNS look-up, no connection). The answer
    depends on the text of ``base_url`` only, so it is worked out once per URL (every call of
    a model reads its locality)."""
    socket = unix_socket_path(base_url)
    if socket is not None:
        return LocalityDecision("local", f"Unix socket {socket}")
    host = (urlsplit(base_url).hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return LocalityDecision("local", f"{host}: loopback")
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return LocalityDecision("hosted", f"{host}: a host name (never resolved)")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind, networks in _KINDS:
        if any(address in network for network in networks):
            return LocalityDecision("local", f"{address}: {kind}")
    return LocalityDecision("hosted", f"{address}: a public address")


def decide_locality(spec: ModelSpec, *, default: Locality, by_host: bool) -> LocalityDecision:
    """Decide where ``spec``'s model runs (see the module docstring for the rules).

    Args:
        spec: The model's spec.
        default: The provider's locality when neither the spec nor the host decides.
        by_host: Whether the provider serves the model from ``base_url`` (so the host decides).
    """
    return _decide(spec.locality, spec.base_url if by_host else None, spec.provider, default)


@functools.lru_cache(maxsize=1024)
def _decide(
    configured: LocalitySetting, host_url: str | None, provider: str, default: Locality
) -> LocalityDecision:
    """:func:`decide_locality` on the spec's fields it reads (``host_url``: the ``base_url``
    when the host decides), so each combination is worked out once."""
    if configured != "auto":
        return LocalityDecision(configured, f"config says {configured}")
    if host_url:
        return host_locality(host_url)
    if default == "local":
        return LocalityDecision("local", "in-process")
    return LocalityDecision("hosted", f"{provider}: hosted unless the config says local")
