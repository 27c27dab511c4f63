#!/usr/bin/env python3
"""Contract test: drives a live PolicyHub with Pulumi's own generated Python SDK (`pulumi-cloud-sdk`).

    sdk_contract.py BASE_URL TOKEN        (scripts/sdk-contract.sh starts the server and calls this)

Every operation of the SDK that maps to a route PolicyHub serves is called with real data (packs with real
policies, a real gzipped tar archive, a policy group with a stack and packs), through the SDK's own ApiClient,
so that requests are built and answers decoded exactly as an SDK user's would be. One line per call:
`ok <operationId> ...` or `FAIL <operationId> ...: <why>` (operationIds are the ones of our served OpenAPI
document; the SDK method follows in brackets), then `N passed, N failed`. Exit 1 on any failure.

Why a strict checker on top of the SDK: its runtime (`_support.PulumiModelEncoder`) is hand-written, not
pydantic, and forgiving. A missing required string or object does raise (the model's setter refuses None),
but a missing required int or bool silently becomes 0 or False, and `str(x)`/`int(x)`/`bool(x)` coerce wrong
types (a number where a string belongs passes). So every JSON answer is also checked against the SDK's model
metadata (`__swagger_types__`, `__attribute_map__`, and the model constructor's parameters without a default,
which are the required fields): a missing or null required field, a wrong JSON type or an unknown enum value
fails the call, naming the operation, the JSON path and the SDK model file and attribute.

Policy results: reports go through InsightsApi.update_stack_policy_results with the SDK's request models (Pulumi's
own request); reports with PolicyHub's `evaluations` extension, which the SDK does not model, go through
call_api with the SDK's request serialized and the extension added. Issues, triage, filters, CSV export,
compliance, per-policy compliance, totals and violations are then read through OrganizationsApi, and every value
is checked against what the reports imply (issues opened, fixed by a completed run or a passing evaluation,
reopened, an ignored one staying ignored; scores and totals computed from the reported pairs). Finally the
requests `pulumi policy issue ls|get` and `pulumi policy compliance ls` send (pkg/backend/httpstate/client) are
replayed byte for byte with urllib, and their answers checked to decode into the CLI's Go structs
(sdk/go/common/apitype/policy.go) as encoding/json would.

The SDK has no method for the preview registry routes (/api/preview/registry/policypacks/...), so those go
through the SDK's ApiClient.call_api and decode into the models of the plain registry methods of the same
shape. Its registry publish method sends no body and decodes no answer; it is called once as it is (it must
get a clean 4xx), and the real publishes send the reference's body through call_api. Uploads and downloads
(uploadURI, packLocation) are plain HTTP, as the CLI does them. SDK methods near our routes that PolicyHub does
not serve, so not called: batch_update_policy_group (.../policygroups/{g}/batch), list_policy_group_accounts,
get_policy_group_metadata, the audit log's v2, event-types, export and reader-kind routes.
"""

import csv
import gzip
import hashlib
import importlib.metadata
import inspect
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any, Callable, NamedTuple, Optional

from pulumi_cloud_sdk import ApiClient, Configuration, default_encoder
from pulumi_cloud_sdk import models as m
from pulumi_cloud_sdk._support import AutoEnumEncoder, PulumiModelEncoder
from pulumi_cloud_sdk.apis import (InsightsApi, MiscellaneousApi, OrganizationsApi, RegistryApi, StacksApi,
                                   UsersApi)

ORG = "default"  # the organization the server creates on its first start, with the admin user
TIMEOUT = 30


# --------------------------------------------------------------------------------------------------- errors
class HttpFailure(Exception):
    """The server answered with a status >= 400 (or, with status 0, did not answer)."""

    def __init__(self, status: int, body: bytes):
        self.status = status
        self.body = body
        try:
            self.json = json.loads(body)
        except ValueError:
            self.json = None
        message = self.json.get("message") if isinstance(self.json, dict) else body[:200].decode(errors="replace")
        server = " (server error)" if status >= 500 else ""
        super().__init__(f"HTTP {status}{server}: {message}" if status else f"no answer: {message}")


class Skip(Exception):
    """A call that needs the result of an earlier one that failed."""


# ------------------------------------------------------------------------------------- the SDK's own client
class RecordingTransport:
    """The SDK's ApiClient accepts a transport `(request, timeout) -> response`; this one is urlopen that
    remembers the status (the SDK discards it) and turns HTTP errors into HttpFailure with the body read."""

    def __init__(self) -> None:
        self.status: Optional[int] = None
        self.content_type: Optional[str] = None

    def __call__(self, request: urllib.request.Request, timeout: Optional[float]) -> Any:
        self.status = None
        self.content_type = None
        try:
            response = urllib.request.urlopen(request, timeout=timeout or TIMEOUT)
        except urllib.error.HTTPError as error:
            self.status = error.code
            raise HttpFailure(error.code, error.read()) from None
        except OSError as error:  # refused, reset, timed out: no answer at all
            raise HttpFailure(0, str(error).encode()) from None
        self.status = response.status
        self.content_type = response.headers.get("Content-Type")
        return response


def make_client(base_url: str, token: str) -> tuple[ApiClient, RecordingTransport]:
    # The SDK's Configuration: `host` is the API base URL; `access_token` is sent as `Authorization: token ...`.
    configuration = Configuration()
    configuration.host = base_url
    configuration.access_token = token
    transport = RecordingTransport()
    return ApiClient(configuration, transport=transport), transport


def sdk_response_type(method: Callable) -> Optional[str]:
    """The response type the generated method passes to call_api (e.g. 'AppGetPolicyPackResponse')."""
    match = re.search(r"response_type=(?:'([^']+)'|None)", inspect.getsource(method))
    return match.group(1) if match else None


# ------------------------------------------------------------------------------------------ strict checking
def model_file(cls: type) -> str:
    return "models/" + inspect.getfile(cls).rsplit("/", 1)[-1]


def required_attributes(cls: type) -> set[str]:
    """The SDK marks a field required by giving its constructor parameter no default."""
    parameters = inspect.signature(cls.__init__).parameters
    return {name for name, p in parameters.items() if name != "self" and p.default is inspect.Parameter.empty}


JSON_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "dict": (dict,)}


def json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), type(value).__name__)


INDEX = re.compile(r"\[\d+\]")


class StrictChecker:
    """Walks a JSON answer along an SDK type name and lists every mismatch (and the fields the SDK does not
    model, which are not failures: clients ignore them)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.unmodelled: list[str] = []

    def check(self, value: Any, type_name: str, path: str, where: str) -> None:
        if type_name in ("object", "Any"):
            return
        if type_name.startswith("list[") or type_name.startswith("set["):
            if not isinstance(value, list):
                return self.problem(path, f"expected an array, got {json_type(value)}", where)
            for index, item in enumerate(value):
                self.check_nullable(item, type_name[type_name.index("[") + 1:-1], f"{path}[{index}]", where)
            return
        if type_name.startswith("dict["):
            if not isinstance(value, dict):
                return self.problem(path, f"expected an object, got {json_type(value)}", where)
            value_type = type_name[len("dict["):-1].split(", ", 1)[1]
            for key, item in value.items():
                self.check_nullable(item, value_type, f"{path}.{key}", where)
            return
        if type_name in ("datetime", "date"):
            if not isinstance(value, str):
                return self.problem(path, f"expected an RFC 3339 string, got {json_type(value)}", where)
            return
        if type_name in JSON_TYPES:
            # bool is an int in Python; JSON true is no integer.
            if not isinstance(value, JSON_TYPES[type_name]) or (type_name != "bool" and isinstance(value, bool)):
                return self.problem(path, f"expected {type_name}, got {json_type(value)} {json.dumps(value)[:60]}",
                                    where)
            return
        cls = getattr(m, type_name, None)
        if cls is None:
            return self.problem(path, f"the SDK names an unknown type {type_name}", where)
        if issubclass(cls, AutoEnumEncoder):
            allowed = [e.value for e in cls]
            if value not in allowed:
                self.problem(path, f"{json.dumps(value)} is not one of {allowed}", f"{model_file(cls)} {type_name}")
            return
        self.check_model(value, cls, path)

    def check_nullable(self, value: Any, type_name: str, path: str, where: str) -> None:
        if value is not None:
            self.check(value, type_name, path, where)

    def check_model(self, value: Any, cls: type, path: str) -> None:
        if not isinstance(value, dict):
            return self.problem(path or "(body)", f"expected an object, got {json_type(value)}",
                                f"{model_file(cls)} {cls.__name__}")
        if getattr(cls, "DISCRIMINATOR", None):
            return  # polymorphic (match rules): PolicyHub never sends one
        types, wire_names, _ = PulumiModelEncoder.infer_types_from_annotations(cls)
        required = required_attributes(cls)
        for attribute, type_name in types.items():
            if attribute.startswith("__"):
                continue
            key = wire_names[attribute]
            where = f"{model_file(cls)} {cls.__name__}.{attribute}: {type_name}"
            field_path = f"{path}.{key}" if path else key
            if value.get(key) is None:
                if attribute in required:
                    state = "is null" if key in value else "is missing"
                    self.problem(field_path, f"required field {state}", where + ", required")
                continue
            self.check(value[key], type_name, field_path, where)
        known = set(wire_names.values())
        self.unmodelled += [re.sub(INDEX, "[*]", f"{path}.{key}" if path else key)
                            for key in value if key not in known]

    def problem(self, path: str, what: str, where: str) -> None:
        # Once per field, not once per array item: auditLogEvents[*].user, not [0], [1], ...
        text = f"{re.sub(INDEX, '[*]', path)}: {what} [SDK {where}]"
        if text not in self.problems:
            self.problems.append(text)


# ------------------------------------------------------------------------------------------------ the runner
class Result:
    """What a call gave: `ok` when the server accepted it (2xx, whatever the checks found); `body` is the
    answer's JSON (None when empty), for the calls that build on it."""

    def __init__(self, ok: bool, body: Any = None) -> None:
        self.ok = ok
        self.body = body


