"""The scorer contract (plugins of ``fusionsdk.scorers``): how right a prediction is."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from fusionsdk.plugin import OptionsT, PluginBase

__all__ = ["Scorer"]


class Scorer(PluginBase[OptionsT], ABC):
    """Base class of scorers. Scores lie in [0, 1]; 1 means correct.

    Attributes:
        deterministic: Whether the same pair always gets the same score (the conformance kit
            checks it when True; scorers that ask a judge model set it False).
    """

    deterministic: ClassVar[bool] = True

    @abstractmethod
    def score(self, prediction: str, reference: str) -> float:
        """Score ``prediction`` against ``reference``."""
