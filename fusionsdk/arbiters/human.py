"""``human`` arbiter: on a conflict, pause the run and let a person settle it."""

from __future__ import annotations

from collections.abc import Sequence

from fusionsdk.arbiters.conflict import ConflictArbiter, ConflictOptions
from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, FusionContext, FusionResult

__all__ = ["HumanArbiter"]


class HumanArbiter(ConflictArbiter["HumanArbiter.Options"]):
    """Keep the majority when the candidates agree (unless ``always``); on a conflict, interrupt
    the run (a LangGraph interrupt, so the run must have a checkpointer, as every graph run
    does) with the question, the majority answer and the candidates. Resume it with
    ``graph.resume(thread_id, reply)`` or ``fusionsdk run CONFIG --thread ID --resume TEXT``:
    a non-empty reply replaces the answer, an empty one keeps the majority.

    Example:
        ``settle: {kind: arbitrate, arbiter: human, options: {threshold: 0.75}}``
    """

    label = "human"
    deterministic = False  # a person decides

    class Options(ConflictOptions):
        """Options of the human arbiter (and the shared conflict detection options).

        Attributes:
            question: What the person is asked.
            always: Ask even when the candidates agree.
        """

        question: str = "The models disagree. Reply with the right answer, or nothing to keep the majority."
        always: bool = False

    async def resolve(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        from langgraph.types import interrupt

        opts: HumanArbiter.Options = self.options
        conflict = self.detect(candidates)
        if not conflict.conflicted and not opts.always:
            return await self.kept_majority(candidates, conflict)
        majority = await self.majority(candidates)
        question = {
            "arbiter": "human",
            "question": opts.question,
            "task": task,
            "answer": majority.text,
            "agreement": conflict.agreement,
            "candidates": [{"model": c.model, "text": c.text} for c in candidates],
        }
        try:
            reply = interrupt(question)
        except RuntimeError as err:  # LangGraph's "outside of a runnable context"
            raise FusionError(
                f"the human arbiter pauses a graph run: use it in an arbitrate node of a graph ({err})"
            ) from None
        text = str(reply or "").strip()
        details = {"agreement": 1.0}  # a person settled it, either way
        if not text:
            return FusionResult(
                majority.text,
                majority.winner,
                majority.scores,
                f"agreement {conflict.agreement:.0%}: a person kept the majority answer",
                details=details,
            )
        keys = self.answer_keys([text, *(c.text for c in candidates)])
        match = next((c for c, k in zip(candidates, keys[1:], strict=True) if k == keys[0]), None)
        return FusionResult(
            text,
            match.model if match else None,
            {"agreement": conflict.agreement},
            f"agreement {conflict.agreement:.0%}: a person gave the answer"
            + (f", agreeing with {match.model}" if match else ""),
            details=details,
        )
