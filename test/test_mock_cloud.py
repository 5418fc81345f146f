#!/usr/bin/env python3
"""Self-test of test/mock_cloud.py.

Starts the mock on a free port as a subprocess, exercises every route and
mock option with urllib (http.client / raw sockets where the transport itself
is under test), and prints one TAP-like line per check: ``ok - ...`` or
``not ok - ...``, then ``N passed, N failed``.  Exits 1 when a check failed.

    python3 test/test_mock_cloud.py
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # importing the mock must not leave __pycache__ in the tree
import mock_cloud as mc  # noqa: E402  (the module under test, next to this file)

FIXTURES = os.path.join(HERE, "fixtures")
QODER_FIXTURE = json.load(open(os.path.join(FIXTURES, "qoder_environments.json"),
                               encoding="utf-8"))["environments"]
HW_FIXTURE = json.load(open(os.path.join(FIXTURES, "huawei.json"), encoding="utf-8"))

ADMIN, READONLY = "pt-test-admin", "pt-test-readonly"
APPS = HW_FIXTURE["codearts"]["applications"]
CODEARTS_PROJECT2 = next(a["project_id"] for a in APPS if a["project_id"] != APPS[0]["project_id"])
REGIONS = {p["name"]: p["id"] for p in HW_FIXTURE["eps"]["region_projects"]}
NORTH, SOUTH, EAST = REGIONS["cn-north-4"], REGIONS["cn-south-1"], REGIONS["cn-east-3"]
RESOURCES = HW_FIXTURE["eps"]["resources"]
APP1, APP2 = (app["id"] for app in HW_FIXTURE["codearts"]["applications"][:2])
CODEARTS_PROJECT = HW_FIXTURE["codearts"]["applications"][0]["project_id"]
SEED_ENV = "env_019e3bb39b6774d8878cd0b9d237574b"
ARCHIVED_ENV = next(e["id"] for e in QODER_FIXTURE if e["archived"])
EP1 = "5aa119a8-d25b-45a7-8d1b-88e127885635"
EP_DISABLED = next(p["id"] for p in HW_FIXTURE["enterprise_projects"] if p["status"] == 2)
TEST_AK, TEST_SK = "HWTESTAK0000000000000", mc.HW_ACCESS_KEYS["HWTESTAK0000000000000"][0]
TEMP_AK, TEMP_SK = "HWTEMPAK0000000000000", mc.HW_ACCESS_KEYS["HWTEMPAK0000000000000"][0]
ISO_MICRO_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
APIGW_AKSK_FAIL = {"error_msg": "Incorrect IAM authentication information: verify aksk signature fail",
                   "error_code": "APIGW.0301"}


class Tap:
    """Collects check results and prints them TAP-style."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, condition, description, detail=None):
        if condition:
            self.passed += 1
            print(f"ok - {description}", flush=True)
        else:
            self.failed += 1
            print(f"not ok - {description}", flush=True)
            if detail is not None:
                print(f"#   {str(detail)[:600]}", flush=True)
        return bool(condition)


T = Tap()


class Mock:
    """The mock server subprocess; always stopped by ``stop`` (also on test errors)."""

    def __init__(self, workdir, name="mock"):
        self.port_file = os.path.join(workdir, f"{name}.port")
        self.log_file = os.path.join(workdir, f"{name}.log")
        self.stderr_file = os.path.join(workdir, f"{name}.stderr")
        with open(self.stderr_file, "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "mock_cloud.py"), "--port", "0",
                 "--port-file", self.port_file, "--fixtures", FIXTURES, "--log", self.log_file],
                stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 15
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("mock did not start: " + self.stderr())
            time.sleep(0.05)
        with open(self.port_file, encoding="ascii") as handle:
            self.port = int(handle.read())
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self, signum=signal.SIGTERM, timeout=10):
        """Signal the server and wait; returns (exit code, seconds taken)."""
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        started = time.monotonic()
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        return code, time.monotonic() - started

    def stderr(self):
        with open(self.stderr_file, encoding="utf-8", errors="replace") as handle:
            return handle.read()


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


MOCK = None


