"""``agent``: one model (or a router over several) answers a prompt built from the state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import PromptOptions, build_router, completion_update
from fusionsdk.routing.base import Router, RouteRequest

__all__ = ["AgentNode"]


class AgentNode(Node["AgentNode.Options"]):
    """Ask one model. With ``router``, a routing strategy picks the model among ``models`` per
    request, and the decision lands in the trace. Generated tokens are streamed as
    ``token`` events while the run streams.

    Example:
        ``solo: {kind: agent, model: smol, system: "Be brief.", prompt: "{task}"}``
    """

    model_refs = ("model", "models")

    class Options(PromptOptions):
        """Agent options.

        Attributes:
            model: The model to ask (or use ``router`` + ``models``).
            router: A ``fusionsdk.routers`` plugin choosing among ``models``.
            router_options: That router's options.
            models: Candidate models for the router.
            prompt: Template with {task}, {answer}, {candidates}, {tool_results}.
            system: System prompt.
            max_tokens: Output limit.
            temperature: Sampling temperature.
        """

        model: str | None = None
        router: str | None = None
        router_options: dict[str, Any] = Field(default_factory=dict)
        models: list[str] = Field(default_factory=list)

        @model_validator(mode="after")
        def _one_target(self) -> AgentNode.Options:
            if (self.model is None) == (self.router is None):
                raise ValueError("give either 'model' or 'router' with 'models'")
            if self.router is not None and not self.models:
                raise ValueError("'router' needs the 'models' it chooses among")
            return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._router: Router[Any] | None = None
        router = self.options.router
        if router is not None and self._context is not None:
            self._router = build_router(self, router, self.options.router_options, "router_options")

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        from langgraph.config import get_stream_writer

        opts: AgentNode.Options = self.options
        decisions: list[dict[str, Any]] = []
        target = opts.model
        if self._router is not None:
            decision = await self._router.route(
                RouteRequest(str(state.get("task", "")), state.get("metadata") or {}), opts.models
            )
            target = decision.target
            decisions.append(
                {
                    "node": self.name,
                    "type": "route",
                    "target": target,
                    "reason": decision.reason,
                    "scores": dict(decision.scores),
                }
            )
        assert target is not None
        messages = opts.messages(state)
        params = opts.sampling()
        write = get_stream_writer()
        completion = None
        async for chunk in self.context.model(target).astream(
            messages, metadata=state.get("metadata") or {}, **params
        ):
            if chunk.discard:  # the answer restarts on a fallback model: drop the tokens so far
                write({"type": "discard", "node": self.name, "failed": chunk.failed})
            elif chunk.text:
                write({"type": "token", "node": self.name, "text": chunk.text})
            completion = chunk.completion or completion
        assert completion is not None
        update = completion_update(self.name, [completion])
        return {
            **update,
            "answer": completion.text,
            "decisions": decisions,
            "messages": [{"role": "assistant", "content": completion.text, "name": completion.model}],
        }
