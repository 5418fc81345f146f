"""Services and routes: which provider owns a path, how it authenticates, which handler runs."""

import re
from urllib.parse import unquote

from .huawei_auth import hw_auth
from .huawei_deploy import (deploy_app_disable, deploy_app_info, deploy_app_list, deploy_list,
                            deploy_show, deploy_update)
from .huawei_eps import (eps_action, eps_list, eps_migrate, eps_providers, eps_resource_filter,
                         eps_show, eps_update)
from .iam import iam_issue_token
from .qoder import qoder_auth, qoder_get, qoder_list, qoder_update
from .replies import (ApiError, Reply, deploy_status_error, eps_status_error, iam_status_error,
                      qoder_error, qoder_status_error)


class Service:
    """A provider API: which paths are its, how it authenticates and shapes errors."""

    def __init__(self, name, prefix, auth, status_error):
        self.name = name
        self.prefix = re.compile(prefix)
        self.auth = auth
        self.status_error = status_error


SERVICES = [
    Service("qoder", r"/api/v1/cloud(/|$)", qoder_auth, qoder_status_error),
    Service("codearts", r"/v1/applications(/|$)", lambda req: hw_auth(req, "project"),
            deploy_status_error),
    Service("eps", r"/v1\.0/enterprise-projects(/|$)", lambda req: hw_auth(req, "domain"),
            eps_status_error),
    Service("iam", r"/v3(/|$)", None, iam_status_error),
]

_ENV = r"/api/v1/cloud/environments"
_APP = r"/v1/applications/(?P<app_id>[^/]+)"
_APP_ENVS = _APP + r"/environments"
_EPS = r"/v1\.0/enterprise-projects"
_EP = _EPS + r"/(?P<ep_id>[^/]+)"
# (methods, path pattern, handler); a trailing slash is tolerated on every path.
# The first route whose pattern and method match wins.
ROUTES = [
    (("GET",), _ENV, qoder_list),
    (("GET",), _ENV + r"/(?P<env_id>[^/]+)", qoder_get),
    (("PUT", "POST"), _ENV + r"/(?P<env_id>[^/]+)", qoder_update),
    (("GET",), _APP_ENVS, deploy_list),
    (("GET",), _APP_ENVS + r"/(?P<env_id>[^/]+)", deploy_show),
    (("PUT",), _APP_ENVS + r"/(?P<env_id>[^/]+)", deploy_update),
    (("POST",), r"/v1/applications/list", deploy_app_list),
    (("GET",), _APP + r"/info", deploy_app_info),
    (("PUT",), _APP + r"/disable", deploy_app_disable),
    (("GET",), _EPS, eps_list),
    (("GET",), _EPS + r"/providers", eps_providers),   # before {ep_id}: "providers" is no id
    (("GET",), _EP, eps_show),
    (("PUT",), _EP, eps_update),
    (("POST",), _EP + r"/action", eps_action),
    (("POST",), _EP + r"/resources/filter", eps_resource_filter),
    (("POST",), _EP + r"/resources-migrate", eps_migrate),
    (("POST",), r"/v3/auth/tokens", iam_issue_token),
]
COMPILED_ROUTES = [(methods, re.compile(pattern + "/?"), handler)
                   for methods, pattern, handler in ROUTES]


def find_service(path):
    """The provider API that owns ``path`` (decides auth and error envelope)."""
    for service in SERVICES:
        if service.prefix.match(path):
            return service
    return None


def route_request(req):
    """Authenticate, then run the handler of the matching route (404/405 otherwise)."""
    service = req.service
    if service is None:
        return Reply.json(404, {"mock_error": f"no mock API serves {req.path}"})
    if service.auth is not None:
        denied = service.auth(req)
        if denied is not None:
            return denied
    path_known = False
    for methods, pattern, handler in COMPILED_ROUTES:
        match = pattern.fullmatch(req.path)
        if match:
            if req.method not in methods:
                path_known = True
                continue
            req.match = {key: unquote(value) for key, value in match.groupdict().items()}
            try:
                return handler(req)
            except ApiError as error:
                return error.reply
    if path_known:
        if service.name == "qoder":
            return qoder_error(req, 405, "Method not allowed", error_type="invalid_request_error")
        return service.status_error(req, 405, "Method not allowed")
    return service.status_error(req, 404, "Not found")
