#!/usr/bin/env bash
# The main job: installs what is missing, runs the demo, then the side-by-side benchmarks (Tusk,
# PostgresNIO, libpq through pgbench, asyncpg) against DATABASE_URL or an embedded throw-away
# PostgreSQL, writing Benchmarks/RESULTS.md, then the stores next to their peers (RESULTS-stores.md). Arguments go to tusk-bench (e.g. --scale 0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/setup-debian.sh
# asyncpg runs in a virtual environment: make sure python3 can create one (best effort; without it the
# benchmark runs without the asyncpg rows and says what to install).
if ! python3 -m venv --help >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends python3-venv python3-pip || true
fi
swift build -c release --product tusk
.build/release/tusk demo
swift run -c release --package-path Benchmarks tusk-bench "$@"
# The stores next to their peers (writes Benchmarks/RESULTS-stores.md; Python peers in Benchmarks/.build/venv).
swift run -c release --package-path Benchmarks tusk-store-bench ratelimit
