"""Finding the models a strategy or arbiter calls (judges, aggregators) in its FusionContext."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fusionsdk.errors import FusionError

if TYPE_CHECKING:
    from fusionsdk.fusion.base import FusionContext
    from fusionsdk.providers.model import Model

__all__ = ["missing_models", "require_model"]


def missing_models(context: FusionContext | None, names: list[str]) -> list[str]:
    """Those of ``names`` that are not among the context's models, in order."""
    if context is None:
        return list(names)
    return [name for name in names if name not in context.models]


def require_model(context: FusionContext | None, name: str, who: str) -> Model:
    """The model ``name`` of the context.

    Args:
        context: The fusion context (None outside a graph).
        name: The model's name.
        who: What needs it, for the message (``"rank: judge"``).

    Raises:
        FusionError: It is not among the context's models (the message lists those that are).
    """
    if missing_models(context, [name]):
        known = ", ".join(sorted(context.models)) if context is not None else ""
        raise FusionError(f"{who} model '{name}' is not among the graph's models ({known or 'none'})")
    assert context is not None
    return context.models[name]
