"""LangChain interop: :class:`ChatFusion`, a LangChain chat model over any fusionsdk
:class:`~fusionsdk.providers.model.Model`, and :class:`GraphRunnable`, a LangChain ``Runnable``
over a compiled graph (``graph.as_runnable()``). The other way round, the ``langchain``
provider (:mod:`fusionsdk.integrations.langchain_provider`) makes a LangChain chat model a
fusionsdk model.

Example:
    An LCEL chain over the embedded SmolLM2::

        from langchain_core.prompts import ChatPromptTemplate
        from fusionsdk import ModelHub
        from fusionsdk.integrations.langchain import ChatFusion

        chat = ChatFusion(model=ModelHub.embedded()["smollm2"], max_tokens=32)
        chain = ChatPromptTemplate.from_template("Capital of {country}?") | chat
        chain.invoke({"country": "France"}).content
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_openai_messages
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field

from fusionsdk._sync import iterate_sync, run_sync
from fusionsdk.errors import ProviderUnavailable
from fusionsdk.graph.runnable import GraphRunnable
from fusionsdk.providers.base import Usage
from fusionsdk.providers.model import Completion, Model, ModelStreamChunk
from fusionsdk.providers.structured import ResponseFormat

__all__ = ["ChatFusion", "GraphRunnable", "to_ai_message", "to_openai_messages"]

#: Call options ChatFusion passes to the model (``bind(...)`` or per-call kwargs).
_PASSED = (
    "tools",
    "tool_choice",
    "response_format",
    "max_tokens",
    "temperature",
    "top_p",
    "seed",
    "metadata",
)


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as the OpenAI-style dicts fusionsdk models take."""
    converted = convert_to_openai_messages(list(messages))
    return [dict(m) for m in (converted if isinstance(converted, list) else [converted])]


def _usage(usage: Usage) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def _metadata(completion: Completion) -> dict[str, Any]:
    return {
        "model_name": completion.model,
        "deployment": completion.deployment,
        "finish_reason": completion.finish_reason,
        "cost_usd": completion.cost_usd,
        "latency_s": completion.latency_s,
        "locality": completion.locality,
    }


def to_ai_message(completion: Completion) -> AIMessage:
    """A finished completion as an ``AIMessage`` (tool calls, usage and, with a
    ``response_format``, the validated value in ``additional_kwargs["parsed"]``)."""
    extra: dict[str, Any] = {}
    if completion.parsed is not None:
        parsed = completion.parsed
        extra["parsed"] = parsed.model_dump(mode="json") if isinstance(parsed, BaseModel) else parsed
    return AIMessage(
        content=completion.text,
        tool_calls=[
            {"name": c.name, "args": c.arguments, "id": c.id, "type": "tool_call"}
            for c in completion.tool_calls
        ],
        usage_metadata=_usage(completion.usage),
        response_metadata=_metadata(completion),
        additional_kwargs=extra,
    )


def _chunk(piece: ModelStreamChunk) -> ChatGenerationChunk:
    if piece.completion is not None:
        message = AIMessageChunk(
            content="",
            usage_metadata=_usage(piece.completion.usage),
            response_metadata=_metadata(piece.completion),
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message)
    calls = [
        {"name": d.name, "args": d.arguments or None, "id": d.id, "index": d.index, "type": "tool_call_chunk"}
        for d in piece.tool_calls
    ]
    return ChatGenerationChunk(message=AIMessageChunk(content=piece.text, tool_call_chunks=calls))


class ChatFusion(BaseChatModel):
    """A LangChain chat model over a fusionsdk model: every fusionsdk feature (retries,
    fallbacks, privacy gate, cost, tool calls, structured output) works from LangChain.

    Args:
        model: The fusionsdk model (``hub["name"]``).
        max_tokens: Default output limit.
        temperature: Default sampling temperature.
        stop: Default stop sequences.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: Model = Field(exclude=True)
    max_tokens: int | None = None
    temperature: float | None = None
    stop: list[str] | None = None

    @property
    def _llm_type(self) -> str:
        return "fusionsdk"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model.name, "deployment": self.model.spec.deployment}

    def _call_args(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        args["stop"] = stop if stop is not None else self.stop
        args.update({k: v for k, v in kwargs.items() if k in _PASSED})
        return {k: v for k, v in args.items() if v is not None}

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        completion = await self.model.acomplete(to_openai_messages(messages), **self._call_args(stop, kwargs))
        return ChatResult(generations=[ChatGeneration(message=to_ai_message(completion))])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return run_sync(self._agenerate(messages, stop, None, **kwargs))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        args = self._call_args(stop, kwargs)
        async for piece in self.model.astream(to_openai_messages(messages), **args):
            if piece.discard:  # LangChain adds chunks up: text already sent cannot be taken back
                raise ProviderUnavailable(
                    "the stream failed midway and its answer restarted on a fallback model; a "
                    "LangChain stream cannot drop the text already sent (use ainvoke to fail over)",
                    model=piece.failed,
                )
            chunk = _chunk(piece)
            if run_manager is not None and piece.text:
                await run_manager.on_llm_new_token(piece.text, chunk=chunk)
            yield chunk

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in iterate_sync(self._astream(messages, stop, None, **kwargs)):
            if run_manager is not None and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer ``tools`` (LangChain tools, pydantic models, functions or OpenAI dicts);
        ``tool_choice`` is ``auto``, ``none``, ``any``/``required`` or a tool name."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice == "any":
            tool_choice = "required"
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: str = "json_schema",
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Answers validated against ``schema`` (a pydantic model or a JSON Schema).

        ``method="json_schema"`` (the default) sends it as ``response_format``, so backends
        that can constrain their output do, and the adapter validates and retries;
        ``method="function_calling"`` uses LangChain's tool-calling route.
        """
        if method == "function_calling":
            return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
        fmt = ResponseFormat.of(schema)
        bound = self.bind(response_format=fmt.openai if fmt.model is None else fmt.model)

        def parse(message: AIMessage) -> Any:
            parsed = message.additional_kwargs.get("parsed")
            if parsed is None:
                return fmt.parse(str(message.content))
            return fmt.model.model_validate(parsed) if fmt.model is not None else parsed

        parser = RunnableLambda(parse)
        if not include_raw:
            return bound | parser
        parse_safely: Runnable[Any, Any] = RunnableLambda(lambda x: _parse_or_error(parse, x["raw"]))
        return (
            RunnableMap(raw=bound) | RunnablePassthrough.assign(parsed=parse_safely) | RunnableLambda(_split)
        )


def _parse_or_error(parse: Callable[[AIMessage], Any], message: AIMessage) -> tuple[Any, Exception | None]:
    try:
        return parse(message), None
    except ValueError as err:
        return None, err


def _split(data: dict[str, Any]) -> dict[str, Any]:
    parsed, error = data["parsed"]
    return {"raw": data["raw"], "parsed": parsed, "parsing_error": error}
