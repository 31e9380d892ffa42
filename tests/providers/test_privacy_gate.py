"""The privacy gate: a sensitive request never reaches a hosted model, whatever the path.

Hosted models here are fakes with ``locality: hosted`` whose provider records every request it
receives (each instance in ``requests``, and all of them together in ``HostedFake.seen``, which
also covers models of subgraphs). Each path is tried with the request flagged in run metadata
(an innocuous text, so only metadata propagation protects it) and with personal data in the
text (no flag, so the detectors must catch it).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fusionsdk.errors import AllModelsFailed, FusionError, PrivacyViolation, ProviderUnavailable
from fusionsdk.graph import compile_config
from fusionsdk.providers.base import CompletionRequest
from fusionsdk.providers.hub import ModelHub
from fusionsdk.testing import fake_model
from tests.providers.hosted_fake import HostedFake, hosted_fake  # noqa: F401 (autouse fixture)


def local(*responses: str) -> dict[str, Any]:
    return {"provider": "fake", "locality": "local", "options": {"responses": list(responses)}}


def hosted(*responses: str, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "hosted_fake",
        "locality": "hosted",
        "options": {"responses": list(responses)},
        **extra,
    }


#: (task, metadata): flagged in metadata with an innocuous text, or personal data in the text.
SENSITIVE = {
    "flag": ("How many eggs are left?", {"sensitive": True}),
    "detected": ("Reply to jane.doe@example.com: how many eggs are left?", None),
}


def hosted_requests(hub: ModelHub) -> dict[str, list[CompletionRequest]]:
    return {name: m.provider.requests for name, m in hub.items() if m.locality == "hosted"}  # type: ignore[attr-defined]


def assert_no_hosted_call(hub: ModelHub) -> None:
    assert all(not requests for requests in hosted_requests(hub).values()), hosted_requests(hub)
    assert HostedFake.seen == []


# -- the adapter itself ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", SENSITIVE)
async def test_direct_call_to_a_hosted_model_is_refused(case: str) -> None:
    task, metadata = SENSITIVE[case]
    hub = ModelHub.from_dict({"version": 1, "models": {"cloud": hosted("ok")}})
    with pytest.raises(PrivacyViolation, match="kept from: cloud") as caught:
        await hub["cloud"].acomplete(task, metadata=metadata)
    with pytest.raises(PrivacyViolation):
        async for _ in hub["cloud"].astream(task, metadata=metadata):
            pass
    assert caught.value.refused == ["cloud"]
    assert "jane" not in str(caught.value)  # the error names kinds, never the data
    assert_no_hosted_call(hub)


async def test_ordinary_requests_still_reach_hosted_models() -> None:
    hub = ModelHub.from_dict({"version": 1, "models": {"cloud": hosted("16 - 7 = 9")}})
    assert (await hub["cloud"].acomplete("Janet's ducks lay 16 eggs per day.")).text == "16 - 7 = 9"
    assert len(hub["cloud"].provider.requests) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", SENSITIVE)
async def test_fallback_chain_skips_hosted_models_and_a_local_one_answers(case: str) -> None:
    task, metadata = SENSITIVE[case]
    models = {
        "cloud": hosted("cloud", fallbacks=["cloud2", "box"]),
        "cloud2": hosted("cloud2"),
        "box": local("local answer"),
    }
    hub = ModelHub.from_dict({"version": 1, "models": models})
    completion = await hub["cloud"].acomplete(task, metadata=metadata)
    assert completion.text == "local answer" and completion.model == "box"
    assert completion.privacy_skipped == ("cloud", "cloud2") and completion.fallback_from == "cloud"
    chunks = [c async for c in hub["cloud"].astream(task, metadata=metadata)]
    assert chunks[-1].completion is not None and chunks[-1].completion.privacy_skipped == ("cloud", "cloud2")
    assert len(hub["box"].provider.requests) == 2  # type: ignore[attr-defined]
    assert_no_hosted_call(hub)


async def test_a_local_primary_failing_never_falls_back_to_a_hosted_model() -> None:
    box = {**local(), "fallbacks": ["cloud"], "retry": {"attempts": 1}}
    hub = ModelHub.from_dict({"version": 1, "models": {"box": box, "cloud": hosted("x")}})
    hub["box"].provider.script = [ProviderUnavailable("down")]  # type: ignore[attr-defined]
    with pytest.raises(PrivacyViolation, match="local models failed") as caught:
        await hub["box"].acomplete("Card 4111 1111 1111 1111 was declined", max_tokens=5)
    assert caught.value.kinds == ["card"] and caught.value.refused == ["cloud"]
    assert isinstance(caught.value.errors[0], ProviderUnavailable)
    assert not isinstance(caught.value, AllModelsFailed)
    assert_no_hosted_call(hub)


def test_privacy_violation_is_not_retried() -> None:
    model = fake_model("cloud", ["x"], locality="hosted")
    with pytest.raises(PrivacyViolation):
        model.complete("ssn 123-45-6789")
    assert model.provider.requests == []  # type: ignore[attr-defined]
    assert model.breaker.state == "closed"  # a refusal says nothing about the deployment


async def test_detection_off_still_honours_the_explicit_flag() -> None:
    config = {"version": 1, "privacy": {"detect": False}, "models": {"cloud": hosted("ok")}}
    hub = ModelHub.from_dict(config)
    assert (await hub["cloud"].acomplete("mail jane@example.com")).text == "ok"
    with pytest.raises(PrivacyViolation, match=r"\(flagged\)"):
        await hub["cloud"].acomplete("hello", metadata={"sensitive": True})


async def test_custom_detectors_plug_into_the_hub() -> None:
    from fusionsdk.providers.privacy import Finding

    class ProjectCodenames:
        name = "codenames"

        def detect(self, text: str) -> list[Finding]:
            at = text.find("BLUEBIRD")
            return [] if at < 0 else [Finding("codename", at, at + 8)]

    hub = ModelHub.from_dict({"version": 1, "models": {"cloud": hosted("ok")}})
    hub.privacy.add_detector(ProjectCodenames())
    with pytest.raises(PrivacyViolation, match="codename"):
        await hub["cloud"].acomplete("Status of BLUEBIRD?")
    with pytest.raises(TypeError):
        hub.privacy.add_detector(object())  # type: ignore[arg-type]


def test_token_ensemble_gate_refuses_hosted_models() -> None:
    model = fake_model("cloud", locality="hosted")
    with pytest.raises(PrivacyViolation):
        model.check_privacy("What is 2 + 2?", {"sensitive": True})
    model.check_privacy("What is 2 + 2?", {})
    fake_model("box").check_privacy("mail jane@example.com", {"sensitive": True})  # local: fine


async def test_token_ensemble_with_a_model_marked_hosted_is_refused_before_loading() -> None:
    from fusionsdk.fusion.base import FusionContext
    from fusionsdk.fusion.token_ensemble import TokenEnsemble

    hub = ModelHub.from_dict(
        {"version": 1, "models": {"smol": {"provider": "llamacpp", "model": "smollm2", "locality": "hosted"}}}
    )
    fuser = TokenEnsemble({"models": ["smol"]})
    context = FusionContext(models=hub, metadata={"sensitive": True})
    with pytest.raises(PrivacyViolation):
        await fuser.fuse("What is 2 + 2?", [], context)


# -- graphs: panels, judges, aggregators, arbiters, subgraphs -------------------------------------


def graph_config(models: dict[str, Any], nodes: dict[str, Any], edges: list[list[str]]) -> dict[str, Any]:
    return copy.deepcopy({"version": 1, "models": models, "nodes": nodes, "edges": edges})


PANEL = {"kind": "panel", "models": ["box1", "box2", "cloud"], "quorum": 1}
MIXED = {"box1": local("18"), "box2": local("17"), "cloud": hosted("18")}


@pytest.mark.parametrize("case", SENSITIVE)
async def test_panel_with_mixed_locality_asks_only_the_local_models(case: str) -> None:
    task, metadata = SENSITIVE[case]
    nodes = {"panel": PANEL, "fuse": {"kind": "fuse", "strategy": "majority_vote"}}
    graph = compile_config(
        graph_config(MIXED, nodes, [["START", "panel"], ["panel", "fuse"], ["fuse", "END"]])
    )
    result = await graph.arun(task, metadata=metadata)
    panel = next(d for d in result.decisions if d["type"] == "panel")
    assert panel["answered"] == ["box1", "box2"]
    assert panel["failed"][0]["model"] == "cloud" and "PrivacyViolation" in panel["failed"][0]["error"]
    assert_no_hosted_call(graph.hub)


@pytest.mark.parametrize("case", SENSITIVE)
@pytest.mark.parametrize(
    ("kind", "plugin", "options"),
    [
        ("arbitrate", "judge", {"judge": "cloud", "threshold": 1.0}),
        ("arbitrate", "escalate", {"model": "cloud", "threshold": 1.0}),
        ("fuse", "synthesize", {"aggregator": "cloud"}),
        ("fuse", "synthesize", {"aggregator": "box1", "layers": 2, "proposers": ["cloud"]}),
        ("fuse", "rank", {"judge": "cloud"}),
    ],
)
async def test_hosted_judges_aggregators_and_arbiters_never_see_sensitive_data(
    case: str, kind: str, plugin: str, options: dict[str, Any]
) -> None:
    task, metadata = SENSITIVE[case]
    key = "arbiter" if kind == "arbitrate" else "strategy"
    panel = {"kind": "panel", "models": ["box1", "box2"]}
    nodes = {"panel": panel, "decide": {"kind": kind, key: plugin, "options": options}}
    models = {**MIXED, "cloud": hosted("Answer 1 is best: 1")}
    graph = compile_config(
        graph_config(models, nodes, [["START", "panel"], ["panel", "decide"], ["decide", "END"]])
    )
    with pytest.raises(FusionError) as caught:
        await graph.arun(task, metadata=metadata)
    assert isinstance(caught.value, PrivacyViolation) or "PrivacyViolation" in str(caught.value)
    assert graph.hub["box1"].provider.requests  # type: ignore[attr-defined] # local models answered
    assert_no_hosted_call(graph.hub)


@pytest.mark.parametrize("case", SENSITIVE)
async def test_a_hosted_debater_is_refused(case: str) -> None:
    from fusionsdk.arbiters.debate import DebateArbiter
    from fusionsdk.fusion.base import Candidate, FusionContext

    task, metadata = SENSITIVE[case]
    hub = ModelHub.from_dict({"version": 1, "models": MIXED})
    candidates = [Candidate("box1", "18"), Candidate("cloud", "17")]  # e.g. recorded earlier
    context = FusionContext(models=hub, metadata=metadata or {})
    with pytest.raises(PrivacyViolation):
        await DebateArbiter({"threshold": 1.0}).resolve(task, candidates, context)
    assert_no_hosted_call(hub)


@pytest.mark.parametrize("case", SENSITIVE)
async def test_subgraphs_inherit_the_sensitivity(case: str, tmp_path: Path) -> None:
    task, metadata = SENSITIVE[case]
    inner = {
        "version": 1,
        "privacy": {"detect": False},  # only the flag the outer run sets protects it
        "models": {"cloud": hosted("inner")},
        "nodes": {"ask": {"kind": "agent", "model": "cloud"}},
        "edges": [["START", "ask"], ["ask", "END"]],
    }
    (tmp_path / "inner.yaml").write_text(json.dumps(inner))
    nodes = {"deep": {"kind": "subgraph", "config": "inner.yaml"}}
    outer = graph_config({"box1": local("x")}, nodes, [["START", "deep"], ["deep", "END"]])
    graph = compile_config(outer, base_dir=tmp_path)
    with pytest.raises(PrivacyViolation):
        await graph.arun(task, metadata=metadata)
    assert HostedFake.seen == []


async def test_an_agent_routed_to_a_hosted_model_fails_closed_naming_it() -> None:
    nodes = {"ask": {"kind": "agent", "model": "cloud"}}
    graph = compile_config(graph_config({"cloud": hosted("x")}, nodes, [["START", "ask"], ["ask", "END"]]))
    with pytest.raises(PrivacyViolation, match=r"\(phone\).*kept from: cloud"):
        await graph.arun("Call me back on +44 20 7946 0958 about the order")
    assert_no_hosted_call(graph.hub)
