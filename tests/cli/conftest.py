"""CLI tests: installed-looking plugin distributions (:mod:`tests.plugin_dists`)."""

from tests.plugin_dists import fake_site  # noqa: F401 - fixtures are found by name
