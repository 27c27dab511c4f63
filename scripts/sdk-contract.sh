#!/usr/bin/env bash
# Contract test against Pulumi's own generated Python SDK (pulumi-cloud-sdk, pinned): scripts/sdk_contract.py
# calls every SDK operation that maps to a route PolicyHub serves, with real packs, archives, groups and stacks,
# and fails on any answer the SDK's models cannot take (a required field missing, a wrong type, an unknown enum
# value) or that contradicts what was sent.
#
#   scripts/sdk-contract.sh BINARY          e.g. scripts/sdk-contract.sh .build/debug/policyhub
#
# Environment (all optional):
#   SDK_VENV          where the SDK's venv lives (default .build-sdk-venv/, gitignored, reused)
#   SDK_SERVE_ARGS    more arguments for `serve`, e.g. "--database-url postgres://... --blob-store-url s3://..."
#   SDK_KEEP          1 keeps the temporary directory (data directory and server log)
set -euo pipefail

SDK_VERSION=2026.10.26.post1126

if [ $# -ne 1 ] || ! [ -x "$1" ]; then
    echo "usage: $0 BINARY   (the policyhub executable to serve)" >&2
    exit 2
fi
BINARY=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/.."
VENV=${SDK_VENV:-$PWD/.build-sdk-venv}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/policyhub-sdk.XXXXXX")
# shellcheck source=scripts/lib/live-server.sh
. scripts/lib/live-server.sh

cleanup() {
    live_stop
    if [ "${SDK_KEEP:-0}" = 1 ]; then echo "sdk-contract: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- the SDK, pinned, in a venv later runs reuse (the wheel's metadata spells the version 2026.10.26-post1126);
# then a fresh server on a free loopback port
pinned() {
    local version
    version=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("pulumi-cloud-sdk"))')
    [ "${version//-/.}" = "$SDK_VERSION" ]
}
live_venv "$VENV" pinned "pulumi-cloud-sdk==$SDK_VERSION"
live_start sdk-contract "$BINARY" "$WORK" "${SDK_SERVE_ARGS:-}"

# --- the contract
status=0
"$VENV/bin/python" scripts/sdk_contract.py "$BASE" "$TOKEN" "$BINARY" || status=$?

live_log_ok sdk-contract "$WORK" || status=1
exit "$status"
