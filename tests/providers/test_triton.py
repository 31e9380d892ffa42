"""The ``triton`` provider against a Triton generate-extension server (see
:mod:`tests.servers.triton`)."""

from __future__ import annotations

from typing import Any

import pytest

import fusionsdk
from fusionsdk.errors import BadRequest, ProviderTimeout, ProviderUnavailable, RateLimited
from fusionsdk.providers.model import Model
from fusionsdk.providers.triton import EchoStripper
from tests.servers.base import free_port
from tests.servers.triton import TritonServer

ANSWER = "Rome is the capital of Italy."
FAST_RETRY = {"attempts": 3, "initial_wait_s": 0.01, "max_wait_s": 0.5, "jitter_s": 0}


def triton_model(url: str, **spec: Any) -> Model:
    """The model ``trt`` served by Triton at ``url``."""
    models = {"trt": {"provider": "triton", "base_url": url, "retry": FAST_RETRY, **spec}}
    return fusionsdk.ModelHub.from_dict({"version": 1, "models": models})["trt"]


async def test_complete_calls_the_ensemble_by_default(triton: TritonServer) -> None:
    completion = await triton_model(triton.url).acomplete("Capital of Italy?")
    assert completion.text == ANSWER
    assert completion.finish_reason == "stop"
    assert completion.backend_model == "ensemble"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0  # counted
    request = triton.requests()[-1]
    assert request.path == "/v2/models/ensemble/generate"
    assert request.body == {
        "text_input": "Capital of Italy?",
        "max_tokens": 512,
        "stream": False,
        "exclude_input_in_output": True,
    }


async def test_parameters_map_to_triton_inputs(triton: TritonServer) -> None:
    completion = await triton_model(triton.url, model="llama").acomplete(
        "Capital?", max_tokens=3, temperature=0.2, top_p=0.9, stop=["\n"], seed=11, extra={"top_k": 5}
    )
    assert completion.text == "Rome is the"
    body = triton.requests()[-1].body
    assert triton.requests()[-1].path == "/v2/models/llama/generate"
    assert body["max_tokens"] == 3 and body["temperature"] == 0.2 and body["top_p"] == 0.9
    assert body["stop_words"] == ["\n"] and body["random_seed"] == 11 and body["top_k"] == 5


async def test_stream_yields_each_piece(triton: TritonServer) -> None:
    pieces, final = [], None
    async for chunk in triton_model(triton.url).astream("Capital?", max_tokens=4):
        if chunk.completion is None:
            pieces.append(chunk.text)
        else:
            final = chunk.completion
    assert pieces == ["Rome", " is", " the", " capital"]
    assert final is not None and final.text == "Rome is the capital" and final.finish_reason == "stop"
    request = triton.requests()[-1]
    assert request.path == "/v2/models/ensemble/generate_stream" and request.body["stream"] is True
    assert request.body["exclude_input_in_output"] is True


def test_sync_complete_works(triton: TritonServer) -> None:
    assert triton_model(triton.url).complete("Capital?").text == ANSWER


async def test_unknown_model_is_a_bad_request_not_retried(triton: TritonServer) -> None:
    with pytest.raises(BadRequest, match="unknown model"):
        await triton_model(triton.url, model="nope").acomplete("Capital?")
    assert len(triton.requests()) == 1


@pytest.mark.parametrize(
    ("status", "expected"),
    [(500, ProviderUnavailable), (503, ProviderUnavailable), (504, ProviderTimeout), (429, RateLimited)],
)
async def test_server_errors_are_mapped(triton: TritonServer, status: int, expected: type) -> None:
    triton.fail(status, "backend trouble")
    with pytest.raises(expected, match=f"HTTP {status}: backend trouble"):
        await triton_model(triton.url, retry={"attempts": 1}).acomplete("Capital?")


async def test_transient_errors_are_retried(triton: TritonServer) -> None:
    triton.fail(503, "model is loading")
    completion = await triton_model(triton.url).acomplete("Capital?")
    assert completion.text == ANSWER and completion.attempts == 2
    assert len(triton.requests()) == 2


