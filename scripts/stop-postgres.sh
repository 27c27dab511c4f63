#!/usr/bin/env bash
# Stops the cluster scripts/start-postgres.sh started.
set -euo pipefail
STATE=${POLICYHUB_PG_DIR:-/tmp/policyhub-postgres}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cd /
[ -f "$STATE/data/postmaster.pid" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$STATE/data" -m fast stop
rm -rf "$STATE"
