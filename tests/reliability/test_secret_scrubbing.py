"""Secret scrubbing as a property: for any key shape (control characters, quotes, backslashes,
``%``, ``+``, spaces, non-ASCII, common prefixes) and every error path (messages in any encoding,
log records with arguments and tracebacks, exception chains, HTTP error bodies, LiteLLM errors,
the adapter's error translation), no encoding of the key, nor a long stretch of its start, is
left anywhere. Then the same over real loopback HTTP with a key holding a control character."""

from __future__ import annotations

import io
import json
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fusionsdk.errors import FusionError, ProviderError, ProviderUnavailable
from fusionsdk.providers import secrets as secret_store
from fusionsdk.providers.http import error_for_response
from fusionsdk.providers.secrets import PREFIX_CHARS, encodings, redact, remember_secret
from fusionsdk.testing import fake_model
from tests.servers.faults import EchoKey, FaultServer
from tests.servers.fixtures import fault_server, faults, tgi, tgi_server, triton, triton_server  # noqa: F401
from tests.servers.tgi import TGIServer
from tests.servers.triton import TritonServer

_ALPHABET = st.one_of(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="*"),
    st.sampled_from(list("\x01\x02\x07\x08\t\x0b\x0c\x1b\x1f\x7f \"'\\%+/=&?#:@")),
    st.sampled_from(list("éßü中文😀\u00a0\u200b")),
)
KEYS = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["", "sk-", "sk-proj-", "hf_", "AIza", "Bearer ", "xoxb-"]),
    st.text(_ALPHABET, min_size=PREFIX_CHARS, max_size=40),
)
WRAPPERS = [
    "{}",
    "HTTP 401: invalid key {}",
    '{{"error": {{"message": "bad key {}"}}}}',
    "Authorization: Bearer {}\r\nHost: x",
    "url=https://x/v1?key={}&a=b",
    "b'{}'",
]


def leaks(key: str, text: str) -> list[str]:
    """Every encoding of ``key`` (or a PREFIX_CHARS-long start of one) found in ``text``."""
    found = []
    for variant in encodings(key):
        probe = variant if len(variant) < PREFIX_CHARS else variant[:PREFIX_CHARS]
        if probe in text:
            found.append(variant)
    return found


@pytest.fixture
def forget() -> Iterator[list[str]]:
    keys: list[str] = []
    yield keys
    for key in keys:
        secret_store._known.discard(key)


def _chain(err: BaseException | None) -> Iterator[BaseException]:
    while err is not None:
        yield err
        err = err.__cause__ or err.__context__


def _render(err: BaseException) -> str:
    parts = [str(err), repr(err), *map(str, err.args), "".join(traceback.format_exception(err))]
    parts += [repr(getattr(err, "message", ""))]
    parts += [repr(inner) for inner in getattr(err, "errors", ())]
    return "\n".join(parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=KEYS, wrapper=st.sampled_from(WRAPPERS), encoded=st.integers(0, 10_000))
def test_no_encoding_of_a_key_survives_redaction(
    key: str, wrapper: str, encoded: int, forget: list[str]
) -> None:
    remember_secret(key)
    forget.append(key)
    variants = sorted(encodings(key))
    variant = variants[encoded % len(variants)]
    text = wrapper.format(variant) + " and again " + wrapper.format(variant[: PREFIX_CHARS + 2])
    assert leaks(key, redact(text)) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=KEYS)
def test_no_error_path_shows_a_key(key: str, forget: list[str]) -> None:
    remember_secret(key)
    forget.append(key)
    # log records: arguments, %r, a traceback of an error quoting the key
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("fusionsdk.tests.scrub")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("sending %s / %r / %s", key, key, json.dumps({"k": key}))
        try:
            raise RuntimeError(f"refused {key!r}")
        except RuntimeError:
            logger.exception("call failed")
    finally:
        logger.removeHandler(handler)
    assert leaks(key, stream.getvalue()) == []
    # the adapter: a third-party error quoting the key, and a provider error with it JSON-escaped
    for step in (
        RuntimeError(f"boom {key!r}"),
        ProviderUnavailable(f"HTTP 500: {json.dumps({'auth': key})}"),
    ):
        model = fake_model("m", [step], retry={"attempts": 1})
        with pytest.raises(FusionError) as caught:
            model.complete("hi")
        chain = list(_chain(caught.value))
        assert len(chain) == 1, "the error keeps a chain to the error it replaced"
        assert leaks(key, _render(caught.value)) == []
    # HTTP error bodies echoing the key, in JSON
    body = json.dumps({"error": {"message": f"invalid api key {key}"}}).encode()
    error = error_for_response(httpx.Response(401, content=body), body)
    assert leaks(key, _render(error)) == []
    # LiteLLM's errors
    from fusionsdk.providers.litellm_boundary import map_litellm_error

    assert leaks(key, _render(map_litellm_error(ValueError(f"bad header {key!r}")))) == []


# -- over loopback HTTP: a key with a control character ---------------------------------------------

CONTROL_KEY = "sk-ctl\x01canary-0123456789abcdef"
FAST = {"retry": {"attempts": 2, "initial_wait_s": 0, "max_wait_s": 0.01, "jitter_s": 0}, "timeout_s": 10}


@pytest.fixture
def control_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("FUSIONSDK_TEST_CTL_KEY", CONTROL_KEY)
    yield CONTROL_KEY
    secret_store._known.discard(CONTROL_KEY)


def _model(provider: str, url: str, **extra: Any) -> Any:
    from fusionsdk.providers.hub import ModelHub

    spec = {"provider": provider, "base_url": url, "model": "m", "api_key_env": "FUSIONSDK_TEST_CTL_KEY"}
    return ModelHub.from_dict({"version": 1, "models": {"m": {**spec, **FAST, **extra}}})["m"]


@pytest.mark.parametrize("provider", ["tgi", "triton", "openai_compatible"])
@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
async def test_a_key_with_a_control_character_never_leaks(
    provider: str,
    streaming: bool,
    control_key: str,
    tgi: TGIServer,  # noqa: F811
    triton: TritonServer,  # noqa: F811
    faults: FaultServer,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    faults.script("m", [EchoKey(401)])
    url = {"tgi": tgi.url, "triton": triton.url, "openai_compatible": faults.base_url}[provider]
    model = _model(provider, url)
    with pytest.raises(FusionError) as caught:
        if streaming:
            async for _ in model.astream("hi"):
                pass
        else:
            await model.acomplete("hi")
    assert isinstance(caught.value, ProviderError) or caught.value.__class__.__name__ == "AllModelsFailed"
    assert leaks(control_key, _render(caught.value)) == []
    assert len(list(_chain(caught.value))) == 1
    assert leaks(control_key, caplog.text) == []
    assert all(leaks(control_key, r.getMessage()) == [] for r in caplog.records)
