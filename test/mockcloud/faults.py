"""Fault selection and injection: which requests fault, and what they get instead.

Selection: ``FaultCounter`` counts the matching requests of a tenant and
raw option string (``fault_skip``, ``fault_count``).  Injection:
``answer`` wraps the real answer in latency, a status, a broken body
(``body=KIND``), a hang, a reset, or an ``after_apply`` fault.
"""

import json
import threading

from .helpers import to_json_bytes
from .options import REDIRECT_STATUSES
from .replies import Reply, generic_status_error, status_message, status_phrase

HUGE_BODY_BYTES = 100 * 1024 * 1024
DEEP_BODY_LEVELS = 10000
# body=big_numbers: the metadata of the damaged item; integers beyond 64 bits
BIG_NUMBERS = {"big": 123456789012345678901234567890, "negative": -98765432109876543210987654321,
               "u64_max": 18446744073709551615, "i64_min": -9223372036854775808}

COLLECTION_KEYS = ("data", "result", "enterprise_projects", "enterprise_project", "token",
                   "resources", "providers")
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
    if kind == "string_item":
        # a listing whose first item is no object: no row can be made of it
        items = next((obj[key] for key in COLLECTION_KEYS
                      if isinstance(obj, dict) and isinstance(obj.get(key), list) and obj[key]), None)
        if items is not None:
            items[0] = "not an object"
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


class FaultCounter:
    """Fault selection: which matching requests of a tenant and raw option string fault."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def take(self, opts, method):
        """Decide whether this matching request faults, counting it for ``fault_skip``
        and ``fault_count``: matching requests K+1..K+N fault (K skip, N count)."""
        if opts.fault_methods is not None and method not in opts.fault_methods:
            return False
        if opts.fault_count is None and not opts.fault_skip:
            return True
        with self.lock:
            key = (opts.tenant, opts.raw)
            seen = self.counts.get(key, 0)
            if opts.fault_count is not None and seen >= opts.fault_skip + opts.fault_count:
                return False        # done faulting; stop counting
            self.counts[key] = seen + 1
            return seen >= opts.fault_skip

    def reset(self):
        """Restart every count (POST /_mock/control/reset)."""
        with self.lock:
            self.counts = {}


def answer(req, route, link):
    """Apply latency and faults around the real answer ``route(req)``; None when nothing
    is to be sent.

    ``link`` is the connection: ``link.pause(seconds)`` sleeps (True when the server
    stopped meanwhile: no answer), ``link.no_answer(req, how)`` resets the connection
    or hangs, ``link.port`` is the mock's port (the Location of redirects)."""
    opts = req.opts
    if opts.latency_ms and link.pause(opts.latency_ms / 1000.0):
        return None
    error = req.service.status_error if req.service else generic_status_error
    if opts.after_apply is not None:
        # after_apply concerns (and counts) applied writes only: reads, and writes
        # the mock rejected (nothing stored), get their normal answer and use no fault
        reply = route(req)
        if not (req.applied and req.state.faults.take(opts, req.method)):
            return reply
        if opts.after_apply in ("reset", "hang"):
            link.no_answer(req, opts.after_apply)
            return None
        reply = error(req, opts.after_apply, status_message(opts.after_apply))
    elif not (opts.has_fault and req.state.faults.take(opts, req.method)):
        return route(req)
    elif opts.reset or opts.hang:
        link.no_answer(req, "reset" if opts.reset else "hang")
        return None
    elif opts.body == "html":
        reply = Reply(opts.status or 502, html_error_page(opts.status or 502),
                      content_type="text/html")
    elif opts.body == "empty":
        reply = Reply(opts.status or 200)
    elif opts.status:           # 400-599 or a redirect: MockOptions refuses the others here
        reply = error(req, opts.status, status_message(opts.status))
    else:
        reply = route(req)
        if opts.body and 200 <= reply.status < 300 and reply.status != 204:
            reply = broken_body(opts.body, reply)
    if reply.status in REDIRECT_STATUSES and opts.status == reply.status:
        # the same URL, mock prefix included: a client that follows it is logged again
        target = req.raw_path + (f"?{req.query}" if req.query else "")
        reply.headers["Location"] = f"http://127.0.0.1:{link.port}{target}"
    if opts.retry_after is not None:
        reply.headers["Retry-After"] = opts.retry_after
    if opts.retry_after_ms is not None:
        reply.headers["Retry-After-Ms"] = str(opts.retry_after_ms)
    return reply
