"""LangChain over the embedded models, offline: an LCEL chain with ChatFusion over SmolLM2
(streamed, and structured through llama.cpp's JSON grammar), and as_runnable() of
examples/quickstart.yaml, streamed. Slow (real models): marked ``integration``."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel

from fusionsdk import ModelHub
from fusionsdk.graph import compile_file
from fusionsdk.integrations.langchain import ChatFusion
from tests.llama_runtimes import needs_embedded

pytestmark = [
    pytest.mark.integration,
    needs_embedded,
]

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


@pytest.fixture(scope="module")
def chat() -> ChatFusion:
    return ChatFusion(model=ModelHub.embedded()["smollm2"], max_tokens=24)


def test_lcel_chain_over_smollm2(chat: ChatFusion) -> None:
    chain = ChatPromptTemplate.from_template("What is the capital of {country}?") | chat | StrOutputParser()
    answer = chain.invoke({"country": "France"})
    assert "Paris" in answer
    pieces = list(chain.stream({"country": "France"}))
    assert len(pieces) > 1 and "".join(pieces) == answer  # greedy decoding: the same answer, streamed


async def test_lcel_chain_over_smollm2_async(chat: ChatFusion) -> None:
    chain = ChatPromptTemplate.from_template("What is the capital of {country}?") | chat | StrOutputParser()
    pieces = [p async for p in chain.astream({"country": "France"})]
    assert "Paris" in "".join(pieces)


class Capital(BaseModel):
    country: str
    capital: str


def test_structured_output_from_smollm2_through_the_json_grammar(chat: ChatFusion) -> None:
    structured = ChatFusion(model=chat.model, max_tokens=64).with_structured_output(Capital)
    result = structured.invoke("France's capital city, as JSON with country and capital.")
    assert isinstance(result, Capital) and result.capital


async def test_quickstart_graph_as_runnable_streams() -> None:
    runnable = compile_file(QUICKSTART).as_runnable()
    answer = await runnable.ainvoke("What is the capital of France?")
    assert "Paris" in answer
    pieces = [p async for p in runnable.astream("What is the capital of France?")]
    assert "".join(pieces) == answer
    long = "Please explain, in one short sentence, " + "why the sky looks blue to people on a clear day. " * 4
    streamed = list(runnable.stream(long))  # the solo agent: its tokens as they come
    assert len(streamed) > 1
