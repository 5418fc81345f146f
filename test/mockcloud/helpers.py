"""Small helpers: times, JSON, strict integers."""

import json
import re
from datetime import datetime, timezone



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


def int_in_range(value, low, high=None):
    """``value`` when it is an integer (not a bool) within [low, high] (no upper bound when
    ``high`` is None); None otherwise.

    The one range check of every paging and count parameter: a JSON body's value as is
    (a string is no integer there), a query string's through parse_int first."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if value < low or (high is not None and value > high):
        return None
    return value


def codearts_time(moment):
    """CodeArts application timestamp style: ``2022-02-09 16:34:20``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")
