"""``human``: pause the run for a person (a LangGraph interrupt); resume with their answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fusionsdk.graph.base import Node
from fusionsdk.plugin import PluginOptions

__all__ = ["HumanNode"]


class HumanNode(Node["HumanNode.Options"]):
    """Interrupt the run and show ``question`` with the current answer and candidates. The run
    is checkpointed; ``fusionsdk run CONFIG --thread ID --resume TEXT`` (or
    ``Graph.resume(thread_id, value)``) continues it. A non-empty reply replaces the answer; an
    empty one approves it.

    Example:
        ``review: {kind: human, question: "Approve this answer?"}``
    """

    class Options(PluginOptions):
        """Human node options.

        Attributes:
            question: What the person is asked.
        """

        question: str = "Review the answer; reply with a better one, or nothing to approve it."

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        from langgraph.types import interrupt

        opts: HumanNode.Options = self.options
        reply = interrupt(
            {
                "node": self.name,
                "question": opts.question,
                "answer": state.get("answer", ""),
                "candidates": [
                    {"model": c["model"], "text": c["text"]} for c in state.get("candidates") or []
                ],
            }
        )
        text = str(reply or "").strip()
        decision = {
            "node": self.name,
            "type": "human",
            "reason": "replaced the answer" if text else "approved",
        }
        return {"answer": text or state.get("answer", ""), "decisions": [decision]}
