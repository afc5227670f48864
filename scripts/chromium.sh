#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the browser tests (installs it when missing
# and running as root); prints its path, or fails when it cannot be had.
set -euo pipefail
BIN=/usr/bin/chromium
if [ ! -x "$BIN" ] && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2 || true
fi
[ -x "$BIN" ] || { echo "chromium.sh: chromium is not installed" >&2; exit 1; }
echo "$BIN"
