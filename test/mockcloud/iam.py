"""IAM password tokens (``POST /v3/auth/tokens``) and password redaction for the log."""

import json
import re

from .constants import HW_DOMAIN, HW_PROJECT, HW_USER
from .helpers import iso_micro
from .replies import Reply, iam_error


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
