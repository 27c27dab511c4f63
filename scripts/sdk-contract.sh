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
SERVER_PID=

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "${SDK_KEEP:-0}" = 1 ]; then echo "sdk-contract: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- curl and Python's venv from Debian when missing, then the SDK, pinned, in a venv later runs reuse
if ! command -v curl >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl python3-venv >/dev/null
fi
installed() { # the SDK version in the venv; the wheel's metadata spells it 2026.10.26-post1126
    "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("pulumi-cloud-sdk"))' 2>/dev/null | tr - .
}
if [ "$(installed)" != "$SDK_VERSION" ]; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "pulumi-cloud-sdk==$SDK_VERSION"
fi

# --- a fresh server on a free loopback port
PORT=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
# shellcheck disable=SC2086 # SDK_SERVE_ARGS is a list of words
"$BINARY" serve --data-dir "$WORK/data" --port "$PORT" --log-level warning ${SDK_SERVE_ARGS:-} \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 150); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        cat "$WORK/server.log" >&2
        echo "sdk-contract: the server exited" >&2
        exit 1
    fi
    sleep 0.2
done
curl -fsS "$BASE/healthz" >/dev/null
TOKEN=$(tr -d '\n' <"$WORK/data/initial-admin-token")

# --- the contract
status=0
"$VENV/bin/python" scripts/sdk_contract.py "$BASE" "$TOKEN" || status=$?

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "sdk-contract: the server died during the run; the end of its log:" >&2
    tail -40 "$WORK/server.log" >&2
    status=1
fi
if grep -q 'request failed' "$WORK/server.log"; then
    echo "sdk-contract: the server logged failed requests:" >&2
    grep 'request failed' "$WORK/server.log" | head -20 >&2
    status=1
fi
exit "$status"
