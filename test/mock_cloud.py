#!/usr/bin/env python3
"""Mock cloud server for the cloud_fdw regression tests and benchmarks.

It serves, on 127.0.0.1 only, the REST APIs that cloud_fdw maps to foreign
tables, as their public documents describe them:

* Qoder Cloud Agents environments: ``/api/v1/cloud/environments`` (list, get,
  update by PUT or POST), bearer PATs.
* Huawei Cloud CodeArts Deploy environments
  (``/v1/applications/{app}/environments``), EPS enterprise projects
  (``/v1.0/enterprise-projects``) and the IAM password token API
  (``POST /v3/auth/tokens``), authenticated by IAM token or by real
  ``SDK-HMAC-SHA256`` AK/SK signatures.

Tests steer it through the URL alone: a path may start with
``/_mock/<key=value,...>/``; the prefix is stripped and the rest is served
as the real API path.  Options (see ``OPTIONS``): ``tenant``, ``rows``,
``rows_from``, ``eps_rows``, ``deploy_rows``, ``latency_ms``, ``status``,
``fault_methods``, ``fault_count``, ``fault_skip``, ``retry_after``,
``retry_after_ms``, ``body`` (html, empty, truncated, malformed, wrong_types,
no_envelope, nul, bad_utf8, deep, huge, big_numbers, nan,
infinity, null_id, empty_id, dot_id), ``hang``, ``reset``,
``after_apply`` (reset|hang|<status>), ``ignore_offset``, ``gen`` (a|c),
``cursor_loop``, ``token_ttl_s``.

Faults (``status``, ``body``, ``hang``, ``reset``, ``after_apply``) hit the
requests whose method is in ``fault_methods`` (all methods when absent).
Those requests are counted per tenant and raw option string: the first
``fault_skip`` of them pass untouched, the next ``fault_count`` fault (all
the rest when ``fault_count`` is absent); ``POST /_mock/control/reset``
restarts the counting.  ``status`` alone takes 400-599 (the provider's error
envelope) or 301|302|303|307|308, which add a ``Location`` header naming the
same URL (prefix included) on this mock, so a client that follows redirects
shows up as a second request in the log.  Any other 2xx/3xx code only sets
the status of ``body=html`` or ``body=empty`` (204 and 304: ``body=empty``
only); alone or with another body it is refused, as is every 1xx.

``after_apply`` only concerns writes (PUT/POST of Qoder environments, PUT of
CodeArts environments, EPS update and action; not IAM login), and only the
writes the mock applied are counted for it (``fault_skip``, ``fault_count``):
the write is performed and stored, then the answer is replaced by a TCP
reset, a hang, or the given status (400-599) with the provider's error
envelope; a write the mock rejects gets its normal error and uses up no fault.

Every request record (``GET /_mock/control/requests``, ``--log``) has
``status`` (0: no answer, hang or reset) and ``applied`` (true exactly when
the mock changed its stored data for the request; false for reads),
complete before the first byte of the answer is sent, or, for a reset or a
hang, before the connection is reset or left hanging.

Control API (never faulted, not logged): ``GET /_mock/control/requests
[?tenant=T]``, ``DELETE /_mock/control/requests``, ``POST
/_mock/control/reset``, ``GET /_mock/control/health``, ``GET
/_mock/control/connections?tenant=T``.

Usage::

    python3 test/mock_cloud.py --port 0 --port-file /tmp/x.port [--fixtures DIR] [--log FILE]

Python 3 standard library only.
"""

import argparse
import base64
import bisect
import copy
import hashlib
import hmac
import http
import io
import json
import os
import re
import secrets
import select
import signal
import socket
import struct
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote

# ---------------------------------------------------------------------------
# Test credentials and fixed ids (test data, not secrets)
# ---------------------------------------------------------------------------

QODER_TOKENS = {"pt-test-admin": "admin", "pt-test-readonly": "readonly"}

HW_DOMAIN = {"id": "d0000000000000000000000000000001", "name": "test-domain"}
HW_PROJECT = {"id": "p0000000000000000000000000000001", "name": "cn-north-4"}
HW_USER = {"id": "u0000000000000000000000000000001", "name": "test-user",
           "password": "test-password"}
HW_FIXED_TOKEN = "hw-test-token"
HW_SECURITY_TOKEN = "hw-test-security-token"
# AK -> (SK, security token that must accompany it or None)
HW_ACCESS_KEYS = {
    "HWTESTAK0000000000000": ("HWTESTSK00000000000000000000000000000000", None),
    "HWTEMPAK0000000000000": ("HWTEMPSK00000000000000000000000000000000",
                              HW_SECURITY_TOKEN),
}
HW_MAX_CLOCK_SKEW_S = 15 * 60
HW_DEFAULT_TOKEN_TTL_S = 24 * 3600

QODER_DEFAULT_LIMIT = 20
QODER_MAX_LIMIT = 100
HUGE_BODY_BYTES = 100 * 1024 * 1024
DEEP_BODY_LEVELS = 10000
# body=big_numbers: the metadata of the damaged item; integers beyond 64 bits
BIG_NUMBERS = {"big": 123456789012345678901234567890, "negative": -98765432109876543210987654321,
               "u64_max": 18446744073709551615, "i64_min": -9223372036854775808}

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def utcnow():
    """Current time as an aware UTC datetime (all stored times are UTC)."""
    return datetime.now(timezone.utc)


def iso_micro(moment):
    """Qoder/IAM timestamp style: ``2026-05-18T15:28:08.093156Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_seconds(moment):
    """EPS timestamp style: ``2018-05-18T06:49:06Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_json_bytes(obj):
    """Compact UTF-8 JSON, as real APIs send it (non-ASCII left unescaped)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_rfc3339(text):
    """Parse an RFC 3339 timestamp with an offset; None when it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def parse_int(text):
    """Strict decimal integer (no sign games, no floats); None when invalid."""
    if text is None or not re.fullmatch(r"-?[0-9]{1,18}", text):
        return None
    return int(text)


# ---------------------------------------------------------------------------
# Huawei SDK-HMAC-SHA256 signer (API Gateway "APIG" signing)
# ---------------------------------------------------------------------------

HW_SIGN_ALGORITHM = "SDK-HMAC-SHA256"
HW_SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
HW_AUTH_HEADER_RE = re.compile(
    r"SDK-HMAC-SHA256 Access=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})")


def hw_escape(text):
    """RFC 3986 escaping of the signer: only A-Z a-z 0-9 - _ . ~ stay literal."""
    return quote(text, safe="-_.~")


def hw_canonical_uri(raw_path):
    """Each path segment decoded then re-escaped; a trailing ``/`` is always added."""
    uri = "/".join(hw_escape(unquote(segment)) for segment in raw_path.split("/"))
    return uri if uri.endswith("/") else uri + "/"


