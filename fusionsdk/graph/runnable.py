"""A compiled graph as a LangChain ``Runnable`` (:meth:`Graph.as_runnable`), so it drops into
LCEL chains: ``prompt | graph.as_runnable() | parser``.

Input: the task as a string, or ``{"task": ..., "metadata": ..., "thread_id": ...}`` (a
``PromptValue`` or message list from an upstream prompt is read as its last message's text).
Output: the answer string (``output="answer"``, the default) or the run result as a dict
(``output="result"``). Streaming yields answer text as it is produced: tokens of the nodes that
end the graph, or a fuser's decided answer, so the pieces add up to the answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.runnables import Runnable, RunnableConfig

from fusionsdk._sync import iterate_sync, run_sync
from fusionsdk.config.graph import END
from fusionsdk.errors import GraphError

if TYPE_CHECKING:
    from fusionsdk.graph.run import Graph

__all__ = ["GraphRunnable"]

Output = Literal["answer", "result"]


def _task_and_options(value: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict):
        if "task" not in value:
            raise GraphError("a graph runnable's dict input needs a 'task'")
        options = {k: value[k] for k in ("metadata", "thread_id") if value.get(k) is not None}
        return str(value["task"]), options
    to_messages = getattr(value, "to_messages", None)  # a PromptValue from a prompt template
    messages = to_messages() if callable(to_messages) else value
    if isinstance(messages, list) and messages:
        content = getattr(messages[-1], "content", None)
        if isinstance(content, str):
            return content, {}
    raise GraphError(f"a graph runnable takes a task string or {{'task': ...}}, not {type(value).__name__}")


class GraphRunnable(Runnable[Any, Any]):
    """A LangChain Runnable over a compiled :class:`~fusionsdk.graph.run.Graph`.

    Args:
        graph: The compiled graph.
        output: ``answer`` (a string) or ``result`` (:meth:`RunResult.as_dict`).
        checkpoint: Passed to every run (``False``: keep nothing between runs).
    """

    def __init__(self, graph: Graph, output: Output = "answer", checkpoint: Any = None) -> None:
        self.graph, self.output, self.checkpoint = graph, output, checkpoint
        self._terminal = {source for source, target in graph.config.edges if target == END}

    @property
    def InputType(self) -> Any:
        return str

    @property
    def OutputType(self) -> Any:
        return str if self.output == "answer" else dict

    def _shape(self, result: Any) -> Any:
        return result.answer if self.output == "answer" else result.as_dict()

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        task, options = _task_and_options(input)
        result = await self.graph.arun(task, checkpoint=self.checkpoint, **options)
        return self._shape(result)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return run_sync(self.ainvoke(input, config, **kwargs))

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[Any]:
        task, options = _task_and_options(input)
        streamed: dict[str, bool] = {}
        sent = False
        async for event in self.graph.astream(task, checkpoint=self.checkpoint, **options):
            if event.type == "result":
                assert event.result is not None
                if self.output == "result":
                    yield event.result.as_dict()
                elif not sent and event.result.answer:
                    yield event.result.answer
                return
            if self.output != "answer" or event.node not in self._terminal:
                continue
            if event.type == "discard" and streamed.get(event.node):
                # a model failed midway and the node's answer restarts: what was yielded is void,
                # and a LangChain stream cannot take it back
                raise GraphError(
                    f"node '{event.node}' restarted its streamed answer on a fallback model; a "
                    "LangChain stream cannot drop the text already sent (use ainvoke to fail over)"
                )
            if event.type == "token" and event.text:
                streamed[event.node] = sent = True
                yield event.text
            elif event.type == "answer" and event.text and not streamed.get(event.node):
                sent = True
                yield event.text

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any | None) -> Iterator[Any]:
        return iterate_sync(self.astream(input, config, **kwargs))
