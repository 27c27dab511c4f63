# Shared by the scripts that drive a live `policyhub serve` from Python (fuzz-api.sh, sdk-contract.sh): Debian's
# curl and python3-venv, a pinned tool in a venv later runs reuse, a fresh server on a free loopback port, and
# the checks of its log afterwards. Source it, then call the functions; each takes its names from the caller.
#   live_venv VENV CHECK PACKAGE   (re)creates VENV with PACKAGE unless the caller's function CHECK succeeds
#   live_start NAME BINARY WORK EXTRA_ARGS   sets SERVER_PID, BASE and TOKEN
#   live_stop                      stops the server, if it runs
#   live_log_ok NAME               fails (status 1) when the server died or logged failed requests

SERVER_PID=

live_venv() {
    local venv=$1 check=$2 package=$3
    if ! command -v curl >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl python3-venv >/dev/null
    fi
    if ! "$check" >/dev/null 2>&1; then
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check "$package"
    fi
}

live_start() {
    local name=$1 binary=$2 work=$3 extra=$4 port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    BASE=http://127.0.0.1:$port
    # shellcheck disable=SC2086 # extra is a list of words
    "$binary" serve --data-dir "$work/data" --port "$port" --log-level warning $extra >"$work/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 150); do
        curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            cat "$work/server.log" >&2
            echo "$name: the server exited" >&2
            exit 1
        fi
        sleep 0.2
    done
    curl -fsS "$BASE/healthz" >/dev/null
    TOKEN=$(tr -d '\n' <"$work/data/initial-admin-token")
}

live_stop() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}

live_log_ok() {
    local name=$1 work=$2
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "$name: the server died during the run; the end of its log:" >&2
        tail -40 "$work/server.log" >&2
        return 1
    fi
    if grep -q 'request failed' "$work/server.log"; then
        echo "$name: the server logged failed requests:" >&2
        grep 'request failed' "$work/server.log" | head -20 >&2
        return 1
    fi
}
