"""CodeArts Deploy (project-scoped): environments of an application, and applications."""

import re

from .constants import DEPLOY_APP_STATES
from .helpers import codearts_time, int_in_range, parse_int, utcnow
from .replies import Reply, deploy_fail

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


def deploy_json_object(req):
    """The request body as a JSON object, or 400 DEV.CH.10001."""
    body = req.json_object()
    if body is None:
        raise deploy_param_error("the request body must be a JSON object")
    return body


def deploy_application(req):
    """The application of the path, or 404 Deploy.00011020."""
    app = req.tenant.deploy_apps.get(req.match["app_id"])
    if app is None:
        raise deploy_fail(404, "Deploy.00011020", "The application does not exist.")
    return app


def deploy_int_param(value, name, low, high):
    """A paging parameter (parsed from the query, or a JSON body's) within the documented
    range, or 400."""
    number = int_in_range(value, low, high)
    if number is None:
        raise deploy_param_error(f"{name} must be an integer in [{low}, {high}]")
    return number


def deploy_list(req):
    """GET .../environments: page_index/page_size pages, name filter, sort key/dir."""
    project_id = req.params.get("project_id")
    if not project_id:
        raise deploy_param_error("project_id is required")
    page_index = deploy_int_param(parse_int(req.params.get("page_index", "1")), "page_index",
                                  1, 10 ** 9)
    page_size = deploy_int_param(parse_int(req.params.get("page_size", "10")), "page_size", 1, 100)
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
        start = req.list_start((page_index - 1) * page_size)
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
    body = deploy_json_object(req)
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
# CodeArts Deploy applications
# ---------------------------------------------------------------------------

CODEARTS_PROJECT_RE = re.compile(r"[A-Za-z0-9]{32}")
DEPLOY_GROUP_RE = re.compile(r"[A-Za-z0-9]{32}|no_grouped")
# AppDetailInfo fields that list items (AppExecutionInfo) do not have
DEPLOY_APP_DETAIL_ONLY = frozenset({"description", "region", "create_type", "slave_cluster_id",
                                    "owner_tenant_id", "permission_level"})
# fixture data that is never served: only the list's group_id filter reads it
DEPLOY_APP_HIDDEN = frozenset({"group_id"})
# sort_name -> key; without sort_name the stored order, create_time then id (stable)
DEPLOY_APP_SORT_KEYS = {
    "name": lambda app: (app["name"], app["id"]),
    "startTime": lambda app: (app.get("execution_time") or "", app["id"]),   # never run: first
}


def deploy_app_view(app, detail):
    """An application as served: the detail (AppDetailInfo) or a list item (AppExecutionInfo)."""
    hidden = DEPLOY_APP_HIDDEN | (frozenset() if detail else DEPLOY_APP_DETAIL_ONLY)
    return {key: value for key, value in app.items() if key not in hidden}


def deploy_app(req):
    """The application record of the path (any project), or 404 Deploy.00011020."""
    app = req.tenant.apps.by_id.get(req.match["app_id"])
    if app is None:
        raise deploy_fail(404, "Deploy.00011020", "The application does not exist.")
    return app


def deploy_app_list_params(body):
    """Validate a ListAllApp body; returns (page, size, descending, sort key, predicate).

    Every bad field is 400 DEV.CH.10001, as on the environment routes."""
    project_id = body.get("project_id")
    if not (isinstance(project_id, str) and CODEARTS_PROJECT_RE.fullmatch(project_id)):
        raise deploy_param_error("project_id must be the 32-character CodeArts project id")
    page = deploy_int_param(body.get("page"), "page", 1, 99999)
    size = deploy_int_param(body.get("size"), "size", 1, 100)
    sort_name, sort_by = body.get("sort_name"), body.get("sort_by")
    if sort_name is not None and sort_name not in DEPLOY_APP_SORT_KEYS:
        raise deploy_param_error("sort_name must be name or startTime")
    if sort_by is not None and sort_by not in ("ASC", "asc", "DESC", "desc"):
        raise deploy_param_error("sort_by must be ASC, asc, DESC or desc")
    states = body.get("states")
    if states is not None and not (isinstance(states, list)
                                   and all(state in DEPLOY_APP_STATES for state in states)):
        raise deploy_param_error("states must be an array of " + ", ".join(DEPLOY_APP_STATES))
    group_id = body.get("group_id")
    if group_id is not None and not (isinstance(group_id, str)
                                     and DEPLOY_GROUP_RE.fullmatch(group_id)):
        raise deploy_param_error("group_id must be 32 characters or no_grouped")

    def predicate(app):
        return (app["project_id"] == project_id
                and (not states or app["execution_state"] in states)
                and (group_id is None or (app.get("group_id") or "no_grouped") == group_id))

    return (page, size, (sort_by or "ASC").upper() == "DESC",
            DEPLOY_APP_SORT_KEYS.get(sort_name), predicate)


def deploy_app_list(req):
    """POST /v1/applications/list (ListAllApp): paging and filters in the JSON body.

    Answers {"total_num", "result"} (no "status"); an unknown project is an empty list.
    Order: create_time then id (stable), ascending unless sort_by says DESC."""
    page, size, descending, sort_key, predicate = deploy_app_list_params(deploy_json_object(req))
    tenant = req.tenant
    with tenant.lock:
        total, rows = tenant.apps.page(req.list_start((page - 1) * size), size, descending,
                                       predicate, sort_key)
    return Reply.json(200, {"total_num": total,
                            "result": [deploy_app_view(app, detail=False) for app in rows]})


def deploy_app_info(req):
    """GET /v1/applications/{app_id}/info: {"status":"success","result":AppDetailInfo}."""
    tenant = req.tenant
    with tenant.lock:
        app = deploy_app(req)
    return Reply.json(200, {"status": "success", "result": deploy_app_view(app, detail=True)})


def deploy_app_disable(req):
    """PUT /v1/applications/{app_id}/disable {"is_disable": bool}: sets it and update_time."""
    is_disable = (req.json_object() or {}).get("is_disable")
    if not isinstance(is_disable, bool):
        raise deploy_param_error("is_disable must be a boolean")
    tenant = req.tenant
    with tenant.lock:
        app = deploy_app(req)
        tenant.apps.by_id[app["id"]] = dict(app, is_disable=is_disable,
                                            update_time=codearts_time(utcnow()))
    req.mark_applied()
    return Reply.json(200, {"status": "success"})
