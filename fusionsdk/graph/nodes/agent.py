"""``agent``: one model (or a router over several) answers a prompt built from the state,
calling tools in a loop (model -> tools -> model) when it is given some."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator

from fusionsdk.errors import GraphError
from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import PromptOptions, build_router, completion_update, fence
from fusionsdk.providers.model import Completion, Model
from fusionsdk.registry import PluginKind
from fusionsdk.routing.base import Router, RouteRequest
from fusionsdk.tools.base import Tool
from fusionsdk.tools.mcp import McpServerSpec
from fusionsdk.tools.toolbox import Toolbox, ToolOutcome, open_toolbox

__all__ = ["AgentNode"]


class AgentNode(Node["AgentNode.Options"]):
    """Ask one model. With ``router``, a routing strategy picks the model among ``models`` per
    request, and the decision lands in the trace. Generated tokens are streamed as
    ``token`` events while the run streams.

    With ``tools`` (``fusionsdk.tools`` plugin names, or ``{mcp: {command: ..., args: [...]}}`` /
    ``{mcp: {url: ...}}`` servers), the model may call tools: each call runs, its output goes
    back to the model fenced as untrusted data, and the model is asked again, up to
    ``max_steps`` model calls. Every call is in ``tool_results`` and the node's trace entry.
    With ``response_format`` (a JSON Schema) the final answer is validated JSON, asked again
    when it is not.

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
            tools: Tool plugin names and ``{mcp: {...}}`` servers.
            tool_choice: ``auto``, ``none``, ``required`` or a tool name (first call only).
            max_steps: Most model calls in the tool loop.
            response_format: JSON Schema (or OpenAI ``response_format``) of the final answer.
            structured_retries: Times to ask again when the answer does not validate.
        """

        model: str | None = None
        router: str | None = None
        router_options: dict[str, Any] = Field(default_factory=dict)
        models: list[str] = Field(default_factory=list)
        tools: list[str | dict[str, McpServerSpec]] = Field(default_factory=list)
        tool_choice: str | None = None
        max_steps: int = Field(8, ge=1, le=100)
        response_format: dict[str, Any] | None = None
        structured_retries: int = Field(2, ge=0, le=10)

        @field_validator("tools", mode="before")
        @classmethod
        def _one_or_many(cls, value: Any) -> Any:
            return [value] if isinstance(value, dict | str) else value

        @field_validator("tools")
        @classmethod
        def _mcp_only(cls, value: list[Any]) -> list[Any]:
            for entry in value:
                if isinstance(entry, dict) and set(entry) != {"mcp"}:
                    raise ValueError("a tools entry is a tool plugin name or {mcp: {command|url: ...}}")
            return value

        @model_validator(mode="after")
        def _one_target(self) -> AgentNode.Options:
            if (self.model is None) == (self.router is None):
                raise ValueError("give either 'model' or 'router' with 'models'")
            if self.router is not None and not self.models:
                raise ValueError("'router' needs the 'models' it chooses among")
            return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        opts = self.options
        self._router: Router[Any] | None = None
        self._tools: dict[str, Tool[Any]] = {}
        self._servers = [e["mcp"] for e in opts.tools if isinstance(e, dict)]
        if self._context is None:
            return
        if opts.router is not None:
            self._router = build_router(self, opts.router, opts.router_options, "router_options")
        for i, name in enumerate(opts.tools):
            if isinstance(name, str):
                path = f"nodes.{self.name}.tools[{i}]"
                self._tools[name] = self.context.registry.build(PluginKind.TOOLS, name, {}, path=path)

    async def _target(self, state: Mapping[str, Any], decisions: list[dict[str, Any]]) -> str:
        opts = self.options
        if self._router is None:
            assert opts.model is not None
            return opts.model
        decision = await self._router.route(
            RouteRequest(str(state.get("task", "")), state.get("metadata") or {}), opts.models
        )
        decisions.append(
            {
                "node": self.name,
                "type": "route",
                "target": decision.target,
                "reason": decision.reason,
                "scores": dict(decision.scores),
            }
        )
        return decision.target

    async def _ask(
        self, model: Model, messages: list[dict[str, Any]], state: Mapping[str, Any], box: Toolbox, step: int
    ) -> Completion:
        """One model call: streamed (tokens as events) unless the answer must validate."""
        from langgraph.config import get_stream_writer

        opts = self.options
        kwargs: dict[str, Any] = {"metadata": state.get("metadata") or {}, **opts.sampling()}
        if len(box):
            kwargs["tools"] = box.specs()
            if step == 0 and opts.tool_choice is not None:
                kwargs["tool_choice"] = opts.tool_choice
        if opts.response_format is not None:
            return await model.acomplete(
                messages,
                response_format=opts.response_format,
                structured_retries=opts.structured_retries,
                **kwargs,
            )
        write = get_stream_writer()
        completion = None
        async for chunk in model.astream(messages, **kwargs):
            if chunk.discard:  # the answer restarts on a fallback model: drop the tokens so far
                write({"type": "discard", "node": self.name, "failed": chunk.failed})
            elif chunk.text:
                write({"type": "token", "node": self.name, "text": chunk.text})
            completion = chunk.completion or completion
        assert completion is not None
        return completion

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        opts = self.options
        decisions: list[dict[str, Any]] = []
        model = self.context.model(await self._target(state, decisions))
        messages = opts.messages(state)
        spent: list[Completion] = []
        outcomes: list[ToolOutcome] = []
        async with open_toolbox(self._tools, self._servers, self.context.base_dir) as box:
            for step in range(opts.max_steps):
                completion = await self._ask(model, messages, state, box, step)
                spent.append(completion)
                if not completion.tool_calls:
                    break
                messages.append(completion.message())
                spent_tokens = sum(c.usage.total_tokens for c in spent)
                spent_cost = sum(c.cost_usd or 0.0 for c in spent)
                self.context.check_budget(state, extra_cost=spent_cost, extra_tokens=spent_tokens)
                for outcome in await box.call_all(completion.tool_calls):
                    outcomes.append(outcome)
                    content = fence(f"tool:{outcome.call.name}", outcome.content)
                    messages.append({"role": "tool", "tool_call_id": outcome.call.id, "content": content})
            else:
                raise GraphError(
                    f"agent '{self.name}' still calling tools after max_steps={opts.max_steps} model calls"
                )
        return self._update(spent, outcomes, decisions)

    def _update(
        self, spent: list[Completion], outcomes: list[ToolOutcome], decisions: list[dict[str, Any]]
    ) -> dict[str, Any]:
        final = spent[-1]
        update = completion_update(self.name, [final])
        for earlier in spent[:-1]:  # tool-calling turns cost too, but are no candidate answers
            for key, value in earlier.usage.as_dict().items():
                update["usage"][key] += value
            update["cost_usd"] += earlier.cost_usd or 0.0
        answer = final.text
        if final.parsed is not None:
            parsed = (
                final.parsed.model_dump(mode="json") if hasattr(final.parsed, "model_dump") else final.parsed
            )
            answer = json.dumps(parsed, ensure_ascii=False)
        results = [
            {
                "node": self.name,
                "tool": o.call.name,
                "call_id": o.call.id,
                "arguments": o.call.arguments,
                "output": o.output,
                "error": o.error,
                "latency_s": round(o.latency_s, 6),
                "trust": "untrusted",
            }
            for o in outcomes
        ]
        return {
            **update,
            "answer": answer,
            "decisions": decisions,
            "tool_results": results,
            "messages": [{"role": "assistant", "content": answer, "name": final.model}],
        }
