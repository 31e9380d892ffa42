"""``fusionsdk plugins list|show``, and a CLI that survives broken plugins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from fusionsdk.cli.app import main
from fusionsdk.registry import reset_default_registry
from tests.plugin_dists import FakeSite

BROKEN_FUSER = """
from fusionsdk.fusion.base import Fuser

raise RuntimeError("this fuser cannot even be imported")
"""

BROKEN_COMMAND = """
import fusionsdk_cli_dependency_that_is_missing
"""

GOOD_COMMAND = """
import typer
from fusionsdk.cli.base import Command


def hello(name: str = typer.Argument("world")) -> None:
    '''Say hello.'''
    typer.echo(f"hello {name}")


class HelloCommand(Command):
    '''``fusionsdk hello``: greets.'''

    def build(self):
        return hello
"""


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees the environment it sets, and leaves no registry behind."""
    for variable in ("FUSIONSDK_PLUGINS", "FUSIONSDK_DISABLE_PLUGIN_AUTOLOAD"):
        monkeypatch.delenv(variable, raising=False)
    reset_default_registry()
    yield
    reset_default_registry()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def listed(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[tuple[str, str], dict[str, Any]]:
    code, out, err = run(capsys, "plugins", "list", "--json", *extra)
    assert code == 0, err
    return {(row["kind"], row["name"]): row for row in json.loads(out)}


# -- list -----------------------------------------------------------------------------------------


def test_list_json_gives_name_kind_distribution_version_and_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = listed(capsys)
    vote = rows[("fusers", "majority_vote")]
    assert {"name", "kind", "distribution", "version", "status", "error"} <= set(vote)
    assert (vote["distribution"], vote["status"], vote["builtin"]) == ("fusionsdk", "loaded", True)
    assert rows[("commands", "plugins")]["status"] == "loaded"
    assert rows[("providers", "fake")]["target"] == "fusionsdk.testing.fakes:FakeProvider"


def test_list_filters_by_kind(capsys: pytest.CaptureFixture[str]) -> None:
    rows = listed(capsys, "--kind", "fuser")
    assert rows and {kind for kind, _ in rows} == {"fusers"}


def test_list_of_an_unknown_kind_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plugins", "list", "--kind", "fusors")
    assert code == 2 and out == ""
    assert "unknown plugin kind 'fusors'" in err


def test_list_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plugins", "list", "--kind", "fusers")
    assert code == 0
    assert "majority_vote" in out and "fusionsdk" in out and "loaded" in out


# -- show -----------------------------------------------------------------------------------------


def test_show_json_gives_docstring_and_options_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plugins", "show", "majority_vote", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["kind"] == "fusers" and "Vote over normalised answers" in info["doc"]
    assert info["options_schema"]["additionalProperties"] is False
    assert info["options_schema"]["properties"]["extract"]["default"] == "text"


def test_show_prints_docstring_and_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plugins", "show", "fusionsdk:majority_vote")
    assert code == 0
    assert "majority_vote (fusers, fusionsdk" in out
    assert "Vote over normalised answers" in out and '"extract"' in out


def test_show_a_name_of_several_kinds_asks_for_the_kind(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plugins", "show", "fake")  # a provider and an embedder
    assert code == 2 and "pass --kind" in err
    code, out, _ = run(capsys, "plugins", "show", "fake", "--kind", "embedders", "--json")
    assert code == 0 and json.loads(out)["kind"] == "embedders"


def test_show_an_unknown_plugin_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plugins", "show", "no_such_plugin")
    assert code == 2 and "no plugin named 'no_such_plugin'" in err and "fusionsdk plugins list" in err


# -- broken and third-party plugins ---------------------------------------------------------------


def test_a_broken_fuser_is_reported_and_the_cli_still_works(
    fake_site: FakeSite,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_site.add(
        "fusionsdk-broken-fuser",
        "0.2.0",
        {"fusionsdk.fusers": {"crash": "crash_fuser:Crash"}},
        {"crash_fuser": BROKEN_FUSER},
    )
    rows = listed(capsys)
    crash = rows[("fusers", "crash")]
    assert (crash["distribution"], crash["version"], crash["status"]) == (
        "fusionsdk-broken-fuser",
        "0.2.0",
        "error",
    )
    assert "RuntimeError: this fuser cannot even be imported" in crash["error"]
    assert rows[("fusers", "majority_vote")]["status"] == "loaded"

    code, _, err = run(capsys, "plugins", "show", "crash")
    assert code == 2
    assert "'crash' from fusionsdk-broken-fuser 0.2.0 failed to load: RuntimeError" in err
    code, out, _ = run(capsys, "plugins", "show", "majority_vote", "--json")
    assert code == 0 and json.loads(out)["name"] == "majority_vote"


def test_a_broken_command_is_skipped_with_a_warning_and_reported(
    fake_site: FakeSite,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_site.add(
        "fusionsdk-broken-cmd",
        "1.4",
        {"fusionsdk.commands": {"explode": "explode_cmd:Explode"}},
        {"explode_cmd": BROKEN_COMMAND},
    )
    code, out, err = run(capsys, "plugins", "list", "--json")
    assert code == 0
    assert "command plugin 'explode' skipped" in err and "fusionsdk_cli_dependency_that_is_missing" in err
    explode = {(r["kind"], r["name"]): r for r in json.loads(out)}[("commands", "explode")]
    assert (explode["distribution"], explode["version"], explode["status"]) == (
        "fusionsdk-broken-cmd",
        "1.4",
        "error",
    )

    code, _, err = run(capsys, "explode")
    assert code == 2 and "No such command 'explode'" in err


def test_a_third_party_command_is_mounted(fake_site: FakeSite, capsys: pytest.CaptureFixture[str]) -> None:
    fake_site.add(
        "fusionsdk-hello",
        "1.0",
        {"fusionsdk.commands": {"hello": "hello_cmd:HelloCommand"}},
        {"hello_cmd": GOOD_COMMAND},
    )
    code, out, _ = run(capsys, "hello", "plugins")
    assert (code, out) == (0, "hello plugins\n")


def test_a_plugin_outside_the_allow_list_is_listed_as_blocked(
    fake_site: FakeSite,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_site.add(
        "fusionsdk-hello",
        "1.0",
        {"fusionsdk.commands": {"hello": "hello_cmd:HelloCommand"}},
        {"hello_cmd": GOOD_COMMAND},
    )
    monkeypatch.setenv("FUSIONSDK_PLUGINS", "some-other-plugin")
    rows = listed(capsys, "--kind", "commands")
    assert rows[("commands", "hello")]["status"] == "blocked"
    assert rows[("commands", "hello")]["error"] == "not in FUSIONSDK_PLUGINS"
    assert rows[("commands", "plugins")]["status"] == "loaded"  # built-ins are never blocked
    code, _, err = run(capsys, "hello")
    assert code == 2 and "No such command 'hello'" in err
