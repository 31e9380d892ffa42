"""Strict parsing of endpoint URLs (a model's or an embedder's ``base_url``).

A ``base_url`` is refused at validation, with a message saying why, when it is not exactly an
``http://`` or ``https://`` URL with a host: control characters or spaces anywhere, credentials
(``user:pass@``; keys belong in ``api_key_env``), a port that is not a number from 1 to 65535, a
host name that is not valid IDNA (international names are kept in their ASCII ``xn--`` form), an
IPv4 address written in an ambiguous form (``2852039166``, ``0xa9fea9fe``, ``0251.0376.0251.0376``:
resolvers read these as dotted quads), a query or a fragment.

**Unix sockets**: where the caller allows them (``allow_unix=True``: a model's ``base_url``, for
providers that serve over a socket), ``http+unix://`` with the percent-encoded absolute path of
the socket as its host (``http+unix://%2Frun%2Ftgi.sock/v1``) is accepted too, under the same
rules: no credentials, port, query or fragment, and no control characters, even percent-encoded.

**Link-local and cloud-metadata addresses** (``169.254.0.0/16``, ``fe80::/10``, ``100.100.100.200``,
``fd00:ec2::254``, ``metadata.google.internal``...) are refused unless
``FUSIONSDK_ALLOW_LINK_LOCAL_URLS=1``: a config that points a model at the instance metadata
service would send prompts, and with them any key, to it. Private (``10.0.0.0/8``,
``192.168.0.0/16``...) and loopback addresses are allowed: self-hosted servers live there. Names
are not resolved at validation (DNS may differ at call time), so a name that resolves to a
metadata address is not caught here; firewall such addresses where that matters.

Example:
    >>> check_base_url("http://bücher.example:8080/v1/")
    'http://xn--bcher-kva.example:8080/v1'
    >>> check_base_url("http://169.254.169.254/latest")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: points at a link-local or cloud-metadata address (169.254.169.254); set ...
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

__all__ = ["METADATA_HOSTS", "UNIX_SCHEME", "check_base_url"]

#: Scheme of a ``base_url`` that names a Unix socket: ``http+unix://%2Frun%2Ftgi.sock``.
UNIX_SCHEME = "http+unix"

#: Host names of cloud instance-metadata services (lower case).
METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data"})
_METADATA_IPS = frozenset(
    ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254", "192.0.0.192")
)
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")  # "_": container and hosts-file names
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$", re.IGNORECASE)
_MAX_URL = 2048


def _reject_characters(value: str) -> None:
    if len(value) > _MAX_URL:
        raise ValueError(f"is longer than {_MAX_URL} characters")
    for char in value:
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            raise ValueError(f"contains a control or invisible character ({char!a})")


def _ascii_host(host: str) -> str:
    """The host in ASCII (IDNA), checked label by label."""
    if len(host) > 253 or host.endswith(".."):
        raise ValueError(f"'{host[:60]}' is not a valid host name")
    try:
        import idna  # httpx's dependency: IDNA 2008 with UTS #46 mapping

        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except (ImportError, UnicodeError, ValueError) as err:
        if host.isascii():
            ascii_host = host.lower()
        else:
            raise ValueError(f"'{host[:60]}' is not a valid international host name ({err})") from None
    if not all(_LABEL.match(label) for label in ascii_host.rstrip(".").split(".")):
        raise ValueError(f"'{host[:60]}' is not a valid host name")
    return ascii_host


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        if _NUMERIC_HOST.match(host):
            try:
                socket.inet_aton(host)
            except OSError:
                return None
            raise ValueError(
                f"'{host}' is an IPv4 address in an ambiguous form: write it as a dotted quad"
            ) from None
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _check_destination(host: str, allow_link_local: bool) -> None:
    address = _ip(host)
    metadata = host.rstrip(".") in METADATA_HOSTS or (
        address is not None and (address.is_link_local or address in _METADATA_IPS)
    )
    if metadata and not allow_link_local:
        raise ValueError(
            f"points at a link-local or cloud-metadata address ({host}); "
            "set FUSIONSDK_ALLOW_LINK_LOCAL_URLS=1 to allow it"
        )
    if address is None or address.is_loopback:
        return
    if address.is_multicast or (address.version == 4 and address.is_reserved):
        raise ValueError(f"'{host}' is not an address a server can listen on")


def _check_unix(parts: SplitResult) -> str:
    """An ``http+unix://`` URL checked: the host is a percent-encoded absolute socket path."""
    netloc = parts.netloc
    if "@" in netloc:
        raise ValueError("must not carry credentials; use api_key_env")
    if ":" in netloc:
        raise ValueError("names a Unix socket, so takes no port")
    path = unquote(netloc, errors="strict")
    if not path.startswith("/"):
        raise ValueError(
            "must name the absolute path of a Unix socket, percent-encoded (http+unix://%2Frun%2Ftgi.sock)"
        )
    for char in path:
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            raise ValueError(f"names a socket path with a control or invisible character ({char!a})")
    if len(path.encode()) > 107:  # sockaddr_un.sun_path, NUL included
        raise ValueError("names a socket path longer than a Unix socket allows (107 bytes)")
    return urlunsplit((UNIX_SCHEME, netloc, parts.path, "", "")).rstrip("/")


def check_base_url(value: str, *, allow_link_local: bool | None = None, allow_unix: bool = False) -> str:
    """``value`` checked strictly and normalised (ASCII host, no trailing slash).

    Args:
        value: The URL.
        allow_link_local: Allow link-local and metadata addresses (default: the
            ``FUSIONSDK_ALLOW_LINK_LOCAL_URLS`` setting).
        allow_unix: Also accept ``http+unix://`` with a percent-encoded socket path.

    Raises:
        ValueError: What is wrong (pydantic validators turn it into a ConfigError with a path).
    """
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    _reject_characters(value)
    try:
        parts = urlsplit(value)
    except ValueError as err:
        raise ValueError(f"is not a valid URL ({err})") from None
    schemes = ("http", "https", UNIX_SCHEME) if allow_unix else ("http", "https")
    if parts.scheme not in schemes or not parts.netloc:
        wanted = "an http://, https:// or http+unix://" if allow_unix else "an http:// or https://"
        raise ValueError(f"must be {wanted} URL, got '{parts.scheme[:20]}:' URL")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError("must not have a query or a fragment")
    if parts.scheme == UNIX_SCHEME:
        try:
            return _check_unix(parts)
        except UnicodeDecodeError:
            raise ValueError("names a socket path that is not valid UTF-8") from None
    if "@" in parts.netloc or parts.username or parts.password:
        raise ValueError("must not carry credentials; use api_key_env")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if port == 0 or (parts.netloc.endswith(":") and port is None):
        raise ValueError("has a port that is not a number from 1 to 65535")
    host = parts.hostname or ""
    if not host:
        raise ValueError("has no host")
    bracketed = parts.netloc.startswith("[")
    if bracketed and _ip(host) is None:
        raise ValueError(f"'[{host[:60]}]' is not an IPv6 address")
    if not bracketed and _ip(host) is None:
        host = _ascii_host(host)
    if allow_link_local is None:
        from fusionsdk.settings import load_settings

        allow_link_local = load_settings().allow_link_local_urls
    _check_destination(host, allow_link_local)
    netloc = f"[{host}]" if bracketed else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")
