#!/usr/bin/env bash
# Installs Attest (if needed), starts a local PostgreSQL 15, installs Debian's chromium for the
# browser tests, and runs the test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -m unit
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
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
.venv/bin/python -m pytest "$@"
