"""EPS (domain-scoped): enterprise projects, their resources, the resource-type catalogue."""

import re
import time

from .constants import EPS_GLOBAL_TYPES, EPS_PROVIDERS, EPS_RESOURCE_TYPES
from .helpers import int_in_range, iso_seconds, parse_int, utcnow
from .replies import Reply, eps_fail
from .store import eps_resource_key, page_of

EPS_NAME_RE = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9_-]{1,255}")
EPS_TYPES = ("prod", "poc")
EPS_SORT_KEYS = ("created_at", "updated_at", "name")


def eps_paging(limit, offset, max_limit=1000):
    """limit (1..max_limit) and offset (>= 0), parsed from the query or a JSON body's:
    400 EPS.0017 / EPS.0018."""
    limit = int_in_range(limit, 1, max_limit)
    if limit is None:
        raise eps_fail(400, "EPS.0017", "Invalid limit.")
    offset = int_in_range(offset, 0)
    if offset is None:
        raise eps_fail(400, "EPS.0018", "Invalid offset.")
    return limit, offset


def eps_json_object(req):
    """The request body as a JSON object, or 400 EPS.0002."""
    body = req.json_object()
    if body is None:
        raise eps_fail(400, "EPS.0002", "Bad request: the body must be a JSON object.")
    return body


