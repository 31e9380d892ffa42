"""Conformance suite of tools (``fusionsdk.tools``).

Agents read a tool's description to decide when to call it and pass it keyword arguments a model
wrote, so a tool must describe itself, run with sensible arguments, refuse unknown ones with a
:class:`~fusionsdk.errors.FusionError`, and serve concurrent calls.

A plain function registered as a tool is wrapped by ``Tool.adapt_plugin``; test it the way the
registry sees it::

    class TestWordCount(ToolConformance):
        plugin_class = Tool.adapt_plugin(word_count)
        sample_arguments = {"text": "one two three"}
        expected_result = 3
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, ClassVar

import pytest

from fusionsdk.errors import FusionError
from fusionsdk.registry import PluginKind
from fusionsdk.testing.conformance._common import PluginConformance
from fusionsdk.tools.base import Tool

__all__ = ["ToolConformance"]

_UNSET: Any = object()


class ToolConformance(PluginConformance):
    """Conformance suite of tools; set ``plugin_class`` and ``sample_arguments``.

    Attributes:
        sample_arguments: Keyword arguments of an ordinary call.
        expected_result: What that call returns, when it is predictable.
        accepts_any_arguments: Set True for tools that take arbitrary keyword arguments (the
            unknown-argument test is then skipped).
        concurrent_calls: How many calls the concurrency test makes at once.
    """

    kind: ClassVar[PluginKind] = PluginKind.TOOLS
    sample_arguments: ClassVar[dict[str, Any]] = {}
    expected_result: ClassVar[Any] = _UNSET
    accepts_any_arguments: ClassVar[bool] = False
    concurrent_calls: ClassVar[int] = 8

    def test_describes_itself(self, plugin: Tool) -> None:
        description = type(plugin).description or inspect.getdoc(type(plugin)) or ""
        assert description.strip(), "set the description class attribute (or a docstring) for agents"

    @pytest.mark.asyncio
    async def test_runs_with_sample_arguments(self, plugin: Tool) -> None:
        result = await plugin.run(**self.sample_arguments)
        if self.expected_result is not _UNSET:
            assert result == self.expected_result

    @pytest.mark.asyncio
    async def test_unknown_argument_is_a_fusion_error(self, plugin: Tool) -> None:
        if self.accepts_any_arguments:
            pytest.skip("the tool takes arbitrary keyword arguments")
        with pytest.raises(FusionError, match="no_such_argument"):
            await plugin.run(**self.sample_arguments, no_such_argument=1)

    @pytest.mark.asyncio
    async def test_safe_under_concurrency(self, plugin: Tool) -> None:
        calls = (plugin.run(**self.sample_arguments) for _ in range(self.concurrent_calls))
        results = await asyncio.gather(*calls)
        if self.expected_result is not _UNSET:
            assert all(result == self.expected_result for result in results)
