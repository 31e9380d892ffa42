"""Tiny random Llama models built locally (no hub): a base and two "fine-tunes" of it.

``a`` and ``b`` are the base plus different small random perturbations, as real fine-tunes of
one base are, and share its word-level tokenizer (with a chat template). Building them takes
well under a second once torch and transformers are imported.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SENTENCES = [
    "what is the capital of france ? paris is the capital of france",
    "what is two plus two ? the answer is four",
    "hello world , say hello to the merged model",
    "user assistant system : yes no maybe",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}assistant : {% endif %}"
)
#: Shape of every tiny model: Llama, hidden size 32, 2 layers, 4 heads (2 for keys and values).
LLAMA = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
}


def build_tokenizer(chat_template: str | None = CHAT_TEMPLATE) -> Any:
    """A word-level tokenizer trained on :data:`SENTENCES`, wrapped for transformers."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.train_from_iterator(
        SENTENCES, trainers.WordLevelTrainer(special_tokens=["<unk>", "<pad>", "<s>", "</s>"])
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.chat_template = chat_template
    return tokenizer


def build_model(
    folder: Path, seed: int, *, base: Any = None, scale: float = 0.02, tokenizer: Any = None, **overrides: Any
) -> Any:
    """Save a random tiny Llama to ``folder``: fresh weights, or ``base`` plus seeded noise."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tokenizer or build_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **{**LLAMA, **overrides},
    )
    model = LlamaForCausalLM(config)
    if base is not None:
        with torch.no_grad():
            for name, tensor in model.state_dict().items():
                tensor.copy_(base.state_dict()[name] + scale * torch.randn_like(tensor))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Directories ``base``, ``a`` and ``b`` (a and b: base plus different noise)."""
    root = tmp_path_factory.mktemp("tiny-models")
    base = build_model(root / "base", seed=0)
    build_model(root / "a", seed=1, base=base)
    build_model(root / "b", seed=2, base=base)
    return {name: root / name for name in ("base", "a", "b")}


@pytest.fixture(scope="session")
def slerp_model(tiny_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``a`` and ``b`` merged by SLERP (t = 0.3) through the library, shared by several tests."""
    from fusionsdk_mergekit import merge_models, parse_recipe

    a, b = tiny_models["a"], tiny_models["b"]
    recipe = parse_recipe(
        f"merge_method: slerp\nbase_model: {a}\nmodels:\n  - model: {a}\n  - model: {b}\n"
        "parameters:\n  t: 0.3\ndtype: float32\n"
    )
    out = tmp_path_factory.mktemp("merged") / "slerp"
    merge_models(recipe, out)
    return out


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No hub and no traffic beyond loopback: every model here is built locally."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and not _loopback(str(address[0])):
            raise RuntimeError(f"test tried to reach {address!r}: only loopback is allowed")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
