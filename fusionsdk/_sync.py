"""Run fusionsdk's async code from synchronous callers, notebooks included.

A notebook already runs an event loop, so ``asyncio.run`` cannot be used there. Sync wrappers
submit their coroutine to one background event loop owned by this module instead, which also
keeps connection pools (LiteLLM's, httpx's) on a single loop for the life of the process.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["iterate_sync", "run_sync"]

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="fusionsdk-sync", daemon=True).start()
            _loop = loop
        return _loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on the background loop and return its result.

    It runs in a copy of the caller's context, so context variables (the privacy scope of a
    sensitive thread) hold there too.
    """
    context = contextvars.copy_context()
    return asyncio.run_coroutine_threadsafe(_in_context(coro, context), _background_loop()).result()


async def _in_context(coro: Coroutine[Any, Any, T], context: contextvars.Context) -> T:
    return await asyncio.get_running_loop().create_task(coro, context=context)


def iterate_sync(agen: AsyncIterator[T]) -> Iterator[T]:
    """Iterate an async iterator from synchronous code, one item at a time."""
    loop = _background_loop()
    context = contextvars.copy_context()
    try:
        while True:
            try:
                yield asyncio.run_coroutine_threadsafe(_in_context(_anext(agen), context), loop).result()
            except StopAsyncIteration:
                return
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            asyncio.run_coroutine_threadsafe(aclose(), loop).result()


async def _anext(agen: AsyncIterator[T]) -> T:
    return await agen.__anext__()
