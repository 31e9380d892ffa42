"""math-verify, quiet and with a time limit that works in every thread.

math-verify bounds its work with ``signal.alarm``, which only the main thread may use: from any
other thread it raises, and with its limit switched off it logs a warning instead. Here its
own limit is always off (and its warning never shown), and this module applies the limit:

* in the main thread, when nothing else uses ``SIGALRM``: a timer signal interrupts the work
  (:class:`TimeUp`, which is not an ``Exception``, so math-verify cannot swallow it);
* in any other thread: the work runs in a daemon thread, waited for ``seconds``; past that the
  answer counts as unreadable and the thread is left to finish on its own.

Parses and comparisons are cached (they are pure functions of the text), so a panel's repeated
answers and a dataset's repeated references are parsed once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from functools import lru_cache
from types import FrameType
from typing import Any, TypeVar

__all__ = ["TimeUp", "math_equal", "parse_math", "run_limited"]

T = TypeVar("T")
_CACHE = 65536


class TimeUp(BaseException):
    """The time limit ran out (a BaseException, so that ``except Exception`` lets it through)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise TimeUp


def _signal_free() -> bool:
    if threading.current_thread() is not threading.main_thread():
        return False
    handler = signal.getsignal(signal.SIGALRM)
    return handler in (signal.SIG_DFL, signal.SIG_IGN, None) and signal.getitimer(signal.ITIMER_REAL)[0] == 0


def run_limited(function: Callable[[], T], seconds: float, default: T) -> T:
    """``function()``, or ``default`` when it takes longer than ``seconds`` (0: no limit) or
    raises (an ImportError excepted: a missing library is not a wrong answer)."""
    if seconds <= 0:
        return _guarded(function, default)
    if _signal_free():
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return _guarded(function, default)
        except TimeUp:
            return default
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    box: list[T] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            box.append(function())
        except BaseException as err:
            errors.append(err)

    worker = threading.Thread(target=work, name="fusionsdk-math", daemon=True)
    worker.start()
    worker.join(seconds)
    if errors and isinstance(errors[0], ImportError):
        raise errors[0]
    return box[0] if box else default


def _guarded(function: Callable[[], T], default: T) -> T:
    try:
        return function()
    except ImportError:
        raise
    except (Exception, RecursionError):
        return default


def _quiet() -> Any:
    """Import math-verify with its one-off warning about its own (switched off) limit silenced."""
    from fusionsdk.errors import require_extra

    math_verify = require_extra("math_verify", "eval", "Math answers and the math scorer")
    from math_verify import grader, parser

    parser.TIMEOUT_WARNING_SHOWN = True
    grader.TIMEOUT_WARNING_SHOWN = True
    return math_verify


def _parse(text: str) -> tuple[Any, ...]:
    math_verify = _quiet()
    # An answer is read as LaTeX first (a bare "3\\sqrt{13}" only is between dollars; read as
    # plain text it would give the 3 alone), then as plain text.
    parsed = math_verify.parse(f"${text}$", parsing_timeout=None) if "$" not in text else []
    return tuple(parsed or math_verify.parse(text, parsing_timeout=None))


class _Unread(Exception):
    """Parsing or comparing ran out of time or failed: not cached, so a later call tries again."""


_UNREAD: Any = object()


@lru_cache(maxsize=_CACHE)
def _parse_within(text: str, seconds: float) -> tuple[Any, ...]:
    found = run_limited(lambda: _parse(text), seconds, _UNREAD)
    if found is _UNREAD:
        raise _Unread
    return found  # type: ignore[no-any-return]


def parse_math(text: str, seconds: float) -> tuple[Any, ...]:
    """math-verify's parse of ``text`` (sympy objects, then the raw match), within ``seconds``;
    empty when it cannot be read in time. Results are cached; time-outs are not."""
    _quiet()  # importing sympy is not part of the time limit
    try:
        return _parse_within(text, seconds)
    except _Unread:
        return ()


@lru_cache(maxsize=_CACHE)
def _equal_within(gold: str, answer: str, float_rounding: int, seconds: float) -> bool:
    expected, got = parse_math(gold, seconds), parse_math(answer, seconds)
    if not expected or not got:
        return False
    math_verify = _quiet()

    def compare() -> bool:
        return bool(
            math_verify.verify(list(expected), list(got), float_rounding=float_rounding, timeout_seconds=None)
        )

    same = run_limited(compare, seconds, _UNREAD)
    if same is _UNREAD:
        raise _Unread
    return bool(same)


def math_equal(gold: str, answer: str, float_rounding: int, seconds: float) -> bool:
    """Whether ``answer`` is mathematically ``gold`` (math-verify's ``verify``), each parse and
    the comparison within ``seconds``; False when either cannot be read in time. Results are
    cached; time-outs are not."""
    try:
        return _equal_within(gold, answer, float_rounding, seconds)
    except _Unread:
        return False