async def test_stream_error_before_the_first_piece_is_retried(triton: TritonServer) -> None:
    triton.fail(500, "backend trouble")
    chunks = [c async for c in triton_model(triton.url).astream("Capital?")]
    assert chunks[-1].completion is not None and chunks[-1].completion.attempts == 2


async def test_connection_refused_is_unavailable() -> None:
    model = triton_model(f"http://127.0.0.1:{free_port()}", retry={"attempts": 1})
    with pytest.raises(ProviderUnavailable):
        await model.acomplete("Capital?")


async def test_reachability_probes_health_ready(triton: TritonServer) -> None:
    models = {
        "up": {"provider": "triton", "base_url": triton.url},
        "down": {"provider": "triton", "base_url": f"http://127.0.0.1:{free_port()}"},
    }
    hub = fusionsdk.ModelHub.from_dict({"version": 1, "models": models})
    reach = await hub.reachability()
    assert reach["up"].ok and reach["down"].status == "unreachable"
    triton.ready = False
    assert (await hub.reachability())["up"].status == "error"


# -- the echoed prompt ----------------------------------------------------------------------------


async def test_the_fake_echoes_like_the_real_ensemble_unless_excluded(triton: TritonServer) -> None:
    import httpx

    url = f"{triton.url}/v2/models/ensemble/generate"
    async with httpx.AsyncClient() as client:
        plain = (await client.post(url, json={"text_input": "Q? ", "max_tokens": 2})).json()
        excluded = {"text_input": "Q? ", "max_tokens": 2, "exclude_input_in_output": True}
        clean = (await client.post(url, json=excluded)).json()
    assert plain["text_output"] == "Q? Rome is" and clean["text_output"] == "Rome is"


async def test_an_older_ensemble_without_the_input_is_asked_again_and_the_echo_stripped(
    triton: TritonServer,
) -> None:
    triton.accepts_exclude = False
    model = triton_model(triton.url)
    assert (await model.acomplete("Capital of Italy?")).text == ANSWER
    first, second = triton.requests()
    assert first.body["exclude_input_in_output"] is True and "exclude_input_in_output" not in second.body
    assert (await model.acomplete("Capital of Italy?")).text == ANSWER
    assert len(triton.requests()) == 3  # remembered: no refused request the second time
    pieces = [c.text async for c in model.astream("Capital?", max_tokens=2) if c.completion is None]
    assert "".join(pieces) == "Rome is" and "exclude_input_in_output" not in triton.requests()[-1].body


async def test_an_echo_despite_the_flag_is_stripped_too(
    triton: TritonServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(triton, "_echoes", lambda body: True)  # a server that ignores the flag
    model = triton_model(triton.url)
    assert (await model.acomplete("Capital of Italy?")).text == ANSWER
    chunks = [c async for c in model.astream("Capital?", max_tokens=3)]
    assert [c.text for c in chunks[:-1] if c.text] == ["Rome", " is", " the"]
    assert chunks[-1].completion is not None and chunks[-1].completion.text == "Rome is the"


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["Q: hi", " A"], " A"),  # the echo, then the answer
        (["Q", ": h", "i A"], " A"),  # the echo split across events
        (["Hello"], "Hello"),  # no echo
        (["Q: ", "bye"], "Q: bye"),  # starts like the prompt, then is not it
        (["Q:"], "Q:"),  # shorter than the prompt: kept
    ],
)
def test_echo_stripper(pieces: list[str], expected: str) -> None:
    strip = EchoStripper("Q: hi")
    assert "".join(strip.feed(p) for p in pieces) + strip.finish() == expected


async def test_requests_use_only_the_ensembles_inputs(triton: TritonServer) -> None:
    with pytest.raises(BadRequest, match="unexpected inference input 'made_up'"):
        await triton_model(triton.url).acomplete("Capital?", extra={"made_up": 1})
    with pytest.raises(BadRequest, match="unable to parse 'top_k'"):
        await triton_model(triton.url).acomplete("Capital?", extra={"top_k": "five"})
