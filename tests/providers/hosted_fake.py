"""A fake provider that stands for a hosted model and records every request, for privacy tests.

Import both names into a test module: ``hosted_fake`` is an autouse fixture that registers the
provider as ``hosted_fake`` for each test and clears what it saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

from fusionsdk.providers.base import CompletionRequest, ProviderResponse
from fusionsdk.registry import default_registry
from fusionsdk.testing import FakeProvider

__all__ = ["HostedFake", "hosted_fake"]


class HostedFake(FakeProvider):
    """A fake that records every request any instance receives."""

    seen: ClassVar[list[CompletionRequest]] = []

    async def complete(self, request: CompletionRequest) -> ProviderResponse:
        HostedFake.seen.append(request)
        return await super().complete(request)


@pytest.fixture(autouse=True)
def hosted_fake() -> Iterator[None]:
    HostedFake.seen.clear()
    default_registry().register("providers", "hosted_fake", HostedFake, replace=True)
    try:
        yield
    finally:
        default_registry().unregister("providers", "hosted_fake")