class Contract:
    def __init__(self, client: ApiClient, transport: RecordingTransport) -> None:
        self.client = client
        self.transport = transport
        self.passed = 0
        self.failed = 0
        self.notes: dict[str, set[str]] = {}

    def report(self, label: str, problems: list[str]) -> bool:
        if problems:
            self.failed += 1
            print(f"FAIL {label}: " + "; ".join(problems), flush=True)
        else:
            self.passed += 1
            print(f"ok {label}", flush=True)
        return not problems

    def call(self, op: str, method: Callable, *args: Any, status: Optional[int] = None, detail: str = "",
             check: Optional[Callable[[Any], list[str]]] = None, **kwargs: Any) -> Result:
        """Calls a generated SDK method, which builds the request and decodes the answer into its model."""
        return self.invoke(op, sdk_name(method), lambda: method(*args, **kwargs), sdk_response_type(method),
                           status, detail, check)

    def call_path(self, op: str, verb: str, path: str, params: dict, response_type: Optional[str],
                  sdk_equivalent: str, body: Any = None, query: Optional[dict] = None, status: Optional[int] = None,
                  detail: str = "", check: Optional[Callable[[Any], list[str]]] = None) -> Result:
        """For routes the SDK has no method for (the preview registry): the SDK's own ApiClient.call_api,
        decoding into the model of the SDK method whose route has the same shape."""
        def run() -> Any:
            return self.client.call_api(path, verb, path_params=params, query_params=query, body=body,
                                        header_params={"Accept": "application/json"}, response_type=response_type)
        return self.invoke(op, f"call_api as {sdk_equivalent}", run, response_type, status, detail, check)

    def invoke(self, op: str, sdk: str, run: Callable[[], Any], response_type: Optional[str],
               status: Optional[int], detail: str, check: Optional[Callable[[Any], list[str]]]) -> Result:
        label = f"{op}{' ' + detail if detail else ''} [{sdk}]"
        problems: list[str] = []
        self.client.last_response = None
        try:
            run()
        except HttpFailure as failure:
            self.report(label, [str(failure)])
            return Result(False)
        except Exception as error:  # the answer arrived, but the SDK could not decode it into its model
            problems.append(f"the SDK failed to decode the answer: {type(error).__name__}: {error}")
        raw = self.client.last_response
        try:
            document = json.loads(raw) if raw else None
        except ValueError:
            self.report(label, problems + [f"the answer is not JSON: {raw[:100]!r}"])
            return Result(True)
        if response_type and document is None:
            problems.append(f"empty body where the SDK expects {response_type}")
        elif response_type:
            problems += self.strict(op, document, response_type)
        if status is not None and self.transport.status != status:
            problems.append(f"status {self.transport.status}, the reference says {status}")
        if check:
            problems += run_check(check, document)
        self.report(label, problems)
        return Result(True, document)

    def strict(self, op: str, document: Any, response_type: str) -> list[str]:
        checker = StrictChecker()
        checker.check(document, response_type, "", f"response type {response_type}")
        if checker.unmodelled:
            self.notes.setdefault(op, set()).update(checker.unmodelled)
        return checker.problems

    def expect_error(self, op: str, method: Callable, *args: Any, status: Optional[int], detail: str,
                     **kwargs: Any) -> None:
        """A call that must be refused with `status` (None: any 4xx) and Pulumi's error body."""
        label = f"{op} {detail} [{sdk_name(method)}]"
        try:
            method(*args, **kwargs)
        except HttpFailure as failure:
            wanted = failure.status == status if status else 400 <= failure.status < 500
            problems = [] if wanted else [f"{failure}, want {status or '4xx'}"]
            body = failure.json
            if not (isinstance(body, dict) and body.get("code") == failure.status and
                    isinstance(body.get("message"), str)):
                problems.append(f"error body is not {{code, message}}: {failure.body[:100]!r}")
            self.report(label, problems)
            return
        self.report(label, [f"succeeded with {self.transport.status}, want {status or '4xx'}"])

    def call_text(self, op: str, method: Callable, *args: Any, detail: str = "",
                  check: Optional[Callable[[str], list[str]]] = None, **kwargs: Any) -> Result:
        """A generated SDK method whose answer is text (response_type 'str'): the SDK hands the body back as
        it is when the server names a text media type it knows (text/plain), and decodes JSON otherwise."""
        label = f"{op}{' ' + detail if detail else ''} [{sdk_name(method)}]"
        problems: list[str] = []
        self.client.last_response = None
        returned = None
        try:
            returned = method(*args, **kwargs)
        except HttpFailure as failure:
            self.report(label, [str(failure)])
            return Result(False)
        except Exception as error:
            problems.append(f"the SDK failed to decode the answer (Content-Type: {self.transport.content_type}; "
                            f"the SDK asked for text/plain): {type(error).__name__}: {str(error)[:120]}")
        text = (self.client.last_response or b"").decode("utf-8", errors="replace")
        if returned is not None and returned != text:
            problems.append(f"the SDK returned {type(returned).__name__}, not the body's text")
        if check:
            problems += run_check(check, text)
        self.report(label, problems)
        return Result(True, text)

    def cli(self, op: str, what: str, verb: str, path: str, body: Any, shape: Any,
            check: Optional[Callable[[Any], list[str]]] = None) -> Result:
        """A request exactly as the pulumi CLI's Go client sends it (pkg/backend/httpstate/client), its answer
        decoded as Go's encoding/json would into the CLI's apitype struct (`shape`)."""
        label = f"{op} {what} [raw HTTP as the pulumi CLI]"
        try:
            document = pulumi_cli_call(self.client.configuration.host, self.client.configuration.access_token,
                                       verb, path, body)
        except HttpFailure as failure:
            self.report(label, [str(failure)])
            return Result(False)
        except ValueError as error:
            self.report(label, [f"the answer is not JSON: {error}"])
            return Result(True)
        problems = go_decode(document, shape, "")
        if check and not problems:
            problems += run_check(check, document)
        self.report(label, problems)
        return Result(True, document)

    def step(self, label: str, run: Callable[[], list[str]]) -> bool:
        """A check that is no SDK call (upload, download)."""
        try:
            return self.report(label, run())
        except HttpFailure as failure:
            return self.report(label, [str(failure)])


def sdk_name(method: Callable) -> str:
    return f"{type(method.__self__).__name__}.{method.__name__}"


def run_check(check: Callable[[Any], list[str]], document: Any) -> list[str]:
    try:
        return check(document)
    except (KeyError, IndexError, TypeError, AttributeError) as error:
        return [f"unexpected content: {type(error).__name__}: {error}"]


# ------------------------------------------------------------------------------------------------- test data
def policy(name: str, level: m.AppEnforcementLevel, severity: Optional[m.AppPolicySeverity] = None,
           schema: Optional[m.AppPolicyConfigSchema] = None,
           framework: Optional[m.AppPolicyComplianceFramework] = None, tags: Optional[list[str]] = None,
           remediation: Optional[str] = None, url: Optional[str] = None) -> m.AppPolicy:
    words = name.replace("-", " ")
    return m.AppPolicy(name=name, display_name=words.title(), description=f"Checks that {words}.",
                       enforcement_level=level, message=f"Violation: {words}.", config_schema=schema,
                       severity=severity, framework=framework, tags=tags, remediation_steps=remediation, url=url)


def guardrail_policies(with_rds: bool) -> list[m.AppPolicy]:
    """Policies with every optional field the SDK's AppPolicy models."""
    policies = [
        policy("s3-no-public-read", m.AppEnforcementLevel.Mandatory, m.AppPolicySeverity.High,
               m.AppPolicyConfigSchema(
                   type=m.AppJSONSchemaType.Object, required=["allowedBuckets"],
                   properties={"allowedBuckets": {"type": "array", "items": {"type": "string"}},
                               "maxAgeDays": {"type": "integer", "minimum": 1, "default": 30}}),
               m.AppPolicyComplianceFramework(name="CIS AWS Foundations", version="3.0.0", reference="2.1.4",
                                              specification="Ensure S3 buckets block public access."),
               ["s3", "security"], "Turn on the bucket's public access block.",
               "https://policyhub.example.com/policies/s3-no-public-read"),
        policy("ec2-approved-instance-types", m.AppEnforcementLevel.Advisory, m.AppPolicySeverity.Medium,
               m.AppPolicyConfigSchema(
                   type=m.AppJSONSchemaType.Object,
                   properties={"allowedTypes": {"type": "array", "items": {"type": "string"},
                                                "default": ["t3.micro", "t3.small"]}}),
               m.AppPolicyComplianceFramework(name="Internal cost controls", version="1"),
               ["cost"], "Pick an instance type from the allowed list.",
               "https://policyhub.example.com/policies/ec2-approved-instance-types"),
    ]
    if with_rds:
        policies.append(policy("rds-storage-encrypted", m.AppEnforcementLevel.Remediate, m.AppPolicySeverity.Critical,
                               tags=["rds", "encryption"], remediation="Set storageEncrypted to true."))
    return policies


def create_request(name: str, tag: str, policies: list[m.AppPolicy], full: bool) -> m.AppCreatePolicyPackRequest:
    if not full:
        # Only the required fields: the SDK then sends every optional one as JSON null, which the server
        # must take as absent.
        return m.AppCreatePolicyPackRequest(name=name, display_name=name.title(), version_tag=tag, policies=policies)
    return m.AppCreatePolicyPackRequest(
        name=name, display_name="AWS Guardrails", version_tag=tag, policies=policies,
        description="Baseline guardrails for AWS accounts.", readme=f"# AWS Guardrails {tag}\n\nApply to every stack.",
        provider="aws", tags=["aws", "baseline"], repository="https://git.example.com/platform/aws-guardrails",
        runtime="nodejs", metadata={"vcs.kind": "git", "vcs.commit": "0123456789abcdef"})


