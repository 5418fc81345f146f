"""Qoder Cloud Agents environments: ``/api/v1/cloud/environments``, bearer PATs."""

import base64
import copy

from .constants import QODER_TOKENS
from .helpers import (int_in_range, iso_micro, json_object_with_items, parse_int,
                      parse_rfc3339, utcnow)
from .replies import Reply, qoder_error, qoder_fail

QODER_DEFAULT_LIMIT = 20
QODER_MAX_LIMIT = 100
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
    limit = int_in_range(parse_int(params.get("limit", str(QODER_DEFAULT_LIMIT))), 1,
                         QODER_MAX_LIMIT)
    if limit is None:
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
    rest = {"first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more}
    if req.opts.gen == "c":
        rest["next_page"] = encode_page_cursor(rest["last_id"]) \
            if has_more and rest["last_id"] else None
    return Reply(200, json_object_with_items("data", data, rest))


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
