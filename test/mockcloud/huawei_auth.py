"""Huawei authentication (IAM token or AK/SK signature) of CodeArts and EPS requests."""

import hmac
from datetime import datetime, timezone

from .constants import (HW_ACCESS_KEYS, HW_DOMAIN, HW_FIXED_TOKEN, HW_MAX_CLOCK_SKEW_S,
                        HW_PROJECT)
from .helpers import utcnow
from .replies import apig_error, huawei_gateway_error
from .signing import (HW_AUTH_HEADER_RE, HW_SDK_DATE_FORMAT, hw_canonical_request,
                      hw_signature)


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
