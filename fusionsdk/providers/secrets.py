"""Secret hygiene: API keys come from the environment and are scrubbed from every message.

Keys are read at call time from the variable a spec names in ``api_key_env``. Every value read is
remembered (in this process only) so that :func:`redact` can remove it from error messages, log
records and traces, whatever path the text took.
"""

from __future__ import annotations

import logging
import os
import threading

from fusionsdk.config.models import ModelSpec
from fusionsdk.errors import SecretMissing

__all__ = ["SecretFilter", "api_key", "redact"]

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
    if value not in _known:
        with _lock:
            _known.add(value)
    return value


def redact(text: str) -> str:
    """``text`` with every API key this process has read replaced by ``***``."""
    for secret in _known:
        if secret and secret in text:
            text = text.replace(secret, _MASK)
    return text


class SecretFilter(logging.Filter):
    """A logging filter that scrubs known keys from records (installed on fusionsdk's and
    LiteLLM's loggers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
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
