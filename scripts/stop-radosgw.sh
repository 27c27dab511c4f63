#!/usr/bin/env bash
# Stops the cluster scripts/start-radosgw.sh started, by the PIDs it recorded, and removes its state.
# The cluster keeps everything in memory and is thrown away, so its daemons are killed outright: a terminated OSD
# would wait for the monitor to acknowledge its shutdown.
set -euo pipefail
STATE=${POLICYHUB_RADOSGW_DIR:-/tmp/policyhub-radosgw}
if [ -f "$STATE/pids" ]; then
    for pid in $(cat "$STATE/pids"); do
        kill -9 "$pid" 2>/dev/null || true
    done
    for pid in $(cat "$STATE/pids"); do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    done
fi
rm -rf "$STATE"
