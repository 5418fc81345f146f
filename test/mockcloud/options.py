"""Mock options (the /_mock/<opts>/ path prefix)."""

import re
from urllib.parse import unquote

from .constants import EPS_GLOBAL_TYPES, EPS_RESOURCE_TYPES, HW_DEFAULT_TOKEN_TTL_S
from .helpers import parse_int

# statuses of a status=N that stands alone besides 400-599 (they add a Location header)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# statuses whose answer has no body (status=N with body=empty only)
NO_BODY_STATUSES = (204, 304)

BODY_KINDS = ("html", "empty", "truncated", "malformed", "wrong_types", "no_envelope",
              "nul", "bad_utf8", "deep", "huge", "big_numbers", "nan", "infinity",
              "null_id", "empty_id", "dot_id", "string_item")


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


def _eps_errors(text):
    """``TYPE`` or ``TYPE:PROJECT`` items joined by ``+``: EPS resource types whose query
    fails inside a 200 of resources/filter, in every region project or only in PROJECT."""
    failures = []
    for item in text.split("+"):
        rtype, sep, project = item.partition(":")
        if rtype not in EPS_RESOURCE_TYPES:
            raise MockOptionError(f"eps_errors: unknown EPS resource type {rtype!r}")
        if sep and rtype in EPS_GLOBAL_TYPES:
            raise MockOptionError(f"eps_errors: {rtype} is a global type, it has no project")
        if sep and not re.fullmatch(r"[0-9a-f]{32}", project):
            raise MockOptionError(f"eps_errors: bad region project id {project!r} (32 hex)")
        failures.append((rtype, project if sep else None))
    return tuple(failures)


# option name -> parser of its value; the attribute of MockOptions has the same name
OPTIONS = {
    "tenant": _tenant_name,        # isolated data set, created lazily
    "rows": _non_negative_int,     # seed the tenant with N synthetic Qoder environments
    "rows_from": _non_negative_int,    # ... namely synthetic rows K..K+N-1 (default 0)
    "eps_rows": _non_negative_int,     # ... N enterprise projects (incl. "default")
    "deploy_rows": _non_negative_int,  # ... N CodeArts environments in the first application
    "app_rows": _non_negative_int,     # ... N CodeArts applications in the first app's project
    "eps_resource_rows": _non_negative_int,  # ... N more EPS ecs resources (project 0, cn-east-3)
    "eps_errors": _eps_errors,     # resources/filter: TYPE[:PROJECT]+... fail inside a 200
    "migrate_delay_ms": _non_negative_int,  # resources-migrate shows in listings N ms after its 204
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
    "ignore_offset": _flag,        # EPS offset, CodeArts page_index/page ignored (first page)
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
        self.app_rows = self.eps_resource_rows = None
        self.eps_errors = ()
        self.migrate_delay_ms = 0
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
        if self.app_rows is not None and self.deploy_rows is not None:
            # app_rows replaces the first application, whose environments deploy_rows replaces
            raise MockOptionError("app_rows cannot be combined with deploy_rows")
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