def eps_list(req):
    """GET /v1.0/enterprise-projects: filters, offset/limit, sort."""
    params = req.params
    limit, offset = eps_paging(parse_int(params.get("limit", "1000")),
                               parse_int(params.get("offset", "0")))
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
        total, page = tenant.eps.page(req.list_start(offset), limit,
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
    body = eps_json_object(req)
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
    action = (req.json_object() or {}).get("action")
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
# EPS resources of an enterprise project, and their migration
# ---------------------------------------------------------------------------

EPS_MAX_BODY_BYTES = 200 * 1024
EPS_MAX_MATCH_CHARS = 255
EPS_LOCALES = ("en-us", "zh-cn")     # the index into the (en-us, zh-cn) display names


def eps_resource_types(body):
    """resource_types: a non-empty array (EPS.0023) of known types (EPS.0025), no
    duplicates (EPS.0024)."""
    types = body.get("resource_types")
    if not isinstance(types, list) or not types:
        raise eps_fail(400, "EPS.0023", "resource_types must be a non-empty array.")
    for rtype in types:
        if not isinstance(rtype, str) or rtype not in EPS_RESOURCE_TYPES:
            raise eps_fail(400, "EPS.0025", f"Invalid resource type: {rtype!r}.")
    if len(set(types)) != len(types):
        raise eps_fail(400, "EPS.0024", "Duplicated resource types.")
    return types


def eps_region_projects(body, types):
    """projects: required (EPS.0020), without duplicates (EPS.0021), for region-level
    types; refused (EPS.0038) when only global types are asked.  Known ids are checked
    against the tenant later (EPS.0022)."""
    projects = body.get("projects")
    if all(rtype in EPS_GLOBAL_TYPES for rtype in types):
        if projects not in (None, []):
            raise eps_fail(400, "EPS.0038", "projects must be empty for global resource types.")
        return []
    if not isinstance(projects, list) or not projects:
        raise eps_fail(400, "EPS.0020", "projects must be a non-empty array.")
    for project in projects:
        if not isinstance(project, str):
            raise eps_fail(400, "EPS.0022", f"Invalid project id: {project!r}.")
    if len(set(projects)) != len(projects):
        raise eps_fail(400, "EPS.0021", "Duplicated project ids.")
    return projects


def eps_matches(body):
    """matches: an array of objects (EPS.0027) with key resource_name (EPS.0028) and a
    string value (EPS.0029) of at most 255 characters (EPS.0030).  Returns the values,
    lower-cased: each is a case-insensitive substring every listed name must contain."""
    matches = body.get("matches")
    if matches is None:
        return []
    if not isinstance(matches, list) or not all(isinstance(match, dict) for match in matches):
        raise eps_fail(400, "EPS.0027", "matches must be an array of {key, value} objects.")
    values = []
    for match in matches:
        if match.get("key") != "resource_name":
            raise eps_fail(400, "EPS.0028", "Invalid match key: only resource_name is supported.")
        value = match.get("value")
        if not isinstance(value, str):
            raise eps_fail(400, "EPS.0029", "Invalid match value: it must be a string.")
        if len(value) > EPS_MAX_MATCH_CHARS:
            raise eps_fail(400, "EPS.0030", "The match value is longer than 255 characters.")
        values.append(value.lower())
    return values


def eps_failures(opts, types, projects):
    """The errors[] of eps_errors=...: (type, project) pairs whose query fails, in option
    then request order; a global type fails with project_id ""."""
    failed = []
    for rtype, only in opts.eps_errors:
        if rtype not in types:
            continue
        for project in [""] if rtype in EPS_GLOBAL_TYPES else projects:
            if (only is None or only == project) and (rtype, project) not in failed:
                failed.append((rtype, project))
    return failed


def eps_resource_filter(req):
    """POST /v1.0/enterprise-projects/{id}/resources/filter: the resources of one
    enterprise project, filters and offset/limit in the JSON body.

    Order: resource_type, project_id, resource_id (stable); total_count counts the
    matches before paging.  Types that eps_errors=... fails are left out of resources
    and total_count and reported in errors[] with EPS.0019, inside the 200."""
    if len(req.body) > EPS_MAX_BODY_BYTES:
        raise eps_fail(400, "EPS.0042", "The request body is larger than 200 KB.")
    body = eps_json_object(req)
    types = eps_resource_types(body)
    limit, offset = eps_paging(body.get("limit", 1000), body.get("offset", 0))
    projects = eps_region_projects(body, types)
    names = eps_matches(body)
    failed = eps_failures(req.opts, types, projects)
    ep_id = req.match["ep_id"]

    def wanted(resource):
        return (resource["enterprise_project_id"] == ep_id
                and resource["resource_type"] in types
                and (resource["resource_type"] in EPS_GLOBAL_TYPES
                     or resource["project_id"] in projects)
                and (resource["resource_type"], resource["project_id"]) not in failed
                and all(name in resource["resource_name"].lower() for name in names))

    tenant = req.tenant
    with tenant.lock:
        tenant.eps_resources.settle(time.monotonic())
        eps_project(tenant, ep_id)
        for project in projects:
            if project not in tenant.region_projects:
                raise eps_fail(400, "EPS.0022", f"Invalid project id: {project}.")
        total, page = tenant.eps_resources.page(req.list_start(offset), limit, False, wanted)
    errors = [{"project_id": project, "resource_type": rtype, "error_code": "EPS.0019",
               "error_msg": f"Querying {rtype} resources timed out (injected by the mock)."}
              for rtype, project in failed]
    return Reply.json(200, {"resources": page, "errors": errors, "total_count": total})


def eps_migrate_params(body):
    """Validate a resources-migrate body; returns (resource key, is global).  Bad type
    EPS.0031, bad resource_id EPS.0032, project_id missing for a region-level type
    EPS.0020 or given for a global one EPS.0038, bad region_id/associated EPS.0002."""
    rtype = body.get("resource_type")
    if not isinstance(rtype, str) or rtype not in EPS_RESOURCE_TYPES:
        raise eps_fail(400, "EPS.0031", f"Invalid resource type: {rtype!r}.")
    resource_id = body.get("resource_id")
    if not isinstance(resource_id, str) or not resource_id:
        raise eps_fail(400, "EPS.0032", "Invalid resource id.")
    project = body.get("project_id")
    is_global = rtype in EPS_GLOBAL_TYPES
    if is_global and project not in (None, ""):
        raise eps_fail(400, "EPS.0038", "project_id must be empty for a global resource type.")
    if not is_global and (not isinstance(project, str) or not project):
        raise eps_fail(400, "EPS.0020", f"project_id is required for resource type {rtype}.")
    if body.get("region_id") is not None and not isinstance(body["region_id"], str):
        raise eps_fail(400, "EPS.0002", "region_id must be a string.")
    if body.get("associated") is not None and not isinstance(body["associated"], bool):
        raise eps_fail(400, "EPS.0002", "associated must be a boolean.")
    return eps_resource_key({"resource_type": rtype, "project_id": project or "",
                             "resource_id": resource_id}), is_global


def eps_migrate(req):
    """POST /v1.0/enterprise-projects/{target}/resources-migrate: 204 without a body.

    The target must exist (else 400 EPS.0032: the doc's "invalid id") and be enabled
    (400 EPS.0034); the resource must exist in the given region project (global: in
    none), in any enterprise project (else 400 EPS.0033).  The move shows in listings at
    once, or migrate_delay_ms after the 204.  Moving a resource to where it already is
    (nothing pending) changes nothing: 204, not applied.  ``associated`` and
    ``region_id`` are validated but move nothing more."""
    key, is_global = eps_migrate_params(eps_json_object(req))
    target = req.match["ep_id"]
    delay = req.opts.migrate_delay_ms
    tenant = req.tenant
    with tenant.lock:
        now = time.monotonic()
        tenant.eps_resources.settle(now)
        project = tenant.eps.by_id.get(target)
        if project is None:
            raise eps_fail(400, "EPS.0032", "Invalid id: the target enterprise project "
                           "does not exist.")
        if project["status"] != 1:
            raise eps_fail(400, "EPS.0034", "The target enterprise project is disabled.")
        if not is_global and key[1] not in tenant.region_projects:
            raise eps_fail(400, "EPS.0022", f"Invalid project id: {key[1]}.")
        resource = tenant.eps_resources.by_id.get(key)
        if resource is None:
            raise eps_fail(400, "EPS.0033", "The resource does not exist in this project "
                           "and cannot be migrated.")
        if (resource["enterprise_project_id"] == target
                and not tenant.eps_resources.is_pending(key)):
            return Reply(204, content_type=None)
        tenant.eps_resources.move(key, target, now + delay / 1000.0 if delay else None)
    req.mark_applied()
    return Reply(204, content_type=None)


def eps_providers(req):
    """GET /v1.0/enterprise-projects/providers: the resource-type catalogue by provider,
    ``locale`` (zh-cn, the default, or en-us), offset/limit (<= 200, default 10)."""
    locale = req.params.get("locale", "zh-cn")
    if locale not in EPS_LOCALES:
        raise eps_fail(400, "EPS.0002", "Invalid locale: it must be zh-cn or en-us.")
    limit, offset = eps_paging(parse_int(req.params.get("limit", "10")),
                               parse_int(req.params.get("offset", "0")), 200)
    language = EPS_LOCALES.index(locale)
    tenant = req.tenant
    with tenant.lock:
        regions = list(dict.fromkeys(tenant.region_projects.values()))
    providers = [{"provider": provider, "provider_i18n_display_name": names[language],
                  "resource_types": [{"resource_type": rtype,
                                      "resource_type_i18n_display_name": type_names[language],
                                      "regions": [] if rtype in EPS_GLOBAL_TYPES else regions,
                                      "global": rtype in EPS_GLOBAL_TYPES}
                                     for rtype, type_names in types.items()]}
                 for provider, (names, types) in EPS_PROVIDERS.items()]
    total, page = page_of(providers, req.list_start(offset), limit)
    return Reply.json(200, {"providers": page, "total_count": total})
