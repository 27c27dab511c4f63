#!/usr/bin/env bash
# Fuzzes every operation of the served OpenAPI document with schemathesis against a live server and fails on
# any 5xx or any response the document does not declare (status, content type, headers, body schema).
#
#   scripts/fuzz-api.sh BINARY          e.g. scripts/fuzz-api.sh .build/debug/policyhub
#
# Environment (all optional):
#   FUZZ_SEED          schemathesis seed (default 20250105; CI uses the default so runs are reproducible)
#   FUZZ_MAX_EXAMPLES  generated cases per operation in the fuzzing and stateful phases (default 100)
#   FUZZ_VENV          where the schemathesis venv lives (default .build-fuzz-venv/, gitignored, reused)
#   FUZZ_CHECKS        schemathesis checks to run instead of the default list below
#   FUZZ_SERVE_ARGS    more arguments for `serve`, e.g. "--database-url postgres://..." to fuzz another store
#   FUZZ_KEEP          1 keeps the temporary directory (server log, schemathesis logs and NDJSON reports)
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
SEED=${FUZZ_SEED:-20250105}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-100}
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance
CHECKS=$CHECKS,response_schema_conformance,unsupported_method,allow_header_conformance,ignored_auth

if [ $# -ne 1 ] || ! [ -x "$1" ]; then
    echo "usage: $0 BINARY   (the policyhub executable to serve)" >&2
    exit 2
fi
BINARY=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/.."
VENV=${FUZZ_VENV:-$PWD/.build-fuzz-venv}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/policyhub-fuzz.XXXXXX")
# shellcheck source=scripts/lib/live-server.sh
. scripts/lib/live-server.sh

cleanup() {
    live_stop
    if [ "${FUZZ_KEEP:-0}" = 1 ]; then echo "fuzz: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- schemathesis, pinned, in a venv later runs reuse; then a fresh server on a free loopback port
pinned() { [ "$("$VENV/bin/schemathesis" --version)" = "schemathesis, version $SCHEMATHESIS_VERSION" ]; }
live_venv "$VENV" pinned "schemathesis==$SCHEMATHESIS_VERSION"
live_start fuzz "$BINARY" "$WORK" "${FUZZ_SERVE_ARGS:-}"

# --- realistic data, so that generated requests get past "not found" into the handlers. The names are the
# `example`s of the document's path parameters, which the examples and coverage phases use.
call() { # METHOD PATH [JSON]: prints the status; the body goes to $WORK/body
    curl -sS -o "$WORK/body" -w '%{http_code}' -X "$1" -H "Authorization: token $TOKEN" \
        -H 'Content-Type: application/json' ${3:+--data "$3"} "$BASE$2"
}
expect() { # "STATUS..." METHOD PATH [JSON]: fails unless the call answers one of the statuses
    local want=$1 got
    shift
    got=$(call "$@")
    case " $want " in
    *" $got "*) ;;
    *) echo "fuzz: seeding: $1 $2 answered $got: $(cat "$WORK/body")" >&2 && exit 1 ;;
    esac
}
mkdir -p "$WORK/pack/package"
printf 'runtime: nodejs\nversion: 1.0.0\n' >"$WORK/pack/package/PulumiPolicy.yaml"
printf '// rules\n' >"$WORK/pack/package/index.js"
tar -czf "$WORK/pack.tgz" -C "$WORK/pack" package
POLICY='{"name":"no-public-buckets","displayName":"No public buckets","description":"Checks ACLs.",
  "enforcementLevel":"mandatory","message":"Bucket is public","severity":"high",
  "configSchema":{"type":"object","properties":{"allowed":{"type":"array","items":{"type":"string"}}}}}'
