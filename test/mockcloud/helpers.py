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


# Items are replaced, never mutated, so an item's JSON can be kept with the
# very object it encodes: pages of the same items cost a join, not an
# encoding, and the mock's own CPU does not hide a client's concurrency.
_ITEM_JSON = {}
_ITEM_JSON_MAX = 200_000


def item_json_bytes(item):
    """to_json_bytes(item), encoded once per item object."""
    cached = _ITEM_JSON.get(item["id"])
    if cached is None or cached[0] is not item:
        if len(_ITEM_JSON) >= _ITEM_JSON_MAX:
            _ITEM_JSON.clear()
        cached = _ITEM_JSON[item["id"]] = (item, to_json_bytes(item))
    return cached[1]


def json_object_with_items(key, items, rest):
    """The bytes of {key: items, **rest}, in that order, items from item_json_bytes."""
    tail = to_json_bytes(rest)
    head = b'{"' + key.encode("utf-8") + b'":[' + b",".join(map(item_json_bytes, items)) + b"]"
    return head + (b"," + tail[1:] if len(tail) > 2 else b"}")


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
