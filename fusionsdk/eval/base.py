"""The scorer contract (plugins of ``fusionsdk.scorers``): how right a prediction is."""

from __future__ import annotations

from abc import ABC, abstractmethod

from fusionsdk.plugin import PluginBase

__all__ = ["Scorer"]


class Scorer(PluginBase, ABC):
    """Base class of scorers. Scores lie in [0, 1]; 1 means correct."""

    @abstractmethod
    def score(self, prediction: str, reference: str) -> float:
        """Score ``prediction`` against ``reference``."""
