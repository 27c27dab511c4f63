#!/usr/bin/env bash
# Starts a throwaway one-node Ceph cluster with radosgw as the S3-compatible server for tests (as root, from
# Debian's packages) and prints the environment to use it:  eval "$(scripts/start-radosgw.sh)"
# Stop it with scripts/stop-radosgw.sh.
#
# One monitor, one OSD keeping objects in memory (memstore), no manager, and radosgw on 127.0.0.1. Cephx is off
# inside the cluster (nothing but this machine talks to it); S3 requests are still checked against the user's
# keys, so wrong signatures and tampered or expired presigned URLs are refused as on AWS.
# The daemons run in the foreground (-f) in this script's background with their output sent to files: piping
# their output would keep the caller waiting. Their PIDs go to $STATE/pids for the stop script.
set -euo pipefail
STATE=${POLICYHUB_RADOSGW_DIR:-/tmp/policyhub-radosgw}
BUCKET=${POLICYHUB_RADOSGW_BUCKET:-policyhub-test}
ACCESS_KEY=${POLICYHUB_RADOSGW_ACCESS_KEY:-POLICYHUBTESTACCESSKEY}
SECRET_KEY=${POLICYHUB_RADOSGW_SECRET_KEY:-policyhub-test-secret-key-0123456789abcdef}
started=$(date +%s.%N)

log() { echo "start-radosgw: $*" >&2; }

need_install=false
for command in ceph-mon ceph-osd radosgw radosgw-admin monmaptool curl; do
    command -v "$command" >/dev/null || need_install=true
done
if $need_install; then
    log "installing radosgw, ceph-mon, ceph-osd from Debian"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        radosgw ceph-mon ceph-osd ceph-common curl >/dev/null
fi
# The bucket is created with botocore's signer, the simplest correct S3 client at hand.
if ! python3 -c 'import botocore' 2>/dev/null; then
    log "installing botocore"
    python3 -m pip install -q botocore >&2 \
        || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-botocore >/dev/null
fi

"$(dirname "$0")/stop-radosgw.sh" 2>/dev/null || true
mkdir -p "$STATE"/{mon,osd/ceph-0,rgw,run,log}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
MON_PORT=$(free_port)
RGW_PORT=$(free_port)
FSID=$(python3 -c 'import uuid; print(uuid.uuid4())')
OSD_UUID=$(python3 -c 'import uuid; print(uuid.uuid4())')
CONF=$STATE/ceph.conf

cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $STATE/run
admin socket = $STATE/run/\$name.asok
log file = $STATE/log/\$name.log
mon data = $STATE/mon/\$cluster-\$id
osd data = $STATE/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# A throwaway cluster must not stop because the machine's disk is fuller than a production monitor likes.
mon data avail warn = 1
mon data avail crit = 0
# radosgw creates its pools one by one, each a new map: commit maps sooner than a production monitor would
# (this takes the start from about 15 s to about 4).
paxos propose interval = 0.1
paxos min wait = 0.01
osd crush chooseleaf type = 0
# With cephx off, an OSD can send its start-up CRUSH commands before it has the monitor's map, and the monitor
# refuses them ('wrong fsid'), which stops the OSD. The script places the OSD in CRUSH itself instead.
osd crush update on start = false
osd class update on start = false

[client.rgw.policyhub]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $STATE/rgw
rgw enable usage log = false
EOF

pids=$STATE/pids
: >"$pids"
# On failure, stop whatever started, keeping the logs in $STATE/log.
trap 'status=$?; if [ $status != 0 ]; then for pid in $(cat "$pids"); do kill -9 "$pid" 2>/dev/null || true; done; fi' EXIT
# Starts a daemon in the foreground of a background job, output to a file, and records its PID (all of them in
# $STATE/pids for the stop script, and each in $STATE/run/NAME.pid for tests that stop and restart one).
run_daemon() {
    local name=$1
    shift
    "$@" -c "$CONF" -f </dev/null >>"$STATE/log/$name.out" 2>&1 &
    echo $! >>"$pids"
    echo $! >"$STATE/run/$name.pid"
}

log "creating the monitor on 127.0.0.1:$MON_PORT"
monmaptool --create --fsid "$FSID" --addv a "[v1:127.0.0.1:$MON_PORT]" "$STATE/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$STATE/monmap" >"$STATE/log/mon-mkfs.out" 2>&1
run_daemon mon ceph-mon -i a

log "creating the in-memory OSD"
# The monitor refuses commands (EPERM) until it has formed its quorum of one; `osd new` with the same UUID is
# idempotent, so it is simply retried.
OSD_ID=
for _ in $(seq 1 60); do
    OSD_ID=$(timeout 10 ceph -c "$CONF" osd new "$OSD_UUID" 2>"$STATE/log/osd-new.out") && break
    sleep 0.5
done
[ -n "$OSD_ID" ] || { log "the monitor did not accept commands:"; cat "$STATE/log/osd-new.out" >&2; exit 1; }
ceph -c "$CONF" osd crush add "osd.$OSD_ID" 1.0 root=default >"$STATE/log/osd-crush.out" 2>&1
ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >"$STATE/log/osd-mkfs.out" 2>&1
run_daemon osd ceph-osd -i "$OSD_ID"

log "starting radosgw on 127.0.0.1:$RGW_PORT"
run_daemon rgw radosgw -n client.rgw.policyhub

ENDPOINT=http://127.0.0.1:$RGW_PORT
for _ in $(seq 1 180); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$ENDPOINT/" || true)
    [ "$code" = 200 ] && break
    for pid in $(cat "$pids"); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "a daemon exited early; its output:"
            tail -n 20 "$STATE"/log/*.out >&2
            exit 1
        fi
    done
    sleep 0.5
done
if [ "$code" != 200 ]; then
    log "radosgw did not answer at $ENDPOINT; logs are in $STATE/log"
    exit 1
fi

log "creating the S3 user and bucket '$BUCKET'"
radosgw-admin -c "$CONF" user create --uid=policyhub-test --display-name="PolicyHub tests" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >"$STATE/log/user-create.out" 2>&1
ENDPOINT=$ENDPOINT BUCKET=$BUCKET ACCESS_KEY=$ACCESS_KEY SECRET_KEY=$SECRET_KEY python3 - <<'EOF'
import os, urllib.request
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

url = f"{os.environ['ENDPOINT']}/{os.environ['BUCKET']}"
request = AWSRequest(method="PUT", url=url, data=b"")
S3SigV4Auth(Credentials(os.environ["ACCESS_KEY"], os.environ["SECRET_KEY"]), "s3", "us-east-1").add_auth(request)
prepared = request.prepare()
urllib.request.urlopen(urllib.request.Request(url, method="PUT", headers=dict(prepared.headers), data=b""))
EOF

log "ready in $(python3 -c "import time; print(round(time.time() - $started, 1))") s (state in $STATE)"
echo "export POLICYHUB_TEST_S3_URL='s3://$BUCKET?endpoint=$ENDPOINT&region=us-east-1&path-style=true'"
echo "export AWS_ACCESS_KEY_ID='$ACCESS_KEY'"
echo "export AWS_SECRET_ACCESS_KEY='$SECRET_KEY'"
