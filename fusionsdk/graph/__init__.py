"""Declarative agent graphs compiled to LangGraph."""

from fusionsdk.graph.compiler import compile_config, compile_file
from fusionsdk.graph.run import Graph, GraphEvent, RunResult

__all__ = ["Graph", "GraphEvent", "RunResult", "compile_config", "compile_file"]
