"""Run fusionsdk's async code from synchronous callers, notebooks included.

A notebook already runs an event loop, so ``asyncio.run`` cannot be used there. Sync wrappers
submit their coroutine to one background event loop owned by this module instead, which also
keeps connection pools (LiteLLM's, httpx's) on a single loop for the life of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["iterate_sync", "on_shutdown", "run_sync", "shutdown"]

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_lock = threading.Lock()
_hooks: list[Callable[[], Coroutine[Any, Any, None]]] = []


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            global _thread
            loop = asyncio.new_event_loop()
            _thread = threading.Thread(target=loop.run_forever, name="fusionsdk-sync", daemon=True)
            _thread.start()
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


def on_shutdown(hook: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``hook()`` on the background loop when :func:`shutdown` is called (once per hook)."""
    if hook not in _hooks:
        _hooks.append(hook)


def shutdown(timeout_s: float = 3.0) -> None:
    """Stop the background loop within ``timeout_s``: run the shutdown hooks (LiteLLM's logging
    worker), then stop the loop and join its thread. After it, a daemon thread can no longer be
    holding a lock (a logging handler's) that exit handlers wait for, so the process exits."""
    global _loop, _thread
    with _lock:
        loop, thread, _loop, _thread = _loop, _thread, None, None
    if loop is None or loop.is_closed():
        return
    deadline = time.monotonic() + timeout_s

    async def run_hooks() -> None:
        for hook in list(_hooks):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(hook(), max(0.05, deadline - time.monotonic()))

    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(run_hooks(), loop).result(max(0.05, deadline - time.monotonic()))
    loop.call_soon_threadsafe(loop.stop)
    if thread is not None:
        thread.join(max(0.05, deadline - time.monotonic()))


async def _anext(agen: AsyncIterator[T]) -> T:
    return await agen.__anext__()
