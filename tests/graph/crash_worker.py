"""A graph run in its own process, for the crash/resume tests.

``python -m tests.graph.crash_worker STORE CALLS THREAD run|continue``

The graph is ``first`` (an agent on model ``a``) -> ``panel`` (models ``b`` and ``c``) -> ``fuse``.
Every model call appends ``start NAME`` and ``done NAME`` lines to the CALLS file, so the parent
counts calls across processes. With ``CRASH_SLOW=c`` the model ``c`` waits a minute before
answering: the parent kills the process (SIGKILL) while the panel waits for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from fusionsdk import register
from fusionsdk.graph import compile_config
from fusionsdk.providers.base import CompletionRequest, ProviderResponse
from fusionsdk.testing import FakeProvider

CONFIG: dict[str, Any] = {
    "version": 1,
    "models": {name: {"provider": "counting"} for name in ("a", "b", "c")},
    "nodes": {
        "first": {"kind": "agent", "model": "a"},
        "panel": {"kind": "panel", "models": ["b", "c"]},
        "fuse": {"kind": "fuse", "strategy": "majority_vote"},
    },
    "edges": [["START", "first"], ["first", "panel"], ["panel", "fuse"], ["fuse", "END"]],
}


class CountingProvider(FakeProvider):
    """Answers ``NAME says 42`` and logs each call to the file named by ``CRASH_CALLS``."""

    def _log(self, line: str) -> None:
        with open(os.environ["CRASH_CALLS"], "a", encoding="utf-8") as log:
            log.write(f"{line} {self.spec.name}\n")
            log.flush()
            os.fsync(log.fileno())

    async def complete(self, request: CompletionRequest) -> ProviderResponse:
        self._log("start")
        if self.spec.name in os.environ.get("CRASH_SLOW", "").split(","):
            await asyncio.sleep(60)
        self._log("done")
        return ProviderResponse(text="42", finish_reason="stop")


def main(store: str, calls: str, thread: str, mode: str) -> None:
    os.environ["CRASH_CALLS"] = calls
    register("providers", "counting", CountingProvider, replace=True)
    graph = compile_config(CONFIG)
    if mode == "run":
        result = graph.run("What is 6 * 7?", thread_id=thread, checkpoint=store)
    else:
        result = graph.continue_(thread, checkpoint=store)
    graph.close()
    print(json.dumps({"answer": result.answer, "nodes": [step["node"] for step in result.trace]}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
