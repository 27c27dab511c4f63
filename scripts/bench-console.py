#!/usr/bin/env python3
"""Benchmark of the web console: how fast every console page answers at the issue's target size.

    scripts/bench-console.py [--binary PATH] [--packs N] [--stacks N] [--violations N] [--queries N | --quick]

The target (issue 11): every page answers in under 50 ms at 1,000 packs and 10,000 results on SQLite. The
script measures against it and prints the numbers; it asserts no latency, and fails only when a request fails
or a page does not show what it should (so that a broken page cannot look fast).

Starts a release `policyhub serve` (default .build-release/release/policyhub; build it with
`swift build -c release --scratch-path .build-release --product policyhub`) on a fresh data directory and seeds
it through the API with --clients concurrent clients (4):

  1. publishes --packs packs (default 1,000: pack-0000 ... pack-0999), each of 3 policies (encryption, tagging,
     retention; retention has a small config schema) whose severities rotate over critical/high/medium/low;
     pack-0000 gets a second version 2.0.0 (a severity and the schema changed, a policy added), so the compare
     page has two versions; five packs are applied to the default policy group, pack-0001 with a config;
  2. reports one update of each of --stacks stacks (100; 10 projects) with --violations violations each (100),
     spread over the packs and their policies (so over the 4 severities): --stacks x --violations open issues
     (default 10,000).

Then signs in once through the sign-in form (GET /sign-in, POST /sign-in with the admin token) and times each
page over one kept-alive connection carrying the session cookie: 3 warm-ups, then --queries (50) GETs one at a
time. Each answer must be 200 and hold the page's expected content (pack names, issue counts computed from what
was seeded, page numbers). Pages: the organization overview (first and last page of packs), a pack (newest and
an older version), the compare page, the default group and a pack's config form in it, a stack (first and second
page of its issues), compliance (default; filtered by policy + severity; by stack; page 100 of state=open), the
sign-in form and the stylesheet; and the sign-in itself (form, then POST), timed separately.

Prints a Markdown table of p50/p95/p99/max per measurement, the server's peak RSS and the store's size.
Latencies are the client's: request sent to answer read, over loopback; the server's own time is a little less.
--quick (60 packs, 10 stacks x 20 violations, 10 queries: seconds) keeps the script working in CI; on a debug
build the numbers mean nothing. --keep keeps the data directory and the server log and prints where they are.
Only the Python standard library is used.
"""

import argparse
import http.client
import io
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from benchlib import directory_size, free_port, ms, pct, rss_mib  # noqa: E402

ORG = "default"
GROUP = "default-policy-group"
SEVERITIES = ["critical", "high", "medium", "low"]
POLICY_NAMES = ["encryption", "tagging", "retention"]
LEVELS = {"encryption": "mandatory", "tagging": "advisory", "retention": "advisory"}
PROJECTS = 10  # stacks are spread over this many projects
APPLIED = 5  # pack-0000 ... pack-0004 are applied to the default group
CONFIGURED = "pack-0001"  # applied with a config; its config form is measured
TARGET_MS = 50.0
SCHEMA = {"type": "object", "properties": {
    "maxAgeDays": {"type": "integer", "minimum": 1, "default": 90, "description": "Days logs are kept."},
    "storageClass": {"type": "string", "enum": ["STANDARD", "GLACIER"], "description": "Where old logs go."}}}


def pack_name(index: int) -> str:
    return f"pack-{index:04d}"


def severity(pack_index: int, policy_index: int) -> str:
    return SEVERITIES[(pack_index + policy_index) % len(SEVERITIES)]


def stack_name(index: int) -> tuple[str, str]:
    return f"proj-{index % PROJECTS}", f"stack-{index:03d}"


# ------------------------------------------------------------------------------------------------- HTTP
class Client:
    """One kept-alive connection (one per thread)."""

    def __init__(self, port: int, headers: dict) -> None:
        self.port = port
        self.headers = headers
        self.connection: Optional[http.client.HTTPConnection] = None

    def request(self, method: str, path: str, body: Any = None, raw: Optional[bytes] = None,
                headers: Optional[dict] = None) -> tuple[int, bytes, float, http.client.HTTPMessage]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            try:
                started = time.perf_counter()
                self.connection.request(method, path, body=data, headers=self.headers if headers is None else headers)
                response = self.connection.getresponse()
                payload = response.read()
                elapsed = time.perf_counter() - started
                if response.getheader("Connection", "").lower() == "close":
                    self.connection.close()
                    self.connection = None
                return response.status, payload, elapsed, response.msg
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: Any = None, want: int = 200) -> Any:
        status, payload, _, _ = self.request(method, path, body)
        if status != want:
            raise SystemExit(f"{method} {path}: HTTP {status}: {payload[:300]!r}")
        return json.loads(payload) if payload else None


