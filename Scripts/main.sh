#!/usr/bin/env bash
# The main job: installs what is missing, then runs the demo and the benchmarks against DATABASE_URL
# or against an embedded throw-away PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/setup-debian.sh
swift build -c release --product tusk
.build/release/tusk demo
.build/release/tusk bench "$@"
