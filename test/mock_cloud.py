#!/usr/bin/env python3
"""Mock cloud server for the cloud_fdw regression tests and benchmarks.

It serves, on 127.0.0.1 only, the REST APIs that cloud_fdw maps to foreign
tables, as their public documents describe them:

* Qoder Cloud Agents environments: ``/api/v1/cloud/environments`` (list, get,
  update by PUT or POST), bearer PATs.
* Huawei Cloud CodeArts Deploy environments
  (``/v1/applications/{app}/environments``) and applications (``POST
  /v1/applications/list``, ``GET /v1/applications/{app}/info``, ``PUT
  /v1/applications/{app}/disable``), EPS enterprise projects
  (``/v1.0/enterprise-projects``), their resources (``POST
  .../{id}/resources/filter``, ``POST .../{target}/resources-migrate``) and
  the resource-type catalogue (``GET .../providers``), and the IAM password
  token API (``POST /v3/auth/tokens``).  CodeArts (project scope) and EPS
  (domain scope) are authenticated by IAM token or by real
  ``SDK-HMAC-SHA256`` AK/SK signatures.

Tests steer it through the URL alone: a path may start with
``/_mock/<key=value,...>/``; the prefix is stripped and the rest is served
as the real API path.  Options (see ``OPTIONS``): ``tenant``, ``rows``,
``rows_from``, ``eps_rows``, ``deploy_rows``, ``app_rows``,
``eps_resource_rows``, ``eps_errors``, ``migrate_delay_ms``, ``latency_ms``,
``status``, ``fault_methods``, ``fault_count``, ``fault_skip``,
``retry_after``, ``retry_after_ms``, ``body`` (html, empty, truncated,
malformed, wrong_types, no_envelope, nul, bad_utf8, deep, huge, big_numbers,
nan, infinity, null_id, empty_id, dot_id, string_item), ``hang``, ``reset``,
``after_apply`` (reset|hang|<status>), ``ignore_offset`` (EPS offsets and
CodeArts page_index/page are ignored: the first page, with the true total),
``gen`` (a|c), ``cursor_loop``, ``token_ttl_s``.

Faults (``status``, ``body``, ``hang``, ``reset``, ``after_apply``) hit the
requests whose method is in ``fault_methods`` (all methods when absent).
Those requests are counted per tenant and raw option string: the first
``fault_skip`` of them pass untouched, the next ``fault_count`` fault (all
the rest when ``fault_count`` is absent); ``POST /_mock/control/reset``
restarts the counting.  ``status`` alone takes 400-599 (the provider's error
envelope) or 301|302|303|307|308, which add a ``Location`` header naming the
same URL (prefix included) on this mock, so a client that follows redirects
shows up as a second request in the log.  Any other 2xx/3xx code only sets
the status of ``body=html`` or ``body=empty`` (204 and 304: ``body=empty``
only); alone or with another body it is refused, as is every 1xx.

``after_apply`` only concerns writes (PUT/POST of Qoder environments, PUT of
CodeArts environments, CodeArts application disable, EPS update, action and
resources-migrate; not IAM login), and only the writes the mock applied are
counted for it (``fault_skip``, ``fault_count``): the write is performed and
stored, then the answer is replaced by a TCP reset, a hang, or the given
status (400-599) with the provider's error envelope; a write the mock
rejects gets its normal error and uses up no fault.

Every request record (``GET /_mock/control/requests``, ``--log``) has
``status`` (0: no answer, hang or reset) and ``applied`` (true exactly when
the mock changed its stored data for the request; false for reads, the
list and filter POSTs included),
complete before the first byte of the answer is sent, or, for a reset or a
hang, before the connection is reset or left hanging.  It also has
``started`` (time.monotonic() seconds, a float, of the mock process at the
request's arrival) and ``finished`` (the same clock when the answer's status
was decided, as ``status`` is filled in; null while unanswered); they are
comparable only with each other, not with the client's clock.

CodeArts applications (fixture ``codearts.applications``, the same records
as the environment routes' applications):

* ``POST /v1/applications/list``, JSON body ``project_id`` (the 32-character
  CodeArts project, required), ``page`` (1..99999) and ``size`` (1..100),
  both required JSON integers, optional ``sort_name`` (name|startTime),
  ``sort_by`` (ASC|asc|DESC|desc), ``states`` (execution states; [] filters
  nothing), ``group_id`` (32 characters or no_grouped; read from the
  fixture's unserved ``group_id``) -> 200 ``{"total_num", "result"}``, list
  items without the detail-only fields.  Order: create_time then id,
  ascending unless sort_by says DESC; startTime sorts by execution_time,
  never-run applications first.  An unknown project is an empty list.  Every
  bad field (or a body that is no JSON object) is 400 ``DEV.CH.10001`` in the
  CodeArts envelope.  The Content-Type is not checked (as on every route).
* ``GET /v1/applications/{app}/info`` -> 200 ``{"status":"success",
  "result"}`` (list fields + description, region, create_type,
  slave_cluster_id, owner_tenant_id, permission_level); any project; unknown
  id 404 ``Deploy.00011020``.
* ``PUT /v1/applications/{app}/disable`` ``{"is_disable": bool}`` -> 200
  ``{"status":"success"}``, sets is_disable and update_time (now); a
  non-boolean is 400 ``DEV.CH.10001``, an unknown id 404.
* ``app_rows=N``: the project of the first fixture application holds N
  synthetic applications (``synthetic_deploy_app``: ids md5("deploy-app-<n>"),
  names app-000001.., create_time from 2026-01-01 a minute apart, every tenth
  disabled, every fifth without arrange_infos, no environments) instead of
  its fixture ones; other projects keep theirs.  It cannot be combined with
  ``deploy_rows`` (which fills the first fixture application).

EPS resources (fixture ``eps.resources``; ``eps.region_projects`` are the
region (IAM) projects: cn-north-4 e1eb7c40cbea4c8389cde527594a306d,
cn-south-1 030eb8c716a3f1ce972006b0388bdef6, cn-east-3
84e87e7fde6d6b186e65621d6b1a03fd, which has no fixture resources; they are
not the IAM token's project ``HW_PROJECT``):

* ``POST /v1.0/enterprise-projects/{id}/resources/filter``, JSON body
  ``resource_types`` (required: empty EPS.0023, duplicated EPS.0024, unknown
  or not the exact case EPS.0025), ``projects`` (required for region-level
  types: empty EPS.0020, duplicated EPS.0021, not a known region project
  EPS.0022; with only global types it must be absent or [], else EPS.0038),
  ``offset`` (>= 0, EPS.0018), ``limit`` (1..1000, default 1000, EPS.0017),
  ``matches`` (``[{"key":"resource_name","value"}]``: not an array of
  objects EPS.0027, another key EPS.0028, a non-string value EPS.0029, over
  255 characters EPS.0030; each value is a case-insensitive substring the
  name must contain), a body over 200 KB EPS.0042, no JSON object EPS.0002;
  all 400 in the EPS envelope; an unknown enterprise project 404 EPS.0005.
  -> 200 ``{"resources", "errors", "total_count"}``: items ``project_id``,
  ``project_name`` (the region name), ``resource_type``, ``resource_id``,
  ``resource_name``, ``resource_detail`` (null or an object),
  ``enterprise_project_id``; global types (``cdn``) have project_id "" and
  project_name "".  Order: resource_type, project_id, resource_id;
  total_count counts the matches before paging.  ``errors`` is [] unless
  ``eps_errors`` says otherwise.
* ``eps_errors=TYPE[:PROJECT][+...]``: the query of TYPE (in every asked
  region project, or only in PROJECT; a global type has no PROJECT) fails
  inside the 200: its resources are left out of ``resources`` and
  ``total_count``, and ``errors`` gets one ``{"project_id" ("" for a global
  type), "resource_type", "error_code": "EPS.0019", "error_msg"}`` per asked
  project.  Not counted by fault_skip/fault_count.
* ``POST /v1.0/enterprise-projects/{target}/resources-migrate``, JSON body
  ``resource_id``, ``resource_type``, ``project_id`` (region-level types),
  ``region_id``, ``associated`` -> 204 without a body.  400 in the EPS
  envelope: unknown target EPS.0032 (the doc's "invalid id"; also a missing
  resource_id), disabled target EPS.0034, bad type EPS.0031, missing
  project_id EPS.0020, project_id for a global type EPS.0038, unknown region
  project EPS.0022, no such resource (type, project, id) in any enterprise
  project EPS.0033, bad region_id/associated EPS.0002.  region_id and
  associated move nothing more.  A move to where the resource already is
  answers 204 and is not applied.  The move shows in listings at once;
  ``migrate_delay_ms=N`` shows it only N ms after the 204 (the answer and
  ``applied`` are immediate; a later move of the same resource replaces a
  pending one).
* ``eps_resource_rows=N``: N more ``ecs`` resources (``synthetic_eps_resource``:
  ids e0000000-0000-4000-8000-<n, 12 digits>, names ecs-000001.., no detail)
  in enterprise project 0, region project cn-east-3, so that a filter of
  ``{"resource_types":["ecs"],"projects":[<cn-east-3>]}`` on 0 sees exactly N.
* ``GET /v1.0/enterprise-projects/providers?locale=zh-cn|en-us&offset&limit``
  (limit 1..200, default 10) -> ``{"providers", "total_count"}``: the
  resource types of ``EPS_PROVIDERS`` with their display names, the region
  names, and ``global``.

Control API (never faulted, not logged): ``GET /_mock/control/requests
[?tenant=T]``, ``DELETE /_mock/control/requests``, ``POST
/_mock/control/reset``, ``GET /_mock/control/health``, ``GET
/_mock/control/connections?tenant=T``, ``GET
/_mock/control/concurrency[?tenant=T]`` -> ``{"requests": N,
"peak_in_flight": P}``: N records of the tenant (of all tenants without
``tenant``) and P the most of them in flight at one moment (started and not
finished; an unanswered record counts until now), swept over their
``started``/``finished``; a request finishing at the instant another starts
does not overlap it.  With ``latency_ms`` a client's parallel requests show
as P > 1, sequential ones as P = 1.

Usage::

    python3 test/mock_cloud.py --port 0 --port-file /tmp/x.port [--fixtures DIR] [--log FILE]

The code is the package test/mockcloud/ (one module per concern; its
``__init__`` lists them); this file is the entry point and re-exports what
test scripts import from ``mock_cloud`` (synthetic ids, the signer,
credentials, option parsing).  Python 3 standard library only.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if __name__ == "__main__":
    # as one file the running server wrote no bytecode; keep __pycache__ out of the package too
    sys.dont_write_bytecode = True
if HERE not in sys.path:        # the package lives next to this file
    sys.path.insert(0, HERE)

# Re-exports: test scripts import these from mock_cloud (synthetic ids, the signer,
# credentials, option parsing); the package modules never import this entry point.
from mockcloud.constants import (  # noqa: E402,F401
    DEPLOY_APP_STATES, EPS_GLOBAL_TYPES, EPS_PROVIDERS, EPS_RESOURCE_TYPES, HW_ACCESS_KEYS,
    HW_DEFAULT_TOKEN_TTL_S, HW_DOMAIN, HW_FIXED_TOKEN, HW_MAX_CLOCK_SKEW_S, HW_PROJECT,
    HW_SECURITY_TOKEN, HW_USER, QODER_TOKENS)
from mockcloud.faults import BIG_NUMBERS, DEEP_BODY_LEVELS, HUGE_BODY_BYTES  # noqa: E402,F401
from mockcloud.helpers import (  # noqa: E402,F401
    iso_micro, iso_seconds, parse_int, parse_rfc3339, to_json_bytes, utcnow)
from mockcloud.options import (  # noqa: E402,F401
    BODY_KINDS, NO_BODY_STATUSES, OPTIONS, REDIRECT_STATUSES, MockOptionError, MockOptions)
from mockcloud.plumbing import MockHandler, MockServer, serve, write_port_file  # noqa: E402,F401
from mockcloud.qoder import QODER_DEFAULT_LIMIT, QODER_MAX_LIMIT  # noqa: E402,F401
from mockcloud.signing import (  # noqa: E402,F401
    hw_authorization, hw_canonical_query, hw_canonical_request, hw_canonical_uri, hw_escape,
    hw_sign, hw_signature, hw_string_to_sign)
from mockcloud.state import MockState  # noqa: E402,F401
from mockcloud.store import (  # noqa: E402,F401
    EPS_SYNTH_ENTERPRISE_PROJECT, EPS_SYNTH_REGION, SYNTH_EPOCH, SYNTH_STEP, synthetic_deploy_app,
    synthetic_deploy_env, synthetic_enterprise_project, synthetic_env, synthetic_env_id,
    synthetic_eps_resource)


def main(argv=None):
    """Parse the command line and serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: pick a free one)")
    parser.add_argument("--port-file", help="write the listening port here once ready")
    parser.add_argument("--fixtures", default=os.path.join(HERE, "fixtures"),
                        help="directory with qoder_environments.json and huawei.json")
    parser.add_argument("--log", help="append every request as a JSON line to this file")
    args = parser.parse_args(argv)
    return serve(args.port, args.port_file, args.fixtures, args.log)


if __name__ == "__main__":
    sys.exit(main())