def api_client(port: int, token: str) -> Client:
    return Client(port, {"Authorization": f"token {token}", "Content-Type": "application/json",
                         "Accept": "application/json"})


_local = threading.local()


def thread_client(port: int, token: str) -> Client:
    if getattr(_local, "client", None) is None:
        _local.client = api_client(port, token)
    return _local.client


# ----------------------------------------------------------------------------------------------- server
def start_server(binary: str, data_dir: str, port: int, log_path: str) -> subprocess.Popen:
    log = open(log_path, "ab")
    server = subprocess.Popen([binary, "serve", "--data-dir", data_dir, "--port", str(port), "--log-level",
                               "warning"], stdout=log, stderr=subprocess.STDOUT)
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


# ------------------------------------------------------------------------------------------- the packs
def policies(pack_index: int, second: bool = False) -> list[dict]:
    """The pack's policies; `second`: those of pack-0000's version 2.0.0 (a severity and a schema changed, one
    policy added)."""
    result = []
    for k, name in enumerate(POLICY_NAMES):
        policy = {"name": name, "displayName": f"{name.capitalize()} of {pack_name(pack_index)}",
                  "description": f"Every resource passes the {name} check of {pack_name(pack_index)}.",
                  "enforcementLevel": LEVELS[name], "message": f"{name} failed.",
                  "severity": severity(pack_index, k),
                  "remediationSteps": f"Fix the resource's {name} settings, then run `pulumi up` again."}
        if name == "retention":
            schema = json.loads(json.dumps(SCHEMA))
            if second:
                schema["properties"]["maxAgeDays"]["minimum"] = 7
                schema["properties"]["legalHold"] = {"type": "boolean", "default": False}
            policy["configSchema"] = schema
        if second and name == "tagging":
            policy["severity"] = SEVERITIES[(SEVERITIES.index(policy["severity"]) + 1) % len(SEVERITIES)]
        result.append(policy)
    if second:
        result.append({"name": "logging", "displayName": "Logging", "description": "Access logs are on.",
                       "enforcementLevel": "advisory", "message": "logging failed.", "severity": "medium"})
    return result


def pack_archive(name: str, policy_list: list[dict]) -> bytes:
    rules = ",\n".join(f'    {{ name: "{p["name"]}", description: "{p["description"]}", '
                       f'enforcementLevel: "{p["enforcementLevel"]}", validateResource: () => {{}} }}'
                       for p in policy_list)
    files = {"package/PulumiPolicy.yaml": "runtime: nodejs\ndescription: benchmark pack\n",
             "package/index.js": ('const { PolicyPack } = require("@pulumi/policy");\n'
                                  f'new PolicyPack("{name}", {{ policies: [\n{rules}\n] }});\n')}
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


def split_uri(uri: str) -> tuple[int, str]:
    parts = urlsplit(uri)
    return parts.port or 80, parts.path + (f"?{parts.query}" if parts.query else "")


def publish(client: Client, index: int, tag: str = "1.0.0", second: bool = False) -> int:
    """Creates, uploads and completes one version; its version number."""
    name = pack_name(index)
    policy_list = policies(index, second)
    created = client.json("POST", f"/api/orgs/{ORG}/policypacks",
                          {"name": name, "displayName": f"Benchmark pack {index}", "versionTag": tag,
                           "policies": policy_list}, want=201)
    port, path = split_uri(created["uploadURI"])
    uploader = getattr(_local, "uploader", None)
    if uploader is None or uploader.port != port:
        uploader = _local.uploader = Client(port, {})
    status, payload, _, _ = uploader.request("PUT", path, raw=pack_archive(name, policy_list),
                                             headers=dict(created.get("requiredHeaders") or {}))
    if not 200 <= status < 300:
        raise SystemExit(f"upload of {name}@{tag}: HTTP {status}: {payload[:200]!r}")
    client.json("POST", f"/api/orgs/{ORG}/policypacks/{name}/versions/{tag}/complete", want=204)
    return created["version"]


