#!/usr/bin/env bash
# Builds the release server in its own scratch path (.build-release, gitignored like every .build*) and runs the
# policy results benchmark against it; every argument goes to scripts/bench-results.py, e.g.
#   scripts/bench-results.sh --quick
#   scripts/bench-results.sh --backend postgres --database-url 'postgres://u:p@127.0.0.1:5432/bench?sslmode=disable'
# Results and how they were taken: docs/benchmarks/policy-results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --scratch-path .build-release --product policyhub >&2
exec python3 scripts/bench-results.py --binary .build-release/release/policyhub "$@"
