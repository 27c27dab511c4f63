#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for tests (as root, from Debian's packages) and prints the
# environment to use it:  eval "$(scripts/start-postgres.sh)"
# Stop it with scripts/stop-postgres.sh.
set -euo pipefail
PORT=${POLICYHUB_PG_PORT:-54329}
STATE=${POLICYHUB_PG_DIR:-/tmp/policyhub-postgres}

if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

if [ -f "$STATE/data/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$STATE/data" -m fast stop >&2 || true
fi
rm -rf "$STATE"
mkdir -p "$STATE"
chown postgres: "$STATE"
cd /
runuser -u postgres -- "$PGBIN/initdb" -D "$STATE/data" -U postgres --no-sync --auth-local=trust \
    --auth-host=scram-sha-256 >"$STATE/initdb.log" 2>&1
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$STATE/data" -l "$STATE/log" -w start \
    -o "-p $PORT -k $STATE -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" >&2
runuser -u postgres -- psql -q -h "$STATE" -p "$PORT" -U postgres \
    -c "CREATE ROLE policyhub LOGIN CREATEDB PASSWORD 'policyhub'" -c "CREATE DATABASE policyhub OWNER policyhub" >&2
echo "export POLICYHUB_TEST_POSTGRES_URL='postgres://policyhub:policyhub@127.0.0.1:$PORT/policyhub?sslmode=disable'"