def call(method, path, body=None, headers=None, timeout=30):
    """One request through urllib; HTTP errors come back as a Resp too."""
    headers = dict(headers or {})
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(MOCK.base + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Resp(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Resp(error.code, error.headers, error.read())


def prefixed(opts, path):
    return (f"/_mock/{opts}" if opts else "") + path


def qoder(method, path, opts=None, token=ADMIN, body=None, headers=None, **kw):
    headers = dict(headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return call(method, prefixed(opts, "/api/v1/cloud" + path), body, headers, **kw)


def hw(method, path, opts=None, token="hw-test-token", body=None, headers=None, timeout=30):
    headers = dict(headers or {})
    if token is not None:
        headers["X-Auth-Token"] = token
    return call(method, prefixed(opts, path), body, headers, timeout)


def sdk_date(offset=timedelta()):
    return (datetime.now(timezone.utc) + offset).strftime("%Y%m%dT%H%M%SZ")


def signed(method, path, query="", body=b"", opts=None, ak=TEST_AK, sk=TEST_SK, scope=None,
           extra=None, unsigned=None, date=None):
    """Send an AK/SK-signed request: all of ``extra`` and the defaults are signed,
    ``unsigned`` headers are added afterwards."""
    full_path = prefixed(opts, path)
    headers = {"Host": f"127.0.0.1:{MOCK.port}", "X-Sdk-Date": date or sdk_date(),
               "Content-Type": "application/json"}
    if scope == "domain":
        headers["X-Domain-Id"] = mc.HW_DOMAIN["id"]
    elif scope == "project":
        headers["X-Project-Id"] = mc.HW_PROJECT["id"]
    headers.update(extra or {})
    headers["Authorization"] = mc.hw_sign(ak, sk, method, full_path, query, headers, body)
    headers.update(unsigned or {})
    return call(method, full_path + (f"?{query}" if query else ""), body if body else None,
                headers)


def records(tenant):
    return call("GET", f"/_mock/control/requests?tenant={tenant}").json


def qoder_error_ok(resp, status, error_type, param=None, message=None):
    body = resp.json or {}
    error = body.get("error") or {}
    return (resp.status == status and body.get("type") == "error"
            and error.get("type") == error_type
            and (param is None or error.get("param") == param)
            and (message is None or error.get("message") == message)
            and isinstance(body.get("request_id"), str))


def list_all(opts, query="limit=100", via="after_id"):
    """Follow Qoder pagination; returns the ids in order."""
    ids, cursor = [], None
    for _ in range(5000):
        extra = f"&{via}={cursor}" if cursor else ""
        body = qoder("GET", f"/environments?{query}{extra}", opts).json
        ids += [env["id"] for env in body["data"]]
        if not body["has_more"]:
            return ids
        cursor = body["next_page"] if via == "page" else body["last_id"]
    raise RuntimeError("pagination did not end")


# ---------------------------------------------------------------------------
# Phase 1: Qoder
# ---------------------------------------------------------------------------


def test_control_and_options():
    T.check(call("GET", "/_mock/control/health").json == {"ok": True}, "control health")
    T.check(call("GET", "/_mock/nosuch=1/api/v1/cloud/environments").status == 400,
            "unknown mock option is rejected with 400")
    T.check(call("GET", "/nowhere").status == 404, "unknown path is 404")


def test_qoder_list():
    visible = sorted((e["id"] for e in QODER_FIXTURE if not e["archived"]), reverse=True)
    resp = qoder("GET", "/environments")
    body = resp.json
    T.check(resp.status == 200 and set(body) == {"data", "first_id", "last_id", "has_more"},
            "list: Gen A envelope (no next_page)", body and set(body))
    T.check([e["id"] for e in body["data"]] == visible and body["has_more"] is False,
            "list: default limit 20 returns every non-archived env in descending id order")
    T.check(body["first_id"] == visible[0] and body["last_id"] == visible[-1], "list: first/last id")
    T.check(resp.headers.get("content-type", "").startswith("application/json")
            and resp.headers.get("content-length") == str(len(resp.body)), "list: content headers")
    env = body["data"][0]
    T.check({"id", "type", "name", "description", "status", "archived", "archived_at", "config",
             "metadata", "created_at", "updated_at"} <= set(env) and env["type"] == "environment",
            "list: Environment has Gen A + Gen B fields")
    T.check(list_all(None, "limit=3") == visible, "list: after_id paging with limit=3 sees all")
    page = qoder("GET", f"/environments?limit=3&before_id={visible[3]}").json
    T.check([e["id"] for e in page["data"]] == visible[:3] and page["has_more"] is False,
            "list: before_id returns the newer page, newest first", page)
    page = qoder("GET", f"/environments?limit=2&before_id={visible[5]}").json
    T.check([e["id"] for e in page["data"]] == visible[3:5] and page["has_more"] is True,
            "list: before_id has_more when more newer ones exist")
    every = qoder("GET", "/environments?limit=100&include_archived=true").json["data"]
    T.check(len(every) == len(QODER_FIXTURE) and ARCHIVED_ENV in [e["id"] for e in every],
            "list: include_archived=true includes the archived env")
    for bad in ("0", "101", "abc", "-1", "2.5"):
        T.check(qoder_error_ok(qoder("GET", f"/environments?limit={bad}"), 400,
                               "invalid_request_error", "limit"), f"list: limit={bad} is 400")
    T.check(qoder_error_ok(qoder("GET", f"/environments?after_id={visible[0]}&before_id={visible[1]}"),
                           400, "invalid_request_error"), "list: two cursors are 400")
    T.check(qoder_error_ok(qoder("GET", "/environments?after_id=env_nope"), 400,
                           "invalid_request_error", "after_id"), "list: unknown cursor is 400")
    T.check(qoder("GET", "/environments?include_archived=maybe").status == 400,
            "list: bad include_archived is 400")
    gte = qoder("GET", "/environments?limit=100&created_at[gte]=2026-05-01T00:00:00Z").json["data"]
    T.check(gte and all(e["created_at"] >= "2026-05-01" for e in gte)
            and len(gte) == sum(1 for e in QODER_FIXTURE
                                if not e["archived"] and e["created_at"] >= "2026-05-01"),
            "list: created_at[gte] filter")
    empty = qoder("GET", f"/environments?after_id={visible[-1]}").json
    T.check(empty == {"data": [], "first_id": None, "last_id": None, "has_more": False},
            "list: empty page shape")


def test_qoder_get_and_auth():
    resp = qoder("GET", f"/environments/{SEED_ENV}")
    T.check(resp.status == 200 and resp.json["name"] == "doc-test-env"
            and resp.json["config"]["packages"] == {"apt": ["curl"]}, "get: seed environment")
    resp = qoder("GET", f"/environments/{ARCHIVED_ENV}")
    T.check(resp.status == 200 and resp.json["status"] == "archived" and resp.json["archived"]
            and resp.json["archived_at"], "get: archived environment by id")
    T.check(qoder_error_ok(qoder("GET", "/environments/env_00000000000000000000000000000000"), 404,
                           "not_found_error",
                           message="Environment with the given ID does not exist"), "get: 404")
    chinese = [e for e in QODER_FIXTURE if e["name"] == "文档构建环境"][0]
    resp = qoder("GET", f"/environments/{chinese['id']}")
    T.check(resp.json["name"] == "文档构建环境" and "中文" in resp.body.decode("utf-8"),
            "get: unicode name served as UTF-8")
    null_desc = [e for e in QODER_FIXTURE if e["description"] is None][0]
    T.check(qoder("GET", f"/environments/{null_desc['id']}").json["description"] is None,
            "get: null description")
    auth_error = "Invalid API key or token."
    T.check(qoder_error_ok(qoder("GET", "/environments", token=None), 401, "authentication_error",
                           message=auth_error), "auth: missing bearer is 401")
    T.check(qoder_error_ok(qoder("GET", "/environments", token="pt-wrong"), 401,
                           "authentication_error", message=auth_error), "auth: unknown PAT is 401")
    T.check(qoder_error_ok(qoder("GET", "/environments", token=None,
                                 headers={"x-api-key": ADMIN}), 401, "authentication_error"),
            "auth: x-api-key is 401")
    T.check(qoder("GET", "/environments", token=READONLY).status == 200, "auth: read-only PAT may GET")
    forbidden = "You do not have permission to access this resource."
    for method in ("PUT", "POST"):
        T.check(qoder_error_ok(qoder(method, f"/environments/{SEED_ENV}", token=READONLY,
                                     body={"name": "x"}), 403, "permission_error", message=forbidden),
                f"auth: read-only PAT {method} is 403")
    resp = qoder("GET", "/environments/env_missing", headers={"x-request-id": "req-abc-123"})
    T.check(resp.headers.get("x-request-id") == "req-abc-123" and resp.json["request_id"] == "req-abc-123",
            "x-request-id is echoed in header and error body")
    T.check(re.fullmatch(r"[0-9a-f-]{36}", qoder("GET", "/environments").headers.get("x-request-id", "")),
            "x-request-id is generated (UUID) when not sent")
    T.check(qoder("DELETE", f"/environments/{SEED_ENV}").status == 405, "unsupported method is 405")


def test_qoder_update():
    opts = "tenant=upd"
    before = qoder("GET", f"/environments/{SEED_ENV}", opts).json
    resp = qoder("PUT", f"/environments/{SEED_ENV}", opts, body={"description": "用于 API 文档测试的环境"})
    env = resp.json
    T.check(resp.status == 200 and env["description"] == "用于 API 文档测试的环境"
            and env["name"] == before["name"] and env["config"] == before["config"],
            "update: PUT changes only the sent field")
    T.check(ISO_MICRO_RE.fullmatch(env["updated_at"]) and env["updated_at"] > before["updated_at"]
            and env["created_at"] == before["created_at"], "update: updated_at set to now (ISO µs Z)")
    resp = qoder("POST", f"/environments/{SEED_ENV}", opts, body={"name": "renamed-by-post"})
    T.check(resp.status == 200 and resp.json["name"] == "renamed-by-post"
            and resp.json["description"] == "用于 API 文档测试的环境", "update: POST works too")
    T.check(qoder("GET", f"/environments/{SEED_ENV}", opts).json["name"] == "renamed-by-post",
            "update: persisted")
    T.check(qoder("GET", f"/environments/{SEED_ENV}").json["name"] == "doc-test-env",
            "tenants: default tenant does not see tenant upd's change")
    pipeline = [e for e in QODER_FIXTURE if e["name"] == "data-pipeline"][0]
    resp = qoder("PUT", f"/environments/{pipeline['id']}", opts,
                 body={"config": {"type": "cloud", "networking": {"type": "limited"}}})
    config = resp.json["config"]
    T.check(resp.status == 200 and config["networking"]["type"] == "limited"
            and config["networking"]["allowed_hosts"] == pipeline["config"]["networking"]["allowed_hosts"]
            and config["packages"] == pipeline["config"]["packages"],
            "update: config is deep-merged (allowed_hosts and packages kept)")
    resp = qoder("PUT", f"/environments/{pipeline['id']}", opts,
                 body={"config": {"type": "cloud", "packages": {"npm": ["left-pad"]}}})
    T.check(resp.json["config"]["packages"] == dict(pipeline["config"]["packages"], npm=["left-pad"]),
            "update: nested packages merge")
    resp = qoder("PUT", f"/environments/{pipeline['id']}", opts,
                 body={"metadata": {"tier": None, "owner": "alice"}, "description": None})
    T.check(resp.json["metadata"] == {"team": "data", "pii": "false", "owner": "alice"}
            and resp.json["description"] is None, "update: metadata null deletes a key; description null clears")
    bad_bodies = [
        ({"config": {"networking": {"type": "limited"}}}, "config.type"),
        ({"config": {"type": "self"}}, "config.type"),
        ({"config": "cloud"}, "config"),
        ({"config": {"type": "cloud", "networking": {"type": "open"}}}, "config.networking.type"),
        ({"config": {"type": "cloud", "networking": {"allowed_hosts": "a.com"}}},
         "config.networking.allowed_hosts"),
        ({"config": {"type": "cloud", "networking": {"allow_package_managers": "yes"}}},
         "config.networking.allow_package_managers"),
        ({"config": {"type": "cloud", "packages": {"apt": [1, 2]}}}, "config.packages.apt"),
        ({"config": {"type": "cloud", "packages": {"pip": "requests"}}}, "config.packages.pip"),
        ({"id": "env_x"}, "id"), ({"status": "archived"}, "status"), ({"created_at": "x"}, "created_at"),
        ({"name": ""}, "name"), ({"name": 5}, "name"), ({"name": "n" * 257}, "name"),
        ({"description": "d" * 1025}, "description"),
        ({"metadata": {"k": 1}}, "metadata.k"), ({"metadata": {"k": "v" * 513}}, "metadata.k"),
        ({"metadata": {"k" * 65: "v"}}, "metadata"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ]
    for body, param in bad_bodies:
        T.check(qoder_error_ok(qoder("PUT", f"/environments/{SEED_ENV}", opts, body=body), 400,
                               "invalid_request_error", param), f"update: 400 for {json.dumps(body)[:60]}")
    missing = "config.type is required"
    T.check(qoder("PUT", f"/environments/{SEED_ENV}", opts,
                  body={"config": {"packages": {}}}).json["error"]["message"] == missing,
            "update: message 'config.type is required'")
    for raw in (b"not json", b"[1,2]", b""):
        T.check(qoder_error_ok(qoder("PUT", f"/environments/{SEED_ENV}", opts, body=raw,
                                     headers={"Content-Type": "application/json"}),
                               400, "invalid_request_error", message="Request body must be valid JSON."),
                f"update: body {raw!r} is 400 invalid JSON")
    T.check(qoder_error_ok(qoder("PUT", "/environments/env_0123456789abcdef0123456789abcdef", opts,
                                 body={"name": "x"}), 404, "not_found_error"), "update: unknown id is 404")
    T.check(qoder("PUT", f"/environments/{SEED_ENV}", opts,
                  body={"config": {"type": "cloud", "networking": "unrestricted"}}
                  ).json["config"]["networking"]["type"] == "unrestricted",
            "update: Gen A networking string shorthand accepted")


def test_qoder_generations_and_rows():
    opts = "tenant=genc,gen=c"
    body = qoder("GET", "/environments?limit=4", opts).json
    T.check("next_page" in body and body["next_page"] and body["next_page"] != body["last_id"],
            "gen=c: next_page present and not equal to last_id")
    visible = sorted((e["id"] for e in QODER_FIXTURE if not e["archived"]), reverse=True)
    T.check(list_all(opts, "limit=4", via="page") == visible, "gen=c: page cursor walks all")
    last = qoder("GET", f"/environments?limit=100", opts).json
    T.check(last["next_page"] is None and last["has_more"] is False, "gen=c: next_page null on last page")
    T.check(qoder_error_ok(qoder("GET", "/environments?page=garbage", opts), 400,
                           "invalid_request_error", "page"), "gen=c: bad page cursor is 400")
    T.check(qoder("GET", f"/environments?page={body['next_page']}&after_id={visible[0]}", opts).status == 400,
            "gen=c: page + after_id is 400")
    loop = "tenant=loop,cursor_loop=1"
    first = qoder("GET", "/environments?limit=2", loop).json
    second = qoder("GET", f"/environments?limit=2&after_id={first['last_id']}", loop).json
    T.check(first["has_more"] and second["has_more"] and first["last_id"] == second["last_id"],
            "cursor_loop: has_more forever with the same last_id")
    loop_c = qoder("GET", "/environments?limit=2", loop + ",gen=c").json
    again = qoder("GET", f"/environments?limit=2&page={loop_c['next_page']}", loop + ",gen=c").json
    T.check(loop_c["next_page"] == again["next_page"], "cursor_loop: same next_page with gen=c")

    started = time.monotonic()
    big = "tenant=big,rows=100000"
    page = qoder("GET", "/environments?limit=100", big).json
    elapsed = time.monotonic() - started
    T.check(len(page["data"]) == 100 and page["data"][0]["name"] == "env-100000" and page["has_more"],
            f"rows=100000: first page newest first ({elapsed:.2f}s)")
    T.check(elapsed < 3, "rows=100000: tenant creation + first page is fast")
    ids = [e["id"] for e in page["data"]]
    T.check(ids == sorted(ids, reverse=True) and all(re.fullmatch(r"env_[0-9a-f]{32}", i) for i in ids),
            "rows: ids are env_+32 hex, time ordered")
    middle = mc.synthetic_env_id(50000)
    started = time.monotonic()
    deep = qoder("GET", f"/environments?limit=100&after_id={middle}", big).json
    T.check(deep["data"][0]["name"] == "env-050000" and deep["data"][-1]["name"] == "env-049901"
            and time.monotonic() - started < 1, "rows: cursor deep in 100k rows is a fast bisect")
    tail = qoder("GET", f"/environments?limit=100&after_id={mc.synthetic_env_id(50)}", big).json
    T.check(len(tail["data"]) == 50 and tail["has_more"] is False, "rows: last page")
    T.check(qoder("GET", f"/environments/{middle}", big).json["name"] == "env-050001", "rows: get by id")
    upd = qoder("POST", f"/environments/{middle}", big, body={"metadata": {"touched": "yes"}}).json
    T.check(upd["metadata"] == {"index": "50001", "touched": "yes"}
            and qoder("GET", f"/environments/{middle}", big).json["metadata"]["touched"] == "yes",
            "rows: synthetic rows are updatable")
    T.check(len(list_all("tenant=mid,rows=2345")) == 2345, "rows=2345: full walk sees every row once")
    T.check(qoder("GET", "/environments", "tenant=big,rows=5").json["data"][0]["name"] == "env-100000",
            "rows: only honoured when the tenant is created")


def test_faults():
    started = time.monotonic()
    resp = qoder("GET", "/environments?limit=1", "tenant=f,latency_ms=300")
    T.check(resp.status == 200 and time.monotonic() - started >= 0.3, "latency_ms=300 delays the answer")
    for status, error_type in ((503, "overloaded_error"), (429, "rate_limit_error"), (500, "api_error"),
                               (502, "api_error"), (404, "not_found_error"), (418, "api_error")):
        T.check(qoder_error_ok(qoder("GET", "/environments", f"tenant=f,status={status}"), status,
                               error_type), f"status={status}: Qoder envelope type {error_type}")
    resp = qoder("GET", "/environments", "tenant=f,status=429,retry_after=2,retry_after_ms=1500")
    T.check(resp.headers.get("retry-after") == "2" and resp.headers.get("retry-after-ms") == "1500",
            "retry_after / retry_after_ms headers")
    opts = "tenant=f,status=503,fault_count=2"
    statuses = [qoder("GET", "/environments", opts).status for _ in range(4)]
    T.check(statuses == [503, 503, 200, 200], "fault_count=2: first two fault, then served", statuses)
    opts = "tenant=f,status=500,fault_methods=PUT+POST"
    T.check(qoder("GET", "/environments", opts).status == 200
            and qoder("PUT", f"/environments/{SEED_ENV}", opts, body={"name": "a"}).status == 500
            and qoder("POST", f"/environments/{SEED_ENV}", opts, body={"name": "a"}).status == 500,
            "fault_methods=PUT+POST only faults writes")
    T.check(qoder("GET", f"/environments/{SEED_ENV}", "tenant=f").json["name"] == "doc-test-env",
            "faulted writes did not change data")
    resp = qoder("GET", "/environments", "tenant=f,body=html")
    T.check(resp.status == 502 and resp.headers["content-type"].startswith("text/html")
            and resp.body == b"<html><body><h1>502 Bad Gateway</h1></body></html>", "body=html: 502 page")
    T.check(qoder("GET", "/environments", "tenant=f,body=html,status=503").status == 503,
            "body=html with status=503")
    resp = qoder("GET", "/environments", "tenant=f,body=empty")
    T.check(resp.status == 200 and resp.body == b"" and resp.headers.get("content-length") == "0",
            "body=empty: 0-byte 200")
    full = qoder("GET", "/environments", "tenant=f").body
    resp = qoder("GET", "/environments", "tenant=f,body=truncated")
    T.check(resp.status == 200 and resp.body == full[:len(full) // 2] and resp.json is None
            and resp.headers["content-length"] == str(len(resp.body)), "body=truncated: half, framed")
    T.check(qoder("GET", "/environments", "tenant=f,body=malformed").body == b'{"data": [ {"id": "env_x", }',
            "body=malformed")
    T.check(isinstance(qoder("GET", "/environments", "tenant=f,body=wrong_types").json["data"], str),
            "body=wrong_types: data is a string")
    single = qoder("GET", f"/environments/{SEED_ENV}", "tenant=f,body=wrong_types").json
    T.check(isinstance(single["name"], int) and isinstance(single["config"], str),
            "body=wrong_types on a single object flips field types")
    no_env = qoder("GET", "/environments", "tenant=f,body=no_envelope").json
    T.check(isinstance(no_env, list) and no_env and no_env[0]["type"] == "environment",
            "body=no_envelope: top-level array")
    resp = qoder("GET", "/environments", "tenant=f,body=nul")
    T.check(b"\\u0000" in resp.body and "\x00" in resp.json["data"][0]["description"], "body=nul")
    for kind, damaged in (("null_id", None), ("empty_id", ""), ("dot_id", "..")):
        resp = qoder("GET", "/environments", f"tenant=f,body={kind}")
        T.check(resp.json["data"][0]["id"] == damaged and resp.json["data"][1]["id"].startswith("env_"),
                f"body={kind}: the first item's id is {damaged!r}")
    resp = qoder("GET", "/environments", "tenant=f,body=string_item")
    T.check(resp.json["data"][0] == "not an object" and isinstance(resp.json["data"][1], dict),
            "body=string_item: the first item is a string")
    resp = qoder("GET", f"/environments/{SEED_ENV}", "tenant=f,body=big_numbers")
    T.check(b'"big":123456789012345678901234567890' in resp.body
            and resp.json["metadata"] == mc.BIG_NUMBERS, "body=big_numbers: exact integers in metadata")
    T.check(b'"ratio":NaN' in qoder("GET", "/environments", "tenant=f,body=nan").body
            and b'"limit":-Infinity' in qoder("GET", "/environments", "tenant=f,body=infinity").body,
            "body=nan, body=infinity: the literals JSON does not have")
    resp = qoder("GET", "/environments", "tenant=f,body=bad_utf8")
    try:
        resp.body.decode("utf-8")
        decoded = True
    except UnicodeDecodeError:
        decoded = False
    T.check(b"\xc3\x28" in resp.body and not decoded, "body=bad_utf8: raw 0xC3 0x28 in a string")
    resp = qoder("GET", "/environments", "tenant=f,body=deep")
    depth_ok = resp.body.count(b"[") >= 9999
    try:
        json.loads(resp.body)
        depth_ok = False
    except RecursionError:
        pass
    T.check(depth_ok, "body=deep: 10,000 levels")
    started = time.monotonic()
    resp = qoder("GET", "/environments?limit=2", "tenant=f,body=huge", timeout=120)
    body = resp.json
    T.check(resp.status == 200 and int(resp.headers["content-length"]) == len(resp.body)
            and len(body["data"][0]["description"]) == mc.HUGE_BODY_BYTES and len(body["data"]) == 2,
            f"body=huge: valid JSON with a 100 MB description ({time.monotonic() - started:.1f}s)")
    del resp, body
    T.check(qoder("PUT", f"/environments/{SEED_ENV}", "tenant=f,body=truncated", token=None,
                  body={"name": "x"}).status == 401, "body=KIND leaves error answers alone")

    try:
        qoder("GET", "/environments", "tenant=hang,hang=1", timeout=1)
        hung = False
    except (TimeoutError, urllib.error.URLError):
        hung = True
    T.check(hung, "hang=1: no answer (client timed out)")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and records("hang")[0]["status"] is None:
        time.sleep(0.1)
    T.check(records("hang")[0]["status"] == 0, "hang=1: server noticed the disconnect (status 0)")
    try:
        qoder("GET", "/environments", "tenant=reset,reset=1", timeout=5)
        reset = False
    except (ConnectionError, http.client.HTTPException, urllib.error.URLError):
        reset = True
    T.check(reset, "reset=1: connection closed without a response")
    statuses = []
    for _ in range(2):
        try:
            statuses.append(qoder("GET", "/environments", "tenant=reset,reset=1,fault_count=1",
                                  timeout=5).status)
        except (ConnectionError, http.client.HTTPException, urllib.error.URLError):
            statuses.append("reset")
    T.check(statuses == ["reset", 200], "reset=1,fault_count=1: retry succeeds", statuses)


def test_keepalive_and_log():
    conn = http.client.HTTPConnection("127.0.0.1", MOCK.port, timeout=10)
    statuses = []
    for i in range(5):
        conn.request("GET", "/_mock/tenant=ka/api/v1/cloud/environments?limit=1",
                     headers={"Authorization": f"Bearer {ADMIN}"})
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
    conn.request("PUT", f"/_mock/tenant=ka/api/v1/cloud/environments/{SEED_ENV}",
                 body=b'{"name":"ka"}', headers={"Authorization": f"Bearer {ADMIN}"})
    response = conn.getresponse()
    response.read()
    statuses.append(response.status)
    conn.close()
    T.check(statuses == [200] * 6, "keep-alive: six requests on one connection")
    T.check(call("GET", "/_mock/control/connections?tenant=ka").json ==
            {"requests": 6, "distinct_client_ports": 1}, "control connections: 6 requests, 1 port")
    log = records("ka")
    record = log[-1]
    T.check(set(record) >= {"seq", "tenant", "opts", "method", "path", "query", "headers", "body",
                            "client_port", "status", "applied"}, "log record fields")
    T.check(record["path"] == f"/api/v1/cloud/environments/{SEED_ENV}" and record["method"] == "PUT"
            and record["body"] == '{"name":"ka"}' and record["status"] == 200
            and record["opts"] == "tenant=ka" and log[0]["query"] == "limit=1"
            and record["headers"].get("Authorization") == f"Bearer {ADMIN}", "log record content",
            record)
    T.check(record["applied"] is True and log[0]["applied"] is False,
            "log record applied: true for the stored PUT, false for a GET")
    T.check([r["seq"] for r in log] == sorted(r["seq"] for r in log), "log seq increases")
    faulted = records("f")
    T.check(any(r["status"] == 503 for r in faulted), "faulted requests are logged")
    with open(MOCK.log_file, encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle]
    T.check(any(line["tenant"] == "ka" and line["method"] == "PUT" for line in lines),
            "--log file has JSON lines")
    T.check(call("DELETE", "/_mock/control/requests").json["ok"] and records("ka") == [],
            "DELETE /_mock/control/requests clears the log")
    qoder("PUT", f"/environments/{SEED_ENV}", "tenant=rst", body={"name": "changed"})
    qoder("GET", "/environments", "tenant=rst,status=503,fault_count=1")
    T.check(call("POST", "/_mock/control/reset").json == {"ok": True}, "control reset answers ok")
    T.check(qoder("GET", f"/environments/{SEED_ENV}", "tenant=rst").json["name"] == "doc-test-env"
            and qoder("GET", "/environments", "tenant=rst,status=503,fault_count=1").status == 503,
            "reset restores tenant data and fault counters")


# ---------------------------------------------------------------------------
# Phase 2: Huawei
# ---------------------------------------------------------------------------


def test_signer_vectors():
    """KAT-1..KAT-4 (official) and D1-D3 (derived) of section 3.4 of the Huawei notes."""
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    kat1_headers = {"content-type": "application/json", "host": "service.region.example.com",
                    "x-sdk-date": "20191115T033655Z"}
    canonical = mc.hw_canonical_request(
        "GET", "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
        "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0", kat1_headers,
        ["content-type", "host", "x-sdk-date"], b"")
    T.check(canonical == "GET\n/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\n"
            "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0\ncontent-type:application/json\n"
            "host:service.region.example.com\nx-sdk-date:20191115T033655Z\n\n"
            "content-type;host;x-sdk-date\n" + empty, "KAT-1 canonical request")
    T.check(hashlib.sha256(canonical.encode()).hexdigest() ==
            "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a", "KAT-1 hashed canonical request")
    vectors = [
        ("KAT-1", "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", "GET",
         "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs", "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
         kat1_headers, b"",
         "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, "
         "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"),
        ("KAT-2", "AccessKey", "SecretKey", "GET", "/path", "limit=1", {"X-Sdk-Date": "20060102T150405Z"}, b"",
         "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, "
         "Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"),
        ("KAT-3", "AccessKey", "SecretKey", "POST", "/path", "key=value", {"X-Sdk-Date": "20060102T150405Z"},
         b'{"Name":"test","Id":1}\n',
         "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, "
         "Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"),
        ("KAT-4", "my ak", "my sk", "GET", "/resources", "size=1",
         {"X-Sdk-Date": "20200608T023900Z", "Host": "service.endpoint.myhuaweicloud.com"}, b"",
         "SDK-HMAC-SHA256 Access=my ak, SignedHeaders=host;x-sdk-date, "
         "Signature=6d5bc610d3d4475346aae5cd7ed8d99585e60c0430a1d3d6e2f54e2bdd633701"),
    ]
    ak, sk, date = "AKEXAMPLE0000000000", "SKEXAMPLE0000000000000000000000000000000", "20240102T030405Z"
    vectors += [
        ("D1 CodeArts list", ak, sk, "GET", "/v1/applications/8ddf0566c1784da29faac80516fa8425/environments",
         "project_id=55837d272adf4eee90319800e2da6961&page_index=1&page_size=100",
         {"Host": "codearts-deploy.cn-north-4.myhuaweicloud.com",
          "X-Project-Id": "0123456789abcdef0123456789abcdef", "Content-Type": "application/json",
          "X-Sdk-Date": date}, b"",
         f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
         "Signature=e122b3723418981d162e60752e7c5389da89e93673127b20515068618e2a8c5f"),
        ("D2 EPS update", ak, sk, "PUT", "/v1.0/enterprise-projects/5aa119a8-d25b-45a7-8d1b-88e127885635", "",
         {"Host": "eps.myhuaweicloud.com", "X-Domain-Id": "fedcba9876543210fedcba9876543210",
          "Content-Type": "application/json;charset=UTF-8", "X-Sdk-Date": date},
         b'{"name":"ep_renamed","description":"d","type":"prod"}',
         f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders=content-type;host;x-domain-id;x-sdk-date, "
         "Signature=e3f3deaacc265ecb2a55dd0439837afeb9b2e054e91cf49d55161aeebe51dc3b"),
        ("D3 escaping", ak, sk, "GET", "/v1.0/enterprise-projects",
         "name=" + quote("a b/ç", safe="") + "&limit=1000&offset=0&sort_dir=asc",
         {"Host": "eps.myhuaweicloud.com", "X-Sdk-Date": date}, b"",
         f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host;x-sdk-date, "
         "Signature=f85f5b6e41567f9dce02106c5eb1871fbb1d56b2b22550cdd4436796d00cde86"),
    ]
    for name, v_ak, v_sk, method, path, query, headers, body, expected in vectors:
        got = mc.hw_sign(v_ak, v_sk, method, path, query, headers, body)
        T.check(got == expected, f"signer {name}", got)
    T.check(mc.hw_canonical_query("name=" + quote("a b/ç", safe="") + "&limit=1000&offset=0&sort_dir=asc")
            == "limit=1000&name=a%20b%2F%C3%A7&offset=0&sort_dir=asc", "signer D3 canonical query")
    T.check(hashlib.sha256(b'{"name":"ep_renamed","description":"d","type":"prod"}').hexdigest()
            == "a6c4d4f279fb51d83e516cc1037c6809dabfaa058055ec5eb22a7e7f5f353b6a", "signer D2 body hash")


def deploy_error_ok(resp, status, code):
    body = resp.json or {}
    return (resp.status == status and body.get("status") == "failed"
            and body.get("error", {}).get("code") == code and body["error"].get("message"))


def eps_error_ok(resp, status, code):
    body = resp.json or {}
    return (resp.status == status and set(body) == {"error"}
            and body["error"].get("error_code") == code and body["error"].get("error_msg"))


def test_codearts():
    base = f"/v1/applications/{APP1}/environments"
    query = f"?project_id={CODEARTS_PROJECT}"
    fixture_envs = HW_FIXTURE["codearts"]["applications"][0]["environments"]
    resp = hw("GET", base + query + "&page_size=100")
    body = resp.json
    by_time = [e["id"] for e in sorted(fixture_envs, key=lambda e: e["created_time"], reverse=True)]
    T.check(resp.status == 200 and body["status"] == "success" and body["total"] == len(fixture_envs)
            and [e["id"] for e in body["result"]] == by_time,
            "codearts list: envelope, total, default CREATED_TIME DESC")
    page = hw("GET", base + query + "&page_size=2&page_index=3").json
    T.check(page["total"] == 5 and [e["id"] for e in page["result"]] == by_time[4:],
            "codearts list: page_index/page_size")
    named = hw("GET", base + query + "&name=" + quote("生产")).json
    T.check(named["total"] == 1 and named["result"][0]["name"] == "生产环境", "codearts list: name filter")
    sorted_names = [e["name"] for e in hw("GET", base + query + "&sort_key=NAME&sort_dir=ASC").json["result"]]
    T.check(sorted_names == sorted(e["name"] for e in fixture_envs), "codearts list: sort NAME ASC")
    for bad in ("", "&page_size=0", "&page_size=101", "&page_index=0", "&sort_key=COLOR", "&sort_dir=UP"):
        q = (query if bad else "?") + bad
        T.check(deploy_error_ok(hw("GET", base + q), 400, "DEV.CH.10001"),
                f"codearts list: 400 DEV.CH.10001 for {bad or 'missing project_id'}")
    T.check(deploy_error_ok(hw("GET", f"/v1/applications/{'0' * 32}/environments" + query), 404,
                            "Deploy.00011020"), "codearts list: unknown application 404")
    T.check(len(hw("GET", f"/v1/applications/{APP2}/environments" + query).json["result"]) == 3,
            "codearts: second application")
    seed = hw("GET", f"{base}/140ca97e701d4c4c93c5932d5bdb32ec").json
    T.check(seed["status"] == "success" and set(seed["result"]) == {
        "id", "name", "description", "os", "project_id", "nick_name", "deploy_type", "instance_count",
        "created_time", "created_by", "permission"} and seed["result"]["created_time"] == "2023-06-20 16:53:29.0"
        and set(seed["result"]["permission"]) == {"can_delete", "can_deploy", "can_edit", "can_manage", "can_view"},
        "codearts show: seed fields")
    T.check(deploy_error_ok(hw("GET", f"{base}/{'f' * 32}"), 404, "Deploy.00021438"),
            "codearts show: unknown environment 404 Deploy.00021438")
    target = f"{base}/{by_time[0]}"
    resp = hw("PUT", target, "tenant=ca", body={"name": "win-batch_v3", "description": "新的描述"})
    T.check(resp.status == 200 and resp.json == {"status": "success", "id": by_time[0]},
            "codearts update: {status, id}")
    shown = hw("GET", target, "tenant=ca").json["result"]
    T.check(shown["name"] == "win-batch_v3" and shown["description"] == "新的描述"
            and hw("GET", target).json["result"]["name"] == "win-batch.v2", "codearts update: persisted per tenant")
    T.check(hw("PUT", target, "tenant=ca", body={"description": ""}).status == 200
            and hw("GET", target, "tenant=ca").json["result"]["name"] == "win-batch_v3",
            "codearts update: description only")
    for body in ({"name": "ab"}, {"name": "bad name!"}, {"name": "n" * 129}, {"description": "d" * 501},
                 {"name": 12}):
        T.check(deploy_error_ok(hw("PUT", target, "tenant=ca", body=body), 400, "DEV.CH.10001"),
                f"codearts update: 400 for {json.dumps(body)[:40]}")
    T.check(deploy_error_ok(hw("PUT", target, "tenant=ca", body={"name": "dev"}), 400, "Deploy.00021443"),
            "codearts update: duplicate name")
    T.check(deploy_error_ok(hw("PUT", f"{base}/{'f' * 32}", "tenant=ca", body={"name": "abc"}), 404,
                            "Deploy.00021438"), "codearts update: unknown environment")
    big = hw("GET", base + query + "&page_size=100&page_index=3", "tenant=cabig,deploy_rows=250").json
    T.check(big["total"] == 250 and len(big["result"]) == 50, "deploy_rows=250: total and last page")
    T.check(deploy_error_ok(hw("GET", base + query, "tenant=f,status=400"), 400, "DEV.CH.10001"),
            "codearts: injected status=400 uses the CodeArts envelope")
    T.check(isinstance(hw("GET", base + query, "tenant=f,body=wrong_types").json["result"], str),
            "codearts: body=wrong_types")


def test_eps():
    projects = HW_FIXTURE["enterprise_projects"]
    resp = hw("GET", "/v1.0/enterprise-projects")
    body = resp.json
    newest_first = [p["id"] for p in sorted(projects, key=lambda p: p["created_at"], reverse=True)]
    T.check(resp.status == 200 and body["total_count"] == len(projects)
            and [p["id"] for p in body["enterprise_projects"]] == newest_first,
            "eps list: envelope, created_at desc by default")
    T.check({"id", "name", "description", "status", "created_at", "updated_at", "type", "delete_flag"}
            == set(body["enterprise_projects"][0]), "eps list: EpDetail fields")
    page = hw("GET", "/v1.0/enterprise-projects?limit=3&offset=2&sort_dir=asc").json
    T.check(page["total_count"] == len(projects) and [p["id"] for p in page["enterprise_projects"]]
            == newest_first[::-1][2:5], "eps list: limit/offset/asc")
    T.check([p["name"] for p in hw("GET", "/v1.0/enterprise-projects?name=FINANCE").json["enterprise_projects"]]
            and all("finance" in p["name"] for p in
                    hw("GET", "/v1.0/enterprise-projects?name=FINANCE").json["enterprise_projects"]),
            "eps list: name is a fuzzy match")
    T.check([p["id"] for p in hw("GET", "/v1.0/enterprise-projects?status=2").json["enterprise_projects"]]
            == [EP_DISABLED], "eps list: status filter")
    T.check(all(p["type"] == "poc" for p in hw("GET", "/v1.0/enterprise-projects?type=poc").json["enterprise_projects"]),
            "eps list: type filter")
    T.check(hw("GET", "/v1.0/enterprise-projects?id=0").json["enterprise_projects"][0]["name"] == "default",
            "eps list: id=0 is the default project")
    updated = [p["updated_at"] for p in
               hw("GET", "/v1.0/enterprise-projects?sort_key=updated_at&sort_dir=asc").json["enterprise_projects"]]
    T.check(updated == sorted(updated), "eps list: sort_key=updated_at")
    for query, code in (("limit=0", "EPS.0017"), ("limit=1001", "EPS.0017"), ("limit=x", "EPS.0017"),
                        ("offset=-1", "EPS.0018"), ("status=3", "EPS.0002"), ("type=dev", "EPS.0002")):
        T.check(eps_error_ok(hw("GET", f"/v1.0/enterprise-projects?{query}"), 400, code),
                f"eps list: {query} is 400 {code}")
    T.check(hw("GET", f"/v1.0/enterprise-projects/{EP1}").json["enterprise_project"]["name"]
            == "enterprise_project1", "eps show")
    T.check(eps_error_ok(hw("GET", "/v1.0/enterprise-projects/nope"), 404, "EPS.0005"), "eps show: 404 EPS.0005")
    opts = "tenant=eps"
    resp = hw("PUT", f"/v1.0/enterprise-projects/{EP1}", opts,
              body={"name": "企业项目_1", "description": "描述2", "type": "poc"})
    project = (resp.json or {}).get("enterprise_project", {})
    T.check(resp.status == 200 and project.get("name") == "企业项目_1" and project["type"] == "poc"
            and project["description"] == "描述2"
            and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", project["updated_at"])
            and project["updated_at"] > "2019", "eps update: 200 with EpDetail")
    T.check(hw("GET", f"/v1.0/enterprise-projects/{EP1}").json["enterprise_project"]["name"] == "enterprise_project1",
            "eps update: other tenants unchanged")
    for body, status, code in (({"description": "x"}, 400, "EPS.0007"), ({"name": "DeFault"}, 400, "EPS.0007"),
                               ({"name": "bad name"}, 400, "EPS.0007"), ({"name": "n" * 256}, 400, "EPS.0007"),
                               ({"name": "ok", "description": "d" * 513}, 400, "EPS.0008"),
                               ({"name": "ok", "type": "dev"}, 400, "EPS.0002"),
                               ({"name": "marketing"}, 409, "EPS.0010")):
        T.check(eps_error_ok(hw("PUT", f"/v1.0/enterprise-projects/{EP1}", opts, body=body), status, code),
                f"eps update: {json.dumps(body, ensure_ascii=False)[:40]} is {status} {code}")
    T.check(eps_error_ok(hw("PUT", "/v1.0/enterprise-projects/0", opts, body={"name": "x"}), 400, "EPS.0012"),
            "eps update: default project is 400 EPS.0012")
    T.check(eps_error_ok(hw("PUT", f"/v1.0/enterprise-projects/{EP_DISABLED}", opts, body={"name": "x"}), 400,
                         "EPS.0014"), "eps update: disabled project is 400 EPS.0014")
    T.check(eps_error_ok(hw("PUT", "/v1.0/enterprise-projects/nope", opts, body={"name": "x"}), 404, "EPS.0005"),
            "eps update: unknown project 404")
    action = f"/v1.0/enterprise-projects/{EP1}/action"
    resp = hw("POST", action, opts, body={"action": "disable"})
    T.check(resp.status == 204 and resp.body == b"", "eps action disable: 204 without body")
    T.check(hw("GET", f"/v1.0/enterprise-projects/{EP1}", opts).json["enterprise_project"]["status"] == 2
            and eps_error_ok(hw("PUT", f"/v1.0/enterprise-projects/{EP1}", opts, body={"name": "y"}), 400, "EPS.0014"),
            "eps action: disabled project is status 2 and read-only")
    T.check(hw("POST", action, opts, body={"action": "enable"}).status == 204
            and hw("GET", f"/v1.0/enterprise-projects/{EP1}", opts).json["enterprise_project"]["status"] == 1,
            "eps action enable")
    T.check(eps_error_ok(hw("POST", action, opts, body={"action": "freeze"}), 400, "EPS.0013"),
            "eps action: bad action is EPS.0013")
    T.check(eps_error_ok(hw("POST", "/v1.0/enterprise-projects/0/action", opts, body={"action": "disable"}),
                         400, "EPS.0015"), "eps action: default project is EPS.0015")
    big = hw("GET", "/v1.0/enterprise-projects?offset=2000", "tenant=epsbig,eps_rows=2500").json
    T.check(big["total_count"] == 2500 and len(big["enterprise_projects"]) == 500,
            "eps_rows=2500: total and offset page")
    T.check(eps_error_ok(hw("GET", "/v1.0/enterprise-projects", "tenant=f,status=500"), 500, "EPS.0000"),
            "eps: injected status=500 uses the EPS envelope")
    resp = hw("GET", "/v1.0/enterprise-projects", "tenant=f,status=429")
    T.check(resp.status == 429 and resp.json["error_code"] == "APIGW.0308", "eps: injected 429 is a gateway error")
    T.check(isinstance(hw("GET", "/v1.0/enterprise-projects", "tenant=f,body=wrong_types")
                       .json["enterprise_projects"], str), "eps: body=wrong_types")


def iam_body(scope, password="test-password", user="test-user", domain="test-domain"):
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": password, "domain": {"name": domain}}}}, "scope": scope}}


def test_iam_and_tokens():
    resp = call("POST", "/_mock/tenant=iam/v3/auth/tokens", iam_body({"project": {"name": "cn-north-4"}}))
    token = resp.headers.get("x-subject-token")
    info = (resp.json or {}).get("token", {})
    T.check(resp.status == 201 and token and info.get("methods") == ["password"]
            and info["project"]["id"] == mc.HW_PROJECT["id"] and info["user"]["name"] == "test-user",
            "iam: project-scoped token, 201 + X-Subject-Token")
    lifetime = (datetime.fromisoformat(info["expires_at"]) - datetime.fromisoformat(info["issued_at"]))
    T.check(lifetime == timedelta(hours=24) and ISO_MICRO_RE.fullmatch(info["expires_at"]), "iam: 24 h token")
    resp = call("POST", "/v3/auth/tokens?nocatalog=true", iam_body({"domain": {"id": mc.HW_DOMAIN["id"]}}))
    domain_token = resp.headers.get("x-subject-token")
    T.check(resp.status == 201 and resp.json["token"]["domain"]["id"] == mc.HW_DOMAIN["id"]
            and "catalog" not in resp.json["token"], "iam: domain-scoped token (nocatalog)")
    T.check(call("POST", "/v3/auth/tokens", iam_body({"domain": {"name": "test-domain"}})).status == 201,
            "iam: domain scope by name")
    resp = call("POST", "/_mock/tenant=iam/v3/auth/tokens", iam_body({"domain": {"name": "test-domain"}},
                                                                    password="wrong-password"))
    T.check(resp.status == 401 and resp.json == {"error": {"code": 401, "message": "The username or password is wrong.",
                                                           "title": "Unauthorized"}}, "iam: bad password 401")
    T.check(call("POST", "/v3/auth/tokens", iam_body({"project": {"name": "xx"}})).status == 400,
            "iam: unknown project scope 400")
    logged = json.dumps(records("iam"))
    T.check("test-password" not in logged and "wrong-password" not in logged and '\\"***\\"' in logged,
            "iam: password redacted in the request log")
    with open(MOCK.log_file, encoding="utf-8") as handle:
        T.check("test-password" not in handle.read(), "iam: password redacted in the --log file")
    envs = f"/v1/applications/{APP1}/environments?project_id={CODEARTS_PROJECT}"
    T.check(hw("GET", envs, token=token).status == 200, "token: project token works for CodeArts")
    T.check(hw("GET", "/v1.0/enterprise-projects", token=domain_token).status == 200,
            "token: domain token works for EPS")
    resp = hw("GET", "/v1.0/enterprise-projects", token=token)
    T.check(resp.status == 401 and resp.json["error_code"] == "APIGW.0301", "token: project token refused by EPS")
    T.check(hw("GET", envs, token=domain_token).status == 401, "token: domain token refused by CodeArts")
    T.check(hw("GET", envs, token="forged").status == 401, "token: unknown token 401")
    T.check(hw("GET", envs, token=None).status == 401, "no credentials 401")
    short = call("POST", "/_mock/token_ttl_s=1/v3/auth/tokens", iam_body({"domain": {"name": "test-domain"}}))
    short_token = short.headers.get("x-subject-token")
    T.check(hw("GET", "/v1.0/enterprise-projects", token=short_token).status == 200, "token_ttl_s=1: valid at first")
    time.sleep(1.3)
    T.check(hw("GET", "/v1.0/enterprise-projects", token=short_token).status == 401, "token_ttl_s=1: expires")
    T.check(call("POST", "/_mock/tenant=f,status=503/v3/auth/tokens", iam_body(None)).status == 503,
            "iam: injected status")


def test_aksk():
    eps = "/v1.0/enterprise-projects"
    T.check(signed("GET", eps, scope="domain").status == 200, "aksk: signed EPS list")
    resp = signed("GET", eps, "name=" + quote("研发 中心/x") + "&limit=10&offset=0", scope="domain")
    T.check(resp.status == 200, "aksk: escaped query verifies", resp.json)
    T.check(signed("GET", f"/v1/applications/{APP1}/environments", f"project_id={CODEARTS_PROJECT}",
                   scope="project").status == 200, "aksk: signed CodeArts list")
    T.check(signed("GET", eps, opts="tenant=sig", scope="domain").status == 200,
            "aksk: /_mock prefix is part of the signed path")
    body = json.dumps({"name": "signed_name", "description": "d", "type": "prod"}).encode()
    resp = signed("PUT", f"{eps}/{EP1}", body=body, opts="tenant=sig", scope="domain")
    T.check(resp.status == 200 and resp.json["enterprise_project"]["name"] == "signed_name", "aksk: signed PUT with body")
    resp = signed("PUT", f"{eps}/{EP1}", body=body, opts="tenant=sig", scope="domain",
                  extra={"Content-Type": "application/json;charset=UTF-8"})
    T.check(resp.status == 200, "aksk: content-type signed with charset")

    def refused(resp):
        body = resp.json or {}
        return (resp.status == 401 and {k: body.get(k) for k in APIGW_AKSK_FAIL} == APIGW_AKSK_FAIL
                and body.get("request_id"))

    # tampering: sign one body, send another
    headers = {"Host": f"127.0.0.1:{MOCK.port}", "X-Sdk-Date": sdk_date(), "Content-Type": "application/json",
               "X-Domain-Id": mc.HW_DOMAIN["id"]}
    headers["Authorization"] = mc.hw_sign(TEST_AK, TEST_SK, "PUT", f"{eps}/{EP1}", "", headers, body)
    T.check(refused(call("PUT", f"{eps}/{EP1}", body + b" ", headers)), "aksk: tampered body refused (APIGW.0301)")
    T.check(refused(signed("GET", eps, scope="domain", date=sdk_date(timedelta(minutes=-20)))),
            "aksk: X-Sdk-Date 20 min old refused")
    T.check(signed("GET", eps, scope="domain", date=sdk_date(timedelta(minutes=-10))).status == 200,
            "aksk: X-Sdk-Date 10 min old accepted")
    T.check(refused(signed("GET", eps)), "aksk: EPS without X-Domain-Id refused")
    T.check(refused(signed("GET", f"/v1/applications/{APP1}/environments", f"project_id={CODEARTS_PROJECT}",
                           scope="domain")), "aksk: CodeArts without X-Project-Id refused")
    T.check(refused(signed("GET", eps, scope="domain", sk="wrong")), "aksk: wrong SK refused")
    T.check(refused(signed("GET", eps, scope="domain", ak="UNKNOWNAK", sk=TEST_SK)), "aksk: unknown AK refused")
    T.check(refused(signed("GET", eps, scope="domain", ak=TEMP_AK, sk=TEMP_SK)),
            "aksk: temporary AK without security token refused")
    T.check(signed("GET", eps, scope="domain", ak=TEMP_AK, sk=TEMP_SK,
                   extra={"X-Security-Token": mc.HW_SECURITY_TOKEN}).status == 200,
            "aksk: temporary AK with signed X-Security-Token")
    T.check(refused(signed("GET", eps, scope="domain", ak=TEMP_AK, sk=TEMP_SK,
                           unsigned={"X-Security-Token": mc.HW_SECURITY_TOKEN})),
            "aksk: unsigned X-Security-Token refused")
    # x-sdk-date present but not among the signed headers
    headers = {"Host": f"127.0.0.1:{MOCK.port}", "X-Domain-Id": mc.HW_DOMAIN["id"]}
    auth = mc.hw_sign(TEST_AK, TEST_SK, "GET", eps, "", dict(headers, **{"X-Sdk-Date": sdk_date()}))
    headers.update({"X-Sdk-Date": sdk_date(), "Authorization": auth.replace("host;x-domain-id;x-sdk-date",
                                                                            "host;x-domain-id")})
    T.check(refused(call("GET", eps, headers=headers)), "aksk: unsigned x-sdk-date refused")
    good = signed("GET", eps, scope="domain")
    T.check(good.status == 200, "aksk: control request ok")
    headers = {"Host": f"127.0.0.1:{MOCK.port}", "X-Sdk-Date": sdk_date(), "X-Domain-Id": mc.HW_DOMAIN["id"]}
    auth = mc.hw_sign(TEST_AK, TEST_SK, "GET", eps, "", headers)
    T.check(refused(call("GET", eps, headers=dict(headers, Authorization=auth.replace(", ", ",")))),
            "aksk: malformed Authorization refused")
    note = [r for r in records("default") if r.get("note", "").startswith("signature mismatch")]
    T.check(note and "canonical request" in note[-1]["note"], "aksk: mismatch reason recorded in the log")


# ---------------------------------------------------------------------------
# Phase 3: request log completeness, applied, and the later fault options
# ---------------------------------------------------------------------------


def raw_call(method, path, body=None, headers=None, timeout=10):
    """One request through http.client, which (unlike urllib) never follows redirects."""
    conn = http.client.HTTPConnection("127.0.0.1", MOCK.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        return Resp(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


def outcome(function, *args, **kwargs):
    """The status of a request, or "reset"/"timeout" when no answer came."""
    try:
        return function(*args, **kwargs).status
    except (TimeoutError, socket.timeout):
        return "timeout"
    except (ConnectionError, http.client.HTTPException, urllib.error.URLError) as error:
        if isinstance(getattr(error, "reason", None), (TimeoutError, socket.timeout)):
            return "timeout"
        return "reset"


def wait_records(tenant, count, timeout=5):
    """The tenant's records once ``count`` of them have a final status (hang, reset)."""
    deadline = time.monotonic() + timeout
    log = records(tenant)
    while time.monotonic() < deadline and (len(log) < count
                                           or any(r["status"] is None for r in log)):
        time.sleep(0.05)
        log = records(tenant)
    return log


def test_log_complete_before_reply():
    """The record's status is final before the answer's first byte (was racy, ~1 run in 10)."""
    conn = http.client.HTTPConnection("127.0.0.1", MOCK.port, timeout=10)
    control = http.client.HTTPConnection("127.0.0.1", MOCK.port, timeout=10)
    auth = {"Authorization": f"Bearer {ADMIN}"}
    late = []
    try:
        for i in range(150):
            if i % 2:
                conn.request("GET", "/_mock/tenant=race/api/v1/cloud/environments?limit=1",
                             headers=auth)
                expected = (200, False)
            else:
                conn.request("PUT", f"/_mock/tenant=race/api/v1/cloud/environments/{SEED_ENV}",
                             body=json.dumps({"name": f"race-{i}"}).encode(), headers=auth)
                expected = (200, True)
            response = conn.getresponse()
            response.read()
            control.request("GET", "/_mock/control/requests?tenant=race")
            last = json.loads(control.getresponse().read())[-1]
            if (last["status"], last["applied"]) != expected:
                late.append((i, last["status"], last["applied"]))
    finally:
        conn.close()
        control.close()
    T.check(not late, "log: status and applied are final as soon as the client has the answer "
            "(150 keep-alive requests)", late[:5])
    with open(MOCK.log_file, encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle if '"race"' in line]
    T.check(len(lines) == 150 and all(line["status"] == 200 for line in lines)
            and sum(line["applied"] for line in lines) == 75,
            "log: --log lines of answered requests carry status and applied", len(lines))


def test_applied():
    opts = "tenant=ap"
    hw_envs = f"/v1/applications/{APP1}/environments"
    deploy_target = f"{hw_envs}/140ca97e701d4c4c93c5932d5bdb32ec"
    steps = [
        ("qoder GET list", lambda: qoder("GET", "/environments", opts), 200, False),
        ("qoder GET one", lambda: qoder("GET", f"/environments/{SEED_ENV}", opts), 200, False),
        ("qoder PUT", lambda: qoder("PUT", f"/environments/{SEED_ENV}", opts, body={"name": "ap1"}),
         200, True),
        ("qoder POST", lambda: qoder("POST", f"/environments/{SEED_ENV}", opts,
                                     body={"description": "d"}), 200, True),
        ("qoder PUT invalid", lambda: qoder("PUT", f"/environments/{SEED_ENV}", opts,
                                            body={"name": ""}), 400, False),
        ("qoder PUT unknown id", lambda: qoder("PUT", "/environments/env_nope", opts,
                                               body={"name": "x"}), 404, False),
        ("qoder PUT read-only PAT", lambda: qoder("PUT", f"/environments/{SEED_ENV}", opts,
                                                  token=READONLY, body={"name": "x"}), 403, False),
        ("qoder PUT injected 500", lambda: qoder("PUT", f"/environments/{SEED_ENV}",
                                                 opts + ",status=500", body={"name": "x"}),
         500, False),
        ("codearts GET", lambda: hw("GET", f"{hw_envs}?project_id={CODEARTS_PROJECT}", opts),
         200, False),
        ("codearts PUT", lambda: hw("PUT", deploy_target, opts, body={"description": "ap"}),
         200, True),
        ("codearts PUT invalid", lambda: hw("PUT", deploy_target, opts, body={"name": "ab"}),
         400, False),
        ("codearts PUT unauthenticated", lambda: hw("PUT", deploy_target, opts, token=None,
                                                    body={"description": "x"}), 401, False),
        ("eps PUT", lambda: hw("PUT", f"/v1.0/enterprise-projects/{EP1}", opts,
                               body={"name": "ap_eps"}), 200, True),
        ("eps PUT duplicate", lambda: hw("PUT", f"/v1.0/enterprise-projects/{EP1}", opts,
                                         body={"name": "marketing"}), 409, False),
        ("eps action", lambda: hw("POST", f"/v1.0/enterprise-projects/{EP1}/action", opts,
                                  body={"action": "disable"}), 204, True),
        ("eps action invalid", lambda: hw("POST", f"/v1.0/enterprise-projects/{EP1}/action", opts,
                                          body={"action": "freeze"}), 400, False),
        ("iam login", lambda: call("POST", "/_mock/tenant=ap/v3/auth/tokens",
                                   iam_body({"domain": {"name": "test-domain"}})), 201, False),
    ]
    for name, send, status, applied in steps:
        resp = send()
        last = records("ap")[-1]
        T.check(resp.status == status and last["status"] == status and last["applied"] is applied,
                f"applied: {name} is {status}, applied={str(applied).lower()}",
                (resp.status, last["status"], last.get("applied")))
    T.check(all(isinstance(r.get("applied"), bool) for r in records("ap")),
            "applied: every record has a boolean applied")


def test_fault_skip():
    opts = "tenant=sk,status=503,fault_skip=2,fault_count=1"
    statuses = [qoder("GET", "/environments", opts).status for _ in range(5)]
    T.check(statuses == [200, 200, 503, 200, 200], "fault_skip=2,fault_count=1: only the 3rd faults",
            statuses)
    opts = "tenant=sk,status=500,fault_skip=1"
    statuses = [qoder("GET", "/environments", opts).status for _ in range(4)]
    T.check(statuses == [200, 500, 500, 500], "fault_skip=1 without fault_count: all after the 1st",
            statuses)
    opts = "tenant=sk,status=500,fault_skip=0,fault_count=1"
    statuses = [qoder("GET", "/environments", opts).status for _ in range(2)]
    T.check(statuses == [500, 200], "fault_skip=0 is fault_count alone", statuses)
    opts = "tenant=sk2,status=500,fault_methods=PUT,fault_skip=2,fault_count=1"
    names = ["k1", "k2", "k3", "k4"]
    statuses = []
    for name in names:
        statuses.append(qoder("GET", "/environments", opts).status)
        statuses.append(qoder("PUT", f"/environments/{SEED_ENV}", opts, body={"name": name}).status)
    T.check(statuses == [200, 200, 200, 200, 200, 500, 200, 200],
            "fault_skip with fault_methods=PUT: only PUTs are counted, the 3rd PUT is refused",
            statuses)
    puts = [r for r in records("sk2") if r["method"] == "PUT"]
    T.check([(r["status"], r["applied"]) for r in puts]
            == [(200, True), (200, True), (500, False), (200, True)],
            "fault_skip: the refused PUT is logged with applied=false")
    statuses = [outcome(qoder, "GET", "/environments", "tenant=sk3,reset=1,fault_skip=1,fault_count=1",
                        timeout=5) for _ in range(3)]
    T.check(statuses == [200, "reset", 200], "reset=1,fault_skip=1,fault_count=1", statuses)
    T.check(call("GET", "/_mock/fault_skip=x/api/v1/cloud/environments").status == 400,
            "fault_skip=x is rejected")


def test_after_apply():
    path = f"/environments/{SEED_ENV}"
    resp_status = outcome(qoder, "PUT", path, "tenant=aa,after_apply=reset", body={"name": "aa-reset"},
                          timeout=5)
    log = wait_records("aa", 1)
    T.check(resp_status == "reset" and qoder("GET", path, "tenant=aa").json["name"] == "aa-reset",
            "after_apply=reset: no answer, but the write is stored", resp_status)
    T.check([(r["status"], r["applied"]) for r in log] == [(0, True)],
            "after_apply=reset: logged status 0, applied=true", log)
    resp = qoder("PUT", path, "tenant=aa,after_apply=503,retry_after=1", body={"name": "aa-503"})
    T.check(qoder_error_ok(resp, 503, "overloaded_error") and resp.headers.get("retry-after") == "1"
            and qoder("GET", path, "tenant=aa").json["name"] == "aa-503",
            "after_apply=503: Qoder 503 envelope (+Retry-After), write stored")
    T.check((records("aa")[-2]["status"], records("aa")[-2]["applied"]) == (503, True),
            "after_apply=503: logged 503, applied=true")
    resp = qoder("POST", path, "tenant=aa,after_apply=500", body={"name": "aa-post"})
    T.check(qoder_error_ok(resp, 500, "api_error")
            and qoder("GET", path, "tenant=aa").json["name"] == "aa-post", "after_apply=500 on POST")
    started = time.monotonic()
    resp_status = outcome(qoder, "PUT", path, "tenant=aah,after_apply=hang", body={"name": "aa-hang"},
                          timeout=1)
    T.check(resp_status == "timeout" and time.monotonic() - started >= 0.9
            and qoder("GET", path, "tenant=aah").json["name"] == "aa-hang",
            "after_apply=hang: no answer, write stored", resp_status)
    log = wait_records("aah", 2)
    T.check((log[0]["status"], log[0]["applied"]) == (0, True), "after_apply=hang: status 0, applied")
    opts = "tenant=aa2,after_apply=500,fault_count=1"
    statuses = [qoder("GET", "/environments", opts).status, qoder("GET", path, opts).status,
                qoder("PUT", path, opts, body={"name": "x1"}).status,
                qoder("PUT", path, opts, body={"name": "x2"}).status]
    T.check(statuses == [200, 200, 500, 200], "after_apply: reads are neither faulted nor counted",
            statuses)
    resp = qoder("PUT", path, "tenant=aa2,after_apply=500", body={"name": ""})
    T.check(qoder_error_ok(resp, 400, "invalid_request_error", "name")
            and records("aa2")[-1]["applied"] is False,
            "after_apply: a rejected write gets its normal 400, applied=false")
    opts = "tenant=aa3,after_apply=reset,fault_skip=2,fault_count=1"
    statuses = [outcome(qoder, "PUT", path, opts, body={"name": f"bulk-{i}"}, timeout=5)
                for i in range(4)]
    log = wait_records("aa3", 4)
    T.check(statuses == [200, 200, "reset", 200]
            and [(r["status"], r["applied"]) for r in log] == [(200, True)] * 2 + [(0, True), (200, True)],
            "after_apply=reset,fault_skip=2,fault_count=1: the 3rd PUT is applied then reset", statuses)
    opts = "tenant=aa5,after_apply=500,fault_count=1"
    steps = [qoder("PUT", path, opts, body={"name": ""}),           # refused: invalid
             qoder("PUT", "/environments/env_nope", opts, body={"name": "x"}),   # refused: 404
             qoder("PUT", path, opts, token=READONLY, body={"name": "x"}),      # refused: 403
             qoder("PUT", path, opts, body={"name": "aa5-1"}),
             qoder("PUT", path, opts, body={"name": "aa5-2"})]
    T.check([r.status for r in steps] == [400, 404, 403, 500, 200]
            and [(r["status"], r["applied"]) for r in records("aa5")]
            == [(400, False), (404, False), (403, False), (500, True), (200, True)],
            "after_apply=500,fault_count=1: refused writes use up no fault, the first applied "
            "PUT gets the 500", [r.status for r in steps])
    opts = "tenant=aa6,after_apply=reset,fault_skip=1,fault_count=1"
    statuses = [outcome(qoder, "PUT", path, opts, body={"name": name}, timeout=5)
                for name in ("aa6-1", "", "aa6-2", "", "aa6-3")]
    T.check(statuses == [200, 400, "reset", 400, 200],
            "after_apply with fault_skip=1: only applied writes are skipped and counted", statuses)
    opts = "tenant=aa4,after_apply=502,fault_methods=POST"
    T.check(qoder("PUT", path, opts, body={"name": "p"}).status == 200
            and qoder("POST", path, opts, body={"name": "q"}).status == 502
            and qoder("GET", path, "tenant=aa4").json["name"] == "q",
            "after_apply with fault_methods=POST")
    target = f"/v1/applications/{APP1}/environments/140ca97e701d4c4c93c5932d5bdb32ec"
    resp = hw("PUT", target, "tenant=aa,after_apply=500", body={"description": "after"})
    T.check(deploy_error_ok(resp, 500, "Deploy.00000500")
            and hw("GET", target, "tenant=aa").json["result"]["description"] == "after",
            "after_apply=500 on CodeArts PUT: Deploy envelope, stored")
    resp = hw("PUT", f"/v1.0/enterprise-projects/{EP1}", "tenant=aa,after_apply=500",
              body={"name": "after_eps"})
    T.check(eps_error_ok(resp, 500, "EPS.0000")
            and hw("GET", f"/v1.0/enterprise-projects/{EP1}", "tenant=aa")
            .json["enterprise_project"]["name"] == "after_eps", "after_apply=500 on EPS update")
    resp_status = outcome(hw, "POST", f"/v1.0/enterprise-projects/{EP1}/action",
                          "tenant=aa,after_apply=reset", body={"action": "disable"})
    T.check(resp_status == "reset" and hw("GET", f"/v1.0/enterprise-projects/{EP1}", "tenant=aa")
            .json["enterprise_project"]["status"] == 2, "after_apply=reset on EPS action", resp_status)
    resp = call("POST", "/_mock/tenant=aa,after_apply=500/v3/auth/tokens",
                iam_body({"domain": {"name": "test-domain"}}))
    T.check(resp.status == 201, "after_apply: IAM login is not a write")
    for bad in ("after_apply=200", "after_apply=302", "after_apply=boom", "after_apply=reset,status=500",
                "after_apply=500,hang=1", "after_apply=500,body=html"):
        T.check(call("GET", f"/_mock/{bad}/api/v1/cloud/environments").status == 400,
                f"{bad} is rejected")


def test_ignore_offset():
    eps = "/v1.0/enterprise-projects?limit=10"
    first = hw("GET", eps, "tenant=io,eps_rows=50").json
    shifted = hw("GET", eps + "&offset=20", "tenant=io,eps_rows=50").json
    ignored = hw("GET", eps + "&offset=20", "tenant=io,eps_rows=50,ignore_offset=1").json
    T.check(shifted["enterprise_projects"] != first["enterprise_projects"]
            and ignored == first and ignored["total_count"] == 50,
            "ignore_offset=1: EPS offset=20 answers the first page with the true total")
    T.check(eps_error_ok(hw("GET", eps + "&offset=-1", "tenant=io,ignore_offset=1"), 400, "EPS.0018"),
            "ignore_offset=1: a bad offset is still 400")
    base = f"/v1/applications/{APP1}/environments?project_id={CODEARTS_PROJECT}&page_size=10"
    first = hw("GET", base, "tenant=io2,deploy_rows=30").json
    third = hw("GET", base + "&page_index=3", "tenant=io2,deploy_rows=30").json
    ignored = hw("GET", base + "&page_index=3", "tenant=io2,ignore_offset=1").json
    T.check(third["result"] != first["result"] and ignored == first and ignored["total"] == 30,
            "ignore_offset=1: CodeArts page_index=3 answers page 1 with the true total")
    T.check(qoder("GET", "/environments?limit=2", "tenant=io,ignore_offset=1").status == 200,
            "ignore_offset=1: Qoder lists unaffected")


def test_redirects():
    auth = {"Authorization": f"Bearer {ADMIN}"}
    for status in mc.REDIRECT_STATUSES:
        opts = f"tenant=rd{status},status={status}"
        url = f"/_mock/{opts}/api/v1/cloud/environments?limit=1"
        resp = raw_call("GET", url, headers=auth)
        T.check(resp.status == status
                and resp.headers.get("location") == f"http://127.0.0.1:{MOCK.port}{url}"
                and qoder_error_ok(resp, status, "api_error") and len(records(f"rd{status}")) == 1,
                f"status={status}: Location names the same URL on the mock, not followed",
                (resp.status, resp.headers.get("location")))
    url = "/_mock/tenant=rdf,status=302,fault_count=1/api/v1/cloud/environments?limit=1"
    resp = call("GET", url, headers=auth)          # urllib follows redirects
    log = records("rdf")
    T.check(resp.status == 200 and [r["status"] for r in log] == [302, 200]
            and log[0]["query"] == log[1]["query"] == "limit=1",
            "status=302: a client that follows redirects is caught in the log", log)
    resp = raw_call("PUT", "/_mock/tenant=rdp,status=307/v1.0/enterprise-projects/" + EP1,
                    body=b'{"name":"r"}', headers={"X-Auth-Token": mc.HW_FIXED_TOKEN})
    T.check(resp.status == 307 and resp.headers.get("location", "").endswith(
        "/_mock/tenant=rdp,status=307/v1.0/enterprise-projects/" + EP1)
        and eps_error_ok(resp, 307, "EPS.0001") and records("rdp")[-1]["applied"] is False,
        "status=307 on an EPS write: Location, EPS envelope, not applied")
    resp = raw_call("GET", f"/_mock/tenant=rdc,status=301/v1/applications/{APP1}/environments"
                    f"?project_id={CODEARTS_PROJECT}", headers={"X-Auth-Token": mc.HW_FIXED_TOKEN})
    T.check(resp.status == 301 and "location" in resp.headers and resp.json["status"] == "failed",
            "status=301 on CodeArts: Location and Deploy envelope")
    resp = raw_call("GET", "/_mock/tenant=rdh,status=308,body=html/api/v1/cloud/environments",
                    headers=auth)
    T.check(resp.status == 308 and resp.headers["content-type"].startswith("text/html")
            and "location" in resp.headers, "status=308,body=html: HTML page with Location")
    resp = raw_call("GET", "/_mock/tenant=rdn,status=503/api/v1/cloud/environments", headers=auth)
    T.check("location" not in resp.headers, "non-redirect statuses carry no Location")


def test_status_alone():
    """A 2xx/3xx status that is no redirect is only honoured as the status of body=html|empty."""
    auth = {"Authorization": f"Bearer {ADMIN}"}
    for opts in ("status=200", "status=204", "status=304", "status=201", "status=300",
                 "status=200,body=truncated", "status=204,body=html", "status=304,body=html",
                 "status=200,fault_count=1", "status=100", "status=199", "status=99",
                 "status=600"):
        resp = raw_call("GET", f"/_mock/tenant=sa,{opts}/api/v1/cloud/environments", headers=auth)
        T.check(resp.status == 400 and "status" in (resp.json or {}).get("mock_error", ""),
                f"{opts} is rejected with a mock_error naming status", resp.body[:200])
    T.check(records("sa") == [], "rejected status options reach no handler and are not logged")
    try:
        mc.MockOptions("status=200")
        message = None
    except mc.MockOptionError as error:
        message = str(error)
    T.check(message and "body=html" in message and "body=empty" in message,
            "status=200 alone: the error says it needs body=html or body=empty", message)
    resp = raw_call("GET", "/_mock/tenant=sa,status=200,body=html/api/v1/cloud/environments",
                    headers=auth)
    T.check(resp.status == 200 and resp.headers["content-type"].startswith("text/html")
            and resp.body == b"<html><body><h1>200 OK</h1></body></html>",
            "status=200,body=html: an HTML page with status 200", resp.body[:80])
    resp = raw_call("GET", "/_mock/tenant=sa,status=204,body=empty/api/v1/cloud/environments",
                    headers=auth)
    T.check(resp.status == 204 and resp.body == b"" and "content-length" not in resp.headers,
            "status=204,body=empty: 204 without a body", resp.headers)
    resp = raw_call("GET", "/_mock/tenant=sa,status=304,body=empty/api/v1/cloud/environments",
                    headers=auth)
    T.check(resp.status == 304 and resp.body == b"", "status=304,body=empty: 304 without a body")
    resp = raw_call("GET", "/_mock/tenant=sa,status=201,body=empty,fault_count=1"
                    "/api/v1/cloud/environments", headers=auth)
    T.check(resp.status == 201 and resp.body == b""
            and raw_call("GET", "/_mock/tenant=sa,status=201,body=empty,fault_count=1"
                         "/api/v1/cloud/environments", headers=auth).status == 200,
            "status=201,body=empty,fault_count=1: one empty 201, then served")
    T.check([r["status"] for r in records("sa")] == [200, 204, 304, 201, 200],
            "accepted 2xx/3xx statuses are logged as answered")


def test_unanswered_records_final():
    """Reset and hang records are final (status 0) before the client can see the reset or give up."""
    path = f"/environments/{SEED_ENV}"
    late = []
    for i in range(100):
        opts = "tenant=ur,reset=1" if i % 2 else "tenant=ur,after_apply=reset"
        got = outcome(qoder, "PUT", path, opts, body={"name": f"ur-{i}"}, timeout=5)
        last = records("ur")[-1]          # at once: no waiting for the record to settle
        expected = (0, not i % 2)
        if got != "reset" or (last["status"], last["applied"]) != expected:
            late.append((i, got, last["status"], last["applied"]))
    T.check(not late, "reset=1 / after_apply=reset: the record reads status 0 (not null) as soon "
            "as the client has seen the reset (100 requests)", late[:5])
    got = outcome(qoder, "GET", "/environments", "tenant=urh,hang=1", timeout=0.5)
    log = records("urh")
    T.check(got == "timeout" and [r["status"] for r in log] == [0],
            "hang=1: the record reads status 0 as soon as the client gave up", (got, log))
    got = outcome(qoder, "PUT", path, "tenant=urh,after_apply=hang", body={"name": "urh"},
                  timeout=0.5)
    log = records("urh")
    T.check(got == "timeout" and [(r["status"], r["applied"]) for r in log] == [(0, False), (0, True)],
            "after_apply=hang: status 0, applied, as soon as the client gave up", (got, log))
    time.sleep(0.5)   # the hung handlers notice the disconnects: they must log nothing more
    with open(MOCK.log_file, encoding="utf-8") as handle:
        lines = [line for line in map(json.loads, handle) if line["tenant"] in ("ur", "urh")]
    T.check(len(lines) == 102 and all(line["status"] == 0 for line in lines),
            "--log: one line, status 0, per reset or hung request (none written twice)", len(lines))


def concurrency(tenant=None):
    return call("GET", "/_mock/control/concurrency" + (f"?tenant={tenant}" if tenant else "")).json


def test_concurrency():
    """Records carry started/finished; /_mock/control/concurrency sweeps them."""
    opts = "latency_ms=200"
    results = {}
    barrier = threading.Barrier(4)

    def parallel(i):
        barrier.wait(5)
        results[i] = qoder("GET", "/environments?limit=1", f"tenant=ccpar,{opts}").status

    threads = [threading.Thread(target=parallel, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    T.check(sorted(results.values()) == [200] * 4, "concurrency: 4 parallel latency_ms=200 GETs "
            "answered", results)
    log = records("ccpar")
    spans = [(r["started"], r["finished"]) for r in log]
    T.check(len(log) == 4 and all(isinstance(start, float) and isinstance(end, float)
                                  and start <= end for start, end in spans),
            "records have started <= finished (floats)", spans)
    T.check(len(log) == 4 and all(r["finished"] - r["started"] >= 0.2 for r in log),
            "finished - started covers latency_ms=200",
            [r["finished"] - r["started"] for r in log])
    T.check(len(log) == 4 and max(r["started"] for r in log) < min(r["finished"] for r in log),
            "4 parallel requests: their intervals overlap",
            [(r["started"], r["finished"]) for r in log])
    got = concurrency("ccpar")
    T.check(got == {"requests": 4, "peak_in_flight": 4},
            "control concurrency: 4 parallel requests, peak_in_flight 4", got)

    for _ in range(4):
        qoder("GET", "/environments?limit=1", f"tenant=ccseq,{opts}")
    log = records("ccseq")
    T.check(len(log) == 4 and all(a["finished"] <= b["started"] for a, b in zip(log, log[1:])),
            "4 sequential requests: each starts after the previous one finished",
            [(r["started"], r["finished"]) for r in log])
    got = concurrency("ccseq")
    T.check(got == {"requests": 4, "peak_in_flight": 1},
            "control concurrency: 4 sequential requests, peak_in_flight 1", got)
    every = concurrency()
    T.check(set(every) == {"requests", "peak_in_flight"} and every["requests"] >= 8
            and every["peak_in_flight"] >= 4, "control concurrency without tenant: all tenants",
            every)
    T.check(concurrency("ccnone") == {"requests": 0, "peak_in_flight": 0},
            "control concurrency: a tenant without requests is 0, 0")

    # an unanswered request: finished null, and in flight until now
    slow = threading.Thread(target=qoder, args=("GET", "/environments?limit=1",
                                                "tenant=ccslow,latency_ms=1500"))
    slow.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not records("ccslow"):
        time.sleep(0.02)
    qoder("GET", "/environments?limit=1", "tenant=ccslow")
    log, got = records("ccslow"), concurrency("ccslow")
    slow.join(30)
    T.check(len(log) == 2 and log[0]["finished"] is None and log[0]["status"] is None
            and log[1]["finished"] is not None and log[1]["started"] >= log[0]["started"],
            "unanswered record: finished is null", log)
    T.check(got == {"requests": 2, "peak_in_flight": 2},
            "control concurrency: an unanswered request counts as in flight until now", got)
    log = records("ccslow")
    T.check(log[0]["finished"] is not None and log[0]["finished"] > log[1]["finished"],
            "the slow record is finished once answered, after the quick one", log)
    with open(MOCK.log_file, encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle if '"ccseq"' in line]
    T.check(len(lines) == 4 and all(line["started"] <= line["finished"] for line in lines),
            "--log lines carry started and finished", lines[:1])

    # the sweep itself, on hand-made intervals (a MockState without a server)
    state = mc.MockState(FIXTURES)
    for tenant, spans in (("touch", [(0.0, 1.0), (1.0, 2.0)]), ("nest", [(0.0, 5.0), (1.0, 2.0),
                          (1.5, 3.0), (4.0, 6.0)]), ("open", [(0.0, None), (0.5, None)])):
        for start, end in spans:
            record = {"tenant": tenant}
            state.begin_record(record)
            record["started"], record["finished"] = start, end
    T.check([state.concurrency(t)["peak_in_flight"] for t in ("touch", "nest", "open")] == [1, 3, 2]
            and state.concurrency() == {"requests": 8, "peak_in_flight": 6},
            "sweep: touching intervals do not overlap, nested ones do, unanswered ones last "
            "until now", [state.concurrency(t) for t in ("touch", "nest", "open", None)])
    state.close()


def test_rows_from():
    opts = "tenant=rf1,rows=5,rows_from=10"
    body = qoder("GET", "/environments?limit=100", opts).json
    T.check([e["id"] for e in body["data"]] == [mc.synthetic_env_id(i) for i in range(14, 9, -1)]
            and [e["name"] for e in body["data"]] == [f"env-{n:06d}" for n in range(15, 10, -1)]
            and not body["has_more"], "rows=5,rows_from=10: synthetic rows 10..14, newest first")
    created = [e["created_at"] for e in body["data"]]
    T.check(created == [mc.iso_micro(mc.SYNTH_EPOCH + i * mc.SYNTH_STEP) for i in range(14, 9, -1)],
            "rows_from: created_at = epoch + index minutes")
    base = [e["created_at"] for e in qoder("GET", "/environments?limit=100", "tenant=rf0,rows=5").json["data"]]
    T.check(base == [mc.iso_micro(mc.SYNTH_EPOCH + i * mc.SYNTH_STEP) for i in range(4, -1, -1)]
            and max(base) < min(created), "rows_from: default 0 unchanged; tenants hold disjoint ranges")
    T.check(list_all(opts, "limit=2") == [mc.synthetic_env_id(i) for i in range(14, 9, -1)],
            "rows_from: after_id paging walks all rows")
    T.check(list_all(opts + ",gen=c", "limit=2", via="page") == [mc.synthetic_env_id(i)
                                                                 for i in range(14, 9, -1)],
            "rows_from: gen=c page cursor walks all rows")
    gte = mc.iso_micro(mc.SYNTH_EPOCH + 12 * mc.SYNTH_STEP)
    T.check([e["name"] for e in qoder("GET", f"/environments?created_at[gte]={gte}", opts).json["data"]]
            == ["env-000015", "env-000014", "env-000013"], "rows_from: created_at[gte] filter")
    T.check(qoder("GET", f"/environments/{mc.synthetic_env_id(12)}", opts).json["name"] == "env-000013"
            and qoder("GET", f"/environments/{mc.synthetic_env_id(2)}", opts).status == 404,
            "rows_from: get by id inside / outside the range")
    upd = qoder("POST", f"/environments/{mc.synthetic_env_id(12)}", opts, body={"metadata": {"t": "1"}})
    T.check(upd.status == 200 and upd.json["metadata"] == {"index": "13", "t": "1"}
            and qoder("GET", f"/environments/{mc.synthetic_env_id(12)}", opts).json["metadata"]["t"] == "1",
            "rows_from: rows are updatable")
    started = time.monotonic()
    far = qoder("GET", "/environments?limit=100", "tenant=rf2,rows=100000,rows_from=100000").json
    T.check(far["data"][0]["name"] == "env-200000" and far["has_more"] and time.monotonic() - started < 3,
            "rows=100000,rows_from=100000: fast, newest is env-200000")
    T.check(call("GET", "/_mock/tenant=rf3,rows_from=5/api/v1/cloud/environments").status == 400,
            "rows_from without rows is rejected")


def test_not_found_envelopes():
    query = f"?project_id={CODEARTS_PROJECT}"
    missing = "0" * 32
    resp = hw("GET", f"/v1/applications/{missing}/environments{query}")
    T.check(resp.status == 404 and set(resp.json or {}) == {"error", "status"}
            and resp.json["status"] == "failed" and resp.json["error"]["code"] == "Deploy.00011020"
            and resp.json["error"]["message"], "codearts list of an unknown application: 404 "
            "Deploy.00011020 envelope", resp.body)
    T.check(deploy_error_ok(hw("GET", f"/v1/applications/{APP1}/environments?project_id={'9' * 32}"),
                            404, "Deploy.00011020"), "codearts list in the wrong project: 404 Deploy.00011020")
    T.check(deploy_error_ok(hw("GET", f"/v1/applications/{missing}/environments/{'f' * 32}"), 404,
                            "Deploy.00011020"), "codearts show under an unknown application: 404 Deploy.00011020")
    T.check(deploy_error_ok(hw("PUT", f"/v1/applications/{missing}/environments/{'f' * 32}", "tenant=nf",
                               body={"name": "abc"}), 404, "Deploy.00011020"),
            "codearts update under an unknown application: 404 Deploy.00011020")
    T.check(signed("GET", f"/v1/applications/{missing}/environments", query[1:], scope="project").status
            == 404, "codearts unknown application 404 with AK/SK too")
    for name, send in (
            ("qoder", lambda o: qoder("GET", "/environments", o)),
            ("codearts", lambda o: hw("GET", f"/v1/applications/{APP1}/environments{query}", o)),
            ("eps", lambda o: hw("GET", "/v1.0/enterprise-projects", o))):
        resp = send("tenant=nf,status=404,body=html")
        T.check(resp.status == 404 and resp.headers.get("content-type", "").startswith("text/html")
                and resp.body.startswith(b"<html>") and b"404" in resp.body and resp.json is None
                and resp.headers.get("content-length") == str(len(resp.body)),
                f"status=404,body=html on {name}: 404 with an HTML body, no JSON", resp.body[:80])
    resp = qoder("GET", "/environments", "tenant=nf,status=404")
    T.check(qoder_error_ok(resp, 404, "not_found_error"), "status=404 without body=html stays JSON")


def test_archived_listing():
    archived = {e["id"] for e in QODER_FIXTURE if e["archived"] or e.get("archived_at")}
    every = {e["id"] for e in QODER_FIXTURE}
    T.check(archived, "fixture has at least one archived environment", archived)
    for gen in ("a", "c"):
        opts = f"tenant=arch{gen},gen={gen}"
        shown = [e["id"] for e in qoder("GET", "/environments?limit=100&include_archived=true",
                                        opts).json["data"]]
        T.check(set(shown) == every and archived <= set(shown) and shown == sorted(shown, reverse=True),
                f"gen={gen}: include_archived=true lists the archived environments too")
        for query in ("limit=100", "limit=100&include_archived=false"):
            hidden = {e["id"] for e in qoder("GET", f"/environments?{query}", opts).json["data"]}
            T.check(hidden == every - archived, f"gen={gen}: {query} hides archived environments")
        walked = list_all(opts, "limit=2&include_archived=true", via="page" if gen == "c" else "after_id")
        T.check(walked == sorted(every, reverse=True),
                f"gen={gen}: paging with include_archived=true walks archived ones too")


def test_eps_filters():
    eps = "/v1.0/enterprise-projects"
    for value in ("0", "3", "-1", "1.0", "enabled", ""):
        T.check(eps_error_ok(hw("GET", f"{eps}?status={quote(value)}"), 400, "EPS.0002"),
                f"eps list: status={value!r} is 400 EPS envelope")
    for value in ("dev", "PROD", "Poc", "prod,poc", ""):
        T.check(eps_error_ok(hw("GET", f"{eps}?type={quote(value)}"), 400, "EPS.0002"),
                f"eps list: type={value!r} is 400 EPS envelope")
    for query in ("status=1", "status=2", "type=prod", "type=poc", "status=1&type=prod"):
        T.check(hw("GET", f"{eps}?{query}").status == 200, f"eps list: {query} is accepted")
    T.check(signed("GET", eps, "type=dev", scope="domain").status == 400,
            "eps list: bad type is 400 with AK/SK too")


# ---------------------------------------------------------------------------
# Phase 4: CodeArts applications, EPS resources and their migration
# ---------------------------------------------------------------------------

APP_LIST_FIELDS = {"id", "name", "project_id", "project_name", "is_disable", "deploy_system",
                   "execution_state", "release_id", "duration", "create_user_id", "create_time",
                   "update_time", "arrange_infos"}
APP_DETAIL_ONLY = {"description", "region", "create_type", "slave_cluster_id", "owner_tenant_id",
                   "permission_level"}
RESOURCE_FIELDS = {"project_id", "project_name", "resource_type", "resource_id", "resource_name",
                   "resource_detail", "enterprise_project_id"}
FIXTURE_TYPES = ["ecs", "disk", "eip", "vpcs", "rds", "cdn"]
EP_FINANCE = next(p["id"] for p in HW_FIXTURE["enterprise_projects"] if p["name"] == "finance-prod")
EP_RND = next(p["id"] for p in HW_FIXTURE["enterprise_projects"] if p["name"] == "研发中心")
EP_DATA_LAKE = next(p["id"] for p in HW_FIXTURE["enterprise_projects"] if p["name"] == "data-lake")
CJK_RE = re.compile(r"[\u4e00-\u9fff]")


def apps_list(body, opts=None, **kw):
    return hw("POST", "/v1/applications/list", opts, body=body, **kw)


def app_page(project, page=1, size=100, opts=None, **extra):
    return apps_list(dict({"project_id": project, "page": page, "size": size}, **extra), opts)


def fixture_apps(project):
    """The fixture applications of a CodeArts project in the list order (create_time, id)."""
    return sorted((a for a in APPS if a["project_id"] == project),
                  key=lambda a: (a["create_time"], a["id"]))


def eps_filter(ep_id, body, opts=None, **kw):
    return hw("POST", f"/v1.0/enterprise-projects/{ep_id}/resources/filter", opts, body=body, **kw)


def eps_migrate(target, body, opts=None, **kw):
    return hw("POST", f"/v1.0/enterprise-projects/{target}/resources-migrate", opts, body=body, **kw)


def resource_key(resource):
    return (resource["resource_type"], resource["project_id"], resource["resource_id"])


def fixture_resources(ep_id, types=FIXTURE_TYPES, projects=(NORTH, SOUTH)):
    """The fixture resources a filter of ``ep_id`` should answer, in its order."""
    return sorted((r for r in RESOURCES if r["enterprise_project_id"] == ep_id
                   and r["resource_type"] in types
                   and (r["resource_type"] == "cdn" or r["project_id"] in projects)),
                  key=resource_key)


def ids_of(items, key="id"):
    return [item[key] for item in items]


def test_fixture_shape():
    """The fixture holds what the new routes' tests (here and in the FDW) rely on."""
    projects = {a["project_id"] for a in APPS}
    T.check(len(APPS) >= 4 and len(projects) >= 2 and APPS[0]["id"] == APP1 and APPS[1]["id"] == APP2
            and any(a["is_disable"] for a in APPS) and any(not a["arrange_infos"] for a in APPS)
            and any(CJK_RE.search(a["name"]) for a in APPS)
            and all(APP_LIST_FIELDS | APP_DETAIL_ONLY <= set(a) for a in APPS)
            and all(a["execution_state"] in mc.DEPLOY_APP_STATES and a["deploy_system"] == "deployTemplate"
                    and isinstance(a["release_id"], int) and isinstance(a["is_disable"], bool)
                    and re.fullmatch(r"\d\d:\d\d:\d\d", a["duration"])
                    and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", a["create_time"])
                    and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", a["update_time"])
                    for a in APPS),
            "fixture: >= 4 applications over >= 2 projects, one disabled, one without arrange_infos, "
            "a CJK name, every AppExecutionInfo field")
    eps_ids = {r["enterprise_project_id"] for r in RESOURCES}
    T.check(15 <= len(RESOURCES) <= 25 and "0" in eps_ids and len(eps_ids) >= 3
            and set(FIXTURE_TYPES) <= {r["resource_type"] for r in RESOURCES}
            and all(set(r) == RESOURCE_FIELDS for r in RESOURCES)
            and all((r["project_id"], r["project_name"]) == ("", "") if r["resource_type"] == "cdn"
                    else REGIONS[r["project_name"]] == r["project_id"] for r in RESOURCES)
            and any(isinstance(r["resource_detail"], dict) for r in RESOURCES)
            and any(CJK_RE.search(r["resource_name"]) for r in RESOURCES)
            and len({resource_key(r) for r in RESOURCES}) == len(RESOURCES)
            and all(re.fullmatch(r"[0-9a-f]{32}", p) for p in REGIONS.values()),
            "fixture: 15-25 EPS resources over >= 3 enterprise projects incl. 0, types "
            "ecs/disk/eip/vpcs/rds/cdn, consistent region projects, a detail, a CJK name")


def test_codearts_apps_list():
    expected = fixture_apps(CODEARTS_PROJECT)
    resp = app_page(CODEARTS_PROJECT)
    body = resp.json or {}
    T.check(resp.status == 200 and set(body) == {"total_num", "result"}
            and body["total_num"] == len(expected) and ids_of(body["result"]) == ids_of(expected),
            "apps list: {total_num, result}, no status; create_time then id order", body)
    item = body["result"][0]
    T.check(APP_LIST_FIELDS <= set(item) and not (APP_DETAIL_ONLY | {"group_id", "environments"}) & set(item),
            "apps list: items have the AppExecutionInfo fields, no description/detail fields", set(item))
    fixture = {a["id"]: a for a in APPS}
    T.check(all(all(r[k] == fixture[r["id"]][k] for k in r) for r in body["result"]),
            "apps list: items carry the fixture values")
    page = app_page(CODEARTS_PROJECT, page=2, size=2).json
    T.check(page["total_num"] == len(expected) and ids_of(page["result"]) == ids_of(expected)[2:4],
            "apps list: page=2,size=2 is the last, short page with the full total")
    past = app_page(CODEARTS_PROJECT, page=5, size=2).json
    T.check(past == {"total_num": len(expected), "result": []}, "apps list: a page past the end is empty")
    walked, page_no = [], 1
    while True:     # TF's loop: stop when size*(page-1)+len(result) >= total_num
        got = app_page(CODEARTS_PROJECT, page=page_no, size=1).json
        walked += ids_of(got["result"])
        if (page_no - 1) + len(got["result"]) >= got["total_num"]:
            break
        page_no += 1
    T.check(walked == ids_of(expected), "apps list: size=1 paging walks every application once")
    second = app_page(CODEARTS_PROJECT2)
    T.check(ids_of(second.json["result"]) == ids_of(fixture_apps(CODEARTS_PROJECT2))
            and any(CJK_RE.search(a["name"]) for a in second.json["result"])
            and "支付网关".encode() in second.body, "apps list: second project, CJK name as UTF-8")
    T.check(app_page("f" * 32).json == {"total_num": 0, "result": []},
            "apps list: unknown project is an empty list")
    names = ids_of(app_page(CODEARTS_PROJECT, sort_name="name").json["result"], "name")
    T.check(names == sorted(a["name"] for a in expected), "apps list: sort_name=name")
    T.check(ids_of(app_page(CODEARTS_PROJECT, sort_name="name", sort_by="desc").json["result"], "name")
            == sorted((a["name"] for a in expected), reverse=True), "apps list: sort_name=name, sort_by=desc")
    T.check(ids_of(app_page(CODEARTS_PROJECT, sort_by="DESC").json["result"]) == ids_of(expected)[::-1],
            "apps list: sort_by=DESC alone reverses the create_time order")
    started = ids_of(app_page(CODEARTS_PROJECT2, sort_name="startTime").json["result"], "execution_time")
    T.check(started[0] is None and started[1:] == sorted(started[1:]),
            "apps list: sort_name=startTime, never-run applications first", started)
    T.check(ids_of(app_page(CODEARTS_PROJECT, states=["abort"]).json["result"], "name") == ["legacy-batch"]
            and app_page(CODEARTS_PROJECT, states=["succeeded", "failed"]).json["total_num"] == 2
            and app_page(CODEARTS_PROJECT, states=[]).json["total_num"] == len(expected),
            "apps list: states filter ([] filters nothing)")
    group = next(a["group_id"] for a in APPS if a.get("group_id"))
    grouped = [a["id"] for a in expected if a.get("group_id") == group]
    T.check(ids_of(app_page(CODEARTS_PROJECT, group_id=group).json["result"]) == grouped
            and ids_of(app_page(CODEARTS_PROJECT, group_id="no_grouped").json["result"])
            == [a["id"] for a in expected if not a.get("group_id")],
            "apps list: group_id filter (a group, no_grouped)")
    good = {"project_id": CODEARTS_PROJECT, "page": 1, "size": 10}
    bad_bodies = [
        ("no project_id", {"page": 1, "size": 10}), ("short project_id", dict(good, project_id="55837d")),
        ("numeric project_id", dict(good, project_id=5)), ("no page", {"project_id": CODEARTS_PROJECT, "size": 1}),
        ("page=0", dict(good, page=0)), ("page=100000", dict(good, page=100000)),
        ("page as a string", dict(good, page="1")), ("page=true", dict(good, page=True)),
        ("page=1.5", dict(good, page=1.5)), ("no size", {"project_id": CODEARTS_PROJECT, "page": 1}),
        ("size=0", dict(good, size=0)), ("size=101", dict(good, size=101)),
        ("sort_name=time", dict(good, sort_name="time")), ("sort_by=up", dict(good, sort_by="up")),
        ("states=[done]", dict(good, states=["done"])), ("states as a string", dict(good, states="failed")),
        ("group_id=g1", dict(good, group_id="g1")), ("a JSON array", [good]),
    ]
    for name, body in bad_bodies:
        T.check(deploy_error_ok(apps_list(body), 400, "DEV.CH.10001"), f"apps list: 400 DEV.CH.10001 for {name}")
    for raw in (b"", b"not json"):
        T.check(deploy_error_ok(apps_list(raw, headers={"Content-Type": "application/json"}), 400,
                                "DEV.CH.10001"), f"apps list: 400 for body {raw!r}")
    T.check(app_page(CODEARTS_PROJECT, page=99999, size=100).json
            == {"total_num": len(expected), "result": []}, "apps list: page=99999,size=100 accepted")
    T.check(hw("GET", "/v1/applications/list").status == 405, "apps list: GET is 405")


def test_codearts_app_rows():
    opts = "tenant=approws,app_rows=250"
    last = app_page(CODEARTS_PROJECT, page=3, size=100, opts=opts).json
    T.check(last["total_num"] == 250 and len(last["result"]) == 50
            and last["result"][-1]["name"] == "app-000250", "app_rows=250: total and last page")
    every = []
    for page in (1, 2, 3):
        every += app_page(CODEARTS_PROJECT, page=page, size=100, opts=opts).json["result"]
    T.check(len({a["id"] for a in every}) == 250
            and [a["name"] for a in every] == [f"app-{n:06d}" for n in range(1, 251)]
            and [a["id"] for a in every] == [mc.synthetic_deploy_app(i, CODEARTS_PROJECT, "Demo")["id"]
                                             for i in range(250)]
            and all(APP_LIST_FIELDS <= set(a) and "description" not in a for a in every),
            "app_rows: 250 distinct synthetic applications in create_time order (mock_cloud.synthetic_deploy_app)")
    T.check(any(a["is_disable"] for a in every) and any(not a["arrange_infos"] for a in every),
            "app_rows: some disabled, some without arrange_infos")
    T.check(app_page(CODEARTS_PROJECT2, opts=opts).json["total_num"] == len(fixture_apps(CODEARTS_PROJECT2)),
            "app_rows: the other project keeps its fixture applications")
    info = hw("GET", f"/v1/applications/{every[7]['id']}/info", opts).json
    T.check(info["status"] == "success" and info["result"]["description"] == "Synthetic application 8",
            "app_rows: a synthetic application's detail")
    T.check(deploy_error_ok(hw("GET", f"/v1/applications/{APP1}/info", opts), 404, "Deploy.00011020"),
            "app_rows: the project's fixture applications are replaced")
    resp = call("POST", "/_mock/app_rows=5,deploy_rows=5/v1/applications/list",
                {"project_id": CODEARTS_PROJECT, "page": 1, "size": 1}, {"X-Auth-Token": mc.HW_FIXED_TOKEN})
    T.check(resp.status == 400 and "app_rows" in resp.json.get("mock_error", ""),
            "app_rows with deploy_rows is rejected")
    T.check(hw("GET", f"/v1/applications/{APP1}/environments?project_id={CODEARTS_PROJECT}",
               "tenant=approws2,deploy_rows=7").json["total"] == 7
            and app_page(CODEARTS_PROJECT, opts="tenant=approws2,deploy_rows=7").json["total_num"]
            == len(fixture_apps(CODEARTS_PROJECT)), "deploy_rows still works; it leaves the applications alone")


def test_codearts_app_info_disable():
    for app in APPS:
        resp = hw("GET", f"/v1/applications/{app['id']}/info")
        expected = {k: v for k, v in app.items() if k not in ("environments", "group_id")}
        T.check(resp.status == 200 and resp.json == {"status": "success", "result": expected},
                f"app info: {app['name']}: status success, AppDetailInfo (list fields + detail)")
    T.check(deploy_error_ok(hw("GET", f"/v1/applications/{'0' * 32}/info"), 404, "Deploy.00011020"),
            "app info: unknown application 404 Deploy.00011020")
    opts = "tenant=dis"
    target = f"/v1/applications/{APP1}"
    before = hw("GET", f"{target}/info", opts).json["result"]
    resp = hw("PUT", f"{target}/disable", opts, body={"is_disable": True})
    after = hw("GET", f"{target}/info", opts).json["result"]
    T.check(resp.status == 200 and resp.json == {"status": "success"} and after["is_disable"] is True
            and before["is_disable"] is False and after["update_time"] > before["update_time"]
            and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", after["update_time"]),
            "app disable: 200 {status}, is_disable true, update_time now")
    listed = {a["id"]: a for a in app_page(CODEARTS_PROJECT, opts=opts).json["result"]}
    T.check(listed[APP1]["is_disable"] is True and hw("GET", f"{target}/info").json["result"]["is_disable"] is False,
            "app disable: the list shows it; other tenants unchanged")
    T.check(hw("PUT", f"{target}/disable", opts, body={"is_disable": False}).status == 200
            and hw("GET", f"{target}/info", opts).json["result"]["is_disable"] is False,
            "app disable: is_disable false enables it again")
    for body in ({}, {"is_disable": "true"}, {"is_disable": 1}, {"is_disable": None}, b"nope"):
        headers = {"Content-Type": "application/json"} if isinstance(body, bytes) else None
        T.check(deploy_error_ok(hw("PUT", f"{target}/disable", opts, body=body, headers=headers), 400,
                                "DEV.CH.10001"), f"app disable: 400 for {body!r}")
    T.check(deploy_error_ok(hw("PUT", f"/v1/applications/{'0' * 32}/disable", opts, body={"is_disable": True}),
                            404, "Deploy.00011020"), "app disable: unknown application 404")
    log = [r for r in records("dis") if r["path"].endswith("/disable")]
    T.check([(r["status"], r["applied"]) for r in log]
            == [(200, True), (200, True)] + [(400, False)] * 5 + [(404, False)]
            and log[0]["body"] == '{"is_disable": true}' and log[0]["method"] == "PUT",
            "app disable: logged with its body; applied only for the 200s", [(r["status"], r["applied"]) for r in log])
    resp = hw("PUT", f"{target}/disable", "tenant=dis2,after_apply=500", body={"is_disable": True})
    T.check(deploy_error_ok(resp, 500, "Deploy.00000500")
            and hw("GET", f"{target}/info", "tenant=dis2").json["result"]["is_disable"] is True
            and records("dis2")[-2]["applied"] is True, "app disable: after_apply=500 answers 500 after storing")
    T.check(outcome(hw, "PUT", f"{target}/disable", "tenant=dis3,after_apply=reset", body={"is_disable": True})
            == "reset" and hw("GET", f"{target}/info", "tenant=dis3").json["result"]["is_disable"] is True,
            "app disable: after_apply=reset")
    T.check(hw("PUT", f"{target}/disable", "tenant=dis4,after_apply=500", body={"is_disable": 3}).status == 400,
            "app disable: a refused write gets its 400 under after_apply")


def test_eps_resources_filter():
    every = fixture_resources("0")
    resp = eps_filter("0", {"resource_types": FIXTURE_TYPES, "projects": [NORTH, SOUTH]})
    body = resp.json or {}
    T.check(resp.status == 200 and set(body) == {"resources", "errors", "total_count"}
            and body["resources"] == every and body["total_count"] == len(every) and body["errors"] == [],
            "eps filter: resources of project 0 in (type, project, id) order, errors [], total_count", body)
    T.check(all(set(r) == RESOURCE_FIELDS for r in body["resources"]), "eps filter: resource item fields")
    north = eps_filter("0", {"resource_types": ["disk"], "projects": [NORTH]}).json
    T.check(north["resources"] == fixture_resources("0", ["disk"], [NORTH]) and north["total_count"] >= 2,
            "eps filter: one type in one region project")
    cdn = eps_filter(EP_FINANCE, {"resource_types": ["cdn"]}).json
    T.check([r["resource_name"] for r in cdn["resources"]] == ["finance.example.com"]
            and cdn["resources"][0]["project_id"] == "" and cdn["resources"][0]["project_name"] == "",
            "eps filter: a global type without projects; project_id and project_name are \"\"")
    T.check(eps_filter(EP_FINANCE, {"resource_types": ["cdn"], "projects": []}).json == cdn,
            "eps filter: projects [] is accepted for global types")
    fuzzy = eps_filter(EP1, {"resource_types": FIXTURE_TYPES, "projects": [NORTH, SOUTH],
                             "matches": [{"key": "resource_name", "value": "WEB-Server"}]}).json
    expected = [r for r in fixture_resources(EP1) if "web-server" in r["resource_name"]]
    T.check(len(expected) >= 3 and fuzzy["resources"] == expected and fuzzy["total_count"] == len(expected),
            "eps filter: matches resource_name is a case-insensitive substring (several hits)")
    both = eps_filter("0", {"resource_types": FIXTURE_TYPES, "projects": [NORTH, SOUTH],
                            "matches": [{"key": "resource_name", "value": "web"},
                                        {"key": "resource_name", "value": "EIP"}]}).json
    T.check([r["resource_name"] for r in both["resources"]] == ["web-server-01-eip"],
            "eps filter: several matches must all hold")
    cjk = eps_filter(EP_RND, {"resource_types": ["ecs", "disk"], "projects": [SOUTH],
                              "matches": [{"key": "resource_name", "value": "研发"}]})
    T.check(cjk.json["total_count"] == 2 and "研发测试服务器-01".encode() in cjk.body,
            "eps filter: CJK match and names served as UTF-8")
    mixed = eps_filter("0", {"resource_types": ["cdn", "ecs"], "projects": [SOUTH]}).json
    T.check([r["resource_type"] for r in mixed["resources"]] == ["cdn"],
            "eps filter: global resources come with region types whatever the projects")
    T.check(eps_filter("0", {"resource_types": ["ecs"], "projects": [EAST]}).json
            == {"resources": [], "errors": [], "total_count": 0}, "eps filter: an empty region project")
    disabled = eps_filter(EP_DISABLED, {"resource_types": ["ecs", "disk"], "projects": [NORTH]}).json
    T.check(disabled["total_count"] == len(fixture_resources(EP_DISABLED)),
            "eps filter: a disabled enterprise project still lists its resources")
    page = eps_filter("0", {"resource_types": FIXTURE_TYPES, "projects": [NORTH, SOUTH],
                            "offset": 2, "limit": 3}).json
    T.check(page["resources"] == every[2:5] and page["total_count"] == len(every),
            "eps filter: offset/limit slice, total_count before paging")
    T.check(eps_filter("0", {"resource_types": FIXTURE_TYPES, "projects": [NORTH, SOUTH],
                             "offset": len(every)}).json == {"resources": [], "errors": [],
                                                             "total_count": len(every)},
            "eps filter: offset at the end is an empty page")
    T.check(eps_error_ok(eps_filter("nope", {"resource_types": ["ecs"], "projects": [NORTH]}), 404,
                         "EPS.0005"), "eps filter: unknown enterprise project 404 EPS.0005")
    good = {"resource_types": ["ecs"], "projects": [NORTH]}
    bad_bodies = [
        ("limit=0", dict(good, limit=0), "EPS.0017"), ("limit=1001", dict(good, limit=1001), "EPS.0017"),
        ("limit as a string", dict(good, limit="5"), "EPS.0017"), ("offset=-1", dict(good, offset=-1), "EPS.0018"),
        ("offset=1.5", dict(good, offset=1.5), "EPS.0018"),
        ("no projects", {"resource_types": ["ecs"]}, "EPS.0020"),
        ("projects []", dict(good, projects=[]), "EPS.0020"),
        ("duplicated projects", dict(good, projects=[NORTH, NORTH]), "EPS.0021"),
        ("unknown project", dict(good, projects=["f" * 32]), "EPS.0022"),
        ("the IAM project id", dict(good, projects=[mc.HW_PROJECT["id"]]), "EPS.0022"),
        ("numeric project", dict(good, projects=[1]), "EPS.0022"),
        ("no resource_types", {"projects": [NORTH]}, "EPS.0023"),
        ("resource_types []", dict(good, resource_types=[]), "EPS.0023"),
        ("duplicated types", dict(good, resource_types=["ecs", "ecs"]), "EPS.0024"),
        ("unknown type", dict(good, resource_types=["vm"]), "EPS.0025"),
        ("type in upper case", dict(good, resource_types=["ECS"]), "EPS.0025"),
        ("matches not an array", dict(good, matches="web"), "EPS.0027"),
        ("match not an object", dict(good, matches=["web"]), "EPS.0027"),
        ("match key name", dict(good, matches=[{"key": "name", "value": "web"}]), "EPS.0028"),
        ("match value 5", dict(good, matches=[{"key": "resource_name", "value": 5}]), "EPS.0029"),
        ("match value of 256", dict(good, matches=[{"key": "resource_name", "value": "w" * 256}]), "EPS.0030"),
        ("projects with only cdn", {"resource_types": ["cdn"], "projects": [NORTH]}, "EPS.0038"),
        ("a JSON array", [good], "EPS.0002"),
        ("body over 200 KB", dict(good, matches=[{"key": "resource_name", "value": "w"}] * 8000), "EPS.0042"),
    ]
    for name, body, code in bad_bodies:
        T.check(eps_error_ok(eps_filter("0", body), 400, code), f"eps filter: 400 {code} for {name}")
    T.check(eps_error_ok(eps_filter("0", b"not json", headers={"Content-Type": "application/json"}), 400,
                         "EPS.0002"), "eps filter: 400 EPS.0002 for a body that is not JSON")
    T.check(eps_filter("0", dict(good, matches=[{"key": "resource_name", "value": "w" * 255}])).status == 200
            and eps_filter("0", dict(good, limit=1000, offset=0)).status == 200,
            "eps filter: a 255-character match and limit=1000 are accepted")
    T.check(hw("GET", "/v1.0/enterprise-projects/0/resources/filter").status == 405,
            "eps filter: GET is 405")


def test_eps_resource_rows():
    opts = "tenant=epsres,eps_resource_rows=2500"
    body = {"resource_types": ["ecs"], "projects": [EAST]}
    first = eps_filter("0", body, opts).json
    T.check(first["total_count"] == 2500 and len(first["resources"]) == 1000
            and first["resources"][0] == mc.synthetic_eps_resource(0, {"id": EAST, "name": "cn-east-3"})
            and first["resources"][0]["resource_name"] == "ecs-000001",
            "eps_resource_rows=2500: default limit 1000, total 2500 (mock_cloud.synthetic_eps_resource)")
    last = eps_filter("0", dict(body, offset=2000, limit=1000), opts).json
    T.check(len(last["resources"]) == 500 and last["total_count"] == 2500
            and last["resources"][-1]["resource_name"] == "ecs-002500", "eps_resource_rows: the last page")
    seen, offset = [], 0
    while True:     # TF's loop: offset += len(resources), stop on an empty page
        got = eps_filter("0", dict(body, offset=offset, limit=700), opts).json["resources"]
        if not got:
            break
        seen += got
        offset += len(got)
    T.check([r["resource_name"] for r in seen] == [f"ecs-{n:06d}" for n in range(1, 2501)],
            "eps_resource_rows: offset paging walks every resource once, in id order")
    mixed = eps_filter("0", {"resource_types": ["ecs"], "projects": [NORTH, EAST]}, opts).json
    T.check(mixed["total_count"] == 2500 + len(fixture_resources("0", ["ecs"], [NORTH])),
            "eps_resource_rows: the fixture resources are kept")
    T.check(eps_filter("0", body, opts).json["resources"][0]["enterprise_project_id"] == "0"
            and eps_filter("0", body).json["total_count"] == 0, "eps_resource_rows: only that tenant")
    started = time.monotonic()
    eps_filter("0", dict(body, matches=[{"key": "resource_name", "value": "ecs-0999"}]),
               "tenant=epsbig2,eps_resource_rows=100000")
    T.check(time.monotonic() - started < 3, "eps_resource_rows=100000: a filtered query is fast")


def test_eps_errors():
    body = {"resource_types": ["ecs", "disk", "cdn"], "projects": [NORTH, SOUTH]}
    clean = eps_filter("0", body).json
    resp = eps_filter("0", body, "tenant=epserr,eps_errors=disk")
    got = resp.json
    T.check(resp.status == 200 and [(e["project_id"], e["resource_type"], e["error_code"]) for e in got["errors"]]
            == [(NORTH, "disk", "EPS.0019"), (SOUTH, "disk", "EPS.0019")]
            and all(set(e) == {"project_id", "resource_type", "error_code", "error_msg"} and e["error_msg"]
                    for e in got["errors"]),
            "eps_errors=disk: one errors[] entry per asked region project, inside a 200", got)
    T.check(got["resources"] == [r for r in clean["resources"] if r["resource_type"] != "disk"]
            and got["total_count"] == clean["total_count"] - sum(r["resource_type"] == "disk"
                                                                 for r in clean["resources"]),
            "eps_errors: the failed type is left out of resources and total_count")
    one = eps_filter("0", body, f"tenant=epserr,eps_errors=disk:{SOUTH}").json
    T.check([(e["project_id"], e["resource_type"]) for e in one["errors"]] == [(SOUTH, "disk")]
            and any(r["resource_type"] == "disk" and r["project_id"] == NORTH for r in one["resources"])
            and not any(r["resource_type"] == "disk" and r["project_id"] == SOUTH for r in one["resources"]),
            "eps_errors=disk:PROJECT fails only that region project")
    glob = eps_filter("0", body, "tenant=epserr,eps_errors=cdn+ecs").json
    T.check([(e["project_id"], e["resource_type"]) for e in glob["errors"]]
            == [("", "cdn"), (NORTH, "ecs"), (SOUTH, "ecs")]
            and {r["resource_type"] for r in glob["resources"]} == {"disk"},
            "eps_errors=cdn+ecs: a global type fails with project_id \"\"; several types")
    T.check(eps_filter("0", {"resource_types": ["ecs"], "projects": [NORTH]}, "tenant=epserr,eps_errors=rds")
            .json["errors"] == [], "eps_errors: a type that is not asked reports nothing")
    T.check(eps_filter("0", body, "tenant=epserr").json == clean, "eps_errors: without the option errors is []")
    for bad in ("eps_errors=vm", f"eps_errors=cdn:{NORTH}", "eps_errors=ecs:xyz", "eps_errors="):
        resp = call("POST", f"/_mock/{bad}/v1.0/enterprise-projects/0/resources/filter", body,
                    {"X-Auth-Token": mc.HW_FIXED_TOKEN})
        T.check(resp.status == 400 and "eps_errors" in (resp.json or {}).get("mock_error", ""),
                f"{bad} is rejected")


def test_eps_migrate():
    opts = "tenant=mig"
    mover = next(r for r in RESOURCES if r["resource_name"] == "web-server-02")
    move = {"resource_id": mover["resource_id"], "resource_type": "ecs", "project_id": mover["project_id"]}
    ecs_south = {"resource_types": ["ecs"], "projects": [SOUTH]}
    resp = eps_migrate(EP_FINANCE, dict(move, associated=False), opts)
    T.check(resp.status == 204 and resp.body == b"" and "content-length" not in resp.headers,
            "eps migrate: 204 without a body")
    moved = eps_filter(EP_FINANCE, ecs_south, opts).json["resources"]
    T.check([r["resource_id"] for r in moved] == [mover["resource_id"]]
            and moved[0]["enterprise_project_id"] == EP_FINANCE
            and dict(moved[0], enterprise_project_id=mover["enterprise_project_id"]) == mover,
            "eps migrate: the resource lists under the target at once, otherwise unchanged")
    T.check(mover["resource_id"] not in ids_of(eps_filter(EP1, ecs_south, opts).json["resources"], "resource_id")
            and mover["resource_id"] in ids_of(eps_filter(EP1, ecs_south).json["resources"], "resource_id"),
            "eps migrate: gone from the source; other tenants unchanged")
    log = records("mig")
    record = next(r for r in log if r["path"].endswith("/resources-migrate"))
    T.check(record["method"] == "POST" and record["status"] == 204 and record["applied"] is True
            and json.loads(record["body"]) == dict(move, associated=False)
            and record["path"] == f"/v1.0/enterprise-projects/{EP_FINANCE}/resources-migrate",
            "eps migrate: logged with its body, applied=true", record)
    filters = [r for r in log if r["path"].endswith("/resources/filter")]
    T.check(filters and all(r["method"] == "POST" and r["applied"] is False and r["status"] == 200
                            and json.loads(r["body"]) == ecs_south for r in filters),
            "eps filter: logged as POST with its body, applied=false")
    T.check(eps_migrate(EP_FINANCE, move, opts).status == 204 and records("mig")[-1]["applied"] is False,
            "eps migrate: moving a resource to where it is: 204, not applied")
    T.check(eps_migrate("0", move, opts).status == 204
            and eps_filter("0", ecs_south, opts).json["resources"][0]["resource_id"] == mover["resource_id"],
            "eps migrate: to the default project 0")
    cdn = next(r for r in RESOURCES if r["resource_name"] == "static.example.com")
    T.check(eps_migrate(EP_DATA_LAKE, {"resource_id": cdn["resource_id"], "resource_type": "cdn"}, opts).status
            == 204 and ids_of(eps_filter(EP_DATA_LAKE, {"resource_types": ["cdn"]}, opts).json["resources"],
                              "resource_name") == ["static.example.com"],
            "eps migrate: a global resource without project_id")
    T.check(eps_migrate(EP_FINANCE, {"resource_id": cdn["resource_id"], "resource_type": "cdn", "project_id": ""},
                        opts).status == 204, "eps migrate: project_id \"\" is accepted for a global type")
    north_disk = next(r for r in RESOURCES if r["resource_type"] == "disk" and r["project_id"] == NORTH)
    cases = [
        ("unknown target", "f" * 8, move, "EPS.0032"),
        ("disabled target", EP_DISABLED, move, "EPS.0034"),
        ("unknown type", EP_FINANCE, dict(move, resource_type="vm"), "EPS.0031"),
        ("no resource_type", EP_FINANCE, {"resource_id": mover["resource_id"], "project_id": SOUTH}, "EPS.0031"),
        ("no resource_id", EP_FINANCE, {"resource_type": "ecs", "project_id": SOUTH}, "EPS.0032"),
        ("empty resource_id", EP_FINANCE, dict(move, resource_id=""), "EPS.0032"),
        ("no project_id for ecs", EP_FINANCE, {"resource_id": mover["resource_id"], "resource_type": "ecs"},
         "EPS.0020"),
        ("project_id for cdn", EP_FINANCE, {"resource_id": cdn["resource_id"], "resource_type": "cdn",
                                            "project_id": NORTH}, "EPS.0038"),
        ("unknown project", EP_FINANCE, dict(move, project_id="f" * 32), "EPS.0022"),
        ("resource in another project", EP_FINANCE, dict(move, project_id=NORTH), "EPS.0033"),
        ("resource of another type", EP_FINANCE, dict(move, resource_type="disk"), "EPS.0033"),
        ("unknown resource", EP_FINANCE, dict(move, resource_id=north_disk["resource_id"]), "EPS.0033"),
        ("associated not a boolean", EP_FINANCE, dict(move, associated="yes"), "EPS.0002"),
        ("region_id not a string", EP_FINANCE, dict(move, region_id=4), "EPS.0002"),
        ("a JSON array", EP_FINANCE, [move], "EPS.0002"),
    ]
    for name, target, body, code in cases:
        T.check(eps_error_ok(eps_migrate(target, body, "tenant=mig2"), 400, code),
                f"eps migrate: 400 {code} for {name}")
    T.check(all(r["applied"] is False for r in records("mig2"))
            and eps_filter(EP1, ecs_south, "tenant=mig2").json["total_count"]
            == len(fixture_resources(EP1, ["ecs"], [SOUTH])), "eps migrate: refused moves change nothing")


def test_eps_migrate_delay_and_faults():
    mover = next(r for r in RESOURCES if r["resource_name"] == "finance-app-02")
    move = {"resource_id": mover["resource_id"], "resource_type": "ecs", "project_id": NORTH}
    ecs_north = {"resource_types": ["ecs"], "projects": [NORTH]}

    def holder(opts):
        return {r["resource_id"]: r["enterprise_project_id"]
                for r in eps_filter(EP_FINANCE, ecs_north, opts).json["resources"]
                + eps_filter(EP_DATA_LAKE, ecs_north, opts).json["resources"]}.get(mover["resource_id"])

    started = time.monotonic()
    resp = eps_migrate(EP_DATA_LAKE, move, "tenant=delay,migrate_delay_ms=600")
    answered = time.monotonic() - started
    T.check(resp.status == 204 and answered < 0.5 and records("delay")[-1]["applied"] is True,
            f"migrate_delay_ms=600: 204 at once ({answered:.2f}s), applied=true")
    T.check(holder("tenant=delay") == EP_FINANCE, "migrate_delay_ms: not visible before the delay")
    time.sleep(0.8)
    T.check(holder("tenant=delay") == EP_DATA_LAKE, "migrate_delay_ms: visible after the delay")
    eps_migrate(EP_DATA_LAKE, move, "tenant=delay2,migrate_delay_ms=300")
    T.check(eps_migrate(EP_FINANCE, move, "tenant=delay2").status == 204 and records("delay2")[-1]["applied"],
            "migrate_delay_ms: moving back while a move is pending is a change")
    time.sleep(0.5)
    T.check(holder("tenant=delay2") == EP_FINANCE,
            "migrate_delay_ms: a later move of the resource replaces its pending one")
    resp = eps_migrate(EP_DATA_LAKE, move, "tenant=mfa,after_apply=500")
    T.check(eps_error_ok(resp, 500, "EPS.0000") and holder("tenant=mfa") == EP_DATA_LAKE
            and records("mfa")[0]["applied"] is True, "eps migrate: after_apply=500, the move is stored")
    T.check(outcome(eps_migrate, EP_DATA_LAKE, move, "tenant=mfr,after_apply=reset") == "reset"
            and holder("tenant=mfr") == EP_DATA_LAKE, "eps migrate: after_apply=reset")
    T.check(eps_error_ok(eps_migrate(EP_DATA_LAKE, move, "tenant=mfs,status=503"), 503, "EPS.0001")
            and holder("tenant=mfs") == EP_FINANCE and records("mfs")[0]["applied"] is False,
            "eps migrate: status=503 is refused before it is applied")
    opts = "tenant=mfc,status=503,fault_methods=POST,fault_count=1"
    statuses = [eps_migrate(EP_DATA_LAKE, move, opts).status, eps_migrate(EP_DATA_LAKE, move, opts).status]
    T.check(statuses == [503, 204] and holder("tenant=mfc") == EP_DATA_LAKE,
            "eps migrate: status=503,fault_count=1, then the retry moves it", statuses)


def test_new_routes_faults_and_auth():
    app_body = {"project_id": CODEARTS_PROJECT, "page": 1, "size": 10}
    filter_body = {"resource_types": ["ecs"], "projects": [NORTH]}
    routes = [
        ("apps list", lambda o, **kw: apps_list(app_body, o, **kw), "codearts"),
        ("app info", lambda o, **kw: hw("GET", f"/v1/applications/{APP1}/info", o, **kw), "codearts"),
        ("app disable", lambda o, **kw: hw("PUT", f"/v1/applications/{APP1}/disable", o,
                                           body={"is_disable": True}, **kw), "codearts"),
        ("eps filter", lambda o, **kw: eps_filter("0", filter_body, o, **kw), "eps"),
        ("eps migrate", lambda o, **kw: eps_migrate(EP_FINANCE, {
            "resource_id": RESOURCES[0]["resource_id"], "resource_type": "ecs", "project_id": NORTH}, o, **kw),
         "eps"),
        ("eps providers", lambda o, **kw: hw("GET", "/v1.0/enterprise-projects/providers", o, **kw), "eps"),
    ]
    for name, send, service in routes:
        resp = send("tenant=na", token=None)
        T.check(resp.status == 401 and (resp.json or {}).get("error_code") == "APIGW.0301",
                f"{name}: 401 APIGW.0301 without credentials")
        resp = send("tenant=na", token="forged")
        T.check(resp.status == 401, f"{name}: 401 with an unknown token")
        resp = send("tenant=nf4,status=500")
        ok = deploy_error_ok(resp, 500, "Deploy.00000500") if service == "codearts" else \
            eps_error_ok(resp, 500, "EPS.0000")
        T.check(ok, f"{name}: status=500 in the {service} envelope")
        resp = send("tenant=nf4,status=429")
        T.check(resp.status == 429 and resp.json["error_code"] == "APIGW.0308", f"{name}: 429 from the gateway")
        resp = send("tenant=nf4,body=html,status=502")
        T.check(resp.status == 502 and resp.headers["content-type"].startswith("text/html"), f"{name}: body=html")
        T.check(outcome(send, "tenant=nf4,reset=1") == "reset", f"{name}: reset=1")
        started = time.monotonic()
        T.check(send("tenant=nf5,latency_ms=300").status in (200, 204) and time.monotonic() - started >= 0.3,
                f"{name}: latency_ms=300")
    T.check(all(r["status"] == 0 for r in records("nf4") if r["opts"].endswith("reset=1")),
            "new routes: reset requests logged with status 0")
    T.check(isinstance(apps_list(app_body, "tenant=nf6,body=wrong_types").json["result"], str)
            and isinstance(eps_filter("0", filter_body, "tenant=nf6,body=wrong_types").json["resources"], str)
            and isinstance(eps_filter("0", filter_body, "tenant=nf6,body=no_envelope").json, list)
            and eps_filter("0", filter_body, "tenant=nf6,body=null_id").json["resources"][0].get("id") is None,
            "new routes: body=wrong_types / no_envelope damage the result and resources lists")
    resp = eps_filter("0", filter_body, "tenant=nf6,body=truncated")
    T.check(resp.status == 200 and resp.json is None, "eps filter: body=truncated")
    T.check(outcome(eps_filter, "0", filter_body, "tenant=nf7,hang=1", timeout=0.5) == "timeout",
            "eps filter: hang=1")
    iam = call("POST", "/v3/auth/tokens", iam_body({"project": {"name": "cn-north-4"}}))
    project_token = iam.headers.get("x-subject-token")
    domain_token = call("POST", "/v3/auth/tokens", iam_body({"domain": {"name": "test-domain"}})
                        ).headers.get("x-subject-token")
    T.check(apps_list(app_body, token=project_token).status == 200
            and apps_list(app_body, token=domain_token).status == 401,
            "apps list: project-scoped IAM token, not a domain one")
    T.check(eps_filter("0", filter_body, token=domain_token).status == 200
            and eps_filter("0", filter_body, token=project_token).status == 401,
            "eps filter: domain-scoped IAM token, not a project one")
    body = json.dumps(app_body).encode()
    T.check(signed("POST", "/v1/applications/list", body=body, scope="project").status == 200
            and signed("POST", "/v1/applications/list", body=body, scope="domain").status == 401,
            "apps list: AK/SK signed POST with X-Project-Id")
    T.check(signed("GET", f"/v1/applications/{APP1}/info", scope="project").status == 200,
            "app info: AK/SK signed")
    body = json.dumps(filter_body).encode()
    T.check(signed("POST", "/v1.0/enterprise-projects/0/resources/filter", body=body, scope="domain").status
            == 200 and signed("POST", "/v1.0/enterprise-projects/0/resources/filter", body=body,
                              scope="project").status == 401, "eps filter: AK/SK signed POST with X-Domain-Id")
    move = json.dumps({"resource_id": RESOURCES[0]["resource_id"], "resource_type": "ecs",
                       "project_id": NORTH}).encode()
    T.check(signed("POST", f"/v1.0/enterprise-projects/{EP_FINANCE}/resources-migrate", body=move,
                   opts="tenant=sigmig", scope="domain").status == 204
            and records("sigmig")[-1]["applied"] is True, "eps migrate: AK/SK signed, applied")
    apps_list(app_body, "tenant=lg")
    record = records("lg")[-1]
    T.check(record["method"] == "POST" and record["path"] == "/v1/applications/list"
            and json.loads(record["body"]) == app_body and record["applied"] is False and record["status"] == 200,
            "apps list: logged as POST with its body, applied=false", record)


def test_eps_providers():
    resp = hw("GET", "/v1.0/enterprise-projects/providers?locale=en-us&limit=200")
    body = resp.json or {}
    types = [t for p in body.get("providers", []) for t in p["resource_types"]]
    T.check(resp.status == 200 and body["total_count"] == len(body["providers"])
            and set(FIXTURE_TYPES) <= {t["resource_type"] for t in types}
            and len(types) == len({t["resource_type"] for t in types}),
            "eps providers: the catalogue, each type once", body.get("total_count"))
    cdn = next(t for t in types if t["resource_type"] == "cdn")
    ecs = next(t for t in types if t["resource_type"] == "ecs")
    T.check(cdn["global"] is True and cdn["regions"] == [] and ecs["global"] is False
            and ecs["regions"] == list(REGIONS), "eps providers: cdn is global, ecs has the regions")
    default = hw("GET", "/v1.0/enterprise-projects/providers").json
    T.check(len(default["providers"]) == 10 and default["total_count"] == body["total_count"]
            and default["providers"][0]["provider_i18n_display_name"] != body["providers"][0][
                "provider_i18n_display_name"], "eps providers: default limit 10, zh-cn names")
    page = hw("GET", "/v1.0/enterprise-projects/providers?locale=en-us&offset=3&limit=2").json
    T.check(page["providers"] == body["providers"][3:5], "eps providers: offset/limit")
    for query, code in (("limit=201", "EPS.0017"), ("limit=0", "EPS.0017"), ("offset=-1", "EPS.0018"),
                        ("locale=fr-fr", "EPS.0002")):
        T.check(eps_error_ok(hw("GET", f"/v1.0/enterprise-projects/providers?{query}"), 400, code),
                f"eps providers: {query} is 400 {code}")
    T.check(hw("GET", f"/v1.0/enterprise-projects/{EP1}").json["enterprise_project"]["id"] == EP1,
            "eps show still answers next to the providers route")


def test_shutdown(workdir):
    code, seconds = MOCK.stop(signal.SIGTERM)
    T.check(code == 0 and seconds < 5, f"SIGTERM with a hung request: clean exit ({seconds:.2f}s)", code)
    T.check("Traceback" not in MOCK.stderr(), "the server printed no traceback", MOCK.stderr()[-600:])
    second = Mock(workdir, "second")
    with open(second.port_file, encoding="ascii") as handle:
        T.check(handle.read().strip() == str(second.port), "port file holds the port")
    code, seconds = second.stop(signal.SIGINT)
    T.check(code == 0 and seconds < 5, "SIGINT: clean exit", code)


def start_hung_request():
    """Open a connection whose request the mock will never answer (for the shutdown check)."""
    sock = socket.create_connection(("127.0.0.1", MOCK.port))
    sock.sendall(b"GET /_mock/tenant=hang2,hang=1/api/v1/cloud/environments HTTP/1.1\r\n"
                 b"Host: x\r\nAuthorization: Bearer pt-test-admin\r\n\r\n")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not records("hang2"):
        time.sleep(0.05)
    return sock


def main():
    global MOCK
    workdir = tempfile.mkdtemp(prefix="mock_cloud_test_")
    MOCK = Mock(workdir)
    hung = None
    try:
        for test in (test_control_and_options, test_qoder_list, test_qoder_get_and_auth, test_qoder_update,
                     test_qoder_generations_and_rows, test_faults, test_keepalive_and_log,
                     test_signer_vectors, test_codearts, test_eps, test_iam_and_tokens, test_aksk,
                     test_log_complete_before_reply, test_applied, test_fault_skip, test_after_apply,
                     test_ignore_offset, test_redirects, test_status_alone,
                     test_unanswered_records_final, test_concurrency, test_rows_from,
                     test_not_found_envelopes,
                     test_archived_listing, test_eps_filters, test_fixture_shape,
                     test_codearts_apps_list, test_codearts_app_rows, test_codearts_app_info_disable,
                     test_eps_resources_filter, test_eps_resource_rows, test_eps_errors,
                     test_eps_migrate, test_eps_migrate_delay_and_faults,
                     test_new_routes_faults_and_auth, test_eps_providers):
            try:
                test()
            except Exception as error:  # a crashed group is one failure, the others still run
                T.check(False, f"{test.__name__} ran to the end", repr(error))
        hung = start_hung_request()
        test_shutdown(workdir)
    finally:
        if hung is not None:
            hung.close()
        MOCK.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{T.passed} passed, {T.failed} failed")
    return 1 if T.failed else 0


if __name__ == "__main__":
    sys.exit(main())
