"""Secret hygiene: API keys come from the environment and are scrubbed from every message.

Keys are read at call time from the variable a spec names in ``api_key_env``. Every value read is
remembered (in this process only) so that :func:`redact` can remove it from error messages, log
records and traces, whatever path the text took.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import threading
import urllib.parse

from fusionsdk.config.models import ModelSpec
from fusionsdk.errors import SecretMissing

__all__ = ["SecretFilter", "api_key", "encodings", "redact", "remember_secret", "scrub_exception"]

_MASK = "***"
_known: set[str] = set()
_lock = threading.Lock()


def api_key(spec: ModelSpec, *, required: bool = True) -> str | None:
    """The API key for ``spec`` from its ``api_key_env`` variable.

    Raises:
        SecretMissing: ``required`` and the variable is unset or empty (names it, not a value).
    """
    if spec.api_key_env is None:
        return None
    value = os.environ.get(spec.api_key_env, "").strip()
    if not value:
        if required:
            raise SecretMissing(spec.api_key_env, model=spec.name)
        return None
    remember_secret(value)
    return value


def remember_secret(value: str) -> None:
    """Scrub ``value`` from every message, log record and error from now on (keys read with
    :func:`api_key` are remembered already)."""
    if value and value not in _known:
        with _lock:
            _known.add(value)


#: Shortest stretch of a key (in any encoding) that counts as the key: a message quoting the first
#: 12 characters of a key (a truncated log line, a provider echoing a prefix) is scrubbed too.
PREFIX_CHARS = 12
_MIN_ENCODED = 4  # keys shorter than this are only scrubbed verbatim (their encodings are noise)


def encodings(secret: str) -> set[str]:
    """How ``secret`` can appear in a message: verbatim, escaped (Python ``repr``, ``\\x``/``\\u``
    escapes, JSON), URL-encoded (``%xx``, upper and lower case, ``+`` for spaces), and each of
    these encoded once more (an escaped key inside a JSON body)."""
    found = {secret}
    if len(secret) < _MIN_ENCODED:
        return found
    layer = {secret}
    for _ in range(2):
        layer = {variant for text in layer for variant in _encode_once(text)} - found
        found |= layer
    return {v for v in found if v}


def _encode_once(text: str) -> set[str]:
    quoted = urllib.parse.quote(text, safe="")
    return {
        repr(text)[1:-1],
        text.encode("unicode_escape").decode("ascii"),
        text.encode("ascii", "backslashreplace").decode("ascii"),
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        quoted,
        re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quoted),
        urllib.parse.quote_plus(text, safe=""),
        urllib.parse.quote(text),
    }


@functools.lru_cache(maxsize=8)
def _matcher(secrets: frozenset[str]) -> tuple[re.Pattern[str], dict[str, list[str]]]:
    """One regular expression finding the start (the first :data:`PREFIX_CHARS` characters) of
    any encoding of any key, and for each start the full encodings it may begin."""
    starts: dict[str, list[str]] = {}
    for secret in secrets:
        for variant in encodings(secret):
            head = variant if len(secret) < PREFIX_CHARS else variant[:PREFIX_CHARS]
            starts.setdefault(head, []).append(variant)
    alternatives = sorted(starts, key=len, reverse=True)
    return re.compile("|".join(re.escape(a) for a in alternatives)), starts


def _common_prefix(text: str, at: int, variant: str) -> int:
    n = 0
    limit = min(len(variant), len(text) - at)
    while n < limit and text[at + n] == variant[n]:
        n += 1
    return n


def redact(text: str) -> str:
    """``text`` with every API key this process has read replaced by ``***``, in every encoding
    (see :func:`encodings`), including a quoted stretch of at least :data:`PREFIX_CHARS`
    characters of the key's start."""
    if not _known or not text:
        return text
    pattern, starts = _matcher(frozenset(_known))
    out: list[str] = []
    pos = 0
    while (match := pattern.search(text, pos)) is not None:
        end = match.end()
        for variant in starts[match.group()]:
            end = max(end, match.start() + _common_prefix(text, match.start(), variant))
        out += [text[pos : match.start()], _MASK]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def scrub_exception(exc: BaseException) -> BaseException:
    """Make ``exc`` safe to show: drop its chain (``__cause__``, ``__context__``: the third-party
    error it replaced may quote a key) and redact its arguments. Returns ``exc``."""
    exc.__cause__ = None
    exc.__context__ = None
    exc.__suppress_context__ = True
    if _known:
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
        message = getattr(exc, "message", None)
        if isinstance(message, str):
            with contextlib.suppress(AttributeError):
                exc.message = redact(message)  # type: ignore[attr-defined]
    return exc


class SecretFilter(logging.Filter):
    """A logging filter that scrubs known keys from records (installed on fusionsdk's and
    LiteLLM's loggers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: scrub what there is
            message = f"{record.msg} {record.args}"
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:  # tracebacks quote messages too
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text), None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_filter(*logger_names: str) -> None:
    """Attach one :class:`SecretFilter` to each named logger (idempotent).

    Kept for loggers configured elsewhere; every record is already scrubbed when it is created
    (see :func:`_install_record_scrubber`), whichever logger emits it.
    """
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretFilter) for f in logger.filters):
            logger.addFilter(SecretFilter())


def _install_record_scrubber() -> None:
    """Scrub known keys from every log record as it is created.

    A logger's filters only see records logged on that very logger, not on its children
    (``openai._base_client``, ``fusionsdk.graph``), so redaction happens in the record factory,
    which every record of every logger goes through. It costs nothing until a key was read.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_fusionsdk_scrubber", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _known:
            SecretFilter().filter(record)
        return record

    factory._fusionsdk_scrubber = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_install_record_scrubber()
install_log_filter("fusionsdk")
