"""Provider tests: the loopback test servers of :mod:`tests.servers` as fixtures."""

from tests.servers.fixtures import (  # noqa: F401 - fixtures are found by name
    fault_server,
    faults,
    llamacpp_server,
    tgi,
    tgi_server,
    triton,
    triton_server,
    warm_litellm,
)
