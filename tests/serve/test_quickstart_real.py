"""`fusionsdk serve examples/quickstart.yaml` on the real embedded models (SmolLM2, Gemma-3)."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from fusionsdk.serve.app import create_app
from tests.llama_runtimes import needs_embedded
from tests.serve.helpers import AppServer

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


@pytest.mark.integration
@needs_embedded
def test_real_quickstart_answers_from_a_model_and_the_graph() -> None:
    with AppServer(create_app([QUICKSTART], environ={})) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120)
        question = [{"role": "user", "content": "What is the capital of France?"}]
        direct = client.chat.completions.create(model="smol", messages=question, max_tokens=16)  # type: ignore[arg-type]
        assert direct.choices[0].message.content and direct.usage and direct.usage.completion_tokens > 0
        fused = client.chat.completions.create(model="graph:quickstart", messages=question)  # type: ignore[arg-type]
        assert fused.choices[0].message.content
        streamed = client.chat.completions.create(model="smol", messages=question, max_tokens=8, stream=True)  # type: ignore[arg-type]
        assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
