"""Tool tests: the scripted OpenAI-compatible server as a fixture."""

from tests.servers.fixtures import fault_server, faults, warm_litellm  # noqa: F401 - found by name
