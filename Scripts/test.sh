#!/usr/bin/env bash
# The test command: installs what is missing (Scripts/setup-debian.sh), then runs every test.
# Integration tests start their own throw-away PostgreSQL, or use DATABASE_URL / PGHOST when set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/setup-debian.sh
swift test --no-parallel "$@"