def hw_canonical_query(raw_query):
    """Escaped ``name=value`` pairs sorted by name then value, joined by ``&``."""
    pairs = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((hw_escape(unquote(name)), hw_escape(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def hw_canonical_request(method, raw_path, raw_query, headers, signed_headers, body):
    """Build the canonical request of section 3.2 of the Huawei notes.

    ``headers`` maps lower-case names to values; ``signed_headers`` is the
    lower-case, sorted list from the Authorization header; ``body`` the exact
    bytes sent.
    """
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    return "\n".join([method.upper(), hw_canonical_uri(raw_path), hw_canonical_query(raw_query),
                      canonical_headers, ";".join(signed_headers),
                      hashlib.sha256(body).hexdigest()])


def hw_string_to_sign(sdk_date, canonical_request):
    """Algorithm, X-Sdk-Date and the hex SHA-256 of the canonical request."""
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{HW_SIGN_ALGORITHM}\n{sdk_date}\n{digest}"


def hw_signature(secret_key, sdk_date, canonical_request):
    """HMAC-SHA256 keyed directly with the SK (no key derivation), lower-case hex."""
    return hmac.new(secret_key.encode("utf-8"),
                    hw_string_to_sign(sdk_date, canonical_request).encode("utf-8"),
                    hashlib.sha256).hexdigest()


def hw_authorization(access_key, signed_headers, signature):
    """The Authorization header value the gateway expects."""
    return (f"{HW_SIGN_ALGORITHM} Access={access_key}, "
            f"SignedHeaders={';'.join(signed_headers)}, Signature={signature}")


def hw_sign(access_key, secret_key, method, raw_path, raw_query, headers, body=b""):
    """Sign a request over all of ``headers`` (must include X-Sdk-Date).

    Returns the Authorization header value.  The server only verifies; this
    client-side entry point exists so the self-test can send signed requests
    and check the known-answer vectors with the same code.
    """
    lower = {name.lower(): value for name, value in headers.items()}
    signed = sorted(lower)
    canonical = hw_canonical_request(method, raw_path, raw_query, lower, signed, body)
    return hw_authorization(access_key, signed,
                            hw_signature(secret_key, lower["x-sdk-date"], canonical))


# ---------------------------------------------------------------------------
# Mock options (the /_mock/<opts>/ path prefix)
# ---------------------------------------------------------------------------

# statuses of a status=N that stands alone besides 400-599 (they add a Location header)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# statuses whose answer has no body (status=N with body=empty only)
NO_BODY_STATUSES = (204, 304)

BODY_KINDS = ("html", "empty", "truncated", "malformed", "wrong_types", "no_envelope",
              "nul", "bad_utf8", "deep", "huge", "big_numbers", "nan", "infinity",
              "null_id", "empty_id", "dot_id")


class MockOptionError(ValueError):
    """A malformed or unknown option in the /_mock/ prefix (a test bug)."""


def _non_negative_int(text):
    """Counts and durations; a typo in a test should fail loudly, not be ignored."""
    value = parse_int(text)
    if value is None or value < 0:
        raise MockOptionError(f"expected a non-negative integer, got {text!r}")
    return value


def _flag(text):
    """Boolean options accept 1/0 and true/false."""
    if text not in ("0", "1", "true", "false"):
        raise MockOptionError(f"expected 1/0/true/false, got {text!r}")
    return text in ("1", "true")


def _tenant_name(text):
    """Tenant names end up in logs and dict keys: keep them plain."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", text):
        raise MockOptionError(f"bad tenant name {text!r}")
    return text


def _status(text):
    """Injected status: a final HTTP code (1xx are interim, never an answer).

    Whether a 2xx/3xx code may stand alone is checked by MockOptions."""
    value = _non_negative_int(text)
    if not 200 <= value <= 599:
        raise MockOptionError(f"status must be a final HTTP status code 200-599, got {text!r}")
    return value


def _methods(text):
    """``PUT+POST`` style list (``+`` because ``,`` separates options)."""
    return frozenset(method.upper() for method in text.split("+") if method)


def _body_kind(text):
    """One of BODY_KINDS."""
    if text not in BODY_KINDS:
        raise MockOptionError(f"body must be one of {', '.join(BODY_KINDS)}")
    return text


def _after_apply(text):
    """What replaces the answer of an applied write: reset, hang or an error status."""
    if text in ("reset", "hang"):
        return text
    value = parse_int(text)
    if value is None or not 400 <= value <= 599:
        raise MockOptionError(f"after_apply must be reset, hang or a status 400-599, got {text!r}")
    return value


def _generation(text):
    """Qoder doc generation to imitate: a (seed, no next_page) or c (next_page)."""
    if text not in ("a", "c"):
        raise MockOptionError("gen must be a or c")
    return text


# option name -> parser of its value; the attribute of MockOptions has the same name
OPTIONS = {
    "tenant": _tenant_name,        # isolated data set, created lazily
    "rows": _non_negative_int,     # seed the tenant with N synthetic Qoder environments
    "rows_from": _non_negative_int,    # ... namely synthetic rows K..K+N-1 (default 0)
    "eps_rows": _non_negative_int,     # ... N enterprise projects (incl. "default")
    "deploy_rows": _non_negative_int,  # ... N CodeArts environments in the first application
    "latency_ms": _non_negative_int,   # sleep before answering (every request)
    "status": _status,             # answer with this HTTP status and the provider's error body
                                   # (301/302/303/307/308 add Location: this same URL);
                                   # other 2xx/3xx only with body=html|empty
    "fault_methods": _methods,     # only these methods (PUT+POST) fault
    "fault_count": _non_negative_int,  # only the first N matching requests fault
    "fault_skip": _non_negative_int,   # the first K matching requests pass, faults start after
    "retry_after": str,            # Retry-After header on faulted answers
    "retry_after_ms": _non_negative_int,  # Retry-After-Ms header on faulted answers
    "body": _body_kind,            # broken success body (see BODY_KINDS)
    "hang": _flag,                 # never answer until the client disconnects
    "reset": _flag,                # close the connection with a TCP reset, no answer
    "after_apply": _after_apply,   # writes: store, then reset/hang/answer this error status
    "ignore_offset": _flag,        # EPS offset and CodeArts page_index are ignored (first page)
    "gen": _generation,            # Qoder doc generation: a (seed) or c (next_page cursor)
    "cursor_loop": _flag,          # Qoder list always says has_more with the same cursor
    "token_ttl_s": _non_negative_int,  # lifetime of IAM tokens issued by this request
}


class MockOptions:
    """Parsed /_mock/ options; ``raw`` is the option string as sent (fault counter key)."""

    def __init__(self, raw=""):
        self.raw = raw
        self.tenant = "default"
        self.rows = self.eps_rows = self.deploy_rows = None
        self.rows_from = 0
        self.latency_ms = 0
        self.status = None
        self.fault_methods = None
        self.fault_count = None
        self.fault_skip = 0
        self.retry_after = None
        self.retry_after_ms = None
        self.body = None
        self.hang = self.reset = self.cursor_loop = self.ignore_offset = False
        self.after_apply = None
        self.gen = "a"
        self.token_ttl_s = HW_DEFAULT_TOKEN_TTL_S
        for item in raw.split(","):
            if not item:
                continue
            key, sep, value = item.partition("=")
            if not sep or key not in OPTIONS:
                raise MockOptionError(f"unknown mock option {item!r}")
            setattr(self, key, OPTIONS[key](unquote(value)))
        if self.after_apply is not None and (self.status or self.body or self.hang or self.reset):
            raise MockOptionError("after_apply cannot be combined with status, body, hang or reset")
        if self.rows_from and self.rows is None:
            raise MockOptionError("rows_from needs rows")
        self._check_status()

    def _check_status(self):
        """A 2xx/3xx ``status`` that is no redirect is only the status of body=html|empty;
        anywhere else it would be silently ignored, so refuse it."""
        status = self.status
        if status is None or status >= 400 or status in REDIRECT_STATUSES:
            return
        if status in NO_BODY_STATUSES:
            if self.body != "empty":
                raise MockOptionError(f"status={status} has no body: it needs body=empty")
        elif self.body not in ("html", "empty"):
            raise MockOptionError(
                f"status={status} needs body=html or body=empty (alone, status takes 400-599 "
                f"or a redirect {'/'.join(map(str, REDIRECT_STATUSES))})")

    @property
    def has_fault(self):
        """True when the request may get a fault instead of (or on top of) its answer."""
        return bool(self.status or self.body or self.hang or self.reset
                    or self.after_apply is not None)


# ---------------------------------------------------------------------------
# Data stores
# ---------------------------------------------------------------------------

SYNTH_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
SYNTH_STEP = timedelta(minutes=1)
SYNTH_NETWORKS = ("unrestricted", "limited", "allowlist")


def synthetic_env_id(index):
    """Time-ordered (UUIDv7-like) id of synthetic environment ``index`` (0-based)."""
    millis = int((SYNTH_EPOCH + index * SYNTH_STEP).timestamp() * 1000)
    number = index + 1
    return "env_%012x7%03x%x%015x" % (millis, (number * 2654435761) & 0xFFF, 8 + (number & 3),
                                      (number * 0x9E3779B97F4A7C15) & (16 ** 15 - 1))


def synthetic_env(index):
    """Synthetic environment ``index``, built on demand so rows=100000 costs nothing upfront."""
    number = index + 1
    created = iso_micro(SYNTH_EPOCH + index * SYNTH_STEP)
    network = {"type": SYNTH_NETWORKS[index % 3]}
    if network["type"] == "allowlist":
        network["allowed_hosts"] = ["pypi.org", f"host-{number % 10}.example.com"]
    return {
        "id": synthetic_env_id(index), "type": "environment", "name": f"env-{number:06d}",
        "description": f"Synthetic environment {number}", "status": "ready",
        "archived": False, "archived_at": None,
        "config": {"type": "cloud", "networking": network, "packages": {"pip": ["requests"]}},
        "metadata": {"index": str(number)}, "created_at": created, "updated_at": created,
    }


class SyntheticIds:
    """Read-only ascending id sequence of synthetic environments ``first``..``first+count-1``
    (bisect-able, no storage)."""

    def __init__(self, count, first=0):
        self.count = count
        self.first = first

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        if not 0 <= index < self.count:
            raise IndexError(index)
        return synthetic_env_id(self.first + index)


class QoderStore:
    """One tenant's environments, ids kept in ascending order once.

    Lists walk this order backwards (descending id = newest first) and find
    cursors by bisection, so a page costs O(limit + log N) even for 100k rows.
    Environments are replaced, never mutated, so a reference handed out stays
    consistent after an update.
    """

    def __init__(self, ids, envs, factory=None):
        self.ids = ids
        self._envs = envs
        self._factory = factory

    @classmethod
    def from_fixture(cls, environments):
        envs = {env["id"]: copy.deepcopy(env) for env in environments}
        return cls(sorted(envs), envs)

    @classmethod
    def synthetic(cls, count, first=0):
        return cls(SyntheticIds(count, first), {}, lambda index: synthetic_env(first + index))

    def index_of(self, env_id):
        position = bisect.bisect_left(self.ids, env_id)
        if position < len(self.ids) and self.ids[position] == env_id:
            return position
        return None

    def at(self, index):
        env = self._envs.get(self.ids[index])
        return env if env is not None else self._factory(index)

    def get(self, env_id):
        index = self.index_of(env_id)
        return None if index is None else self.at(index)

    def put(self, env):
        """Replace an existing environment (updates never add ids)."""
        self._envs[env["id"]] = env


class RecordSet:
    """Huawei records by id plus their ids in creation order, sorted once.

    The default sort of both Huawei lists is creation time, so an unfiltered
    page is a slice of ``order`` even for large synthetic data sets.
    """

    def __init__(self, records, time_key):
        records = sorted(records, key=lambda record: (record[time_key], record["id"]))
        self.order = [record["id"] for record in records]
        self.by_id = {record["id"]: record for record in records}

    def page(self, start, count, descending, predicate=None, sort_key=None):
        """Return (total matching, one page) for offset ``start``."""
        if predicate is None and sort_key is None:
            ids = self.order[::-1] if descending else self.order
            return len(ids), [self.by_id[i] for i in ids[start:start + count]]
        rows = [self.by_id[i] for i in self.order]
        if predicate is not None:
            rows = [row for row in rows if predicate(row)]
        if sort_key is not None:
            rows.sort(key=sort_key, reverse=descending)
        elif descending:
            rows.reverse()
        return len(rows), rows[start:start + count]


def synthetic_deploy_env(index, project_id):
    """CodeArts environment ``index`` of a deploy_rows=N application."""
    number = index + 1
    created = SYNTH_EPOCH + index * SYNTH_STEP
    return {
        "id": hashlib.md5(f"deploy-env-{number}".encode()).hexdigest(),
        "name": f"env-{number:06d}", "description": f"Synthetic environment {number}",
        "os": "linux", "project_id": project_id, "nick_name": "Bench User",
        "deploy_type": index % 2, "instance_count": index % 5,
        "created_time": created.strftime("%Y-%m-%d %H:%M:%S.0"),
        "created_by": {"user_id": "0" * 31 + "1", "user_name": "bench_user"},
        "permission": {"can_delete": True, "can_deploy": True, "can_edit": True,
                       "can_manage": True, "can_view": True},
    }


def synthetic_enterprise_project(index):
    """Enterprise project ``index`` (1-based; 0 is always "default") of an eps_rows=N tenant."""
    digest = hashlib.md5(f"eps-{index}".encode()).hexdigest()
    stamp = iso_seconds(SYNTH_EPOCH + index * SYNTH_STEP)
    return {
        "id": f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:]}",
        "name": f"ep-{index:06d}", "description": f"Synthetic enterprise project {index}",
        "status": 1, "created_at": stamp, "updated_at": stamp,
        "type": "prod" if index % 4 else "poc", "delete_flag": False,
    }


class DeployApplication:
    """A CodeArts Deploy application and its environments."""

    def __init__(self, spec, environments):
        self.id = spec["id"]
        self.project_id = spec["project_id"]
        self.envs = RecordSet(environments, "created_time")


class Tenant:
    """An isolated copy of all provider data; ``lock`` guards every read and write."""

    def __init__(self, opts, fixtures):
        self.lock = threading.Lock()
        if opts.rows is not None:
            self.qoder = QoderStore.synthetic(opts.rows, opts.rows_from)
        else:
            self.qoder = QoderStore.from_fixture(fixtures["qoder"]["environments"])
        self.deploy_apps = {}
        for position, app in enumerate(fixtures["huawei"]["codearts"]["applications"]):
            envs = copy.deepcopy(app["environments"])
            if position == 0 and opts.deploy_rows is not None:
                envs = [synthetic_deploy_env(i, app["project_id"]) for i in range(opts.deploy_rows)]
            self.deploy_apps[app["id"]] = DeployApplication(app, envs)
        projects = copy.deepcopy(fixtures["huawei"]["enterprise_projects"])
        if opts.eps_rows is not None:
            default = [p for p in projects if p["id"] == "0"][:min(opts.eps_rows, 1)]
            projects = default + [synthetic_enterprise_project(i) for i in range(1, opts.eps_rows)]
        self.eps = RecordSet(projects, "created_at")


class MockState:
    """Everything shared between request threads: tenants, fault counters, log, tokens."""

    def __init__(self, fixtures_dir, log_path=None):
        self.fixtures = {}
        for key, name in (("qoder", "qoder_environments.json"), ("huawei", "huawei.json")):
            with open(os.path.join(fixtures_dir, name), encoding="utf-8") as handle:
                self.fixtures[key] = json.load(handle)
        self.lock = threading.Lock()
        self.tenants = {}
        self.fault_counts = {}
        self.requests = []
        self.seq = 0
        self.tokens = {}
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None

    def tenant(self, opts):
        """The tenant named by the options, created (and seeded) on first use."""
        with self.lock:
            tenant = self.tenants.get(opts.tenant)
            if tenant is None:
                tenant = self.tenants[opts.tenant] = Tenant(opts, self.fixtures)
            return tenant

    def take_fault(self, opts, method):
        """Decide whether this matching request faults, counting it for ``fault_skip``
        and ``fault_count``: matching requests K+1..K+N fault (K skip, N count)."""
        if opts.fault_methods is not None and method not in opts.fault_methods:
            return False
        if opts.fault_count is None and not opts.fault_skip:
            return True
        with self.lock:
            key = (opts.tenant, opts.raw)
            seen = self.fault_counts.get(key, 0)
            if opts.fault_count is not None and seen >= opts.fault_skip + opts.fault_count:
                return False        # done faulting; stop counting
            self.fault_counts[key] = seen + 1
            return seen >= opts.fault_skip

    def issue_token(self, scope, ttl_s):
        """Remember an IAM token with its scope ("project", "domain" or "unscoped")."""
        token = "MIIM" + secrets.token_urlsafe(96)
        issued = utcnow()
        expires = issued + timedelta(seconds=ttl_s)
        with self.lock:
            self.tokens[token] = (scope, expires)
        return token, issued, expires

    def token(self, token):
        with self.lock:
            return self.tokens.get(token)

    def begin_record(self, record):
        """Append a request to the log at arrival, so hung requests are visible too."""
        with self.lock:
            self.seq += 1
            record["seq"] = self.seq
            self.requests.append(record)

    def mark_applied(self, record):
        """The mock has changed its stored data for this request (visible at once)."""
        if record is not None:
            with self.lock:
                record["applied"] = True

    def finish_record(self, record, status, note=None):
        """Fill in the answered status (0 = none: hang or reset) and write the log line.

        Called before the first byte of an answer is sent, so a client that
        has its answer always finds the complete record."""
        with self.lock:
            record["status"] = status
            if note:
                record["note"] = note
            if self.log_file:
                self.log_file.write(json.dumps(record, ensure_ascii=False) + "\n")
                self.log_file.flush()

    def records(self, tenant=None):
        with self.lock:
            return [dict(r) for r in self.requests if tenant is None or r["tenant"] == tenant]

    def clear_log(self):
        with self.lock:
            count = len(self.requests)
            self.requests = []
            return count

    def reset(self):
        """Forget all tenants, fault counters and the log (issued IAM tokens stay valid)."""
        with self.lock:
            self.tenants = {}
            self.fault_counts = {}
            self.requests = []

    def close(self):
        if self.log_file:
            self.log_file.close()


# ---------------------------------------------------------------------------
# Requests, replies and error envelopes
# ---------------------------------------------------------------------------


class Reply:
    """An HTTP answer: either ``body`` bytes or a ``stream`` of chunks of known ``length``."""

    def __init__(self, status, body=b"", content_type="application/json",
                 headers=None, stream=None, length=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})
        self.stream = stream
        self.length = len(body) if stream is None else length

    @classmethod
    def json(cls, status, obj, headers=None):
        return cls(status, to_json_bytes(obj), headers=headers)


class ApiError(Exception):
    """Raised by handlers to answer with a ready-made error reply."""

    def __init__(self, reply):
        super().__init__(reply.status)
        self.reply = reply


class ApiRequest:
    """What a handler needs to know about one API request."""

    def __init__(self, state, opts, service, method, raw_path, path, query, headers, body):
        self.state = state
        self.service = service
        self.opts = opts
        self.method = method
        self.raw_path = raw_path          # as received, /_mock prefix included (signed)
        self.path = path                  # API path, prefix stripped
        self.query = query                # raw query string (signed)
        self.params = dict(reversed(parse_qsl(query, keep_blank_values=True)))
        self.headers = headers
        self.body = body
        self.match = {}
        self.note = None                  # diagnostic for the request log (auth failures)
        self.record = None                # its request log record (set by the dispatcher)
        self.finished = False             # its record has its final status (close_record)
        self.applied = False              # True once a handler changed stored data
        # echo the client's id (Qoder documents this); else Qoder uses UUIDs, Huawei 32 hex
        # Derived from the request, not random, so that test output that
        # quotes a request id stays the same from run to run.
        derived = uuid.uuid5(uuid.NAMESPACE_URL, f"{method} {raw_path}?{query} {body!r}")
        self.request_id = headers.get("x-request-id") or (
            str(derived) if service is not None and service.name == "qoder" else derived.hex)

    @property
    def tenant(self):
        """The tenant's data, created on first use."""
        return self.state.tenant(self.opts)

    def mark_applied(self):
        """Handlers call this right after storing a change (``applied`` in the log)."""
        self.applied = True
        self.state.mark_applied(self.record)

    def json_body(self):
        """The body as JSON, or None when it is not valid JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None


QODER_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                     403: "permission_error", 404: "not_found_error", 409: "conflict_error",
                     429: "rate_limit_error", 500: "api_error", 503: "overloaded_error"}


def qoder_error(req, status, message, param=None, error_type=None):
    """Qoder envelope: {"type":"error","error":{type,message,param?},"request_id"}."""
    error = {"type": error_type or QODER_ERROR_TYPES.get(status, "api_error"), "message": message}
    if param is not None:
        error["param"] = param
    return Reply.json(status, {"type": "error", "error": error, "request_id": req.request_id})


def qoder_fail(req, status, message, param=None):
    """The exception to ``raise`` for a Qoder error found deep inside validation."""
    return ApiError(qoder_error(req, status, message, param))


def apig_error(req, status, code, message):
    """Huawei API Gateway envelope (authentication, throttling)."""
    return Reply.json(status, {"error_msg": message, "error_code": code,
                               "request_id": req.request_id})


def deploy_error(status, code, message):
    """CodeArts Deploy envelope: {"error":{"code","message"},"status":"failed"}."""
    return Reply.json(status, {"error": {"code": code, "message": message}, "status": "failed"})


def deploy_fail(status, code, message):
    """The exception to ``raise`` for a CodeArts error."""
    return ApiError(deploy_error(status, code, message))


def eps_error(status, code, message):
    """EPS envelope: {"error":{"error_code","error_msg"}}."""
    return Reply.json(status, {"error": {"error_code": code, "error_msg": message}})


def eps_fail(status, code, message):
    """The exception to ``raise`` for an EPS error."""
    return ApiError(eps_error(status, code, message))


def iam_error(status, message):
    """IAM (Keystone) envelope: {"error":{"code","message","title"}}."""
    return Reply.json(status, {"error": {"code": status, "message": message,
                                         "title": status_phrase(status)}})


def status_phrase(status):
    """Reason phrase of a status code, tolerating codes http.HTTPStatus does not know."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def status_message(status):
    """Message of an injected error, saying plainly that the mock made it up."""
    return f"{status_phrase(status)} (injected by the mock)"


def qoder_status_error(req, status, message):
    """Injected/route errors of Qoder use its normal envelope."""
    return qoder_error(req, status, message)


def deploy_status_error(req, status, message):
    """Injected/route errors of CodeArts: gateway codes for 401/429, else Deploy codes."""
    if status in (401, 429):
        return huawei_gateway_error(req, status)
    code = {400: "DEV.CH.10001", 403: "Deploy.00011154", 404: "Deploy.00021438"}.get(
        status, f"Deploy.{status:08d}")
    return deploy_error(status, code, message)


def eps_status_error(req, status, message):
    """Injected/route errors of EPS: gateway codes for 401/429, else EPS codes."""
    if status in (401, 429):
        return huawei_gateway_error(req, status)
    code = {400: "EPS.0002", 403: "EPS.0004", 404: "EPS.0005", 409: "EPS.0010",
            500: "EPS.0000"}.get(status, "EPS.0001")
    return eps_error(status, code, message)


def iam_status_error(req, status, message):
    """Injected/route errors of IAM use the Keystone envelope."""
    return iam_error(status, message)


def huawei_gateway_error(req, status):
    """401 and 429 of Huawei services come from API Gateway, not from the service."""
    if status == 401:
        return apig_error(req, 401, "APIGW.0301",
                          "Incorrect IAM authentication information: verify aksk signature fail")
    return apig_error(req, status, "APIGW.0308", "The throttling threshold has been reached")


# ---------------------------------------------------------------------------
# Qoder Cloud Agents environments
# ---------------------------------------------------------------------------

QODER_NETWORK_TYPES = ("unrestricted", "limited", "allowlist", "allowed_hosts")
QODER_PACKAGE_MANAGERS = ("apt", "pip", "npm", "cargo", "gem", "go")
QODER_MAX_METADATA_KEYS = 16


def qoder_auth(req):
    """Bearer PAT check; read-only PATs may only read."""
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    role = QODER_TOKENS.get(token.strip()) if scheme.lower() == "bearer" else None
    if role is None:
        return qoder_error(req, 401, "Invalid API key or token.")
    if role == "readonly" and req.method not in ("GET", "HEAD"):
        return qoder_error(req, 403, "You do not have permission to access this resource.")
    return None


def encode_page_cursor(env_id):
    """Gen C opaque cursor; deliberately different from last_id so clients can't confuse them."""
    return "pg_" + base64.urlsafe_b64encode(env_id.encode()).decode().rstrip("=")


def decode_page_cursor(cursor):
    """Inverse of encode_page_cursor; None for anything we did not issue."""
    if not cursor.startswith("pg_"):
        return None
    payload = cursor[3:]
    try:
        return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


def qoder_list_params(req):
    """Validate the list query; returns (limit, cursor kind, cursor id, visibility test)."""
    params = req.params
    limit = QODER_DEFAULT_LIMIT
    if "limit" in params:
        limit = parse_int(params["limit"])
        if limit is None or not 1 <= limit <= QODER_MAX_LIMIT:
            raise qoder_fail(req, 400, f"limit must be an integer between 1 and {QODER_MAX_LIMIT}",
                             "limit")
    cursors = [name for name in ("after_id", "before_id", "page") if name in params]
    if len(cursors) > 1:
        raise qoder_fail(req, 400, "after_id, before_id and page are mutually exclusive",
                         cursors[1])
    cursor_kind = cursors[0] if cursors else None
    cursor_id = params.get(cursor_kind) if cursor_kind else None
    if cursor_kind == "page":
        cursor_id = decode_page_cursor(cursor_id)
        if cursor_id is None:
            raise qoder_fail(req, 400, "Invalid page cursor", "page")
    include_archived = params.get("include_archived", "false").lower()
    if include_archived not in ("true", "false", "1", "0"):
        raise qoder_fail(req, 400, "include_archived must be a boolean", "include_archived")
    show_archived = include_archived in ("true", "1")
    bounds = {}
    for name in ("created_at[gte]", "created_at[lte]"):
        if name in params:
            bounds[name] = parse_rfc3339(params[name])
            if bounds[name] is None:
                raise qoder_fail(req, 400, f"{name} must be an RFC 3339 timestamp", name)

    def visible(env):
        if not show_archived and (env.get("archived") or env.get("archived_at")):
            return False
        if bounds:
            created = parse_rfc3339(env["created_at"])
            if "created_at[gte]" in bounds and created < bounds["created_at[gte]"]:
                return False
            if "created_at[lte]" in bounds and created > bounds["created_at[lte]"]:
                return False
        return True

    return limit, cursor_kind, cursor_id, visible


def qoder_walk(store, start, step, want, visible):
    """Collect up to ``want`` visible environments walking the id order from ``start``."""
    found = []
    index = start
    while 0 <= index < len(store.ids) and len(found) < want:
        env = store.at(index)
        if visible(env):
            found.append(env)
        index += step
    return found


def qoder_list(req):
    """GET /environments: descending id order, id cursors (+ page cursor with gen=c)."""
    limit, cursor_kind, cursor_id, visible = qoder_list_params(req)
    tenant = req.tenant
    with tenant.lock:
        store = tenant.qoder
        if req.opts.cursor_loop or cursor_kind is None:
            start, step = len(store.ids) - 1, -1
        else:
            position = store.index_of(cursor_id)
            if position is None:
                raise qoder_fail(req, 400, f"Unknown cursor: {cursor_id}", cursor_kind)
            start, step = (position + 1, 1) if cursor_kind == "before_id" else (position - 1, -1)
        found = qoder_walk(store, start, step, limit + 1, visible)
    has_more = len(found) > limit or req.opts.cursor_loop
    data = found[:limit]
    if step == 1:       # before_id walked towards newer ids: present them newest first
        data.reverse()
    body = {"data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more}
    if req.opts.gen == "c":
        body["next_page"] = encode_page_cursor(body["last_id"]) \
            if has_more and body["last_id"] else None
    return Reply.json(200, body)


def qoder_get(req):
    """GET /environments/{id}; archived environments are retrievable too."""
    tenant = req.tenant
    with tenant.lock:
        env = tenant.qoder.get(req.match["env_id"])
    if env is None:
        raise qoder_fail(req, 404, "Environment with the given ID does not exist")
    return Reply.json(200, env)


def _string_list(req, value, param):
    """Allowed hosts and package lists must be arrays of strings."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise qoder_fail(req, 400, f"{param} must be an array of strings", param)
    return value


def _check_keys(req, obj, allowed, prefix):
    """Unknown fields are errors (naming the param) so client typos are caught."""
    for key in obj:
        if key not in allowed:
            raise qoder_fail(req, 400, f"Unknown field: {prefix}{key}", prefix + key)


def qoder_validate_config(req, config):
    """Validate a (partial) config; returns it with the Gen A string shorthand normalised."""
    if not isinstance(config, dict):
        raise qoder_fail(req, 400, "config must be an object", "config")
    _check_keys(req, config, ("type", "networking", "packages", "setup_script"), "config.")
    if config.get("type") is None:
        raise qoder_fail(req, 400, "config.type is required", "config.type")
    if config["type"] != "cloud":
        raise qoder_fail(req, 400, 'config.type must be "cloud"', "config.type")
    config = dict(config)
    networking = config.get("networking")
    if networking == "unrestricted":      # Gen A concept page shorthand
        networking = config["networking"] = {"type": "unrestricted"}
    if networking is not None:
        if not isinstance(networking, dict):
            raise qoder_fail(req, 400, "config.networking must be an object", "config.networking")
        _check_keys(req, networking,
                    ("type", "allowed_hosts", "allow_package_managers", "allow_mcp_servers"),
                    "config.networking.")
        if "type" in networking and networking["type"] not in QODER_NETWORK_TYPES:
            raise qoder_fail(req, 400, "config.networking.type must be one of unrestricted, "
                             "limited, allowlist", "config.networking.type")
        if "allowed_hosts" in networking:
            _string_list(req, networking["allowed_hosts"], "config.networking.allowed_hosts")
        for flag in ("allow_package_managers", "allow_mcp_servers"):
            if flag in networking and not isinstance(networking[flag], bool):
                raise qoder_fail(req, 400, f"config.networking.{flag} must be a boolean",
                                 f"config.networking.{flag}")
    packages = config.get("packages")
    if packages is not None:
        if not isinstance(packages, dict):
            raise qoder_fail(req, 400, "config.packages must be an object", "config.packages")
        _check_keys(req, packages, ("type",) + QODER_PACKAGE_MANAGERS, "config.packages.")
        if packages.get("type", "packages") != "packages":
            raise qoder_fail(req, 400, 'config.packages.type must be "packages"',
                             "config.packages.type")
        for manager in QODER_PACKAGE_MANAGERS:
            if manager in packages:
                _string_list(req, packages[manager], f"config.packages.{manager}")
    if "setup_script" in config and not isinstance(config["setup_script"], str):
        raise qoder_fail(req, 400, "config.setup_script must be a string", "config.setup_script")
    return config


def qoder_validate_metadata(req, metadata):
    """Metadata is a flat string map; null values are deletions."""
    if not isinstance(metadata, dict):
        raise qoder_fail(req, 400, "metadata must be an object", "metadata")
    for key, value in metadata.items():
        if not 1 <= len(key) <= 64:
            raise qoder_fail(req, 400, "metadata keys must be 1 to 64 characters", "metadata")
        if value is not None and (not isinstance(value, str) or len(value) > 512):
            raise qoder_fail(req, 400, "metadata values must be strings of at most 512 "
                             "characters (or null to delete)", f"metadata.{key}")
    return metadata


def qoder_validate_patch(req, patch):
    """Check an update body; only name, description, config and metadata may be sent."""
    if not isinstance(patch, dict):
        raise qoder_fail(req, 400, "Request body must be valid JSON.")
    _check_keys(req, patch, ("name", "description", "config", "metadata"), "")
    if "name" in patch and not (isinstance(patch["name"], str) and 1 <= len(patch["name"]) <= 256):
        raise qoder_fail(req, 400, "name must be a non-empty string of at most 256 characters",
                         "name")
    if "description" in patch and patch["description"] is not None and not (
            isinstance(patch["description"], str) and len(patch["description"]) <= 1024):
        raise qoder_fail(req, 400, "description must be a string of at most 1024 characters "
                         "or null", "description")
    if "config" in patch:
        patch = dict(patch, config=qoder_validate_config(req, patch["config"]))
    if "metadata" in patch:
        qoder_validate_metadata(req, patch["metadata"])
    return patch


def deep_merge(base, patch):
    """Nested partial update: objects merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def qoder_update(req):
    """PUT (Gen A) or POST (Gen C) /environments/{id}: partial update, returns the environment."""
    patch = qoder_validate_patch(req, req.json_body() if req.body.strip() else None)
    tenant = req.tenant
    with tenant.lock:
        env = tenant.qoder.get(req.match["env_id"])
        if env is None:
            raise qoder_fail(req, 404, "Environment with the given ID does not exist")
        updated = copy.deepcopy(env)
        for field in ("name", "description"):
            if field in patch:
                updated[field] = patch[field]
        if "config" in patch:
            updated["config"] = deep_merge(updated.get("config") or {}, patch["config"])
        if "metadata" in patch:
            metadata = dict(updated.get("metadata") or {})
            for key, value in patch["metadata"].items():
                if value is None:
                    metadata.pop(key, None)
                else:
                    metadata[key] = value
            if len(metadata) > QODER_MAX_METADATA_KEYS:
                raise qoder_fail(req, 400, f"metadata may have at most "
                                 f"{QODER_MAX_METADATA_KEYS} keys", "metadata")
            updated["metadata"] = metadata
        updated["updated_at"] = iso_micro(utcnow())
        tenant.qoder.put(updated)
    req.mark_applied()
    return Reply.json(200, updated)


# ---------------------------------------------------------------------------
# Huawei authentication (IAM token or AK/SK signature)
# ---------------------------------------------------------------------------


def hw_signature_problem(req, scope):
    """Verify an SDK-HMAC-SHA256 request; returns why it fails, or None when it is valid."""
    match = HW_AUTH_HEADER_RE.fullmatch(req.headers.get("Authorization", ""))
    if not match:
        return "Authorization is not 'SDK-HMAC-SHA256 Access=.., SignedHeaders=.., Signature=..'"
    access_key, signed_text, signature = match.groups()
    if access_key not in HW_ACCESS_KEYS:
        return f"unknown AK {access_key!r}"
    secret_key, security_token = HW_ACCESS_KEYS[access_key]
    signed = signed_text.split(";")
    if signed != sorted(set(signed)) or signed_text != signed_text.lower():
        return "SignedHeaders must be lower case, sorted and without duplicates"
    if "x-sdk-date" not in signed:
        return "x-sdk-date is not signed"
    headers = {}
    for name in signed:
        if req.headers.get(name) is None:
            return f"signed header {name} is missing"
        headers[name] = req.headers.get(name)
    try:
        sdk_date = datetime.strptime(headers["x-sdk-date"].strip(), HW_SDK_DATE_FORMAT)
    except ValueError:
        return "X-Sdk-Date is not YYYYMMDDTHHMMSSZ"
    skew = abs((utcnow() - sdk_date.replace(tzinfo=timezone.utc)).total_seconds())
    if skew > HW_MAX_CLOCK_SKEW_S:
        return f"X-Sdk-Date is {int(skew)} s away from the server clock"
    if security_token is not None:
        if "x-security-token" not in signed:
            return "a temporary AK needs a signed X-Security-Token"
        if headers["x-security-token"].strip() != security_token:
            return "wrong X-Security-Token"
    scope_header, scope_id = (("X-Domain-Id", HW_DOMAIN["id"]) if scope == "domain"
                              else ("X-Project-Id", HW_PROJECT["id"]))
    if req.headers.get(scope_header) != scope_id:
        return f"{scope_header} must be {scope_id}"
    canonical = hw_canonical_request(req.method, req.raw_path, req.query, headers, signed, req.body)
    expected = hw_signature(secret_key, headers["x-sdk-date"].strip(), canonical)
    if not hmac.compare_digest(expected, signature):
        return f"signature mismatch; server canonical request: {canonical!r}"
    return None


def hw_auth(req, scope):
    """Gateway check for CodeArts (project scope) and EPS (domain scope) requests."""
    token = req.headers.get("X-Auth-Token")
    if token is not None:
        if token == HW_FIXED_TOKEN:
            return None
        known = req.state.token(token)
        if known is None:
            problem = "unknown X-Auth-Token"
        elif known[1] <= utcnow():
            problem = "X-Auth-Token has expired"
        elif known[0] != scope:
            problem = f"X-Auth-Token is {known[0]}-scoped, this service needs {scope} scope"
        else:
            return None
        req.note = problem
        message = ("The token expires." if "expired" in problem
                   else "Incorrect IAM authentication information: decrypt token fail")
        return apig_error(req, 401, "APIGW.0301", message)
    if req.headers.get("Authorization") is None:
        req.note = "no X-Auth-Token and no Authorization header"
    else:
        req.note = hw_signature_problem(req, scope)
        if req.note is None:
            return None
    return huawei_gateway_error(req, 401)


# ---------------------------------------------------------------------------
# CodeArts Deploy environments
# ---------------------------------------------------------------------------

DEPLOY_NAME_RE = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9._-]{3,128}")
DEPLOY_SORT_KEYS = {
    "CREATED_TIME": None,   # the stored order
    "NAME": lambda env: (env["name"], env["id"]),
    "USER_NAME": lambda env: (env["created_by"]["user_name"], env["id"]),
    "NICK_NAME": lambda env: (env["nick_name"], env["id"]),
}


def deploy_param_error(message):
    """CodeArts reports every bad parameter as DEV.CH.10001."""
    return deploy_fail(400, "DEV.CH.10001", f"Param invalid: {message}")


def deploy_application(req):
    """The application of the path, or 404 Deploy.00011020."""
    app = req.tenant.deploy_apps.get(req.match["app_id"])
    if app is None:
        raise deploy_fail(404, "Deploy.00011020", "The application does not exist.")
    return app


def deploy_int_param(req, name, default, low, high):
    """page_index/page_size: integers within the documented range."""
    if name not in req.params:
        return default
    value = parse_int(req.params[name])
    if value is None or not low <= value <= high:
        raise deploy_param_error(f"{name} must be an integer in [{low}, {high}]")
    return value


def deploy_list(req):
    """GET .../environments: page_index/page_size pages, name filter, sort key/dir."""
    project_id = req.params.get("project_id")
    if not project_id:
        raise deploy_param_error("project_id is required")
    page_index = deploy_int_param(req, "page_index", 1, 1, 10 ** 9)
    page_size = deploy_int_param(req, "page_size", 10, 1, 100)
    name = req.params.get("name")
    if name is not None and len(name) > 128:
        raise deploy_param_error("name is longer than 128 characters")
    sort_key = req.params.get("sort_key", "CREATED_TIME").upper()
    sort_dir = req.params.get("sort_dir", "DESC").upper()
    if sort_key not in DEPLOY_SORT_KEYS:
        raise deploy_param_error("sort_key must be NAME, USER_NAME, CREATED_TIME or NICK_NAME")
    if sort_dir not in ("DESC", "ASC"):
        raise deploy_param_error("sort_dir must be DESC or ASC")
    tenant = req.tenant
    with tenant.lock:
        app = deploy_application(req)
        if app.project_id != project_id:
            raise deploy_fail(404, "Deploy.00011020",
                              "The application does not exist in this project.")
        start = 0 if req.opts.ignore_offset else (page_index - 1) * page_size
        total, page = app.envs.page(start, page_size, sort_dir == "DESC",
                                    (lambda env: name in env["name"]) if name else None,
                                    DEPLOY_SORT_KEYS[sort_key])
    return Reply.json(200, {"status": "success", "total": total, "result": page})


def deploy_environment(req, app):
    """The environment of the path within ``app``, or 404 Deploy.00021438."""
    env = app.envs.by_id.get(req.match["env_id"])
    if env is None:
        raise deploy_fail(404, "Deploy.00021438", "The environment does not exist.")
    return env


def deploy_show(req):
    """GET .../environments/{environment_id}."""
    tenant = req.tenant
    with tenant.lock:
        env = deploy_environment(req, deploy_application(req))
    return Reply.json(200, {"status": "success", "result": env})


def deploy_update(req):
    """PUT .../environments/{environment_id}: only name and description are editable."""
    body = req.json_body()
    if not isinstance(body, dict):
        raise deploy_param_error("the request body must be a JSON object")
    name, description = body.get("name"), body.get("description")
    if name is not None and not (isinstance(name, str) and DEPLOY_NAME_RE.fullmatch(name)):
        raise deploy_param_error("name must be 3-128 characters: Chinese characters, letters, "
                                 "digits, '-', '_' and '.'")
    if description is not None and not (isinstance(description, str) and len(description) <= 500):
        raise deploy_param_error("description must be a string of at most 500 characters")
    tenant = req.tenant
    with tenant.lock:
        app = deploy_application(req)
        env = deploy_environment(req, app)
        if name is not None and any(other["name"] == name and other["id"] != env["id"]
                                    for other in app.envs.by_id.values()):
            raise deploy_fail(400, "Deploy.00021443", "The environment name already exists.")
        updated = dict(env)
        if name is not None:
            updated["name"] = name
        if description is not None:
            updated["description"] = description
        app.envs.by_id[env["id"]] = updated
    req.mark_applied()
    return Reply.json(200, {"status": "success", "id": env["id"]})


# ---------------------------------------------------------------------------
# EPS enterprise projects
# ---------------------------------------------------------------------------

EPS_NAME_RE = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9_-]{1,255}")
EPS_TYPES = ("prod", "poc")
EPS_SORT_KEYS = ("created_at", "updated_at", "name")


def eps_list(req):
    """GET /v1.0/enterprise-projects: filters, offset/limit, sort."""
    params = req.params
    limit = parse_int(params.get("limit", "1000"))
    if limit is None or not 1 <= limit <= 1000:
        raise eps_fail(400, "EPS.0017", "Invalid limit.")
    offset = parse_int(params.get("offset", "0"))
    if offset is None or offset < 0:
        raise eps_fail(400, "EPS.0018", "Invalid offset.")
    status = params.get("status")
    if status is not None and status not in ("1", "2"):
        raise eps_fail(400, "EPS.0002", "Invalid status.")
    ep_type = params.get("type")
    if ep_type is not None and ep_type not in EPS_TYPES:
        raise eps_fail(400, "EPS.0002", "Invalid type.")
    sort_key = params.get("sort_key", "created_at")
    sort_dir = params.get("sort_dir", "desc")
    if sort_key not in EPS_SORT_KEYS or sort_dir not in ("desc", "asc"):
        raise eps_fail(400, "EPS.0002", "Invalid sort_key or sort_dir.")
    filters = []
    if "id" in params:
        filters.append(lambda ep: ep["id"] == params["id"])
    if params.get("name"):
        filters.append(lambda ep: params["name"].lower() in ep["name"].lower())
    if status is not None:
        filters.append(lambda ep: ep["status"] == int(status))
    if ep_type is not None:
        filters.append(lambda ep: ep["type"] == ep_type)
    predicate = (lambda ep: all(test(ep) for test in filters)) if filters else None
    key = None if sort_key == "created_at" else (lambda ep: (ep[sort_key], ep["id"]))
    tenant = req.tenant
    with tenant.lock:
        total, page = tenant.eps.page(0 if req.opts.ignore_offset else offset, limit,
                                      sort_dir == "desc", predicate, key)
    return Reply.json(200, {"enterprise_projects": page, "total_count": total})


def eps_project(tenant, ep_id):
    """The enterprise project ``ep_id``, or 404 EPS.0005."""
    project = tenant.eps.by_id.get(ep_id)
    if project is None:
        raise eps_fail(404, "EPS.0005", "The enterprise project does not exist.")
    return project


def eps_show(req):
    """GET /v1.0/enterprise-projects/{id}."""
    tenant = req.tenant
    with tenant.lock:
        project = eps_project(tenant, req.match["ep_id"])
    return Reply.json(200, {"enterprise_project": project})


def eps_update(req):
    """PUT /v1.0/enterprise-projects/{id}: name required, description and type optional."""
    ep_id = req.match["ep_id"]
    if ep_id == "0":
        raise eps_fail(400, "EPS.0012", "The default enterprise project cannot be modified.")
    body = req.json_body()
    if not isinstance(body, dict):
        raise eps_fail(400, "EPS.0002", "Bad request: the body must be a JSON object.")
    tenant = req.tenant
    with tenant.lock:
        project = eps_project(tenant, ep_id)
        if project["status"] != 1:
            raise eps_fail(400, "EPS.0014", "A disabled enterprise project cannot be modified.")
        name = body.get("name")
        if not (isinstance(name, str) and EPS_NAME_RE.fullmatch(name)) or name.lower() == "default":
            raise eps_fail(400, "EPS.0007", "Invalid enterprise project name.")
        description = body.get("description")
        if description is not None and not (isinstance(description, str) and len(description) <= 512):
            raise eps_fail(400, "EPS.0008", "Invalid enterprise project description.")
        ep_type = body.get("type")
        if ep_type is not None and ep_type not in EPS_TYPES:
            raise eps_fail(400, "EPS.0002", "Invalid enterprise project type.")
        if any(other["name"] == name and other["id"] != ep_id for other in tenant.eps.by_id.values()):
            raise eps_fail(409, "EPS.0010", "The enterprise project name already exists.")
        updated = dict(project, name=name, updated_at=iso_seconds(utcnow()))
        if description is not None:
            updated["description"] = description
        if ep_type is not None:
            updated["type"] = ep_type
        tenant.eps.by_id[ep_id] = updated
    req.mark_applied()
    return Reply.json(200, {"enterprise_project": updated})


def eps_action(req):
    """POST /v1.0/enterprise-projects/{id}/action: enable or disable, 204 without a body."""
    ep_id = req.match["ep_id"]
    if ep_id == "0":
        raise eps_fail(400, "EPS.0015",
                       "The default enterprise project does not support this operation.")
    body = req.json_body()
    action = body.get("action") if isinstance(body, dict) else None
    tenant = req.tenant
    with tenant.lock:
        project = eps_project(tenant, ep_id)
        if action not in ("enable", "disable"):
            raise eps_fail(400, "EPS.0013", "Invalid action.")
        tenant.eps.by_id[ep_id] = dict(project, status=1 if action == "enable" else 2,
                                       updated_at=iso_seconds(utcnow()))
    req.mark_applied()
    return Reply(204, content_type=None)


# ---------------------------------------------------------------------------
# IAM password tokens
# ---------------------------------------------------------------------------


def iam_scope(scope):
    """Map a request scope to ("project"|"domain"|"unscoped", scope object) or None if unknown."""
    if scope is None:
        return "unscoped", None
    if not isinstance(scope, dict):
        return None
    project, domain = scope.get("project"), scope.get("domain")
    if isinstance(project, dict) and (project.get("id") == HW_PROJECT["id"]
                                      or project.get("name") == HW_PROJECT["name"]):
        return "project", dict(HW_PROJECT, domain=dict(HW_DOMAIN))
    if isinstance(domain, dict) and (domain.get("id") == HW_DOMAIN["id"]
                                     or domain.get("name") == HW_DOMAIN["name"]):
        return "domain", dict(HW_DOMAIN)
    return None


def iam_issue_token(req):
    """POST /v3/auth/tokens (password method): 201, token in X-Subject-Token."""
    body = req.json_body()
    try:
        auth = body["auth"]
        methods = auth["identity"]["methods"]
        user = auth["identity"]["password"]["user"]
        domain = user.get("domain") or {}
        valid = ("password" in methods
                 and user.get("name") == HW_USER["name"]
                 and user.get("password") == HW_USER["password"]
                 and (domain.get("name") == HW_DOMAIN["name"] or domain.get("id") == HW_DOMAIN["id"]))
    except (KeyError, TypeError, AttributeError):
        return iam_error(400, "The request body is invalid.")
    if not valid:
        return iam_error(401, "The username or password is wrong.")
    scoped = iam_scope(auth.get("scope"))
    if scoped is None:
        return iam_error(400, "The scope is invalid: unknown project or domain.")
    kind, scope_object = scoped
    token, issued, expires = req.state.issue_token(kind, req.opts.token_ttl_s)
    info = {"expires_at": iso_micro(expires), "issued_at": iso_micro(issued),
            "methods": ["password"],
            "user": {"id": HW_USER["id"], "name": HW_USER["name"], "domain": dict(HW_DOMAIN),
                     "password_expires_at": ""},
            "roles": [{"id": "0", "name": "te_admin"}]}
    if kind != "unscoped":
        info[kind] = scope_object
    if req.params.get("nocatalog") != "true":
        info["catalog"] = []
    return Reply.json(201, {"token": info}, headers={"X-Subject-Token": token})


def redact_passwords(text):
    """Log copy of a body with every string "password" value replaced by ***."""
    def scrub(node):
        if isinstance(node, dict):
            return {key: "***" if key == "password" and isinstance(value, str) else scrub(value)
                    for key, value in node.items()}
        if isinstance(node, list):
            return [scrub(item) for item in node]
        return node
    try:
        return json.dumps(scrub(json.loads(text)), ensure_ascii=False)
    except ValueError:
        return re.sub(r'("password"\s*:\s*")(?:[^"\\]|\\.)*"', r'\1***"', text)


# ---------------------------------------------------------------------------
# Services and routes
# ---------------------------------------------------------------------------


class Service:
    """A provider API: which paths are its, how it authenticates and shapes errors."""

    def __init__(self, name, prefix, auth, status_error):
        self.name = name
        self.prefix = re.compile(prefix)
        self.auth = auth
        self.status_error = status_error


SERVICES = [
    Service("qoder", r"/api/v1/cloud(/|$)", qoder_auth, qoder_status_error),
    Service("codearts", r"/v1/applications(/|$)", lambda req: hw_auth(req, "project"),
            deploy_status_error),
    Service("eps", r"/v1\.0/enterprise-projects(/|$)", lambda req: hw_auth(req, "domain"),
            eps_status_error),
    Service("iam", r"/v3(/|$)", None, iam_status_error),
]

_ENV = r"/api/v1/cloud/environments"
_APP_ENVS = r"/v1/applications/(?P<app_id>[^/]+)/environments"
_EPS = r"/v1\.0/enterprise-projects"
# (methods, path pattern, handler); a trailing slash is tolerated on every path
ROUTES = [
    (("GET",), _ENV, qoder_list),
    (("GET",), _ENV + r"/(?P<env_id>[^/]+)", qoder_get),
    (("PUT", "POST"), _ENV + r"/(?P<env_id>[^/]+)", qoder_update),
    (("GET",), _APP_ENVS, deploy_list),
    (("GET",), _APP_ENVS + r"/(?P<env_id>[^/]+)", deploy_show),
    (("PUT",), _APP_ENVS + r"/(?P<env_id>[^/]+)", deploy_update),
    (("GET",), _EPS, eps_list),
    (("GET",), _EPS + r"/(?P<ep_id>[^/]+)", eps_show),
    (("PUT",), _EPS + r"/(?P<ep_id>[^/]+)", eps_update),
    (("POST",), _EPS + r"/(?P<ep_id>[^/]+)/action", eps_action),
    (("POST",), r"/v3/auth/tokens", iam_issue_token),
]
COMPILED_ROUTES = [(methods, re.compile(pattern + "/?"), handler)
                   for methods, pattern, handler in ROUTES]


def find_service(path):
    """The provider API that owns ``path`` (decides auth and error envelope)."""
    for service in SERVICES:
        if service.prefix.match(path):
            return service
    return None


def generic_status_error(req, status, message):
    """Error body for paths no provider owns (only reachable through test mistakes)."""
    return Reply.json(status, {"mock_error": message})


def route_request(req):
    """Authenticate, then run the handler of the matching route (404/405 otherwise)."""
    service = req.service
    if service is None:
        return Reply.json(404, {"mock_error": f"no mock API serves {req.path}"})
    if service.auth is not None:
        denied = service.auth(req)
        if denied is not None:
            return denied
    path_known = False
    for methods, pattern, handler in COMPILED_ROUTES:
        match = pattern.fullmatch(req.path)
        if match:
            if req.method not in methods:
                path_known = True
                continue
            req.match = {key: unquote(value) for key, value in match.groupdict().items()}
            try:
                return handler(req)
            except ApiError as error:
                return error.reply
    if path_known:
        if service.name == "qoder":
            return qoder_error(req, 405, "Method not allowed", error_type="invalid_request_error")
        return service.status_error(req, 405, "Method not allowed")
    return service.status_error(req, 404, "Not found")


# ---------------------------------------------------------------------------
# Broken bodies (body=KIND)
# ---------------------------------------------------------------------------

COLLECTION_KEYS = ("data", "result", "enterprise_projects", "enterprise_project", "token")
PLACEHOLDER = "@@mock-placeholder@@"


def _item_to_damage(obj):
    """The first record of a list body (or the single record) whose description we break."""
    if isinstance(obj, dict):
        for key in COLLECTION_KEYS:
            value = obj.get(key)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                return value[0]
            if isinstance(value, dict):
                return value
        return obj
    return None


def _wrong_types(obj):
    """Collections become strings; without one, strings become numbers and objects strings."""
    replaced = False
    for key in COLLECTION_KEYS:
        if key in obj:
            obj[key] = "unexpected string"
            replaced = True
    if not replaced:
        for key in ("id", "name", "config", "metadata", "status"):
            if isinstance(obj.get(key), str):
                obj[key] = 12345
            elif isinstance(obj.get(key), dict):
                obj[key] = "unexpected string"
    return obj


def _placeholder_body(obj):
    """Serialise ``obj`` with PLACEHOLDER as one description; returns (head, tail) bytes around it."""
    target = _item_to_damage(obj)
    target["description"] = PLACEHOLDER
    head, _, tail = to_json_bytes(obj).partition(PLACEHOLDER.encode())
    return head, tail


def broken_body(kind, reply):
    """Replace a successful JSON reply's body as ``body=KIND`` asks (html/empty are handled earlier)."""
    if kind == "malformed":
        return Reply(reply.status, b'{"data": [ {"id": "env_x", }', headers=reply.headers)
    if kind == "deep":
        levels = DEEP_BODY_LEVELS - 1
        body = b'{"data":' + b"[" * levels + b"]" * levels + b',"has_more":false}'
        return Reply(reply.status, body, headers=reply.headers)
    if kind == "truncated":
        return Reply(reply.status, reply.body[:len(reply.body) // 2], headers=reply.headers)
    obj = json.loads(reply.body)
    if kind == "wrong_types":
        return Reply.json(reply.status, _wrong_types(obj), headers=reply.headers)
    if kind == "no_envelope":
        items = next((obj[key] for key in COLLECTION_KEYS if isinstance(obj.get(key), list)), [obj])
        return Reply.json(reply.status, items, headers=reply.headers)
    if kind == "nul":
        _item_to_damage(obj)["description"] = "before\u0000after"
        return Reply.json(reply.status, obj, headers=reply.headers)
    if kind in ("null_id", "empty_id", "dot_id"):
        # an item no request path can name: what a client must refuse to PUT
        _item_to_damage(obj)["id"] = {"null_id": None, "empty_id": "", "dot_id": ".."}[kind]
        return Reply.json(reply.status, obj, headers=reply.headers)
    if kind in ("big_numbers", "nan", "infinity"):
        # Python's json writes NaN and Infinity literals, as some APIs do
        _item_to_damage(obj)["metadata"] = {"big_numbers": dict(BIG_NUMBERS),
                                            "nan": {"ratio": float("nan")},
                                            "infinity": {"limit": float("-inf")}}[kind]
        return Reply.json(reply.status, obj, headers=reply.headers)
    head, tail = _placeholder_body(obj)
    if kind == "bad_utf8":
        return Reply(reply.status, head + b"bad \xc3\x28 utf8" + tail, headers=reply.headers)
    return huge_reply(reply, head, tail)


def huge_reply(reply, head, tail):
    """A valid body with one 100 MB description, streamed in 1 MB chunks, never built whole."""
    chunk = b"x" * (1024 * 1024)

    def chunks():
        yield head
        for _ in range(HUGE_BODY_BYTES // len(chunk)):
            yield chunk
        yield tail
    return Reply(reply.status, headers=reply.headers, stream=chunks(),
                 length=len(head) + HUGE_BODY_BYTES + len(tail))


HTML_ERROR_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def html_error_page(status):
    """The HTML page of body=html: HTML_ERROR_PAGE with the code and phrase of ``status``."""
    return f"<html><body><h1>{status} {status_phrase(status)}</h1></body></html>".encode()


# ---------------------------------------------------------------------------
# Control API (/_mock/control/...)
# ---------------------------------------------------------------------------


def control_requests(state, params):
    """The request log, optionally of one tenant."""
    return state.records(params.get("tenant"))


def control_clear(state, params):
    """Empty the request log."""
    return {"ok": True, "cleared": state.clear_log()}


def control_reset(state, params):
    """Fresh tenants, fault counters and log."""
    state.reset()
    return {"ok": True}


def control_health(state, params):
    """Liveness probe for test harnesses."""
    return {"ok": True}


def control_connections(state, params):
    """Requests and distinct client ports of a tenant: a keep-alive client reuses one port."""
    records = state.records(params.get("tenant"))
    return {"requests": len(records),
            "distinct_client_ports": len({record["client_port"] for record in records})}


CONTROL_ROUTES = {
    ("GET", "requests"): control_requests,
    ("DELETE", "requests"): control_clear,
    ("POST", "reset"): control_reset,
    ("GET", "health"): control_health,
    ("GET", "connections"): control_connections,
}

MOCK_PREFIX_RE = re.compile(r"/_mock/([^/]*)(/.*)?")


# ---------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------


class MockHandler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive, every answer framed by Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "cloud-fdw-mock/1.0"

    def setup(self):
        """Disable Nagle: headers and body go out in separate writes, and with the
        client's delayed ACK each keep-alive request would otherwise stall ~40 ms."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        """Silence the per-request stderr line; the request log replaces it."""

    def do_GET(self):
        """Every method goes through dispatch; routes decide what is allowed."""
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def read_body(self):
        """Read the request body (Content-Length or chunked) so keep-alive stays in sync."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def dispatch(self):
        """Control routes, or: strip and parse the /_mock/ prefix, log, answer."""
        state = self.server.state
        raw_path, _, query = self.path.partition("?")
        try:
            body = self.read_body()
        except ValueError as error:
            self.close_connection = True
            self.send_reply(Reply.json(400, {"mock_error": f"bad request body framing: {error}"}))
            return
        prefix = MOCK_PREFIX_RE.fullmatch(raw_path)
        if prefix and prefix.group(1) == "control":
            self.send_reply(self.control(state, (prefix.group(2) or "/").strip("/"), query))
            return
        opts_text, path = (prefix.group(1), prefix.group(2) or "/") if prefix else ("", raw_path)
        try:
            opts = MockOptions(opts_text)
        except MockOptionError as error:
            self.send_reply(Reply.json(400, {"mock_error": str(error)}))
            return
        service = find_service(path)
        req = ApiRequest(state, opts, service, self.command, raw_path, path, query, self.headers,
                         body)
        text = body.decode("utf-8", errors="replace")
        record = {"tenant": opts.tenant, "opts": opts_text, "method": self.command, "path": path,
                  "query": query, "headers": dict(self.headers.items()),
                  "body": redact_passwords(text) if service and service.name == "iam" else text,
                  "client_port": self.client_address[1], "status": None, "applied": False}
        state.begin_record(record)
        req.record = record
        try:
            reply = self.answer(req)
            if reply is not None:
                reply.headers.setdefault("x-request-id", req.request_id)
                # complete the record before any byte leaves: a client that has its
                # answer and then asks /_mock/control/requests must see the status
                self.close_record(req, reply.status)
                self.send_reply(reply)
        finally:
            self.close_record(req, 0)   # no answer (shutdown) or a mock bug; no-op once closed

    @staticmethod
    def close_record(req, status):
        """Give the request's record its final status and write its log line, once."""
        if not req.finished:
            req.finished = True
            req.state.finish_record(req.record, status, req.note)

    def no_answer(self, req, how):
        """Reset the connection or hang (``how``), the record completed with status 0
        first: a client that sees the reset or gives up finds it final in the log."""
        self.close_record(req, 0)
        if how == "reset":
            self.reset_connection()
        else:
            self.hang()

    def answer(self, req):
        """Apply latency and faults around the real answer; None when nothing is to be sent."""
        opts = req.opts
        if opts.latency_ms and self.server.stopping.wait(opts.latency_ms / 1000.0):
            self.close_connection = True
            return None
        error = req.service.status_error if req.service else generic_status_error
        if opts.after_apply is not None:
            # after_apply concerns (and counts) applied writes only: reads, and writes
            # the mock rejected (nothing stored), get their normal answer and use no fault
            reply = route_request(req)
            if not (req.applied and req.state.take_fault(opts, req.method)):
                return reply
            if opts.after_apply in ("reset", "hang"):
                self.no_answer(req, opts.after_apply)
                return None
            reply = error(req, opts.after_apply, status_message(opts.after_apply))
        elif not (opts.has_fault and req.state.take_fault(opts, req.method)):
            return route_request(req)
        elif opts.reset or opts.hang:
            self.no_answer(req, "reset" if opts.reset else "hang")
            return None
        elif opts.body == "html":
            reply = Reply(opts.status or 502, html_error_page(opts.status or 502),
                          content_type="text/html")
        elif opts.body == "empty":
            reply = Reply(opts.status or 200)
        elif opts.status:           # 400-599 or a redirect: MockOptions refuses the others here
            reply = error(req, opts.status, status_message(opts.status))
        else:
            reply = route_request(req)
            if opts.body and 200 <= reply.status < 300 and reply.status != 204:
                reply = broken_body(opts.body, reply)
        if reply.status in REDIRECT_STATUSES and opts.status == reply.status:
            # the same URL, mock prefix included: a client that follows it is logged again
            port = self.server.server_address[1]
            target = req.raw_path + (f"?{req.query}" if req.query else "")
            reply.headers["Location"] = f"http://127.0.0.1:{port}{target}"
        if opts.retry_after is not None:
            reply.headers["Retry-After"] = opts.retry_after
        if opts.retry_after_ms is not None:
            reply.headers["Retry-After-Ms"] = str(opts.retry_after_ms)
        return reply

    def control(self, state, action, query):
        """Answer /_mock/control/<action> from the CONTROL_ROUTES table."""
        handler = CONTROL_ROUTES.get((self.command, action))
        if handler is None:
            return Reply.json(404, {"mock_error": f"no control route {self.command} {action}"})
        return Reply.json(200, handler(state, dict(parse_qsl(query))))

    def send_reply(self, reply):
        """Write status, headers and body (or stream); a vanished client just ends the connection."""
        self.send_response(reply.status)
        if reply.content_type and reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
        if reply.status != 204:      # RFC 9110: no Content-Length on 204
            self.send_header("Content-Length", str(reply.length))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            if reply.stream is not None:
                for chunk in reply.stream:
                    self.wfile.write(chunk)
            elif reply.body:
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def hang(self):
        """Hold the request unanswered until the client disconnects or the server stops."""
        sock = self.connection
        while not self.server.stopping.is_set():
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                try:
                    if not sock.recv(65536):
                        break
                except OSError:
                    break
        self.close_connection = True

    def reset_connection(self):
        """Abort the connection with a TCP RST (SO_LINGER 0) and no response at all."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()
        # the base class still flushes/closes these after the handler returns
        self.rfile, self.wfile = io.BytesIO(), io.BytesIO()
        self.close_connection = True


class MockServer(ThreadingHTTPServer):
    """Threaded server on daemon threads; ``stopping`` releases hung and sleeping requests."""

    daemon_threads = True
    # the default backlog of 5 drops connections a client opens at once
    # (64 concurrent writes), which then come a second late
    request_queue_size = 128

    def __init__(self, address, state):
        super().__init__(address, MockHandler)
        self.state = state
        self.stopping = threading.Event()

    def handle_error(self, request, client_address):
        """Clients that vanish mid-request are normal in fault tests; stay quiet about them."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def write_port_file(path, port):
    """Write the port atomically so a poller never reads a half-written file."""
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="ascii") as handle:
        handle.write(f"{port}\n")
    os.replace(temp, path)


def main(argv=None):
    """Run until SIGTERM/SIGINT; serve_forever runs in a thread so the signal handler can stop it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: pick a free one)")
    parser.add_argument("--port-file", help="write the listening port here once ready")
    parser.add_argument("--fixtures", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                           "fixtures"),
                        help="directory with qoder_environments.json and huawei.json")
    parser.add_argument("--log", help="append every request as a JSON line to this file")
    args = parser.parse_args(argv)

    state = MockState(args.fixtures, args.log)
    server = MockServer(("127.0.0.1", args.port), state)
    port = server.server_address[1]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    thread.start()
    if args.port_file:
        write_port_file(args.port_file, port)
    print(f"mock_cloud listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        pass
    server.stopping.set()
    server.shutdown()
    server.server_close()
    state.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
