"""Fakes and conformance kits for people who test with fusionsdk or write plugins for it."""

from fusionsdk.testing.fakes import FakeEmbedder, FakeProvider, fake_model

__all__ = ["FakeEmbedder", "FakeProvider", "fake_model"]