json() { # KEY...: prints the value at that path of the JSON document on stdin
    "$VENV/bin/python" -c 'import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1:]: value = value[int(key) if key.isdigit() else key]
print(value)' "$@"
}
publish() { # PACK TAG [pending]: publishes a version (with "pending": only creates it) unless it is complete
    expect "201 409" POST /api/orgs/default/policypacks "{\"name\":\"$1\",\"displayName\":\"Pack $1\",
        \"versionTag\":\"$2\",\"policies\":[$POLICY],\"runtime\":\"nodejs\"}"
    grep -q uploadURI "$WORK/body" || return 0 # 409: already complete
    UPLOAD_URI=$(json uploadURI <"$WORK/body")
    [ "${3:-}" = pending ] && return 0
    curl -fsS -X PUT --data-binary "@$WORK/pack.tgz" "$UPLOAD_URI" >/dev/null
    expect 204 POST "/api/orgs/default/policypacks/$1/versions/$2/complete"
}
# Idempotent, and run before every phase, since each phase deletes what it finds.
seed() {
    publish my-policy-pack 1.0.0
    publish my-policy-pack 2.0.0
    publish my-policy-pack 3.0.0 pending # complete and get meet a version that is not complete
    # Its upload link's last path segment, for the upload operation (with S3 the link is the bucket's, and the
    # segment only a key the server refuses; the query, a presigned URL's signature, is no path parameter).
    UPLOAD_TOKEN=${UPLOAD_URI%%\?*}
    UPLOAD_TOKEN=${UPLOAD_TOKEN##*/}
    publish scratch-pack 1.0.0           # what the fuzzing phase's deletes aim at (see below)
    expect "201 409" POST /api/orgs/default/policygroups '{"name":"prod","entityType":"stacks"}'
    expect "201 409" POST /api/orgs/default/policygroups '{"name":"scratch-group","entityType":"stacks"}'
    expect 204 PATCH /api/orgs/default/policygroups/prod '{"stacks":[{"name":"prod","routingProject":"web"}],
        "policyPacks":[{"name":"my-policy-pack","versionTag":"1.0.0","config":{"no-public-buckets":"advisory"}}]}'
    # The applied version's download link, for the download operations.
    expect 200 GET /api/stacks/default/web/prod/policypacks
    DOWNLOAD_TOKEN=$(json requiredPolicies 0 packLocation <"$WORK/body")
    DOWNLOAD_TOKEN=${DOWNLOAD_TOKEN%%\?*}
    DOWNLOAD_TOKEN=${DOWNLOAD_TOKEN##*/}
}

# --- schemathesis. In the fuzzing and stateful phases path and query values come from dictionaries of the
# seeded names most of the time (probability below 1, so the generator still invents the rest): random names
# only ever meet "not found". Deletes aim at scratch resources, so that the operations after them find data.
configure() { # writes the configuration with the current transfer tokens
    cat >"$WORK/schemathesis.toml" <<TOML
[dictionaries.uploads]
values = ["$UPLOAD_TOKEN"]
[dictionaries.downloads]
values = ["$DOWNLOAD_TOKEN"]
[dictionaries.orgs]
values = ["default", "admin"]
[dictionaries.packs]
values = ["my-policy-pack"]
[dictionaries.scratch-packs]
values = ["scratch-pack"]
[dictionaries.versions]
values = ["1.0.0", "2.0.0", "3.0.0", "1", "latest"]
[dictionaries.groups]
values = ["prod", "default-policy-group"]
[dictionaries.scratch-groups]
values = ["scratch-group", "default-policy-group"]
[dictionaries.sources]
values = ["private"]
[dictionaries.projects]
values = ["web"]
[dictionaries.stacks]
values = ["prod"]

[parameters]
"path.orgName" = { dictionary = "orgs", probability = 0.8 }
"path.publisher" = { dictionary = "orgs", probability = 0.8 }
"query.orgLogin" = { dictionary = "orgs", probability = 0.8 }
"path.policyPackName" = { dictionary = "packs", probability = 0.8 }
"path.name" = { dictionary = "packs", probability = 0.8 }
"query.policypack" = { dictionary = "packs", probability = 0.5 }
"path.version" = { dictionary = "versions", probability = 0.8 }
"query.tag" = { dictionary = "versions", probability = 0.5 }
"path.policyGroup" = { dictionary = "groups", probability = 0.8 }
"path.source" = { dictionary = "sources", probability = 0.8 }
"path.projectName" = { dictionary = "projects", probability = 0.8 }
"path.stackName" = { dictionary = "stacks", probability = 0.8 }
"path.uploadToken" = { dictionary = "uploads", probability = 0.8 }
"path.downloadToken" = { dictionary = "downloads", probability = 0.8 }

[[operations]]
include-method = "DELETE"
[operations.parameters]
"path.policyPackName" = { dictionary = "scratch-packs", probability = 0.8 }
"path.name" = { dictionary = "scratch-packs", probability = 0.8 }
"path.policyGroup" = { dictionary = "scratch-groups", probability = 0.8 }
TOML
}

echo "fuzz: schemathesis $SCHEMATHESIS_VERSION, seed $SEED, $MAX_EXAMPLES examples per operation, $BASE" >&2
start=$(date +%s)
status=0
cases=0
phases=
# One run per phase, each on freshly seeded data.
for phase in examples coverage fuzzing stateful; do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    seed
    configure
    "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run "$BASE/api/openapi.yaml" \
        -H "Authorization: token $TOKEN" --phases "$phase" --checks "${FUZZ_CHECKS:-$CHECKS}" \
        --seed "$SEED" --max-examples "$MAX_EXAMPLES" --workers 1 --request-timeout 10 --no-color \
        --report ndjson --report-ndjson-path "$WORK/report-$phase.ndjson" \
        >"$WORK/schemathesis-$phase.log" 2>&1 || { status=1 && cat "$WORK/schemathesis-$phase.log"; }
    count=$(sed -n 's/^ *\([0-9][0-9]*\) generated.*/\1/p' "$WORK/schemathesis-$phase.log" | tail -1)
    echo "fuzz: $phase: ${count:-0} cases; $(grep -E '^=+ .* =+$' "$WORK/schemathesis-$phase.log" | tail -1)" >&2
    cases=$((cases + ${count:-0}))
    phases="${phases:+$phases, }$phase ${count:-0}"
done

live_log_ok fuzz "$WORK" || status=1
echo "fuzz: $cases cases ($phases) in $(($(date +%s) - start)) s, seed $SEED" >&2
if [ "$status" = 0 ]; then echo "fuzz: $cases passed, 0 failed"; else echo "fuzz: FAILED"; fi
exit "$status"
