"""Conformance suites plugin authors subclass to check a plugin honours its kind's contract.

One suite per kind, each a class of pytest tests (needs pytest and pytest-asyncio)::

    from fusionsdk.testing import FuserConformance

    class TestMyFuser(FuserConformance):
        plugin_class = MyFuser
        plugin_options = {"threshold": 0.7}

Every suite checks the plugin API version, the base class, a docstring, that ``Options``
forbids unknown keys and round-trips through JSON, and that the registry accepts the class;
then the kind's own contract: ordinary, empty, single and large inputs, error types,
determinism where promised, and safety under concurrency.
"""

from fusionsdk.testing.conformance._common import PluginConformance
from fusionsdk.testing.conformance.answers import AnswerTypeConformance
from fusionsdk.testing.conformance.commands import CommandConformance
from fusionsdk.testing.conformance.fusion import ArbiterConformance, FuserConformance
from fusionsdk.testing.conformance.memory import EmbedderConformance, MemoryStoreConformance
from fusionsdk.testing.conformance.providers import ProviderConformance
from fusionsdk.testing.conformance.routing import RouterConformance
from fusionsdk.testing.conformance.scoring import ScorerConformance
from fusionsdk.testing.conformance.tools import ToolConformance

__all__ = [
    "AnswerTypeConformance",
    "ArbiterConformance",
    "CommandConformance",
    "EmbedderConformance",
    "FuserConformance",
    "MemoryStoreConformance",
    "PluginConformance",
    "ProviderConformance",
    "RouterConformance",
    "ScorerConformance",
    "ToolConformance",
]