def seed_packs(port: int, token: str, args: argparse.Namespace) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    done = [0]
    step = max(1, args.packs // 10)
    started = time.perf_counter()

    def one(index: int) -> None:
        began = time.perf_counter()
        publish(thread_client(port, token), index)
        with lock:
            latencies.append(time.perf_counter() - began)
            done[0] += 1
            if done[0] % step == 0:
                rate = done[0] / (time.perf_counter() - started)
                print(f"  published {done[0]:>5} / {args.packs} packs ({rate:.0f}/s)", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        for future in [pool.submit(one, index) for index in range(args.packs)]:
            future.result()
    return latencies, time.perf_counter() - started


def apply_packs(client: Client, versions: dict[str, int]) -> None:
    for index in range(APPLIED):
        name = pack_name(index)
        selector: dict[str, Any] = {"name": name, "version": versions.get(name, 1), "versionTag": "1.0.0"}
        if name == CONFIGURED:
            selector["config"] = {"retention": {"enforcementLevel": "mandatory", "maxAgeDays": 30},
                                  "tagging": {"enforcementLevel": "disabled"}}
        client.json("PATCH", f"/api/orgs/{ORG}/policygroups/{GROUP}", {"addPolicyPack": selector}, want=204)


# ------------------------------------------------------------------------------------------- the reports
def violation(stack_index: int, i: int, args: argparse.Namespace) -> tuple[str, int, str, str]:
    """(pack, pack index, policy, severity) of violation i of a stack: spread over every pack and policy."""
    g = stack_index * args.violations + i
    pack_index = g % args.packs
    k = (g // args.packs) % len(POLICY_NAMES)
    return pack_name(pack_index), pack_index, POLICY_NAMES[k], severity(pack_index, k)


def report(stack_index: int, args: argparse.Namespace) -> bytes:
    project, stack = stack_name(stack_index)
    violations = []
    for i in range(args.violations):
        pack, _, policy, _ = violation(stack_index, i, args)
        violations.append({"message": f"{policy} of {pack} failed on bucket b{i}: see the policy's remediation "
                                      "steps.",
                           "policyName": policy, "policyPackName": pack, "policyPackVersion": "1.0.0",
                           "enforcementLevel": LEVELS[policy], "kind": "preventative",
                           "resourceURN": f"urn:pulumi:{stack}::{project}::aws:s3/bucket:Bucket::b{i}"})
    body = {"claimId": "c", "results": {"succeeded": True, "violations": violations}}
    return json.dumps(body, separators=(",", ":")).encode()


def seed_results(port: int, token: str, args: argparse.Namespace) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    done = [0]
    step = max(1, args.stacks // 10)
    started = time.perf_counter()

    def one(index: int) -> None:
        project, stack = stack_name(index)
        path = f"/api/preview/insights/{ORG}/policy/stacks/{project}/{stack}/updates/1/results"
        status, payload, elapsed, _ = thread_client(port, token).request("PUT", path, raw=report(index, args))
        if status != 200:
            raise SystemExit(f"PUT {path}: HTTP {status}: {payload[:300]!r}")
        with lock:
            latencies.append(elapsed)
            done[0] += 1
            if done[0] % step == 0:
                rate = done[0] / (time.perf_counter() - started)
                print(f"  reported {done[0]:>5} / {args.stacks} stacks ({rate:.0f}/s)", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        for future in [pool.submit(one, index) for index in range(args.stacks)]:
            future.result()
    return latencies, time.perf_counter() - started


# ------------------------------------------------------------------------------------------- the console
CSRF = re.compile(r'<input type="hidden" name="csrf" value="([^"]*)">')


def cookie(message: http.client.HTTPMessage, name: str) -> Optional[str]:
    for header in message.get_all("Set-Cookie") or []:
        first = header.split(";", 1)[0]
        key, _, value = first.partition("=")
        if key.strip() == name and value.strip():
            return value.strip()
    return None


def sign_in(port: int, token: str) -> tuple[str, float, float]:
    """Signs in through the form on a new connection: the session secret, the form's and the POST's time."""
    browser = Client(port, {"Accept": "text/html"})
    status, page, form_time, headers = browser.request("GET", "/sign-in?next=/orgs/default")
    value = cookie(headers, "policyhub_signin")
    match = CSRF.search(page.decode("utf-8", "replace"))
    if status != 200 or not value or not match:
        raise SystemExit(f"GET /sign-in: HTTP {status}, sign-in cookie {value!r}, csrf field "
                         f"{'found' if match else 'missing'}: {page[:300]!r}")
    form = urlencode({"csrf": match.group(1), "next": "/orgs/default", "token": token}).encode()
    status, page, post_time, headers = browser.request(
        "POST", "/sign-in", raw=form,
        headers={"Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded",
                 "Cookie": f"policyhub_signin={value}"})
    session = cookie(headers, "policyhub_session")
    if status != 303 or not session or headers.get("Location") != "/orgs/default":
        raise SystemExit(f"POST /sign-in: HTTP {status}, Location {headers.get('Location')!r}, session cookie "
                         f"{'set' if session else 'missing'}: {page[:300]!r}")
    if browser.connection:
        browser.connection.close()
    return session, form_time, post_time


class Page:
    def __init__(self, label: str, path: str, expect: list[str], note: Callable[[str], str],
                 content_type: str = "text/html") -> None:
        self.label, self.path, self.expect, self.note, self.content_type = label, path, expect, note, content_type


def count_note(marker: str, what: str) -> Callable[[str], str]:
    return lambda text: f"{text.count(marker)} {what}"


def check(page: Page, status: int, payload: bytes, headers: http.client.HTTPMessage) -> str:
    text = payload.decode("utf-8", "replace")
    problem = None
    if status != 200:
        problem = f"HTTP {status}"
    elif not (headers.get("Content-Type") or "").startswith(page.content_type):
        problem = f"Content-Type {headers.get('Content-Type')!r}"
    else:
        missing = [want for want in page.expect if want not in text]
        if missing:
            problem = f"the page lacks {missing!r}"
    if problem:
        raise SystemExit(f"GET {page.path} ({page.label}): {problem}: {text[:400]!r}")
    return text


def time_page(client: Client, page: Page, count: int) -> tuple[list[float], str]:
    text = ""
    for _ in range(3):  # warm-up
        status, payload, _, headers = client.request("GET", page.path)
        text = check(page, status, payload, headers)
    latencies = []
    for _ in range(count):
        status, payload, elapsed, headers = client.request("GET", page.path)
        check(page, status, payload, headers)
        latencies.append(elapsed)
    return latencies, text


def pages(args: argparse.Namespace) -> list[Page]:
    packs_last = max(1, (args.packs + 49) // 50)
    open_issues = args.stacks * args.violations
    issues_last = max(1, (open_issues + 49) // 50)
    deep = min(100, issues_last)
    stack_last = max(1, (args.violations + 49) // 50)
    project, stack = stack_name(0)
    # What the filters must find, from what was seeded.
    filtered_policy, filtered_severity = "tagging", "high"
    filtered = sum(1 for s in range(args.stacks) for i in range(args.violations)
                   if violation(s, i, args)[2:] == (filtered_policy, filtered_severity))
    last_pack = pack_name(args.packs - 1)
    first_on_last = pack_name((packs_last - 1) * 50)
    issue_rows = count_note('<tr><td><a href="/orgs/default/stacks/', "issue rows")
    pack_rows = count_note('<tr><td><a href="/orgs/default/packs/', "pack rows")

    def pager(number: int, last: int) -> list[str]:
        return [f"Page {number} of {last}"] if last > 1 else []

    def size(text: str) -> str:
        return f"{len(text.encode()) / 1024:.1f} KiB"

    return [
        Page("overview, page 1", f"/orgs/{ORG}",
             [">pack-0000</a>", ">pack-0049</a>" if args.packs >= 50 else ">pack-0000</a>", "Open issues by severity"]
             + pager(1, packs_last),
             lambda t: f"{size(t)}, {pack_rows(t)}"),
        Page(f"overview, last page ({packs_last})", f"/orgs/{ORG}?page={packs_last}",
             [f">{first_on_last}</a>", f">{last_pack}</a>"] + pager(packs_last, packs_last),
             lambda t: f"{size(t)}, {pack_rows(t)}"),
        Page("pack pack-0000 (newest of 2 versions)", f"/orgs/{ORG}/packs/pack-0000",
             ["<h1>pack-0000", "Policies of version 2.0.0", 'id="policy-logging"', "legalHold"],
             lambda t: size(t)),
        Page("pack pack-0000, older version 1.0.0", f"/orgs/{ORG}/packs/pack-0000?version=1",
             ["<h1>pack-0000", "Policies of version 1.0.0", 'id="policy-retention"', "maxAgeDays"],
             lambda t: size(t)),
        Page("compare pack-0000 1.0.0 -> 2.0.0", f"/orgs/{ORG}/packs/pack-0000/compare?from=1&to=2",
             ["Added policies", "<code>logging</code>", "<code>tagging</code>: severity"],
             lambda t: size(t)),
        Page("group default-policy-group", f"/orgs/{ORG}/groups/{GROUP}",
             ["Applied packs", f">{CONFIGURED}</a>", 'id="apply-pack"', f'<option value="{last_pack}">'],
             lambda t: f"{size(t)}, {t.count('<option value=')} packs to choose from"),
        Page(f"group pack config form ({CONFIGURED})", f"/orgs/{ORG}/groups/{GROUP}/packs/{CONFIGURED}",
             [f"{CONFIGURED} in {GROUP}", 'id="config-retention"', "maxAgeDays", "30"],
             lambda t: size(t)),
        Page(f"stack {project}/{stack}, page 1", f"/orgs/{ORG}/stacks/{project}/{stack}",
             [f"Stack {project}/{stack}", f"Open issues ({args.violations})", f">{CONFIGURED}</a>"]
             + pager(1, stack_last),
             lambda t: f"{size(t)}, {issue_rows(t)}"),
    ] + ([  # a stack with one page of issues has no second page
        Page(f"stack {project}/{stack}, page 2", f"/orgs/{ORG}/stacks/{project}/{stack}?page=2",
             [f"Stack {project}/{stack}", f"Open issues ({args.violations})"] + pager(2, stack_last),
             lambda t: f"{size(t)}, {issue_rows(t)}")
    ] if stack_last > 1 else []) + [
        Page("compliance, default (open issues, page 1)", f"/orgs/{ORG}/compliance",
             [f"<p>{open_issues} issues.</p>", 'id="f-pack"'] + pager(1, issues_last),
             lambda t: f"{size(t)}, {issue_rows(t)} of {open_issues:,}"),
        Page(f"compliance, policy={filtered_policy} + severity={filtered_severity}",
             f"/orgs/{ORG}/compliance?policy={filtered_policy}&severity={filtered_severity}",
             [f"<p>{filtered} issues.</p>"], lambda t: f"{size(t)}, {issue_rows(t)} of {filtered:,}"),
        Page(f"compliance, stack={project}/{stack}", f"/orgs/{ORG}/compliance?stack={project}%2F{stack}",
             [f"<p>{args.violations} issues.</p>", f'value="{project}/{stack}"'],
             lambda t: f"{size(t)}, {issue_rows(t)} of {args.violations:,}"),
        Page(f"compliance, state=open, page {deep}", f"/orgs/{ORG}/compliance?state=open&page={deep}",
             [f"<p>{open_issues} issues.</p>"] + pager(deep, issues_last),
             lambda t: f"{size(t)}, {issue_rows(t)}"),
        Page("sign-in form", "/sign-in", ['name="csrf"', 'id="token"'], lambda t: size(t)),
        Page("stylesheet", "/console.css", ["body"], lambda t: size(t), content_type="text/css"),
    ]


# ------------------------------------------------------------------------------------------------ numbers
def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return str(size)


def row(label: str, latencies: list[float], note: str) -> str:
    return (f"| {label} | {ms(pct(latencies, 50))} | {ms(pct(latencies, 95))} | {ms(pct(latencies, 99))} | "
            f"{ms(max(latencies))} | {note} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=".build-release/release/policyhub")
    parser.add_argument("--packs", type=int, default=1_000, help="packs published (3 policies each)")
    parser.add_argument("--stacks", type=int, default=100, help="stacks reporting once each")
    parser.add_argument("--violations", type=int, default=100, help="violations in each stack's report")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients while seeding")
    parser.add_argument("--queries", type=int, default=50, help="timed requests per page")
    parser.add_argument("--quick", action="store_true",
                        help="60 packs, 10 stacks x 20 violations, 10 queries: seconds, to keep the script working")
    parser.add_argument("--data-dir", help="default: a new temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and the server log")
    args = parser.parse_args()
    if args.quick:
        args.packs, args.stacks, args.violations, args.queries = 60, 10, 20, 10
    if args.packs < APPLIED:
        parser.error(f"--packs must be at least {APPLIED}")
    if args.stacks < 1 or args.violations < 1 or args.queries < 1:
        parser.error("--stacks, --violations and --queries must be at least 1")
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        parser.error(f"{binary} is not an executable; build it with "
                     "`swift build -c release --scratch-path .build-release --product policyhub`")

    data_dir = args.data_dir or tempfile.mkdtemp(prefix="policyhub-bench-console.")
    os.makedirs(data_dir, exist_ok=True)
    log_path = os.path.join(data_dir, "server.log")
    port = free_port()
    print(f"bench-console: {args.packs} packs, {args.stacks} stacks x {args.violations} violations, "
          f"{args.clients} clients, {args.queries} queries a page; data in {data_dir}", file=sys.stderr)
    server = start_server(binary, data_dir, port, log_path)
    try:
        with open(os.path.join(data_dir, "initial-admin-token")) as f:
            token = f.read().strip()
        client = api_client(port, token)

        # 1. packs
        publish_latencies, publish_seconds = seed_packs(port, token, args)
        versions = {pack_name(0): 1}
        second = publish(client, 0, tag="2.0.0", second=True)
        if second != 2:
            raise SystemExit(f"pack-0000's second version is number {second}, not 2")
        apply_packs(client, versions)
        # 2. results
        report_latencies, report_seconds = seed_results(port, token, args)

        # 3. the console
        session, form_time, post_time = sign_in(port, token)
        browser = Client(port, {"Accept": "text/html", "Cookie": f"policyhub_session={session}"})
        results = []
        for page in pages(args):
            latencies, text = time_page(browser, page, args.queries)
            results.append((page.label, f"{page.label} (`{page.path}`)", latencies, page.note(text)))
            print(f"  {page.label}: p50 {ms(pct(latencies, 50))} ms", file=sys.stderr, flush=True)
        # Signing in again, --queries times: the form, then the POST (a token check and a new session each).
        sign_forms, sign_posts = [form_time], [post_time]
        for _ in range(args.queries - 1):
            _, form_time, post_time = sign_in(port, token)
            sign_forms.append(form_time)
            sign_posts.append(post_time)

        peak = rss_mib(server.pid)
        db = os.path.join(data_dir, "policyhub.sqlite")
        sizes = {name: os.path.getsize(db + suffix) for name, suffix in
                 (("db", ""), ("wal", "-wal")) if os.path.exists(db + suffix)}
        store = (f"SQLite {human_bytes(sizes.get('db', 0))} (policyhub.sqlite) + "
                 f"{human_bytes(sizes.get('wal', 0))} WAL; data directory {human_bytes(directory_size(data_dir))}")

        # --- the table
        issues = args.stacks * args.violations
        print()
        print(f"### console pages: {args.packs:,} packs, {issues:,} open issues "
              f"({args.stacks:,} stacks x {args.violations} violations), SQLite")
        print()
        print(f"{len(POLICY_NAMES)} policies a pack, {len(SEVERITIES)} severities; {args.clients} concurrent clients "
              f"while seeding; 3 warm-ups, then {args.queries} timed GETs a page, one at a time over one kept-alive "
              f"connection with the session cookie; {os.path.basename(binary)} at {os.path.relpath(binary)}; "
              f"{platform.node()}, {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print()
        print("| measurement | p50 ms | p95 ms | p99 ms | max ms | notes |")
        print("|---|---:|---:|---:|---:|---|")
        print(row(f"seed: publish {args.packs:,} packs (create, upload, complete; {args.clients} clients)",
                  publish_latencies, f"{args.packs / publish_seconds:.1f} packs/s, {publish_seconds:.0f} s"))
        print(row(f"seed: {args.stacks:,} reports of {args.violations} violations ({args.clients} clients)",
                  report_latencies, f"{args.stacks / report_seconds:.1f} reports/s, {report_seconds:.0f} s"))
        for _, label, latencies, note in results:
            print(row(label, latencies, note))
        print(row("sign in: `GET /sign-in` on a new connection", sign_forms, f"x{len(sign_forms)}"))
        print(row("sign in: `POST /sign-in` (token check, new session, 303)", sign_posts, f"x{len(sign_posts)}"))
        print()
        over = [label for label, _, latencies, _ in results if pct(latencies, 95) * 1000 > TARGET_MS]
        print(f"Pages over the {TARGET_MS:.0f} ms target at p95: {'; '.join(over) if over else 'none'}.")
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
            print(f"bench-console: kept {data_dir} (server log: {log_path})", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
