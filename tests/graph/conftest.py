"""Fixtures of the graph tests."""

from tests.servers.fixtures import postgres_server  # noqa: F401 - fixtures are found by name
