#!/usr/bin/env python3
"""Benchmark of policy results: ingestion and the issues/compliance queries, at the issue's target size.

    scripts/bench-results.py [--backend sqlite|postgres] [--database-url URL] [--stacks N | --quick] [...]

Starts a release `policyhub serve` (default .build-release/release/policyhub; build it with
`swift build -c release --scratch-path .build-release --product policyhub`, or use scripts/bench-results.sh,
which does) on a fresh data directory, publishes one pack of 20 policies through the API (create, upload,
complete) and applies it to the default policy group, then:

  1. ingests one report per stack for --stacks stacks (default 10,000; --quick: 200), each of --resources
     resources (100) x 20 policies as PolicyHub's `evaluations` (passed/failed per resource) with ~5% of the pairs
     failing, those also as `violations`; --clients concurrent clients (4);
  2. times ONE report of 2,000 resources x 20 policies, --big-repeats times (10) under new update versions of
     one stack, alone (no other load), each re-drawing the failures of a tenth of the resources; then the last
     one sent again as often, which the server answers as a no-op (what decoding and validation cost);
  3. times 100-resource reports alone (a second update of 50 stacks: they update existing issues);
  4. times each read (~--queries requests, 50, one at a time): the issues grid (default page; filtered by
     policyName equals + severity set), the issues filter menu, compliance by stack (size 100, first and a later
     page) and by severity, the per-policy grid, the totals and violationsv2;

and prints a Markdown table of the numbers and the store's size. Latencies are the client's: request sent to
answer read, over a kept-alive loopback connection; the server's own time is a little less. Only the Python
standard library is used.

For PostgreSQL pass --backend postgres --database-url postgres://USER:PASS@HOST:PORT/DB?sslmode=disable, of a
fresh database (the benchmark does not empty it). --keep keeps the data directory (for EXPLAIN QUERY PLAN on
its policyhub.sqlite) and prints where it is. --reuse runs steps 2 to 4 again on a data directory an earlier
run kept (its bench-state.json says what it holds; new update versions continue from it), to compare builds on the
same full-size store without ingesting it again.
"""

import argparse
import http.client
import io
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from benchlib import directory_size, free_port, ms, pct, rss_mib  # noqa: E402

ORG = "default"
PACK = "bench-pack"
PACK_VERSION = "1.0.0"
POLICIES = [f"policy-{i:02d}" for i in range(20)]
SEVERITIES = ["critical", "high", "medium", "low"]
TYPES = ["aws:s3/bucket:Bucket", "aws:ec2/instance:Instance", "aws:rds/instance:Instance", "aws:iam/role:Role",
         "aws:lambda/function:Function", "aws:sqs/queue:Queue", "kubernetes:core/v1:Pod",
         "kubernetes:apps/v1:Deployment", "gcp:storage/bucket:Bucket", "azure:storage/account:Account"]
PROJECTS = 100  # stacks are spread over this many projects


def severity(policy_index: int) -> str:
    return SEVERITIES[policy_index % len(SEVERITIES)]


def level(policy_index: int) -> str:
    return "mandatory" if policy_index < 5 else "advisory"