def pack_archive(name: str, tag: str, policies: list[m.AppPolicy]) -> bytes:
    """A policy pack as `pulumi policy publish` packs it: a gzipped tar of a `package/` directory."""
    rules = ",\n".join(
        f'        {{ name: "{p.name}", description: "{p.description}", enforcementLevel: "{p.enforcement_level}",\n'
        f'          validateResource: (args, reportViolation) => {{}} }}' for p in policies)
    files = {
        "package/PulumiPolicy.yaml": f"runtime: nodejs\ndescription: {name} {tag}\n",
        "package/package.json": json.dumps({"name": name, "version": tag, "main": "index.js",
                                            "dependencies": {"@pulumi/policy": "^1.13.0"}}, indent=2) + "\n",
        "package/index.js": ('const { PolicyPack } = require("@pulumi/policy");\n\n'
                             f'new PolicyPack("{name}", {{\n    policies: [\n{rules}\n    ],\n}});\n'),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        now = int(time.time())
        directory = tarfile.TarInfo("package")
        directory.type, directory.mode, directory.mtime = tarfile.DIRTYPE, 0o755, now
        archive.addfile(directory)
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, now
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def wire(model: Any) -> Any:
    """What the SDK sends for a model."""
    return default_encoder.sanitize_for_serialization(model)


def without_nulls(value: Any) -> Any:
    """The SDK sends every unset optional field as null; a server may rightly leave them out when answering."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def same_policies(got: Any, sent: list[m.AppPolicy], path: str) -> list[str]:
    """Each policy sent comes back with every field that was sent, equal."""
    if not isinstance(got, list):
        return [f"{path}: expected the {len(sent)} published policies, got {json.dumps(got)[:80]}"]
    problems = []
    by_name = {p.get("name"): p for p in got if isinstance(p, dict)}
    for policy_model in sent:
        expected = without_nulls(wire(policy_model))
        returned = by_name.get(expected["name"])
        if returned is None:
            problems.append(f"{path}: policy {expected['name']} is missing")
            continue
        problems += [f"{path}[{expected['name']}].{k}: sent {json.dumps(v)}, got {json.dumps(returned.get(k))}"
                     for k, v in expected.items() if without_nulls(returned.get(k)) != v]
    if len(got) != len(sent):
        problems.append(f"{path}: {len(got)} policies, {len(sent)} were published")
    return problems


def expect(condition: bool, message: str) -> list[str]:
    return [] if condition else [message]


# ------------------------------------------------------------------------------- the pulumi CLI's Go client
# The CLI's structs (sdk/go/common/apitype/policy.go) as Go's encoding/json decodes into them: each field's Go
# type; a JSON null leaves the zero value, unknown fields are ignored, anything else of the wrong type fails.
GO_POLICY_ISSUE = {key: "string" for key in (
    "id", "entityType", "entityProject", "entityId", "policyPack", "policyPackTag", "policyName", "level",
    "severity", "resourceURN", "resourceProvider", "resourceType", "resourceName", "message", "observedAt",
    "lastModified", "status", "kind", "priority")}
GO_LIST_POLICY_ISSUES = {"policyIssues": [GO_POLICY_ISSUE], "rowCount": "int64"}
GO_GET_POLICY_ISSUE = {"policyIssue": GO_POLICY_ISSUE}
GO_COMPLIANCE = {"columns": ["string"], "rows": [{"entityName": "string", "scores": ["int"]}],
                 "continuationToken": "*string"}


def go_decode(value: Any, shape: Any, path: str) -> list[str]:
    """What Go's json.Unmarshal would refuse when decoding `value` into `shape`."""
    where = path or "(body)"
    if value is None:
        return []
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: Go decodes a struct from an object, got {json_type(value)}"]
        problems: list[str] = []
        for key, inner in shape.items():
            if key in value:
                problems += go_decode(value[key], inner, f"{path}.{key}" if path else key)
        return problems
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: Go decodes a slice from an array, got {json_type(value)}"]
        problems = []
        for index, item in enumerate(value):
            for problem in go_decode(item, shape[0], f"{path}[{index}]"):
                problem = re.sub(INDEX, "[*]", problem)
                if problem not in problems:
                    problems.append(problem)
        return problems
    if shape in ("string", "*string"):
        return [] if isinstance(value, str) else [f"{where}: Go's {shape} cannot take {json_type(value)} "
                                                  f"{json.dumps(value)[:40]}"]
    if shape in ("int", "int64"):
        whole = isinstance(value, int) and not isinstance(value, bool)
        return [] if whole else [f"{where}: Go's {shape} cannot take {json_type(value)} {json.dumps(value)[:40]}"]
    raise ValueError(f"unknown Go shape {shape}")


def pulumi_cli_call(base: str, token: str, verb: str, path: str, body: Any) -> Any:
    """pulumiAPICall's request: compact JSON (Go's json.Marshal), its Content-Type, Accept and Accept-Encoding
    headers and `Authorization: token ...`; a gzipped answer is unzipped as Go's transport does."""
    data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/vnd.pulumi+9", "Accept-Encoding": "gzip",
               "Authorization": f"token {token}", "User-Agent": "pulumi-cli/1 (v3.245.0; linux)"}
    request = urllib.request.Request(base.rstrip("/") + path, data=data, method=verb, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            raw = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
    except urllib.error.HTTPError as error:
        raise HttpFailure(error.code, error.read()) from None
    except OSError as error:
        raise HttpFailure(0, str(error).encode()) from None
    return json.loads(raw)


# ------------------------------------------------------------------------------------------------- transfers
def upload(uri: str, headers: Optional[dict], archive: bytes) -> list[str]:
    """The CLI's upload: a PUT of the archive to uploadURI with requiredHeaders and no Authorization."""
    request = urllib.request.Request(uri, data=archive, method="PUT", headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return expect(200 <= response.status < 300, f"upload answered {response.status}")
    except urllib.error.HTTPError as error:
        raise HttpFailure(error.code, error.read()) from None


def download(uri: str) -> bytes:
    try:
        with urllib.request.urlopen(uri, timeout=TIMEOUT) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        raise HttpFailure(error.code, error.read()) from None


# ------------------------------------------------------------------------------------------------- scenario
GUARDRAILS, K8S, REGISTRY_PACK = "aws-guardrails", "k8s-baseline", "registry-pack"
PREVIEW = "/api/preview/registry/policypacks/{source}/{publisher}/{name}"


# ------------------------------------------------------------------------------------------- policy results data
INSIGHTS_RESULTS = "/api/preview/insights/{orgName}/policy/stacks/{projectName}/{stackName}/updates/{version}/results"
PROJECT = "web"
BUCKET, INSTANCE, DATABASE = "aws:s3/bucket:Bucket", "aws:ec2/instance:Instance", "aws:rds/instance:Instance"
POD, DEPLOYMENT = "kubernetes:core/v1:Pod", "kubernetes:apps/v1:Deployment"
GHOST = "ghost-pack"  # reported by a stack, never published here
S3, EC2, RDS = "s3-no-public-read", "ec2-approved-instance-types", "rds-storage-encrypted"
PRIVILEGED, LATEST = "no-privileged-pods", "no-latest-tag"
# The severities the published packs give their policies ("" when none: k8s-baseline's, and ghost-pack's).
SEVERITIES = {S3: "high", EC2: "medium", RDS: "critical", PRIVILEGED: "", LATEST: ""}


class Finding(NamedTuple):
    """One violation a report states, and the issue it makes."""
    stack: str
    pack: str
    version: str
    policy: str
    level: m.AppEnforcementLevel
    type: str
    name: str
    kind: m.PolicyIssueKind = m.PolicyIssueKind.Preventative

    @property
    def urn(self) -> str:
        return f"urn:pulumi:{self.stack}::{PROJECT}::{self.type}::{self.name}"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.stack, self.pack, self.policy, self.urn)

    @property
    def message(self) -> str:
        return f"{self.policy} fails on {self.name}"

    def model(self) -> m.InsightsPolicyViolation:
        return m.InsightsPolicyViolation(message=self.message, policy_name=self.policy, policy_pack_name=self.pack,
                                         policy_pack_version=self.version, enforcement_level=self.level,
                                         kind=self.kind, resource_urn=self.urn)


F_S3 = Finding("prod", GUARDRAILS, "1.1.0", S3, m.AppEnforcementLevel.Mandatory, BUCKET, "logs")
F_EC2 = Finding("prod", GUARDRAILS, "1.1.0", EC2, m.AppEnforcementLevel.Advisory, INSTANCE, "api")
F_RDS = Finding("prod", GUARDRAILS, "1.1.0", RDS, m.AppEnforcementLevel.Remediate, DATABASE, "db")
F_POD = Finding("dev", K8S, "0.1.0", PRIVILEGED, m.AppEnforcementLevel.Mandatory, POD, "api")
F_GHOST = Finding("dev", GHOST, "9.9.9", LATEST, m.AppEnforcementLevel.Advisory, POD, "api", m.PolicyIssueKind.Audit)
F_DEPLOY = Finding("dev", K8S, "0.1.0", PRIVILEGED, m.AppEnforcementLevel.Mandatory, DEPLOYMENT, "web")


def results_request(stack: str, version: int, findings: list[Finding], succeeded: bool
                    ) -> m.UpdateStackPolicyResultsRequest:
    return m.UpdateStackPolicyResultsRequest(
        claim_id=f"sdk-contract-{stack}-{version}",
        results=m.InsightsPolicyResults(succeeded=succeeded, violations=[f.model() for f in findings]))


def evaluation(where: Finding, passed: tuple[str, ...] | list[str] = (),
               failed: tuple[str, ...] | list[str] = ()) -> dict:
    """PolicyHub's `evaluations` entry: the policies of a pack that ran on a resource."""
    return {"resourceURN": where.urn, "policyPackName": where.pack, "policyPackVersion": where.version,
            "passed": list(passed), "failed": list(failed)}


def grid(start: int = 0, end: int = 100, conditions: Optional[list] = None, sort: Optional[list] = None,
         group_by: Optional[list[str]] = None) -> m.AngularGridGetRowsRequest:
    """An AG Grid request with every field the SDK requires (its startRow and endRow default to 0, a page of
    no rows, so they are always given)."""
    return m.AngularGridGetRowsRequest(
        start_row=start, end_row=end,
        row_group_cols=[m.AngularGridColumn(id=f, display_name=f, field=f) for f in group_by or []],
        value_cols=[], group_keys=[],
        filter_model=m.AngularGridAdvancedFilterModel(type="AND", conditions=conditions or []),
        sort_model=[m.AngularGridSortModelItem(col_id=c, sort=s) for c, s in sort or []])


def text_filter(column: str, value: str) -> m.AngularGridFilterModel:
    return m.AngularGridFilterModel(filter=value, col_id=column, filter_type="text", type="equals")


def set_filter(column: str, values: list[str]) -> m.AngularGridFilterModel:
    return m.AngularGridFilterModel(filter=",".join(values), col_id=column, filter_type="set", type="set")


def issue_key(issue: dict) -> tuple:
    return (issue.get("entityId"), issue.get("policyPack"), issue.get("policyName"), issue.get("resourceURN"))


def issue_key_of_violation(violation: dict) -> tuple:
    return (violation.get("stackName"), violation.get("policyPack"), violation.get("policyName"),
            violation.get("resourceURN"))


def percent(governed: int, failing: int) -> int:
    """The score of `governed` resource-policy pairs of which `failing` fail: whole percent, rounded down."""
    return (governed - failing) * 100 // governed if governed else 100


class Scenario:
    """One organization's life: publish, read back, apply to a stack through groups, audit, undo, delete.
    Expected values all come from what the scenario itself sent."""

    def __init__(self, contract: Contract, base: str = "", token: str = "", binary: Optional[str] = None) -> None:
        self.c = contract
        # For the fetch --exec flow: the server's address and token, and the policyhub binary that fetches.
        self.base, self.token, self.binary = base, token, binary
        client = contract.client
        self.orgs = OrganizationsApi(client)
        self.registry = RegistryApi(client)
        self.stacks = StacksApi(client)
        self.users = UsersApi(client)
        self.misc = MiscellaneousApi(client)
        self.insights = InsightsApi(client)
        # What was published and completed, by (pack, tag).
        self.archives: dict[tuple[str, str], bytes] = {}
        self.policies: dict[tuple[str, str], list[m.AppPolicy]] = {}
        self.display_names: dict[tuple[str, str], str] = {}
        self.numbers: dict[tuple[str, str], int] = {}  # version numbers, from the organization API's create
        self.deleted: set[str] = set()  # packs deleted
        self.login: Optional[str] = None  # the admin's, from getCurrentUser
        self.issue_ids: dict[tuple[str, str, str, str], str] = {}  # by Finding.key, as first listed

    def run(self) -> None:
        for part in (self.session, self.publish, self.read_packs, self.registry_publish, self.registry_reads,
                     self.policy_groups, self.stack_views, self.policy_results, self.fetch_exec_flow, self.audit_log,
                     self.removals,
                     self.registry_deletes, self.org_deletes):
            try:
                part()
            except Skip as skip:
                print(f"skip the rest of {part.__name__}: needs {skip}", flush=True)

    def tags(self, name: str) -> list[str]:
        return [tag for pack, tag in self.policies if pack == name]

    def need(self, name: str, tag: str) -> None:
        if (name, tag) not in self.policies:
            raise Skip(f"{name}@{tag} published")

    # --- session: what `pulumi login` and `pulumi whoami` read
    def session(self) -> None:
        self.c.call("getCurrentUser", self.users.get_current_user, check=self.is_admin)
        self.c.call("getCapabilities", self.misc.capabilities)
        self.c.call("getDefaultOrganization", self.users.get_default_organization)
        self.c.call("listUserStacks", self.users.list_user_stacks)

    def is_admin(self, user: Any) -> list[str]:
        self.login = user.get("githubLogin")
        return expect(ORG in [o.get("githubLogin") for o in user.get("organizations") or []],
                      f"organizations does not list {ORG}")

    # --- the organization API's publish, as `pulumi policy publish` does it: create, upload, complete
    def publish(self) -> None:
        self.publish_one(GUARDRAILS, "1.0.0", guardrail_policies(with_rds=False), full=True)
        self.publish_one(GUARDRAILS, "1.1.0", guardrail_policies(with_rds=True), full=True)
        # Only the required fields, in the pack and its policy alike.
        self.publish_one(K8S, "0.1.0", [policy("no-privileged-pods", m.AppEnforcementLevel.Mandatory)], full=False)

    def publish_one(self, name: str, tag: str, policies: list[m.AppPolicy], full: bool) -> None:
        request = create_request(name, tag, policies, full)
        archive = pack_archive(name, tag, policies)
        created = self.c.call("createPolicyPack", self.orgs.create_policy_pack, ORG, request, status=201,
                              detail=f"{name}@{tag}", check=lambda body: expect(
                                  str(body.get("uploadURI")).startswith("http"), "uploadURI is not absolute"))
        if not created.ok or not isinstance(created.body, dict) or "uploadURI" not in created.body:
            return print(f"skip uploading and completing {name}@{tag}: needs its uploadURI", flush=True)
        self.c.step(f"uploadPolicyPackArchive {name}@{tag} [PUT uploadURI]",
                    lambda: upload(created.body["uploadURI"], created.body.get("requiredHeaders"), archive))
        if self.c.call("completePolicyPack", self.orgs.complete_policy_pack, ORG, name, tag, status=204,
                       detail=f"{name}@{tag}").ok:
            self.remember(name, tag, policies, archive, request.display_name)
            self.numbers[(name, tag)] = created.body.get("version")

    def remember(self, name: str, tag: str, policies: list[m.AppPolicy], archive: bytes, display: str) -> None:
        self.archives[(name, tag)] = archive
        self.policies[(name, tag)] = policies
        self.display_names[(name, tag)] = display

    # --- reading packs back: list, get by tag / number / latest, config schema, registry metadata
    def read_packs(self) -> None:
        published = sorted({name for name, _ in self.policies})
        self.c.call("listPolicyPacks", self.orgs.list_policy_packs_orgs, ORG, check=lambda body: expect(
            sorted(p["name"] for p in body["policyPacks"]) == published,
            f"lists {[p['name'] for p in body['policyPacks']]}, published {published}"))
        self.c.call("listPolicyPacks", self.orgs.list_policy_packs_orgs, ORG, policypack=GUARDRAILS,
                    detail=f"policypack={GUARDRAILS}", check=self.lists_guardrail_versions)
        self.need(GUARDRAILS, "1.1.0")
        number = str(self.numbers[(GUARDRAILS, "1.1.0")])
        for version, what in (("1.1.0", "by tag"), (number, "by number"), ("latest", "latest")):
            self.c.call("getPolicyPack", self.orgs.get_policy_pack, ORG, GUARDRAILS, version,
                        detail=f"{what} ({version})", check=lambda body: self.is_version(body, GUARDRAILS, "1.1.0"))
        if (K8S, "0.1.0") in self.policies:
            self.c.call("getPolicyPack", self.orgs.get_policy_pack, ORG, K8S, "0.1.0", detail="only required fields",
                        check=lambda body: self.is_version(body, K8S, "0.1.0"))
        self.c.call("getPolicyPackConfigSchema", self.orgs.get_policy_pack_config_schema, ORG, GUARDRAILS, "1.1.0",
                    check=lambda body: self.has_schemas(body, (GUARDRAILS, "1.1.0")))
        for tag, want in ((None, "1.1.0"), ("1.0.0", "1.0.0"), ("latest", "1.1.0")):
            self.c.call("getOrgRegistryPolicyPack", self.orgs.get_org_registry_policy_pack, ORG, GUARDRAILS, tag=tag,
                        detail=f"tag={tag}", check=lambda body, want=want: self.is_registry_pack(
                            body["policyPack"], GUARDRAILS, want))

    def lists_guardrail_versions(self, body: Any) -> list[str]:
        tags = self.tags(GUARDRAILS)
        numbers = [self.numbers[(GUARDRAILS, tag)] for tag in tags]
        packs = body["policyPacks"]
        return (expect(len(packs) == 1, f"{len(packs)} packs listed for one name") or
                expect(packs[0]["versions"] == numbers and packs[0]["versionTags"] == tags,
                       f"versions {packs[0]['versions']} {packs[0]['versionTags']}, published {numbers} {tags}"))

    def is_version(self, body: Any, name: str, tag: str, applied: bool = False) -> list[str]:
        return (expect((body["name"], body["versionTag"], body["version"]) == (name, tag, self.numbers[(name, tag)]),
                       f"got {body['name']}@{body['versionTag']} (#{body['version']}), want {name}@{tag}") +
                expect(body["displayName"] == self.display_names[(name, tag)], f"displayName {body['displayName']}") +
                expect(body["applied"] is applied, f"applied is {body['applied']}, want {applied}") +
                same_policies(body["policies"], self.policies[(name, tag)], "policies"))

    def has_schemas(self, body: Any, key: tuple[str, str]) -> list[str]:
        sent = {p.name: wire(p.config_schema) for p in self.policies[key] if p.config_schema}
        return expect(body.get("configSchema") == sent,
                      f"configSchema {json.dumps(body.get('configSchema'))[:200]}, published {json.dumps(sent)[:200]}")

    @staticmethod
    def is_registry_pack(pack: Any, name: str, tag: str) -> list[str]:
        got = (pack["source"], pack["publisher"], pack["name"], pack["version"])
        return expect(got == ("private", ORG, name, tag), f"got {'/'.join(got[:3])}@{got[3]}, "
                                                          f"want private/{ORG}/{name}@{tag}")

    # --- the registry's two-phase publish, plain and preview
    def registry_publish(self) -> None:
        # The SDK's post_publish_policy_pack_version_for_registry sends no body and decodes no answer, so it
        # cannot publish anything; what matters is that it gets a clean 4xx with Pulumi's error body.
        self.c.expect_error("publishRegistryPolicyPackVersion",
                            self.registry.post_publish_policy_pack_version_for_registry, "private", ORG,
                            REGISTRY_PACK, status=None, detail="as the SDK sends it (no body)")
        for tag, preview in (("2.0.0", False), ("2.1.0", True), ("2.2.0", False)):
            self.registry_publish_one(tag, preview)

    def registry_publish_one(self, tag: str, preview: bool) -> None:
        suffix = "Preview" if preview else ""
        policies = [policy("owner-tag-required", m.AppEnforcementLevel.Advisory, m.AppPolicySeverity.Low,
                           tags=["tagging"], remediation="Add the owner tag.")]
        # The SDK models no body for this operation: the body is the reference's (the organization create's
        # fields, with `version` holding the tag), built from the SDK's own AppCreatePolicyPackRequest.
        request = create_request(REGISTRY_PACK, tag, policies, full=False)
        body = wire(request)
        body["version"] = body.pop("versionTag")
        archive = pack_archive(REGISTRY_PACK, tag, policies)
        prefix = PREVIEW if preview else "/api/registry/policypacks/{source}/{publisher}/{name}"
        created = self.c.call_path(f"publishRegistryPolicyPackVersion{suffix}", "POST", prefix + "/versions",
                                   registry_params(REGISTRY_PACK), None, "post_publish_policy_pack_version_for_"
                                   "registry (no SDK model for the answer)", body=body, detail=f"{REGISTRY_PACK}@{tag}",
                                   check=lambda answer: expect(str(answer.get("uploadURI")).startswith("http"),
                                                               "no absolute uploadURI in the answer"))
        if not created.ok or not isinstance(created.body, dict) or "uploadURI" not in created.body:
            return print(f"skip uploading and completing {REGISTRY_PACK}@{tag}: needs its uploadURI", flush=True)
        self.c.step(f"uploadPolicyPackArchive {REGISTRY_PACK}@{tag} [PUT uploadURI]",
                    lambda: upload(created.body["uploadURI"], created.body.get("requiredHeaders"), archive))
        if preview:
            # No body, as the SDK's plain complete sends it.
            completed = self.c.call_path("completeRegistryPolicyPackVersionPreview", "POST",
                                         PREVIEW + "/versions/{version}/complete", registry_params(REGISTRY_PACK, tag),
                                         None, "RegistryApi.post_publish_policy_pack_version_complete_for_registry",
                                         detail=f"{REGISTRY_PACK}@{tag}")
        else:
            completed = self.c.call("completeRegistryPolicyPackVersion",
                                    self.registry.post_publish_policy_pack_version_complete_for_registry, "private",
                                    ORG, REGISTRY_PACK, tag, detail=f"{REGISTRY_PACK}@{tag}")
        if completed.ok:
            self.remember(REGISTRY_PACK, tag, policies, archive, request.display_name)

    # --- registry reads, plain and preview
    def registry_reads(self) -> None:
        names = sorted({name for name, _ in self.policies})
        private = m.ListPolicyPacksRequest(access=m.PolicyPackAccess.Private, org_login=ORG)
        lists = lambda body: self.lists_packs(body, names)  # noqa: E731
        self.c.call("listRegistryPolicyPacks", self.registry.list_policy_packs, org_login=ORG, check=lists)
        self.c.call("listRegistryPolicyPacksPost", self.registry.list_policy_packs_post, private,
                    detail="access=private", check=lists)
        self.c.call_path("listRegistryPolicyPacksPreview", "GET", "/api/preview/registry/policypacks", {},
                         "ListPolicyPacksResponse", "RegistryApi.list_policy_packs", query={"orgLogin": ORG},
                         check=lists)
        self.c.call_path("listRegistryPolicyPacksPostPreview", "POST", "/api/preview/registry/policypacks", {},
                         "ListPolicyPacksResponse", "RegistryApi.list_policy_packs_post", body=private,
                         detail="access=private", check=lists)
        for pack in (GUARDRAILS, REGISTRY_PACK):
            self.c.call("listRegistryPolicyPackVersions", self.registry.list_policy_pack_versions_for_registry,
                        "private", ORG, pack, detail=pack, check=lambda body, pack=pack: self.lists_tags(body, pack))
        self.c.call_path("listRegistryPolicyPackVersionsPreview", "GET", PREVIEW + "/versions",
                         registry_params(GUARDRAILS), "ListPolicyPacksResponse",
                         "RegistryApi.list_policy_pack_versions_for_registry", detail=GUARDRAILS,
                         check=lambda body: self.lists_tags(body, GUARDRAILS))
        for pack, tag in ((GUARDRAILS, "1.1.0"), (GUARDRAILS, "latest"), (REGISTRY_PACK, "2.0.0")):
            self.c.call("getRegistryPolicyPackVersion", self.registry.get_policy_pack_version_for_registry,
                        "private", ORG, pack, tag, detail=f"{pack}@{tag}",
                        check=lambda body, pack=pack, tag=tag: self.is_registry_version(body, pack, tag))
        for pack, tag in ((GUARDRAILS, "1.0.0"), (REGISTRY_PACK, "2.1.0"), (REGISTRY_PACK, "latest")):
            self.c.call_path("getRegistryPolicyPackVersionPreview", "GET", PREVIEW + "/versions/{version}",
                             registry_params(pack, tag), "GetRegistryPolicyPackVersionResponse",
                             "RegistryApi.get_policy_pack_version_for_registry", detail=f"{pack}@{tag}",
                             check=lambda body, pack=pack, tag=tag: self.is_registry_version(body, pack, tag))

    def lists_packs(self, body: Any, names: list[str]) -> list[str]:
        listed = sorted(p["name"] for p in body["policyPacks"])
        ids = [p["id"] for p in body["policyPacks"]]
        return (expect(listed == names, f"lists {listed}, want {names}") +
                expect(len(set(ids)) == len(ids), f"ids are not unique: {ids}"))

    def lists_tags(self, body: Any, pack: str) -> list[str]:
        listed = sorted(p["version"] for p in body["policyPacks"])
        return expect(listed == sorted(self.tags(pack)), f"lists versions {listed}, published {self.tags(pack)}")

    def is_registry_version(self, body: Any, name: str, tag: str) -> list[str]:
        """The reference: `policyPack` (the metadata) and, beside it, `policies` (the policy definitions)."""
        if tag == "latest":
            tag = max(self.tags(name), key=lambda t: [int(x) for x in t.split(".")])
        problems = self.is_registry_pack(body["policyPack"], name, tag)
        if "policies" not in body:
            inside = " (there is one inside policyPack, where the SDK's RegistryPolicyPack has no such field)" \
                if "policies" in body["policyPack"] else ""
            return problems + [f"policies: missing beside policyPack{inside} [SDK models/get_registry_policy_pack_"
                               "version_response_.py GetRegistryPolicyPackVersionResponse.policies: list[AppPolicy]]"]
        return problems + same_policies(body["policies"], self.policies[(name, tag)], "policies")

    # --- policy groups: what `pulumi policy group`, `enable` and `disable` send
    def policy_groups(self) -> None:
        self.need(GUARDRAILS, "1.1.0")
        self.need(K8S, "0.1.0")
        # NewPolicyGroupRequest makes entityType and mode optional; the reference's create needs entityType,
        # and we name the mode too rather than rely on a default.
        self.c.call("createPolicyGroup", self.orgs.new_policy_group, ORG,
                    m.NewPolicyGroupRequest(name="prod", entity_type=m.PolicyGroupEntityType.Stacks,
                                            mode=m.PolicyGroupMode.Preventative))
        self.c.call("listPolicyGroups", self.orgs.list_policy_groups, ORG, check=self.lists_groups)
        # AppPulumiStackReference requires routingProject, so the stack is always named with its project.
        self.update("prod", "addStack web/prod",
                    add_stack=m.AppPulumiStackReference(name="prod", routing_project="web"))
        config = {"s3-no-public-read": {"enforcementLevel": "mandatory", "allowedBuckets": ["logs"]},
                  "ec2-approved-instance-types": {"allowedTypes": ["t3.micro"]}}
        self.update("prod", f"addPolicyPack {GUARDRAILS}@1.1.0", add_policy_pack=self.metadata(GUARDRAILS, "1.1.0",
                                                                                              config))
        # `pulumi policy enable default/k8s-baseline 0.1.0` adds to the default group.
        self.update("default-policy-group", f"addPolicyPack {K8S}@0.1.0", add_policy_pack=self.metadata(K8S, "0.1.0"))
        self.c.call("getPolicyGroup", self.orgs.get_policy_group, ORG, "prod", check=self.is_prod_group)
        self.c.call("listPolicyGroupStacks", self.orgs.list_policy_group_stacks, ORG, "prod", check=lambda body: expect(
            [(s["name"], s.get("routingProject")) for s in body["stacks"]] == [("prod", "web")],
            f"stacks {body['stacks']}, want web/prod"))
        self.c.call("getPolicyPack", self.orgs.get_policy_pack, ORG, GUARDRAILS, "1.1.0", detail="once applied",
                    check=lambda body: self.is_version(body, GUARDRAILS, "1.1.0", applied=True))
        self.c.call("listRegistryPolicyPacksPost", self.registry.list_policy_packs_post,
                    m.ListPolicyPacksRequest(org_login=ORG), detail="default access (enabled)",
                    check=lambda body: self.lists_packs(body, [GUARDRAILS, K8S]))

    def metadata(self, name: str, tag: str, config: Optional[dict] = None) -> m.AppPolicyPackMetadata:
        # The SDK's AppPolicyPackMetadata requires displayName and version (the number) besides the tag, which
        # the reference never mentions for group edits; we send the pack's own, from its publish.
        return m.AppPolicyPackMetadata(name=name, display_name=self.display_names[(name, tag)],
                                       version=self.numbers[(name, tag)], version_tag=tag, config=config)

    def update(self, group: str, what: str, **change: Any) -> None:
        self.c.call("updatePolicyGroup", self.orgs.update_policy_group, ORG, group,
                    m.UpdatePolicyGroupRequest(**change), detail=f"{group} {what}")

    @staticmethod
    def lists_groups(body: Any) -> list[str]:
        groups = {g["name"]: g for g in body["policyGroups"]}
        return (expect(set(groups) == {"default-policy-group", "prod"}, f"groups {sorted(groups)}") or
                expect(groups["default-policy-group"]["isOrgDefault"] is True and
                       groups["prod"]["isOrgDefault"] is False, "isOrgDefault is wrong") +
                expect(groups["prod"].get("numStacks") == 0 and groups["prod"].get("numEnabledPolicyPacks") == 0,
                       f"the new group: {groups['prod']}"))

    def is_prod_group(self, body: Any) -> list[str]:
        packs = {p["name"]: p for p in body["appliedPolicyPacks"]}
        applied = packs.get(GUARDRAILS, {})
        config = applied.get("config") or {}
        return (expect([(s["name"], s.get("routingProject")) for s in body["stacks"]] == [("prod", "web")],
                       f"stacks {body['stacks']}") +
                expect(list(packs) == [GUARDRAILS] and applied.get("versionTag") == "1.1.0" and
                       applied.get("version") == self.numbers[(GUARDRAILS, "1.1.0")],
                       f"appliedPolicyPacks {body['appliedPolicyPacks']}") +
                expect((config.get("s3-no-public-read") or {}).get("allowedBuckets") == ["logs"],
                       f"config {json.dumps(config)}"))

    # --- what a stack must run, and the archive behind packLocation
    def stack_views(self) -> None:
        self.c.call("getStack", self.stacks.get_stack, ORG, "web", "prod", check=lambda body: expect(
            (body["orgName"], body["projectName"], body["stackName"]) == (ORG, "web", "prod"), f"stack {body}"))
        self.c.call("getStackPolicyGroups", self.stacks.get_stack_policy_groups, ORG, "web", "prod",
                    check=lambda body: expect([g["name"] for g in body["policyGroups"]] == ["prod"],
                                              f"groups {[g['name'] for g in body['policyGroups']]}, want [prod]"))
        for stack, group, pack in (("prod", "prod", GUARDRAILS), ("dev", "the default group", K8S)):
            found = self.c.call("getStackPolicyPacks", self.stacks.get_stack_policy_packs, ORG, "web", stack,
                                detail=f"web/{stack} ({group})",
                                check=lambda body, pack=pack: self.requires(body, pack))
            for required in (found.body or {}).get("requiredPolicies") or []:
                self.download(required)

    def requires(self, body: Any, name: str) -> list[str]:
        packs = body.get("requiredPolicies") or []
        return (expect([p["name"] for p in packs] == [name], f"requiredPolicies {[p['name'] for p in packs]}, "
                                                             f"want [{name}]") or
                expect(all(str(p.get("packLocation")).startswith("http") for p in packs), "no absolute packLocation"))

    def download(self, required: dict) -> None:
        """What `pulumi policy install` does with packLocation: a plain GET, no Authorization."""
        key = (required.get("name"), required.get("versionTag"))
        uploaded = self.archives.get(key)
        self.c.step(f"downloadPolicyPackArchive {key[0]}@{key[1]} [GET packLocation]", lambda: expect(
            uploaded is not None and hashlib.sha256(download(required["packLocation"])).digest() ==
            hashlib.sha256(uploaded).digest(), "the archive differs from the one uploaded"))

    # --- policy results: what `policyhub report` (and Pulumi's own engine) sends after each run, then the
    # issues, triage, compliance and violations views of it. Two stacks: web/prod (group prod, aws-guardrails
    # 1.1.0) and web/dev (the default group, k8s-baseline 0.1.0); a pack never published here (ghost-pack).
    def fetch_exec_flow(self) -> None:
        """README's flow with the real binaries: `policyhub fetch --exec` runs a stand-in `pulumi` that writes an
        event log in Pulumi's format (sdk/go/common/apitype/events.go) and exits as a run would; the issues and
        compliance that follow are read through the SDK."""
        if not self.binary:
            raise Skip("the policyhub binary (third argument)")
        self.need(K8S, "0.1.0")
        work = tempfile.mkdtemp(prefix="fetch-exec-")
        pulumi = os.path.join(work, "pulumi")
        with open(pulumi, "w") as script:
            script.write('#!/bin/sh\nlog=""\nwhile [ $# -gt 0 ]; do [ "$1" = --event-log ] && log="$2"; shift; done\n'
                         '[ -n "$log" ] && printf "%s" "$EVENTS" > "$log"\nexit "$ENDING"\n')
        os.chmod(pulumi, 0o755)
        urn = "urn:pulumi:dev::flow::kubernetes:core/v1:Pod::api"
        pack = {"policyPackName": K8S, "policyPackVersion": "0.1.0", "policyPackVersionTag": "0.1.0"}

        def events(failing: bool) -> str:
            lines = [{"sequence": 0, "timestamp": 1764680000, "preludeEvent": {"config": {}}}]
            if failing:
                lines.append({"sequence": 1, "timestamp": 1764680001, "policyEvent": {
                    "resourceUrn": urn, "message": "privileged", "color": "never", "policyName": PRIVILEGED,
                    "enforcementLevel": "mandatory", **pack}})
            outcome = {"failed": [PRIVILEGED]} if failing else {"passed": [PRIVILEGED]}
            lines.append({"sequence": 2, "timestamp": 1764680002,
                          "policyAnalyzeSummaryEvent": {"resourceUrn": urn, **pack, **outcome}})
            return "".join(json.dumps(line) + "\n" for line in lines)

        def run(failing: bool) -> list[str]:
            done = subprocess.run(
                [self.binary, "fetch", "--server", self.base, "--token", self.token, "--stack", f"{ORG}/flow/dev",
                 "--dest", os.path.join(work, "cache"), "--exec", "--", pulumi, "up", "--yes"],
                env={**os.environ, "EVENTS": events(failing), "ENDING": "1" if failing else "0"},
                capture_output=True, text=True, timeout=120)
            want = 1 if failing else 0
            return (expect(done.returncode == want, f"exit {done.returncode}, want {want}: {done.stderr}") +
                    expect(("reported 1 violation" if failing else "reported no violations") in done.stderr,
                           f"stderr: {done.stderr}"))

        def flow_issues(body: Any, status: str) -> list[str]:
            issues = body["policyIssues"]
            return expect([(i["policyName"], i["resourceURN"], i["status"], i["level"]) for i in issues]
                          == [(PRIVILEGED, urn, status, "mandatory")], f"issues {json.dumps(issues)}")

        def flow_row(body: Any) -> list[str]:
            rows = [r for r in body["rows"] if r["entityName"] == "flow/dev"]
            if not rows:
                return [f"no row for flow/dev: {json.dumps(body)}"]
            return expect(rows[0]["scores"][body["columns"].index(K8S)] == 100, f"row {json.dumps(rows[0])}")

        in_flow = grid(conditions=[text_filter("entityProject", "flow")])
        self.c.step("fetch --exec: pulumi fails on a mandatory violation, fetch exits 1 and reports it",
                    lambda: run(failing=True))
        self.c.call("listPolicyIssues", self.orgs.list_policy_issues, ORG, in_flow, closed=False,
                    detail="after the failed fetch --exec run", check=lambda body: flow_issues(body, "open"))
        self.c.step("fetch --exec: the fixed run passes, fetch exits 0 and reports it", lambda: run(failing=False))
        self.c.call("listPolicyIssues", self.orgs.list_policy_issues, ORG, in_flow, closed=True,
                    detail="after the passing fetch --exec run", check=lambda body: flow_issues(body, "fixed"))
        self.c.call("getPolicyComplianceResults", self.orgs.get_policy_compliance_results, ORG,
                    m.GetPolicyComplianceResultsRequest(entity=m.PolicyComplianceEntityType.Stack, size=1000),
                    detail="flow/dev after the fetch --exec runs", check=flow_row)
        shutil.rmtree(work, ignore_errors=True)

    def policy_results(self) -> None:
        self.need(GUARDRAILS, "1.1.0")
        self.need(K8S, "0.1.0")
        self.ingestion()
        self.issue_reads()
        self.lifecycle()
        self.compliance_reads()
        self.pulumi_cli_reads()

    def ingestion(self) -> None:
        # Pulumi's own request, through the SDK's method and models (no evaluations: the SDK has no such field).
        self.report("prod", 1, [F_S3, F_EC2, F_RDS], succeeded=False, want=(True, 3, []))
        self.report("prod", 1, [F_S3, F_EC2, F_RDS], succeeded=False, want=(False, 3, []), detail="sent again")
        self.c.expect_error("updateStackPolicyResults", self.insights.update_stack_policy_results, ORG, PROJECT,
                            "prod", 1, results_request("prod", 1, [F_S3], succeeded=False), status=409,
                            detail="web/prod update 1 again, different results")
        # PolicyHub's extension: which policies ran on which resource, passed or failed.
        self.report("dev", 1, [F_POD, F_GHOST], succeeded=False, want=(True, 2, [f"{GHOST}@9.9.9"]), evaluations=[
            evaluation(F_POD, failed=[PRIVILEGED]), evaluation(F_POD._replace(name="worker"), passed=[PRIVILEGED]),
            evaluation(F_GHOST, failed=[LATEST])])
        # The per-policy grid while a pack that no group applies (ghost-pack) has results.
        self.c.call("listPoliciesCompliance", self.orgs.list_policies_compliance, ORG, grid(),
                    detail="with a pack no group applies", check=lambda body: self.lists_policies(body, [
                        (GUARDRAILS, EC2, 1, 1), (GUARDRAILS, RDS, 1, 1), (GUARDRAILS, S3, 1, 1),
                        (GHOST, LATEST, 1, 1), (K8S, PRIVILEGED, 2, 1)], ordered=False))

    def report(self, stack: str, version: int, findings: list["Finding"], succeeded: bool,
               want: tuple[bool, int, list[str]], detail: str = "", evaluations: Optional[list[dict]] = None) -> None:
        request = results_request(stack, version, findings, succeeded)
        label = f"{PROJECT}/{stack} update {version}{' ' + detail if detail else ''}"
        check = lambda body: expect(  # noqa: E731
            body == {"recorded": want[0], "violations": want[1], "unknownPolicyPacks": want[2]},
            f"answered {json.dumps(body)}, want recorded={want[0]} violations={want[1]} unknown={want[2]}")
        if evaluations is None:
            self.c.call("updateStackPolicyResults", self.insights.update_stack_policy_results, ORG, PROJECT, stack,
                        version, request, detail=label, check=check)
            return
        body = wire(request)
        body["results"]["evaluations"] = evaluations
        self.c.call_path("updateStackPolicyResults", "PUT", INSIGHTS_RESULTS,
                         {"orgName": ORG, "projectName": PROJECT, "stackName": stack, "version": version}, None,
                         "InsightsApi.update_stack_policy_results + PolicyHub's evaluations", body=body,
                         detail=f"{label} with evaluations", check=check)

    def issue_reads(self) -> None:
        opened = [(F_S3, "open", 1), (F_EC2, "open", 1), (F_RDS, "open", 1), (F_POD, "open", 1), (F_GHOST, "open", 1)]
        self.issues("open issues, default grid", grid(), False, opened, newest_first=True)
        self.issues("policyName equals", grid(conditions=[text_filter("policyName", S3)]), False, [(F_S3, "open", 1)])
        self.issues("severity set high,critical, sorted by policyName",
                    grid(conditions=[set_filter("severity", ["high", "critical"])], sort=[("policyName", "asc")]),
                    False, [(F_RDS, "open", 1), (F_S3, "open", 1)], ordered=True)
        self.issues("rows 1 to 3 by policyName", grid(start=1, end=3, sort=[("policyName", "asc")]), False,
                    [(F_GHOST, "open", 1), (F_POD, "open", 1)], ordered=True, row_count=5)
        self.c.call("listPolicyIssues", self.orgs.list_policy_issues, ORG, grid(group_by=["policyPack"]),
                    closed=False, detail="grouped by policyPack", check=lambda body: (
                        expect(body["policyIssues"] == [] and body["rowCount"] == 3,
                               f"{len(body['policyIssues'])} issues, rowCount {body['rowCount']}; want 0 and 3") +
                        expect(body.get("groupData") == [{"policyPack": GUARDRAILS, "count": 3},
                                                         {"policyPack": GHOST, "count": 1},
                                                         {"policyPack": K8S, "count": 1}],
                               f"groupData {json.dumps(body.get('groupData'))}")))
        self.c.call("listPolicyIssues", self.orgs.list_policy_issues, ORG, grid(), closed=True,
                    detail="closed (none yet)", check=lambda body: expect(
                        body["policyIssues"] == [] and body["rowCount"] == 0, f"{body['rowCount']} closed issues"))
        s3 = self.issue_id(F_S3)
        self.c.call("getPolicyIssue", self.orgs.get_policy_issue, ORG, s3, detail=f"{S3} on logs",
                    check=lambda body: self.is_issue_detail(body, F_S3, "open", 1))
        self.c.call("getPolicyIssue", self.orgs.get_policy_issue, ORG, self.issue_id(F_GHOST),
                    detail=f"of {GHOST} (not published)", check=lambda body: (
                        self.is_issue(body["policyIssue"], F_GHOST, "open", 1) +
                        expect(body.get("policy") is None and body.get("policyPack") is None,
                               "names a policy or pack for a pack not published here")))
        self.c.expect_error("getPolicyIssue", self.orgs.get_policy_issue, ORG, "no-such-issue", status=404,
                            detail="unknown id")
        self.filters("policyPack", None, [(GUARDRAILS, 3), (GHOST, 1), (K8S, 1)])
        self.filters("severity", [text_filter("policyPack", GUARDRAILS)], [("critical", 1), ("high", 1), ("medium", 1)])
        # The menu of a field ignores the filter's own conditions on that field.
        self.filters("policyPack", [text_filter("policyPack", GUARDRAILS)], [(GUARDRAILS, 3), (GHOST, 1), (K8S, 1)])
        self.c.call_text("exportPolicyIssues", self.orgs.export_policy_issues, ORG, grid(), closed=False,
                         detail="open issues", check=lambda text: self.is_export(text, [f for f, _, _ in opened]))

    def issues(self, detail: str, request: m.AngularGridGetRowsRequest, closed: Optional[bool],
               want: list[tuple["Finding", str, int]], ordered: bool = False, newest_first: bool = False,
               row_count: Optional[int] = None) -> None:
        self.c.call("listPolicyIssues", self.orgs.list_policy_issues, ORG, request, closed=closed, detail=detail,
                    check=lambda body: self.lists_issues(body, want, ordered, newest_first,
                                                         len(want) if row_count is None else row_count))

    def lists_issues(self, body: Any, want: list[tuple["Finding", str, int]], ordered: bool, newest_first: bool,
                     row_count: int) -> list[str]:
        issues = body["policyIssues"]
        got = [issue_key(issue) for issue in issues]
        wanted = [finding.key for finding, _, _ in want]
        problems = expect(body["rowCount"] == row_count, f"rowCount {body['rowCount']}, want {row_count}")
        if (got if ordered else sorted(got)) != (wanted if ordered else sorted(wanted)):
            return problems + [f"lists {[k[2] + ' on ' + k[3].rsplit('::', 1)[-1] for k in got]}, want "
                               f"{[k[2] + ' on ' + k[3].rsplit('::', 1)[-1] for k in wanted]}"]
        for issue, (finding, status, version) in zip(issues, want if ordered else sorted(
                want, key=lambda w: got.index(w[0].key))):
            problems += self.is_issue(issue, finding, status, version)
        times = [issue["observedAt"] for issue in issues]
        if newest_first and times != sorted(times, reverse=True):
            problems.append(f"not newest first (the default sort): observedAt {times}")
        return problems

    def is_issue(self, issue: Any, finding: "Finding", status: str, version: int) -> list[str]:
        """Every field the report determines, and the same id for the same (stack, resource, pack, policy)."""
        known = finding.pack != GHOST
        group = ({"prod": ("prod", "preventative"), "dev": ("default-policy-group", "preventative")}[finding.stack]
                 if known else (None, None))
        wanted = {
            "entityType": "stack", "entityProject": PROJECT, "entityId": finding.stack, "policyPack": finding.pack,
            "policyPackTag": finding.version, "policyName": finding.policy, "resourceURN": finding.urn,
            "resourceProvider": finding.type.split(":")[0], "resourceType": finding.type,
            "resourceName": finding.name, "message": finding.message, "level": finding.level.value,
            "kind": finding.kind.value, "severity": SEVERITIES[finding.policy], "status": status,
            "stackVersion": version, "policyGroupName": group[0], "policyGroupType": group[1],
            "unknownPolicyPack": not known}
        problems = [f"{finding.policy} on {finding.name}: {key} is {json.dumps(issue.get(key))}, want "
                    f"{json.dumps(value)}" for key, value in wanted.items() if issue.get(key) != value]
        earlier = self.issue_ids.setdefault(finding.key, issue["id"])
        return problems + expect(earlier == issue["id"], f"{finding.policy} on {finding.name} changed its id from "
                                                         f"{earlier} to {issue['id']}")

    def is_issue_detail(self, body: Any, finding: "Finding", status: str, version: int) -> list[str]:
        published = [p for p in self.policies[(finding.pack, finding.version)] if p.name == finding.policy]
        return (self.is_issue(body["policyIssue"], finding, status, version) +
                same_policies([body["policy"]] if body.get("policy") else [], published, "policy") +
                (self.is_registry_pack(body["policyPack"], finding.pack, finding.version) if body.get("policyPack")
                 else ["policyPack is missing for a published pack"]))

    def issue_id(self, finding: "Finding") -> str:
        if finding.key not in self.issue_ids:
            raise Skip(f"the issue of {finding.policy} on {finding.name} listed")
        return self.issue_ids[finding.key]

    def filters(self, field: str, conditions: Optional[list], want: list[tuple[str, int]]) -> None:
        model = None if conditions is None else m.AngularGridAdvancedFilterModel(type="AND", conditions=conditions)
        where = "" if conditions is None else " where " + ", ".join(f"{c.col_id} {c.type} {c.filter}"
                                                                   for c in conditions)
        self.c.call("getPolicyIssuesFilters", self.orgs.get_policy_issues_filters, ORG,
                    m.PolicyIssueFiltersRequest(field=field, filter_model=model), closed=False,
                    detail=f"field={field}{where}", check=lambda body: expect(
                        body["field"] == field and [(v["name"], v["count"]) for v in body["values"]] == want,
                        f"values {[(v['name'], v['count']) for v in body['values']]}, want {want}"))

    def is_export(self, text: str, findings: list["Finding"]) -> list[str]:
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return ["the export is empty: no header row"]
        header, lines = rows[0], [dict(zip(rows[0], row)) for row in rows[1:]]
        missing = [c for c in ("id", "status", "policyPack", "policyName", "resourceURN", "project", "stack")
                   if c not in header]
        if missing:
            return [f"the header {header} has no {missing}"]
        problems = expect(all(len(row) == len(header) for row in rows), "rows differ in length from the header")
        got = sorted((line["stack"], line["policyPack"], line["policyName"], line["resourceURN"]) for line in lines)
        problems += expect(got == sorted(f.key for f in findings), f"exports {len(lines)} issues: {got}")
        for line in lines:
            key = (line["stack"], line["policyPack"], line["policyName"], line["resourceURN"])
            problems += expect(line["id"] == self.issue_ids.get(key) and line["status"] == "open" and
                               line["project"] == PROJECT, f"the row of {key[2]} on {key[3]}: {line}")
        return problems

    def lifecycle(self) -> None:
        s3, ec2 = self.issue_id(F_S3), self.issue_id(F_EC2)
        # A completed run (succeeded) of the pack the stack's group applies, without two of its violations:
        # those issues are fixed; the one reported again stays open.
        self.report("prod", 2, [F_EC2], succeeded=True, want=(True, 1, []))
        self.issues("fixed by a completed run", grid(conditions=[text_filter("entityId", "prod")]), True,
                    [(F_S3, "fixed", 1), (F_RDS, "fixed", 1)])
        self.issues("still open", grid(conditions=[text_filter("entityId", "prod")]), False, [(F_EC2, "open", 2)])
        # Triage, as `pulumi policy issue edit --status ignored --priority p1 --assignee LOGIN`.
        self.c.call("updatePolicyIssue", self.orgs.update_policy_issue, ORG, ec2,
                    m.UpdatePolicyIssueRequest(status=m.PolicyIssueStatus.Ignored,
                                               priority=m.PolicyIssuePriority.P1, assigned_to=self.login),
                    detail="ignored, p1, assigned", check=lambda body: self.is_triaged(body, "ignored", "p1", True))
        self.c.call("getPolicyIssue", self.orgs.get_policy_issue, ORG, ec2, detail="after the triage",
                    check=lambda body: self.is_triaged(body, "ignored", "p1", True))
        self.c.expect_error("updatePolicyIssue", self.orgs.update_policy_issue, ORG, ec2,
                            m.UpdatePolicyIssueRequest(assigned_to="nobody-by-that-login"), status=400,
                            detail="assigned to a login that is no member")
        self.c.call("updatePolicyIssue", self.orgs.update_policy_issue, ORG, ec2,
                    m.UpdatePolicyIssueRequest(assigned_to=""), detail="unassigned (empty assignedTo)",
                    check=lambda body: self.is_triaged(body, "ignored", "p1", False))
        # Reported again: the ignored issue stays ignored; the fixed one reopens, under the same id.
        self.report("prod", 3, [F_S3, F_EC2], succeeded=False, want=(True, 2, []), evaluations=[
            evaluation(F_S3, failed=[S3]), evaluation(F_S3._replace(name="assets"), passed=[S3]),
            evaluation(F_EC2, failed=[EC2]), evaluation(F_EC2._replace(name="batch"), passed=[EC2]),
            evaluation(F_RDS, passed=[RDS])])
        self.issues("after update 3, open", grid(conditions=[text_filter("entityId", "prod")]), False,
                    [(F_S3, "open", 3)])
        self.issues("after update 3, closed", grid(conditions=[text_filter("entityId", "prod")]), True,
                    [(F_EC2, "ignored", 3), (F_RDS, "fixed", 1)])
        self.c.call("getPolicyIssue", self.orgs.get_policy_issue, ORG, s3, detail="reopened",
                    check=lambda body: self.is_issue_detail(body, F_S3, "open", 3))
        # web/dev: the policy passed on pod/api (fixed), fails on a new resource (opened); ghost-pack did not
        # run this time, so its issue stays open.
        self.report("dev", 2, [F_DEPLOY], succeeded=False, want=(True, 1, []), evaluations=[
            evaluation(F_POD, passed=[PRIVILEGED]), evaluation(F_POD._replace(name="worker"), passed=[PRIVILEGED]),
            evaluation(F_DEPLOY, failed=[PRIVILEGED])])
        self.issues("after update 2, open", grid(conditions=[text_filter("entityId", "dev")]), False,
                    [(F_GHOST, "open", 1), (F_DEPLOY, "open", 2)])
        self.issues("after update 2, closed", grid(conditions=[text_filter("entityId", "dev")]), True,
                    [(F_POD, "fixed", 1)])
        self.c.call("updatePolicyIssue", self.orgs.update_policy_issue, ORG, self.issue_id(F_DEPLOY),
                    m.UpdatePolicyIssueRequest(status=m.PolicyIssueStatus.InProgress), detail="in_progress",
                    check=lambda body: expect(body["policyIssue"]["status"] == "in_progress",
                                              f"status {body['policyIssue']['status']}"))
        self.issues("in progress counts as open", grid(conditions=[text_filter("status", "in_progress")]), False,
                    [(F_DEPLOY, "in_progress", 2)])
        self.c.call("listAuditLogEvents", self.orgs.list_audit_log_events_handler_v1, ORG,
                    event_filter="policyissue.update", detail="eventFilter=policyissue.update", check=lambda body:
                    expect(sorted(e["event"] for e in body["auditLogEvents"]) == ["policyissue.update"] * 3,
                           f"events {[e['event'] for e in body['auditLogEvents']]}, want 3 policyissue.update"))

    def is_triaged(self, body: Any, status: str, priority: str, assigned: bool) -> list[str]:
        issue = body["policyIssue"]
        assignee = (issue.get("assignedTo") or {}).get("githubLogin")
        return (expect(issue["status"] == status and issue.get("priority") == priority,
                       f"status {issue['status']} priority {issue.get('priority')}, want {status} {priority}") +
                expect(assignee == (self.login if assigned else None), f"assignedTo {issue.get('assignedTo')}"))

    def compliance_reads(self) -> None:
        # What the reports imply: web/prod ran aws-guardrails on 5 resource-policy pairs, 2 failing (60%);
        # web/dev ran k8s-baseline on 3, 1 failing (66%); neither ran the other's pack (-1).
        columns = [GUARDRAILS, K8S]
        rows = [(f"{PROJECT}/dev", [-1, percent(3, 1)], 2), (f"{PROJECT}/prod", [percent(5, 2), -1], 3)]
        self.compliance("entity=stack", m.PolicyComplianceEntityType.Stack, 100, None,
                        lambda body: self.is_compliance(body, columns, rows, more=False))
        first = self.compliance("entity=stack size=1", m.PolicyComplianceEntityType.Stack, 1, None,
                                lambda body: self.is_compliance(body, columns, rows[:1], more=True))
        token = (first.body or {}).get("continuationToken")
        if token:
            self.compliance("entity=stack size=1, next page", m.PolicyComplianceEntityType.Stack, 1, token,
                            lambda body: self.is_compliance(body, columns, rows[1:], more=False))
        severities = ["critical", "high", "medium", "low", "unspecified"]
        self.compliance("entity=severity", m.PolicyComplianceEntityType.Severity, 100, None,
                        lambda body: self.is_compliance(body, severities, [
                            (GUARDRAILS, [percent(1, 0), percent(2, 1), percent(2, 1), -1, -1], None),
                            (K8S, [-1, -1, -1, -1, percent(3, 1)], None)], more=False))
        self.compliance("entity=account", m.PolicyComplianceEntityType.Account, 100, None,
                        lambda body: expect(body["rows"] == [], f"{len(body['rows'])} account rows, want none"))
        # As an SDK user writes it: GetPolicyComplianceResultsRequest(entity=...) leaves size at the model's
        # default, 0, which the SDK sends.
        self.c.call("getPolicyComplianceResults", self.orgs.get_policy_compliance_results, ORG,
                    m.GetPolicyComplianceResultsRequest(entity=m.PolicyComplianceEntityType.Stack),
                    detail="size left unset (the SDK sends size 0)",
                    check=lambda body: self.is_compliance(body, columns, rows, more=False))
        policies = [(GUARDRAILS, EC2, 2, 1), (GUARDRAILS, S3, 2, 1), (K8S, PRIVILEGED, 3, 1), (GUARDRAILS, RDS, 1, 0)]
        self.c.call("listPoliciesCompliance", self.orgs.list_policies_compliance, ORG, grid(),
                    detail="least compliant first", check=lambda body: self.lists_policies(body, policies, True))
        self.c.call("listPoliciesCompliance", self.orgs.list_policies_compliance, ORG,
                    grid(conditions=[text_filter("policyPack", K8S)]), detail=f"policyPack equals {K8S}",
                    check=lambda body: self.lists_policies(body, [(K8S, PRIVILEGED, 3, 1)], True))
        # Totals: 4 policies governed something, 3 of them failed somewhere; 5 + 3 resources; open issues on 3
        # (S3 on logs, the in-progress one on deployment web, ghost-pack's on pod api).
        self.c.call("getPolicyResultsMetadata", self.orgs.get_policy_results_metadata, ORG, check=lambda body: expect(
            body == {"policyTotalCount": 4, "policyWithIssuesCount": 3, "resourcesTotalCount": 8,
                     "resourcesWithIssuesCount": 3}, f"totals {json.dumps(body)}"))
        current = [F_S3, F_EC2, F_DEPLOY]  # the violations of each stack's newest report
        self.c.call("listPolicyViolationsV2", self.orgs.list_policy_violations_v2, ORG,
                    check=lambda body: self.lists_violations(body, current, {"prod": 3, "dev": 2}))
        page = self.c.call_path("listPolicyViolationsV2", "GET", "/api/orgs/{orgName}/policyresults/violationsv2",
                                {"orgName": ORG}, "ListPolicyViolationsV2Response",
                                "OrganizationsApi.list_policy_violations_v2", query={"size": 2}, detail="size=2",
                                check=lambda body: expect(len(body["policyViolations"]) == 2 and
                                                          bool(body.get("continuationToken")),
                                                          f"{len(body['policyViolations'])} violations, token "
                                                          f"{body.get('continuationToken')}"))
        token = (page.body or {}).get("continuationToken")
        if token:
            seen = [issue_key_of_violation(v) for v in page.body["policyViolations"]]
            self.c.call_path("listPolicyViolationsV2", "GET", "/api/orgs/{orgName}/policyresults/violationsv2",
                             {"orgName": ORG}, "ListPolicyViolationsV2Response",
                             "OrganizationsApi.list_policy_violations_v2",
                             query={"size": 2, "continuationToken": token}, detail="size=2, next page",
                             check=lambda body: expect(
                                 sorted(seen + [issue_key_of_violation(v) for v in body["policyViolations"]]) ==
                                 sorted(f.key for f in current) and not body.get("continuationToken"),
                                 f"the two pages do not hold the 3 current violations once each"))
        self.c.call_path("listPolicyViolationsV2Post", "POST", "/api/orgs/{orgName}/policyresults/violationsv2",
                         {"orgName": ORG}, "ListPolicyViolationsV2Response",
                         "OrganizationsApi.list_policy_violations_v2 (POST)",
                         check=lambda body: self.lists_violations(body, current, {"prod": 3, "dev": 2}))

    def compliance(self, detail: str, entity: m.PolicyComplianceEntityType, size: int, token: Optional[str],
                   check: Callable[[Any], list[str]]) -> Result:
        return self.c.call("getPolicyComplianceResults", self.orgs.get_policy_compliance_results, ORG,
                           m.GetPolicyComplianceResultsRequest(entity=entity, size=size, continuation_token=token),
                           detail=detail, check=check)

    @staticmethod
    def is_compliance(body: Any, columns: list[str], rows: list[tuple[str, list[int], Optional[int]]],
                      more: bool) -> list[str]:
        got = [(row["entityName"], row["scores"]) for row in body["rows"]]
        problems = (expect(body["columns"] == columns, f"columns {body['columns']}, want {columns}") +
                    expect(got == [(name, scores) for name, scores, _ in rows], f"rows {got}, want "
                                                                                f"{[r[:2] for r in rows]}") +
                    expect(bool(body.get("continuationToken")) == more,
                           f"continuationToken {body.get('continuationToken')!r}, want {'one' if more else 'none'}"))
        for row, (name, _, version) in zip(body["rows"], rows):
            if version is not None:  # PolicyHub's extension on stack rows
                problems += expect(row.get("lastUpdateVersion") == version and row.get("drift") == [],
                                   f"{name}: lastUpdateVersion {row.get('lastUpdateVersion')} drift "
                                   f"{row.get('drift')}, want {version} and no drift")
        return problems

    @staticmethod
    def lists_policies(body: Any, want: list[tuple[str, str, int, int]], ordered: bool) -> list[str]:
        got = [(p["policyPack"], p["policyName"], p["governedResources"], p["failingResources"])
               for p in body["policies"]]
        problems = (expect((got if ordered else sorted(got)) == (want if ordered else sorted(want)),
                           f"policies {got}, want {want}") +
                    expect(body.get("totalCount") == len(want), f"totalCount {body.get('totalCount')}"))
        for row in body["policies"]:
            pack, name = row["policyPack"], row["policyName"]
            group = {GUARDRAILS: ("prod", "preventative"), K8S: ("default-policy-group", "preventative")}.get(
                pack, ("", "preventative"))
            problems += expect(
                row["percentCompliant"] == percent(row["governedResources"], row["failingResources"]) and
                row["severity"] == SEVERITIES.get(name) and
                (row["policyGroupName"], row.get("policyGroupType")) == group,
                f"{pack}/{name}: {json.dumps(row)}")
        return problems

    @staticmethod
    def lists_violations(body: Any, findings: list["Finding"], versions: dict[str, int]) -> list[str]:
        violations = body["policyViolations"]
        got = sorted(issue_key_of_violation(v) for v in violations)
        problems = expect(got == sorted(f.key for f in findings), f"violations {got}")
        by_key = {f.key: f for f in findings}
        for v in violations:
            finding = by_key.get(issue_key_of_violation(v))
            if finding:
                problems += expect(
                    (v["projectName"], v.get("stackVersion"), v["policyPackTag"], v["resourceType"],
                     v["resourceName"], v["level"], v["kind"], v["message"]) ==
                    (PROJECT, versions[finding.stack], finding.version, finding.type, finding.name,
                     finding.level.value, finding.kind.value, finding.message), f"violation {json.dumps(v)}")
        times = [v["observedAt"] for v in violations]
        return problems + expect(times == sorted(times, reverse=True), f"not newest first: {times}")

    # --- what `pulumi policy issue ls|get` and `pulumi policy compliance ls` send, byte for byte, and whether
    # the answers decode into the CLI's Go structs
    def pulumi_cli_reads(self) -> None:
        issues_path = f"/api/orgs/{ORG}/policyresults/issues"
        open_now = sorted(f.key for f in (F_S3, F_DEPLOY, F_GHOST))
        # ListPolicyIssuesRequest{StartRow, EndRow, SortModel}: a nil slice marshals as null.
        self.c.cli("listPolicyIssues", "`pulumi policy issue ls`", "POST", issues_path,
                   {"startRow": 0, "endRow": 100, "sortModel": None}, GO_LIST_POLICY_ISSUES, check=lambda body: expect(
                       sorted(issue_key(i) for i in body["policyIssues"]) == open_now and body["rowCount"] == 3,
                       f"{body['rowCount']} issues: {sorted(issue_key(i) for i in body['policyIssues'])}"))
        # --count 2: one page of 2 (startRow 0, endRow 2), then the CLI stops.
        self.c.cli("listPolicyIssues", "`pulumi policy issue ls --count 2`", "POST", issues_path,
                   {"startRow": 0, "endRow": 2, "sortModel": None}, GO_LIST_POLICY_ISSUES, check=lambda body: expect(
                       len(body["policyIssues"]) == 2 and body["rowCount"] == 3,
                       f"{len(body['policyIssues'])} issues of {body['rowCount']}, want 2 of 3"))
        # --all: pages of 100 until rowCount issues arrived (or a page is empty).
        self.c.step("listPolicyIssues `pulumi policy issue ls --all` [raw HTTP as the pulumi CLI]",
                    lambda: self.cli_all_issues(issues_path, open_now))
        s3 = self.issue_id(F_S3)
        self.c.cli("getPolicyIssue", f"`pulumi policy issue get {s3}`", "GET", f"{issues_path}/{s3}", None,
                   GO_GET_POLICY_ISSUE, check=lambda body: expect(
                       (body["policyIssue"]["id"], body["policyIssue"]["policyName"], body["policyIssue"]["status"])
                       == (s3, S3, "open"), f"policyIssue {json.dumps(body['policyIssue'])[:200]}"))
        self.c.step("getPolicyComplianceResults `pulumi policy compliance ls` [raw HTTP as the pulumi CLI]",
                    lambda: self.cli_compliance("stack", 0, [f"{PROJECT}/dev", f"{PROJECT}/prod"], [GUARDRAILS, K8S]))
        self.c.step("getPolicyComplianceResults `pulumi policy compliance ls --count 1` [raw HTTP as the pulumi "
                    "CLI]", lambda: self.cli_compliance("stack", 1, [f"{PROJECT}/dev"], [GUARDRAILS, K8S]))
        self.c.step("getPolicyComplianceResults `pulumi policy compliance ls --group-by severity` [raw HTTP as the "
                    "pulumi CLI]", lambda: self.cli_compliance(
                        "severity", 0, [GUARDRAILS, K8S], ["critical", "high", "medium", "low", "unspecified"]))
        self.c.step("getPolicyComplianceResults `pulumi policy compliance ls --group-by account` [raw HTTP as the "
                    "pulumi CLI]", lambda: self.cli_compliance("account", 0, [], [GUARDRAILS, K8S]))

    def cli_all_issues(self, path: str, want: list[tuple]) -> list[str]:
        issues: list[dict] = []
        start = 0
        for _ in range(20):
            body = pulumi_cli_call(self.c.client.configuration.host, self.c.client.configuration.access_token,
                                   "POST", path, {"startRow": start, "endRow": start + 100, "sortModel": None})
            problems = go_decode(body, GO_LIST_POLICY_ISSUES, "")
            if problems:
                return problems
            issues += body.get("policyIssues") or []
            if len(issues) >= (body.get("rowCount") or 0) or not body.get("policyIssues"):
                break
            start += len(body["policyIssues"])
        got = sorted(issue_key(i) for i in issues)
        return expect(got == want, f"collected {got}")

    def cli_compliance(self, group_by: str, count: int, entities: list[str], columns: list[str]) -> list[str]:
        """runComplianceList: pages of 1000 (or what --count leaves), following continuationToken."""
        rows: list[dict] = []
        token = None
        for _ in range(20):
            size = 1000 if not count or count - len(rows) >= 1000 else count - len(rows)
            request: dict = {"entity": group_by}
            if token is not None:
                request["continuationToken"] = token
            request["size"] = size
            body = pulumi_cli_call(self.c.client.configuration.host, self.c.client.configuration.access_token,
                                   "POST", f"/api/orgs/{ORG}/policyresults/compliance", request)
            problems = go_decode(body, GO_COMPLIANCE, "")
            if problems:
                return problems
            rows += body.get("rows") or []
            if count and len(rows) >= count:
                rows = rows[:count]
                break
            token = body.get("continuationToken")
            if not token:
                break
        got = [row.get("entityName") for row in rows]
        return (expect(got == entities, f"entities {got}, want {entities}") +
                expect(body.get("columns") == columns, f"columns {body.get('columns')}, want {columns}") +
                expect(all(len(row.get("scores") or []) == len(columns) for row in rows),
                       "a row's scores do not match the columns one to one (the CLI's table needs them to)"))

    # --- the audit trail of all of the above
    def audit_log(self) -> None:
        completes = len(self.archives)
        self.c.call("listAuditLogEvents", self.orgs.list_audit_log_events_handler_v1, ORG, check=lambda body: expect(
            sum(e["event"] == "policypack.version.complete" for e in body["auditLogEvents"]) == completes,
            f"{completes} versions completed, events: {sorted({e['event'] for e in body['auditLogEvents']})}"))
        # The SDK's filters: eventFilter (the parameter the SDK sends) and startTime.
        self.c.call("listAuditLogEvents", self.orgs.list_audit_log_events_handler_v1, ORG,
                    event_filter="policygroup.update", detail="eventFilter=policygroup.update",
                    check=lambda body: self.only_events(body, "policygroup.update"))
        self.c.call("listAuditLogEvents", self.orgs.list_audit_log_events_handler_v1, ORG,
                    start_time=int(time.time()) + 3600, detail="startTime=an hour ahead", check=lambda body: expect(
                        body["auditLogEvents"] == [], f"{len(body['auditLogEvents'])} events from the future"))

    @staticmethod
    def only_events(body: Any, event: str) -> list[str]:
        # The scenario's group edits were recorded, so the filtered page is not empty.
        kinds = sorted({e["event"] for e in body["auditLogEvents"]})
        return expect(kinds == [event], f"the filter was not applied: answered events {kinds}")

    # --- undoing it: the delete refused while applied, `pulumi policy disable`, group edits
    def removals(self) -> None:
        self.need(GUARDRAILS, "1.1.0")
        self.need(K8S, "0.1.0")
        self.c.expect_error("deletePolicyPackVersion", self.orgs.delete_policy_pack_version, ORG, GUARDRAILS, "1.1.0",
                            status=409, detail="applied version")
        self.update("prod", f"removePolicyPack {GUARDRAILS}", remove_policy_pack=self.metadata(GUARDRAILS, "1.1.0"))
        self.update("prod", "removeStack web/prod",
                    remove_stack=m.AppPulumiStackReference(name="prod", routing_project="web"))
        self.update("default-policy-group", f"removePolicyPack {K8S}", remove_policy_pack=self.metadata(K8S, "0.1.0"))
        self.c.call("getPolicyGroup", self.orgs.get_policy_group, ORG, "prod", detail="emptied", check=lambda body:
                    expect(body["stacks"] == [] and body["appliedPolicyPacks"] == [], f"group {body}"))
        self.c.call("deletePolicyGroup", self.orgs.delete_policy_group, ORG, "prod")
        self.c.expect_error("getPolicyGroup", self.orgs.get_policy_group, ORG, "prod", status=404, detail="deleted")

    # --- deletes, through every API that has one, each confirmed by a read
    def registry_deletes(self) -> None:
        for tag in ("2.0.0", "2.1.0", "2.2.0"):
            self.need(REGISTRY_PACK, tag)
        self.c.call("deleteRegistryPolicyPackVersion", self.registry.delete_registry_policy_pack_version, "private",
                    ORG, REGISTRY_PACK, "2.0.0", detail=f"{REGISTRY_PACK}@2.0.0")
        self.c.expect_error("getRegistryPolicyPackVersion", self.registry.get_policy_pack_version_for_registry,
                            "private", ORG, REGISTRY_PACK, "2.0.0", status=404, detail="deleted version")
        self.c.call_path("deleteRegistryPolicyPackVersionPreview", "DELETE", PREVIEW + "/versions/{version}",
                         registry_params(REGISTRY_PACK, "2.1.0"), None,
                         "RegistryApi.delete_registry_policy_pack_version",
                         detail=f"{REGISTRY_PACK}@2.1.0")
        self.c.call("listRegistryPolicyPackVersions", self.registry.list_policy_pack_versions_for_registry, "private",
                    ORG, REGISTRY_PACK, detail="after the version deletes", check=lambda body: expect(
                        [p["version"] for p in body["policyPacks"]] == ["2.2.0"],
                        f"lists {[p['version'] for p in body['policyPacks']]}, want [2.2.0]"))
        if self.c.call_path("deleteRegistryPolicyPackPreview", "DELETE", PREVIEW, registry_params(REGISTRY_PACK),
                            None, "RegistryApi.delete_policy_pack", detail=REGISTRY_PACK).ok:
            self.deleted.add(REGISTRY_PACK)
        self.c.expect_error("listRegistryPolicyPackVersions", self.registry.list_policy_pack_versions_for_registry,
                            "private", ORG, REGISTRY_PACK, status=404, detail="deleted pack")

    def org_deletes(self) -> None:
        self.need(GUARDRAILS, "1.0.0")
        self.need(K8S, "0.1.0")
        self.c.call("deletePolicyPackVersion", self.orgs.delete_policy_pack_version, ORG, GUARDRAILS, "1.0.0",
                    status=200, detail=f"{GUARDRAILS}@1.0.0")
        self.c.expect_error("getPolicyPack", self.orgs.get_policy_pack, ORG, GUARDRAILS, "1.0.0", status=404,
                            detail="deleted version")
        if self.c.call("deleteRegistryPolicyPack", self.registry.delete_policy_pack, "private", ORG, K8S,
                       detail=K8S).ok:
            self.deleted.add(K8S)
        if self.c.call("deletePolicyPack", self.orgs.delete_policy_pack_orgs_policypacks, ORG, GUARDRAILS,
                       status=200, detail=GUARDRAILS).ok:
            self.deleted.add(GUARDRAILS)
        self.c.call("listPolicyPacks", self.orgs.list_policy_packs_orgs, ORG, detail="after the deletes",
                    check=self.lists_none_deleted)

    def lists_none_deleted(self, body: Any) -> list[str]:
        left = self.deleted & {p["name"] for p in body["policyPacks"]}
        return expect(not left, f"still lists {sorted(left)}")


def registry_params(name: str, version: Optional[str] = None) -> dict:
    params = {"source": "private", "publisher": ORG, "name": name}
    if version:
        params["version"] = version
    return params


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(f"usage: {sys.argv[0]} BASE_URL TOKEN [POLICYHUB_BINARY]", file=sys.stderr)
        return 2
    started = time.monotonic()
    print(f"sdk-contract: pulumi-cloud-sdk {importlib.metadata.version('pulumi-cloud-sdk')} against {sys.argv[1]}",
          flush=True)
    contract = Contract(*make_client(sys.argv[1], sys.argv[2]))
    Scenario(contract, sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else None).run()
    for op, fields in sorted(contract.notes.items()):
        print(f"note {op}: answers fields the SDK does not model (clients ignore them): {', '.join(sorted(fields))}")
    print(f"sdk-contract: {time.monotonic() - started:.1f} s")
    print(f"{contract.passed} passed, {contract.failed} failed")
    return 1 if contract.failed else 0


if __name__ == "__main__":
    sys.exit(main())
