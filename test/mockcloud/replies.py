"""Requests, replies and error envelopes."""

import http
import json
import uuid
from urllib.parse import parse_qsl

from .helpers import to_json_bytes


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

    def json_object(self):
        """The body as a JSON object, or None when it is anything else."""
        body = self.json_body()
        return body if isinstance(body, dict) else None

    def list_start(self, offset):
        """Where a page of a Huawei list starts: ``offset``, or 0 under ``ignore_offset``."""
        return 0 if self.opts.ignore_offset else offset


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


def huawei_status_error(envelope, codes, fallback):
    """Injected/route errors of a Huawei service: gateway codes for 401/429, else the
    service's own ``envelope`` with ``codes[status]`` (``fallback(status)`` otherwise)."""
    def status_error(req, status, message):
        if status in (401, 429):
            return huawei_gateway_error(req, status)
        return envelope(status, codes.get(status) or fallback(status), message)
    return status_error


# Injected/route errors of CodeArts: gateway codes for 401/429, else Deploy codes.
deploy_status_error = huawei_status_error(
    deploy_error, {400: "DEV.CH.10001", 403: "Deploy.00011154", 404: "Deploy.00021438"},
    lambda status: f"Deploy.{status:08d}")
# Injected/route errors of EPS: gateway codes for 401/429, else EPS codes.
eps_status_error = huawei_status_error(
    eps_error, {400: "EPS.0002", 403: "EPS.0004", 404: "EPS.0005", 409: "EPS.0010",
                500: "EPS.0000"},
    lambda status: "EPS.0001")


def iam_status_error(req, status, message):
    """Injected/route errors of IAM use the Keystone envelope."""
    return iam_error(status, message)


def huawei_gateway_error(req, status):
    """401 and 429 of Huawei services come from API Gateway, not from the service."""
    if status == 401:
        return apig_error(req, 401, "APIGW.0301",
                          "Incorrect IAM authentication information: verify aksk signature fail")
    return apig_error(req, status, "APIGW.0308", "The throttling threshold has been reached")


def generic_status_error(req, status, message):
    """Error body for paths no provider owns (only reachable through test mistakes)."""
    return Reply.json(status, {"mock_error": message})