# ------------------------------------------------------------------------------------------------- HTTP
class Client:
    """One kept-alive connection (one per thread)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"token {token}", "Content-Type": "application/json",
                        "Accept": "application/json"}
        self.connection: Optional[http.client.HTTPConnection] = None

    def request(self, method: str, path: str, body: Any = None, raw: Optional[bytes] = None,
                headers: Optional[dict] = None) -> tuple[int, bytes, float]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            try:
                started = time.perf_counter()
                self.connection.request(method, path, body=data, headers=headers or self.headers)
                response = self.connection.getresponse()
                payload = response.read()
                elapsed = time.perf_counter() - started
                if response.getheader("Connection", "").lower() == "close":
                    self.connection.close()
                    self.connection = None
                return response.status, payload, elapsed
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: Any = None, want: int = 200) -> Any:
        status, payload, _ = self.request(method, path, body)
        if status != want:
            raise SystemExit(f"{method} {path}: HTTP {status}: {payload[:300]!r}")
        return json.loads(payload) if payload else None


_local = threading.local()


def thread_client(port: int, token: str) -> Client:
    if getattr(_local, "client", None) is None:
        _local.client = Client(port, token)
    return _local.client


# ----------------------------------------------------------------------------------------------- server
def start_server(binary: str, data_dir: str, port: int, extra: list[str], log_path: str) -> subprocess.Popen:
    log = open(log_path, "ab")
    server = subprocess.Popen([binary, "serve", "--data-dir", data_dir, "--port", str(port), "--log-level",
                               "warning"] + extra, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited ({server.returncode}); its log: {log_path}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"the server did not answer /healthz within 120 s; its log: {log_path}")


# ------------------------------------------------------------------------------------------- the pack
def pack_archive() -> bytes:
    rules = ",\n".join(f'    {{ name: "{p}", description: "{p}", enforcementLevel: "{level(i)}", '
                       f'validateResource: () => {{}} }}' for i, p in enumerate(POLICIES))
    files = {"package/PulumiPolicy.yaml": "runtime: nodejs\ndescription: benchmark pack\n",
             "package/index.js": ('const { PolicyPack } = require("@pulumi/policy");\n'
                                  f'new PolicyPack("{PACK}", {{ policies: [\n{rules}\n] }});\n')}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        directory = tarfile.TarInfo("package")
        directory.type, directory.mode, directory.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
        archive.addfile(directory)
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def publish_and_apply(client: Client) -> None:
    policies = [{"name": p, "displayName": p, "description": f"Benchmark policy {p}.", "enforcementLevel": level(i),
                 "message": f"{p} failed.", "severity": severity(i)} for i, p in enumerate(POLICIES)]
    created = client.json("POST", f"/api/orgs/{ORG}/policypacks",
                          {"name": PACK, "displayName": "Benchmark pack", "versionTag": PACK_VERSION,
                           "policies": policies}, want=201)
    upload = urllib_parse(created["uploadURI"])
    uploader = Client(upload[0], "")
    status, payload, _ = uploader.request("PUT", upload[1], raw=pack_archive(),
                                          headers=dict(created.get("requiredHeaders") or {}))
    if not 200 <= status < 300:
        raise SystemExit(f"upload: HTTP {status}: {payload[:200]!r}")
    client.json("POST", f"/api/orgs/{ORG}/policypacks/{PACK}/versions/{PACK_VERSION}/complete", want=204)
    client.json("PATCH", f"/api/orgs/{ORG}/policygroups/default-policy-group",
                {"addPolicyPack": {"name": PACK, "displayName": "Benchmark pack", "version": created["version"],
                                   "versionTag": PACK_VERSION}}, want=204)


def urllib_parse(uri: str) -> tuple[int, str]:
    from urllib.parse import urlsplit
    parts = urlsplit(uri)
    return parts.port or 80, parts.path + (f"?{parts.query}" if parts.query else "")


# ------------------------------------------------------------------------------------------- the reports
def stack_name(index: int) -> tuple[str, str]:
    return f"proj-{index % PROJECTS:03d}", f"stack-{index:05d}"


def report(project: str, stack: str, seed: int, resources: int, rate: float, version: int) -> bytes:
    """One evaluation: every policy on every resource, ~rate of the pairs failing. A tenth of the resources
    (which tenth depends on the version) draw their failures anew each version; the others keep theirs."""
    violations, evaluations = [], []
    succeeded = True
    for j in range(resources):
        name = f"res-{j:04d}"
        urn = f"urn:pulumi:{stack}::{project}::{TYPES[j % len(TYPES)]}::{name}"
        draw = random.Random(seed * 1_000_003 + j * 7919 + (version if j % 10 == version % 10 else 0))
        passed, failed = [], []
        for i, policy in enumerate(POLICIES):
            if draw.random() < rate:
                failed.append(policy)
                violations.append({"message": f"{policy} failed on {name}: see the policy's remediation steps.",
                                   "policyName": policy, "policyPackName": PACK, "policyPackVersion": PACK_VERSION,
                                   "enforcementLevel": level(i), "kind": "preventative", "resourceURN": urn})
                succeeded = succeeded and level(i) != "mandatory"
            else:
                passed.append(policy)
        evaluations.append({"resourceURN": urn, "policyPackName": PACK, "policyPackVersion": PACK_VERSION,
                            "passed": passed, "failed": failed})
    body = {"claimId": f"bench-{stack}-{version}",
            "results": {"succeeded": succeeded, "violations": violations, "evaluations": evaluations}}
    return json.dumps(body, separators=(",", ":")).encode()


def put_report(client: Client, project: str, stack: str, version: int, body: bytes) -> float:
    path = f"/api/preview/insights/{ORG}/policy/stacks/{project}/{stack}/updates/{version}/results"
    status, payload, elapsed = client.request("PUT", path, raw=body)
    if status != 200:
        raise SystemExit(f"PUT {path}: HTTP {status}: {payload[:300]!r}")
    return elapsed


# ------------------------------------------------------------------------------------------------ numbers
def human_bytes(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size} B"
        size /= 1024
    return str(size)


def ingest(port: int, token: str, args: argparse.Namespace) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    done = [0]
    step = max(1, args.stacks // 10)
    started = time.perf_counter()

    def one(index: int) -> None:
        project, stack = stack_name(index)
        body = report(project, stack, index, args.resources, args.fail_rate, 1)
        elapsed = put_report(thread_client(port, token), project, stack, 1, body)
        with lock:
            latencies.append(elapsed)
            done[0] += 1
            if done[0] % step == 0:
                rate = done[0] / (time.perf_counter() - started)
                print(f"  ingested {done[0]:>6} / {args.stacks} reports ({rate:.0f}/s)", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        for future in [pool.submit(one, index) for index in range(args.stacks)]:
            future.result()
    return latencies, time.perf_counter() - started


def time_query(client: Client, method: str, path: str, body: Any, count: int) -> tuple[list[float], Any]:
    answer = None
    for _ in range(3):  # warm-up
        status, payload, _ = client.request(method, path, body)
        if status != 200:
            raise SystemExit(f"{method} {path}: HTTP {status}: {payload[:300]!r}")
        answer = json.loads(payload)
    latencies = []
    for _ in range(count):
        status, payload, elapsed = client.request(method, path, body)
        if status != 200:
            raise SystemExit(f"{method} {path}: HTTP {status}: {payload[:300]!r}")
        latencies.append(elapsed)
    return latencies, answer


def postgres_size(url: str) -> Optional[int]:
    try:
        out = subprocess.run(["psql", "-Atq", url, "-c", "SELECT pg_database_size(current_database())"],
                             capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        return int(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=".build-release/release/policyhub")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", help="postgres://... of a fresh database (--backend postgres)")
    parser.add_argument("--stacks", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="200 stacks, 20 queries each: about a minute")
    parser.add_argument("--resources", type=int, default=100, help="resources per stack report")
    parser.add_argument("--fail-rate", type=float, default=0.05, help="share of resource-policy pairs failing")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients while ingesting")
    parser.add_argument("--big-resources", type=int, default=2_000)
    parser.add_argument("--big-repeats", type=int, default=10)
    parser.add_argument("--queries", type=int, default=50, help="timed requests per query")
    parser.add_argument("--data-dir", help="default: a new temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and the server log")
    parser.add_argument("--reuse", action="store_true",
                        help="skip publishing and ingesting: --data-dir holds a store an earlier run kept")
    args = parser.parse_args()
    if args.quick:
        args.stacks, args.queries = 200, 20
    if args.backend == "postgres" and not args.database_url:
        parser.error("--backend postgres needs --database-url")
    state: dict[str, int] = {"big_version": 0, "alone_version": 1}
    state_path = os.path.join(args.data_dir or "", "bench-state.json")
    if args.reuse:
        if not args.data_dir or not os.path.exists(state_path):
            parser.error("--reuse needs the --data-dir of an earlier run, with its bench-state.json")
        with open(state_path) as f:
            state = json.load(f)
        args.stacks, args.resources = state["stacks"], state["resources"]
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        parser.error(f"{binary} is not an executable; build it with "
                     "`swift build -c release --scratch-path .build-release --product policyhub`")

    data_dir = args.data_dir or tempfile.mkdtemp(prefix="policyhub-bench.")
    os.makedirs(data_dir, exist_ok=True)
    log_path = os.path.join(data_dir, "server.log")
    extra = ["--database-url", args.database_url] if args.backend == "postgres" else []
    port = free_port()
    print(f"bench-results: {args.backend}, {args.stacks} stacks x {args.resources} resources x {len(POLICIES)} "
          f"policies, {args.fail_rate:.0%} failing, {args.clients} clients; data in {data_dir}", file=sys.stderr)
    server = start_server(binary, data_dir, port, extra, log_path)
    try:
        with open(os.path.join(data_dir, "initial-admin-token")) as f:
            token = f.read().strip()
        client = Client(port, token)
        if args.reuse:
            ingest_latencies, ingest_seconds = [], 0.0
        else:
            publish_and_apply(client)
            # 1. bulk ingestion
            ingest_latencies, ingest_seconds = ingest(port, token, args)
            state.update(stacks=args.stacks, resources=args.resources)

        def save_state() -> None:
            if args.data_dir:
                with open(os.path.join(data_dir, "bench-state.json"), "w") as f:
                    json.dump(state, f)
        save_state()

        # 2. one report of 2,000 resources, alone
        big_latencies = []
        big_body_sizes = []
        first_big = state["big_version"] + 1
        for version in range(first_big, first_big + args.big_repeats):
            body = report("bench-big", "big", 424_242, args.big_resources, args.fail_rate, version)
            big_body_sizes.append(len(body))
            big_latencies.append(put_report(client, "bench-big", "big", version, body))
            print(f"  {args.big_resources}-resource report {version}: {ms(big_latencies[-1])} ms", file=sys.stderr)
        # The same report again is a no-op ("recorded": false): JSON decoding, validation, the digest and one
        # lookup, without the writes; what is left of the time above is the transaction's.
        last_big = first_big + args.big_repeats - 1
        resent = [put_report(client, "bench-big", "big", last_big, body) for _ in range(args.big_repeats)]
        state["big_version"] = last_big

        # 3. 100-resource reports alone: update 2 of 50 stacks (they update existing issues)
        alone = []
        alone_version = state["alone_version"] + 1
        for index in range(min(50, args.stacks)):
            project, stack = stack_name(index)
            alone.append(put_report(client, project, stack, alone_version,
                                    report(project, stack, index, args.resources, args.fail_rate, alone_version)))
        state["alone_version"] = alone_version
        save_state()

        # 4. the reads at full size
        issues = f"/api/orgs/{ORG}/policyresults/issues"
        filtered = {"startRow": 0, "endRow": 100, "filterModel": {"type": "AND", "conditions": [
            {"filterType": "text", "colId": "policyName", "type": "equals", "filter": "policy-05"},
            {"filterType": "set", "colId": "severity", "filter": "high,critical"}]}}
        compliance = f"/api/orgs/{ORG}/policyresults/compliance"
        first_page = client.json("POST", compliance, {"entity": "stack", "size": 100})
        later = first_page
        for _ in range(min(25, args.stacks // 100 // 2)):
            if not later.get("continuationToken"):
                break
            later = client.json("POST", compliance, {"entity": "stack", "size": 100,
                                                     "continuationToken": later["continuationToken"]})
        queries = [
            ("issues grid, default page (100 rows)", "POST", issues, {"startRow": 0, "endRow": 100},
             lambda a: f"rowCount {a['rowCount']:,}"),
            ("issues grid, policyName equals + severity set", "POST", issues, filtered,
             lambda a: f"rowCount {a['rowCount']:,}"),
            ("issues filters (field policyName)", "POST", issues + "/filters", {"field": "policyName"},
             lambda a: f"{len(a['values'])} values"),
            ("compliance entity=stack size=100", "POST", compliance, {"entity": "stack", "size": 100},
             lambda a: f"{len(a['rows'])} rows"),
            ("compliance entity=stack, a later page", "POST", compliance,
             {"entity": "stack", "size": 100, "continuationToken": first_page.get("continuationToken")}
             if later is first_page else {"entity": "stack", "size": 100,
                                          "continuationToken": later.get("continuationToken")},
             lambda a: f"{len(a['rows'])} rows, from {a['rows'][0]['entityName'] if a['rows'] else '-'}"),
            ("compliance entity=severity", "POST", compliance, {"entity": "severity", "size": 100},
             lambda a: f"{len(a['rows'])} rows"),
            ("policies grid (per-policy compliance)", "POST", f"/api/orgs/{ORG}/policyresults/policies",
             {"startRow": 0, "endRow": 100}, lambda a: f"{len(a['policies'])} rows"),
            ("metadata (totals)", "GET", f"/api/orgs/{ORG}/policyresults/metadata", None,
             lambda a: f"{a['resourcesTotalCount']:,} resources, {a['resourcesWithIssuesCount']:,} with issues"),
            ("violationsv2 (100 a page)", "GET", f"/api/orgs/{ORG}/policyresults/violationsv2", None,
             lambda a: f"{len(a['policyViolations'])} violations"),
        ]
        results = []
        for label, method, path, body, describe in queries:
            latencies, answer = time_query(client, method, path, body, args.queries)
            results.append((label, latencies, describe(answer)))
            print(f"  {label}: p50 {ms(pct(latencies, 50))} ms", file=sys.stderr, flush=True)

        peak = rss_mib(server.pid)
        if args.backend == "sqlite":
            db = os.path.join(data_dir, "policyhub.sqlite")
            sizes = {name: os.path.getsize(db + suffix) for name, suffix in
                     (("db", ""), ("wal", "-wal")) if os.path.exists(db + suffix)}
            store = (f"SQLite {human_bytes(sizes.get('db', 0))} (policyhub.sqlite) + "
                     f"{human_bytes(sizes.get('wal', 0))} WAL; data directory {human_bytes(directory_size(data_dir))}")
        else:
            size = postgres_size(args.database_url)
            store = f"PostgreSQL database {human_bytes(size) if size is not None else '(psql failed)'}"

        # --- the table
        reports = args.stacks
        pairs = args.stacks * args.resources * len(POLICIES)
        print()
        print(f"### {args.backend}: {args.stacks:,} stacks x {args.resources} resources x {len(POLICIES)} policies")
        print()
        print(f"{pairs:,} resource-policy pairs, {args.fail_rate:.0%} failing; {args.clients} concurrent clients "
              f"while ingesting; {args.queries} timed requests per read; {platform.node()}, {os.cpu_count()} CPUs; "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print()
        print("| measurement | p50 ms | p95 ms | p99 ms | max ms | notes |")
        print("|---|---:|---:|---:|---:|---|")
        if ingest_latencies:
            print(f"| ingest {reports:,} reports of {args.resources} resources ({args.clients} clients) | "
                  f"{ms(pct(ingest_latencies, 50))} | {ms(pct(ingest_latencies, 95))} | "
                  f"{ms(pct(ingest_latencies, 99))} | {ms(max(ingest_latencies))} | "
                  f"{reports / ingest_seconds:.1f} reports/s, {ingest_seconds:.0f} s |")
        else:
            print(f"| ingest {reports:,} reports of {args.resources} resources | | | | | reused store, not measured |")
        print(f"| one {args.resources}-resource report, alone (update {alone_version} of 50 stacks) | {ms(pct(alone, 50))} | "
              f"{ms(pct(alone, 95))} | {ms(pct(alone, 99))} | {ms(max(alone))} | |")
        big_pairs = args.big_resources * len(POLICIES)
        print(f"| one {args.big_resources:,}-resource report, alone (x{args.big_repeats}) | "
              f"{ms(pct(big_latencies, 50))} | {ms(pct(big_latencies, 95))} | | {ms(max(big_latencies))} | "
              f"{big_pairs:,} pairs, ~{int(big_pairs * args.fail_rate):,} violations, "
              f"{human_bytes(int(statistics.mean(big_body_sizes)))} body; first {ms(big_latencies[0])} ms |")
        print(f"| the same {args.big_resources:,}-resource report again (a no-op: decode, validate, digest) | "
              f"{ms(pct(resent, 50))} | {ms(pct(resent, 95))} | | {ms(max(resent))} | no writes |")
        for label, latencies, note in results:
            print(f"| {label} | {ms(pct(latencies, 50))} | {ms(pct(latencies, 95))} | {ms(pct(latencies, 99))} | "
                  f"{ms(max(latencies))} | {note} |")
        print()
        print(f"Store: {store}. Server peak RSS: {f'{peak:.0f} MiB' if peak else 'unknown'}.")
        return 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if args.keep or args.data_dir:
            print(f"bench-results: kept {data_dir} (server log: {log_path})", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
