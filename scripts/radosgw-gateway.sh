#!/usr/bin/env bash
# Stops or starts again only the S3 gateway (radosgw) of the cluster scripts/start-radosgw.sh started, keeping the
# cluster and its objects: an S3 endpoint outage and its end, for the outage test.
#   scripts/radosgw-gateway.sh stop|start
set -euo pipefail
STATE=${POLICYHUB_RADOSGW_DIR:-/tmp/policyhub-radosgw}
PIDFILE=$STATE/run/rgw.pid
case ${1:-} in
stop)
    pid=$(cat "$PIDFILE")
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || exit 0
        sleep 0.1
    done
    echo "radosgw-gateway: radosgw ($pid) did not stop" >&2
    exit 1
    ;;
start)
    # As start-radosgw.sh starts it; the PID joins $STATE/pids so that stop-radosgw.sh stops it too.
    radosgw -c "$STATE/ceph.conf" -n client.rgw.policyhub -f </dev/null >>"$STATE/log/rgw.out" 2>&1 &
    echo $! >>"$STATE/pids"
    echo $! >"$PIDFILE"
    ;;
*)
    echo "usage: $0 stop|start" >&2
    exit 2
    ;;
esac
