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

The SDK has no method for the preview registry routes (/api/preview/registry/policypacks/...), so those go
through the SDK's ApiClient.call_api and decode into the models of the plain registry methods of the same
shape. Its registry publish method sends no body and decodes no answer; it is called once as it is (it must
get a clean 4xx), and the real publishes send the reference's body through call_api. Uploads and downloads
(uploadURI, packLocation) are plain HTTP, as the CLI does them. SDK methods near our routes that PolicyHub does
not serve, so not called: batch_update_policy_group (.../policygroups/{g}/batch), list_policy_group_accounts,
get_policy_group_metadata, the audit log's v2, event-types, export and reader-kind routes.
"""

import hashlib
import importlib.metadata
import inspect
import io
import json
import re
import sys
import tarfile
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Optional

from pulumi_cloud_sdk import ApiClient, Configuration, default_encoder
from pulumi_cloud_sdk import models as m
from pulumi_cloud_sdk._support import AutoEnumEncoder, PulumiModelEncoder
from pulumi_cloud_sdk.apis import OrganizationsApi, MiscellaneousApi, RegistryApi, StacksApi, UsersApi

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

    def __call__(self, request: urllib.request.Request, timeout: Optional[float]) -> Any:
        self.status = None
        try:
            response = urllib.request.urlopen(request, timeout=timeout or TIMEOUT)
        except urllib.error.HTTPError as error:
            self.status = error.code
            raise HttpFailure(error.code, error.read()) from None
        except OSError as error:  # refused, reset, timed out: no answer at all
            raise HttpFailure(0, str(error).encode()) from None
        self.status = response.status
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


class Scenario:
    """One organization's life: publish, read back, apply to a stack through groups, audit, undo, delete.
    Expected values all come from what the scenario itself sent."""

    def __init__(self, contract: Contract) -> None:
        self.c = contract
        client = contract.client
        self.orgs = OrganizationsApi(client)
        self.registry = RegistryApi(client)
        self.stacks = StacksApi(client)
        self.users = UsersApi(client)
        self.misc = MiscellaneousApi(client)
        # What was published and completed, by (pack, tag).
        self.archives: dict[tuple[str, str], bytes] = {}
        self.policies: dict[tuple[str, str], list[m.AppPolicy]] = {}
        self.display_names: dict[tuple[str, str], str] = {}
        self.numbers: dict[tuple[str, str], int] = {}  # version numbers, from the organization API's create
        self.deleted: set[str] = set()  # packs deleted

    def run(self) -> None:
        for part in (self.session, self.publish, self.read_packs, self.registry_publish, self.registry_reads,
                     self.policy_groups, self.stack_views, self.audit_log, self.removals, self.registry_deletes,
                     self.org_deletes):
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
        self.c.call("getCurrentUser", self.users.get_current_user, check=lambda user: expect(
            ORG in [o.get("githubLogin") for o in user.get("organizations") or []],
            f"organizations does not list {ORG}"))
        self.c.call("getCapabilities", self.misc.capabilities)
        self.c.call("getDefaultOrganization", self.users.get_default_organization)
        self.c.call("listUserStacks", self.users.list_user_stacks)

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
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} BASE_URL TOKEN", file=sys.stderr)
        return 2
    started = time.monotonic()
    print(f"sdk-contract: pulumi-cloud-sdk {importlib.metadata.version('pulumi-cloud-sdk')} against {sys.argv[1]}",
          flush=True)
    contract = Contract(*make_client(sys.argv[1], sys.argv[2]))
    Scenario(contract).run()
    for op, fields in sorted(contract.notes.items()):
        print(f"note {op}: answers fields the SDK does not model (clients ignore them): {', '.join(sorted(fields))}")
    print(f"sdk-contract: {time.monotonic() - started:.1f} s")
    print(f"{contract.passed} passed, {contract.failed} failed")
    return 1 if contract.failed else 0


if __name__ == "__main__":
    sys.exit(main())
