"""Personal-data detection, the privacy config, graph-run sensitivity and the privacy router."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from fusionsdk.config.file import parse_config
from fusionsdk.errors import ConfigError, GraphError, PrivacyViolation
from fusionsdk.graph import compile_config
from fusionsdk.providers.hub import ModelHub
from fusionsdk.providers.privacy import (
    BuiltinDetector,
    Finding,
    PrivacyPolicy,
    SensitivityDetector,
    detect_sensitive,
    iban_valid,
    luhn_valid,
    verhoeff_valid,
)
from fusionsdk.routing.base import RouteRequest
from fusionsdk.routing.privacy_router import PrivacyRouter

GSM8K = Path(__file__).resolve().parents[1] / "data" / "gsm8k_subset.jsonl"


def found(text: str) -> list[tuple[str, str, str]]:
    return [(f.kind, f.detail, text[f.start : f.end]) for f in detect_sensitive(text)]


def kinds(text: str) -> list[str]:
    return [f.kind for f in detect_sensitive(text)]


def with_verhoeff(eleven: str) -> str:
    """``eleven`` digits plus their Verhoeff check digit."""
    return next(eleven + d for d in "0123456789" if verhoeff_valid(eleven + d))


# -- true positives -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "detail", "span"),
    [
        ("Write to jane.doe+tax@example.co.uk today", "email", "", "jane.doe+tax@example.co.uk"),
        ("IBAN: DE89 3704 0044 0532 0130 00.", "iban", "DE", "DE89 3704 0044 0532 0130 00"),
        ("pay GB82WEST12345698765432 now", "iban", "GB", "GB82WEST12345698765432"),
        ("FR1420041010050500013M02606 is mine", "iban", "FR", "FR1420041010050500013M02606"),
        ("visa 4111 1111 1111 1111 exp 12/27", "card", "visa", "4111 1111 1111 1111"),
        ("mc 5555-5555-5555-4444", "card", "mastercard", "5555-5555-5555-4444"),
        ("amex 378282246310005", "card", "amex", "378282246310005"),
        ("card 6011111111111117 declined", "card", "discover", "6011111111111117"),
        ("call +44 20 7946 0958 today", "phone", "international", "+44 20 7946 0958"),
        ("or +1 (415) 555-2671", "phone", "international", "+1 (415) 555-2671"),
        ("office (415) 555-2671", "phone", "nanp", "(415) 555-2671"),
        ("office 415-555-2671", "phone", "nanp", "415-555-2671"),
        ("office 415.555.2671", "phone", "nanp", "415.555.2671"),
        ("ring 020 7946 0958", "phone", "national", "020 7946 0958"),
        ("mobile 07700900123", "phone", "national", "07700900123"),
        ("Tel: 4155552671", "phone", "labelled", "4155552671"),
        ("SSN 123-45-6789", "national_id", "us_ssn", "123-45-6789"),
        ("social security number: 123456789", "national_id", "us_ssn", "123456789"),
        ("NI number JH 12 34 56 C", "national_id", "uk_nino", "JH 12 34 56 C"),
        ("NINO AB123456D", "national_id", "uk_nino", "AB123456D"),
        ("DNI 12345678Z", "national_id", "es_dni", "12345678Z"),
        ("NIE X1234567L", "national_id", "es_nie", "X1234567L"),
    ],
)
def test_finds_each_kind_with_its_span(text: str, kind: str, detail: str, span: str) -> None:
    assert (kind, detail, span) in found(text)


def test_finds_aadhaar_numbers_that_pass_verhoeff() -> None:
    number = with_verhoeff("23456789012")
    spaced = f"{number[:4]} {number[4:8]} {number[8:]}"
    assert ("national_id", "in_aadhaar", spaced) in found(f"Aadhaar {spaced}")


def test_findings_are_ordered_and_never_duplicated() -> None:
    text = "mobile: 07700 900123, mail a@b.io"
    findings = detect_sensitive(text)
    assert [f.kind for f in findings] == ["phone", "email"]
    assert findings == sorted(findings, key=lambda f: f.start)
    assert all(isinstance(f, Finding) and 0 <= f.start < f.end <= len(text) for f in findings)


# -- checksums reject look-alikes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "IBAN DE88 3704 0044 0532 0130 00",  # wrong check digits
        "GB82WEST1234569876543",  # one character short for GB
        "QQ89 1234 5678 9012 3456",  # no such country
        "card 4111 1111 1111 1112",  # fails Luhn
        "card 9111 1111 1111 1111",  # no issuer starts with 9
        "ref 0000 0000 0000 0000",  # Luhn-valid zeros, no issuer
        "SSN 000-12-3456",  # area 000 is never issued
        "SSN 666-12-3456",
        "DNI 12345678A",  # wrong check letter
        "NINO GB 12 34 56 A",  # GB is not a valid prefix
        "NINO QQ 12 34 56 C",  # nor is QQ (the format's usual example)
        "Aadhaar 1234 5678 9012",  # cannot start with 1
    ],
)
def test_checksums_and_formats_reject_look_alikes(text: str) -> None:
    assert detect_sensitive(text) == []


def test_checksum_helpers() -> None:
    assert iban_valid("DE89370400440532013000") and not iban_valid("DE89370400440532013001")
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert verhoeff_valid("2363") and not verhoeff_valid("2364")


# -- no false positives -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "What is 1234567 + 7654321?",
        "The population grew from 1,234,567 to 2,345,678 between 1990 and 2020.",
        "In 2023-10-15 at 14:30:00 the order 20231015-0042 shipped; invoice INV-2023-000123.",
        "Pi is 3.14159265358979323846 and e is 2.718281828459045.",
        "Compute 12 * 34 * 56 * 78 and 1000000 / 25.",
        "Version 1.2.3, build 4567, port 8080, ISBN 978-3-16-148410-0.",
        "The vote was 215-213 with 7 abstentions; score 3-2.",
        "Coordinates 48.8566, 2.3522; elevation 35 m; zip 75001.",
        "Temperatures: -5, 0, 12, 25 and 40 degrees; total +100 points.",
        "Send the report @ noon to the team.",
    ],
)
def test_no_false_positives_on_ordinary_numbers(text: str) -> None:
    assert detect_sensitive(text) == []


def test_no_false_positives_on_the_gsm8k_questions_and_answers() -> None:
    rows = [json.loads(line) for line in GSM8K.read_text().splitlines()]
    assert len(rows) == 40
    texts = [row["question"] for row in rows] + [str(o) for row in rows for o in row["outputs"].values()]
    flagged = {text[:60]: found(text) for text in texts if detect_sensitive(text)}
    assert flagged == {}


def test_detection_is_fast_on_typical_prompts() -> None:
    questions = [json.loads(line)["question"] for line in GSM8K.read_text().splitlines()]
    started = time.perf_counter()
    for _ in range(25):
        for question in questions:
            detect_sensitive(question)
    per_call = (time.perf_counter() - started) / (25 * len(questions))
    assert per_call < 1e-3, f"{per_call * 1e6:.0f} µs per GSM8K question"
    assert detect_sensitive("What is the capital of France?") == []  # no digit, no "@": early exit


# -- the policy ------------------------------------------------------------------------------------


def test_policy_flags_from_metadata_or_detectors() -> None:
    policy = PrivacyPolicy()
    assert policy.assess("hello", {}) is None
    flagged = policy.assess("hello", {"sensitive": True})
    assert flagged is not None and flagged.source == "metadata"
    detected = policy.assess("mail me at a@b.io", {"sensitive": False})  # a finding wins over False
    assert detected is not None and detected.source == "detector" and detected.kinds == ("email",)
    assert detected.as_metadata() == {"sensitive": True, "sensitive_kinds": ["email"]}
    messages = [{"role": "user", "content": [{"type": "text", "text": "SSN 123-45-6789"}]}]
    assert policy.assess_messages(messages, None).kinds == ("national_id",)  # type: ignore[union-attr]


def test_policy_detectors_follow_the_config() -> None:
    config = parse_config({"version": 1, "privacy": {"detectors": ["email"]}})
    policy = PrivacyPolicy(config.privacy)
    assert policy.assess("mail a@b.io", None) is not None
    assert policy.assess("card 4111 1111 1111 1111", None) is None
    assert (
        PrivacyPolicy(parse_config({"version": 1, "privacy": {"detect": False}}).privacy).scan("a@b.io") == []
    )
    assert isinstance(BuiltinDetector(), SensitivityDetector)


@pytest.mark.parametrize(
    ("privacy", "path"),
    [
        ({"detectors": ["builtin", "dna"]}, "privacy.detectors[1]"),
        ({"detectors": []}, "privacy.detectors"),
        ({"on_violation": "warn"}, "privacy.on_violation"),
        ({"detect": "sometimes"}, "privacy.detect"),
        ({"redact": True}, "privacy.redact"),
    ],
)
def test_privacy_config_errors_name_the_path(privacy: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"version": 1, "privacy": privacy})
    assert caught.value.path == path


# -- graph runs ------------------------------------------------------------------------------------


def fake(*responses: str, locality: str = "local") -> dict[str, Any]:
    return {"provider": "fake", "locality": locality, "options": {"responses": list(responses)}}


SOLO = {
    "version": 1,
    "models": {"box": fake("done")},
    "nodes": {"ask": {"kind": "agent", "model": "box"}},
    "edges": [["START", "ask"], ["ask", "END"]],
}


async def test_a_run_records_sensitivity_in_metadata_and_trace_never_the_data() -> None:
    graph = compile_config(SOLO)
    result = await graph.arun("Card 4111 1111 1111 1111 was charged twice, why?")
    assert result.trace[0]["kind"] == "privacy" and result.trace[0]["kinds"] == ["card"]
    assert result.trace[0]["source"] == "detector"
    assert result.decisions[0] == {
        "node": "START",
        "type": "privacy",
        "reason": "sensitive (card, from detector): only local models may be called",
    }
    assert "4111" not in json.dumps(result.trace) + json.dumps(result.decisions)
    sent = graph.hub["box"].provider.requests[0]  # type: ignore[attr-defined]
    assert sent.metadata == {"sensitive": True, "sensitive_kinds": ["card"]}


async def test_a_run_with_an_explicit_flag_is_traced_and_an_ordinary_one_is_not() -> None:
    graph = compile_config(SOLO)
    flagged = await graph.arun("How many eggs?", metadata={"sensitive": True, "row": 3})
    assert flagged.trace[0] == {
        **flagged.trace[0],
        "node": "START",
        "kind": "privacy",
        "source": "metadata",
        "kinds": [],
    }
    plain = await graph.arun("Janet's ducks lay 16 eggs per day.")
    assert [step["node"] for step in plain.trace] == ["ask"]
    assert graph.hub["box"].provider.requests[-1].metadata == {}  # type: ignore[attr-defined]


# -- the privacy router -----------------------------------------------------------------------------


def hub() -> ModelHub:
    models = {"cloud": fake("c", locality="hosted"), "box1": fake("1"), "box2": fake("2")}
    return ModelHub.from_dict({"version": 1, "models": models})


async def test_router_keeps_sensitive_requests_on_local_targets() -> None:
    router = PrivacyRouter()
    router.bind(hub())
    targets = ["cloud", "box1", "box2"]
    plain = await router.route(RouteRequest("What is 2 + 2?"), targets)
    assert plain.target == "cloud" and plain.reason.startswith("not sensitive")
    sensitive = await router.route(RouteRequest("Mail jane@example.com the answer"), targets)
    assert sensitive.target == "box1"
    assert "sensitive (email, from detector)" in sensitive.reason and "not local: cloud" in sensitive.reason
    assert "jane" not in sensitive.reason
    flagged = await router.route(RouteRequest("What is 2 + 2?", {"sensitive": True}), targets)
    assert flagged.target == "box1" and "from metadata" in flagged.reason


async def test_router_fails_closed_when_no_target_is_local() -> None:
    router = PrivacyRouter()
    router.bind(hub())
    with pytest.raises(PrivacyViolation, match="kept from: cloud, elsewhere"):
        await router.route(RouteRequest("x", {"sensitive": True}), ["cloud", "elsewhere"])
    with pytest.raises(GraphError):
        await router.route(RouteRequest("x"), [])
    unbound = PrivacyRouter({"local": ["quick"]})  # router-node targets are nodes: declare them
    decision = await unbound.route(RouteRequest("x", {"sensitive": True}), ["deep", "quick"])
    assert decision.target == "quick" and unbound.declared_targets() == ["quick"]


async def test_router_delegates_to_an_inner_strategy() -> None:
    rules = {"routes": [{"target": "box2", "keywords": ["poem"]}], "default": "cloud"}
    router = PrivacyRouter({"strategy": "rules", "options": rules})
    router.bind(hub())
    assert (await router.route(RouteRequest("a poem"), ["cloud", "box1", "box2"])).target == "box2"
    assert (await router.route(RouteRequest("a sum"), ["cloud", "box1", "box2"])).target == "cloud"
    with pytest.raises(GraphError):  # the inner strategy's own "no match" among local targets
        await router.route(RouteRequest("a sum", {"sensitive": True}), ["cloud", "box1"])
    assert router.declared_targets() == ["box2", "cloud"]
    balanced = PrivacyRouter({"strategy": "balance"})
    assert balanced.deterministic is False


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"strategy": "nope"}, "options.strategy"),
        ({"strategy": "privacy"}, "options.strategy"),
        ({"strategy": "rules", "options": {"rutes": []}}, "options.options.rutes"),
        ({"detect": "yes please"}, "options.detect"),
    ],
)
def test_router_option_errors_name_the_path(options: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PrivacyRouter(options)
    assert caught.value.path == path


async def test_router_in_an_agent_node_routes_sensitive_tasks_locally() -> None:
    config = {
        "version": 1,
        "models": {"cloud": fake("cloud answer", locality="hosted"), "box": fake("local answer")},
        "nodes": {"ask": {"kind": "agent", "router": "privacy", "models": ["cloud", "box"]}},
        "edges": [["START", "ask"], ["ask", "END"]],
    }
    graph = compile_config(config)
    assert (await graph.arun("What is 2 + 2?")).answer == "cloud answer"
    result = await graph.arun("My IBAN is DE89 3704 0044 0532 0130 00, is it valid?")
    assert result.answer == "local answer"
    route = next(d for d in result.decisions if d["type"] == "route")
    assert route["target"] == "box" and "iban" in route["reason"] and "scores" in route
    assert len(graph.hub["cloud"].provider.requests) == 1  # type: ignore[attr-defined] # the first run only
