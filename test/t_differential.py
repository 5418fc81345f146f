#!/usr/bin/env python3
# timeout: 400
"""Differential tests: every generated query runs against a foreign table
and, unchanged, against a local copy of its rows; the results must agree.

Foreign tables (schema "diff"), each on its own mock tenant:

  envs        Qoder, 300 synthetic environments (pages of 37)
  envs_fix    Qoder, the fixture tenant (12 environments, one archived; pages of 5)
  envs_char   Qoder, synthetic rows with a char(40) key column
  eps         Huawei EPS, 150 enterprise projects (pages of 40)
  eps_fix     Huawei EPS, the fixture projects
  deploy      Huawei CodeArts Deploy, 120 synthetic environments in the first
              application and the fixture's 3 in the second (pages of 40)
  deploy_fix  Huawei CodeArts Deploy, the fixture applications
  apps        CodeArts Deploy applications, 100 synthetic ones in the project
              of table option codearts_project_id (pages of 9, in the body)
  apps_fix    CodeArts Deploy applications of the fixture's two projects,
              the project always from quals or joins (pages of 2)
  epsres      EPS resources: 80 synthetic ecs in enterprise project 0 and
              cn-east-3 besides the fixture's (pages of 10, offset in the body)
  epsres_fix  EPS resources of the fixture (pages of 1)
  envs_part   a local table partitioned by created_at whose partitions are
              foreign tables, each on its own server and tenant

Scoped tables (deploy, apps_fix, epsres...) list only for values of some
columns: every query gives them, as constants (=, IN, ANY, subqueries) or
from a local table through a join, and always a valid combination (EPS
resources: a region project for a region-level type, '' for a global
one), since the API rightly refuses the others.  The EPS resource tables map
columns id and name to resource_id and resource_name, so the generators'
key and name columns are theirs (and the key and the fuzzy name match are
bound by JSON path, not by column name).

The local copy is `CREATE TABLE local_x AS SELECT * FROM x` (the partitioned
table's copy is partitioned the same way; a scoped table's copy names every
scope the mock holds).  Categories: filter (every column
type), key (get-by-id quals), bigin (long IN lists), join (one to three
local tables; hash, merge, nested loop and LATERAL, forced by planner
settings and by estimated_items), semi (EXISTS, IN, NOT IN...), limit,
agg (DISTINCT, aggregates, GROUP BY, windows, set operations) and prepared
(generic and custom plans).  The generator is seeded (DIFF_SEED, default
20260101), so a run is reproducible.  Rows compare as multisets, or in
order when the query has a total ORDER BY; LIMIT without ORDER BY checks
the count and that the rows are a subset.  An error on the foreign side
only is a mismatch (with its SQLSTATE); an error on the local side is a
bug of the generator and also reported.

Every foreign execution is preceded by an EXPLAIN (VERBOSE) of it (which
makes no request), so a failure shows the plan, and the summary counts the
plans seen per table (hash, merge, nestloop, memoize, get, listing, "per
outer row" for parameterized scans...); an EXPLAIN that fails while its
query succeeds is a failure of its own ("explain").  The share of queries
with rows and the plan features each family must reach are checked too, so
a generator that drifts into empty results or trivial plans fails.  The
mock's rows_from option (required) gives the partitions of envs_part
disjoint synthetic rows.  The baseline compares the local copies, column by
column, with the items the mock serves, fetched directly over HTTP (EPS
resources with every type and region project in one filter, where the FDW
asks one at a time).  The tables with small pages must have had the mock
serve pages past the first to the generated queries (its request log).

Each table/category is one `ok` line; a failure lists the failing queries
(the first few, with settings, plan and a short diff).  Environment knobs:
DIFF_SEED, DIFF_ONLY (regexp on "table/category"), DIFF_SCALE (budget
multiplier, default 1), DIFF_KEEP=1 (leave schema and servers behind),
DIFF_SHOW (failures shown per line, default 6).
"""
import collections
import csv
import datetime
import io
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from harness import Tap, pg_bindir

csv.field_size_limit(1 << 30)
tap = Tap()
START = time.monotonic()
MOCK = os.environ["MOCK_URL"]
SEED = int(os.environ.get("DIFF_SEED", "20260101"))
ONLY = re.compile(os.environ.get("DIFF_ONLY", "."))
SCALE = float(os.environ.get("DIFF_SCALE", "1"))
SHOW = int(os.environ.get("DIFF_SHOW", "6"))
KEEP = os.environ.get("DIFF_KEEP") == "1"
TAG = os.environ.get("DIFF_TAG") or str(os.getpid())
NULL = "<<NULL>>"
STATEMENT_TIMEOUT = "30s"
PSQL_TIMEOUT = 120      # one psql batch; well below the script's timeout
with open(__file__, encoding="utf-8") as _self:   # the runner's `# timeout:` header above
    SCRIPT_TIMEOUT = int(re.search(r"^# timeout: (\d+)", _self.read(300), re.M).group(1))
SCRIPT_MARGIN = 40      # seconds kept for the summary before the runner kills the script
QODER_TOKEN = "pt-test-admin"
HW_TOKEN = "hw-test-token"
APP1 = "43943381f7764c52baae8e697720873f"
APP2 = "8ddf0566c1784da29faac80516fa8425"
PROJECT = "55837d272adf4eee90319800e2da6961"
PROJECT2 = "ad957ed43291f05287cf00a5c920724d"     # the fixture's other CodeArts project
NO_PROJECT = "ffffffffffffffffffffffffffffffff"   # well-formed, holds no application
UNKNOWN_EP = "00000000-0000-4000-a000-000000000000"
# The region (IAM) projects of the mock's EPS (cn-north-4, cn-south-1,
# cn-east-3; see its docstring): EPS has no call that lists them.
EPS_REGION_PROJECTS = ["e1eb7c40cbea4c8389cde527594a306d", "030eb8c716a3f1ce972006b0388bdef6",
                       "84e87e7fde6d6b186e65621d6b1a03fd"]
SYNTH_ROWS = 300
APP_ROWS = 100
EPS_RESOURCE_ROWS = 80
CATEGORIES = ("filter", "key", "bigin", "join", "semi", "limit", "agg", "prepared")
# Coverage floors, checked per table (see the "# summary" lines of a run).
# Observed with the default seed and seeds 1, 777, 424242: 51-87% of the
# queries of a table return rows; per table at least 12 key queries plan a
# get, at least 4 join queries a hash join and 6 a scan per outer row; the
# new resources' tables at least 10 generic plans with parameter keys, and
# at least 73 pages past the first served to the queries.
MIN_ROWS_PCT = 40
REQUIRED_FEATURES = {"key": ("get",), "join": ("per outer row", "hash")}
# EPS resources have no get: their key quals are checked on listings.
APP_REQUIRED = dict(REQUIRED_FEATURES, prepared=("param key",))
EPSRES_REQUIRED = {"join": ("per outer row", "hash"), "prepared": ("param key",)}
MIN_LATER_PAGES = 20

SESSION_INIT = f"""\\pset null '{NULL}'
\\set VERBOSITY verbose
SET search_path = diff, public;
SET statement_timeout = '{STATEMENT_TIMEOUT}';
SET timezone = 'UTC';
SET datestyle = 'ISO';
SET client_min_messages = warning;
"""


# ---------------------------------------------------------------------------
# psql: one long-lived session per batch, results framed by markers
# ---------------------------------------------------------------------------

class Result:
    def __init__(self, sqlstate, message, rows):
        self.sqlstate = sqlstate
        self.message = message
        self.rows = rows

    @property
    def error(self):
        return self.sqlstate != "00000"


MARK = re.compile(r"^@@([SE]) (\S+)(?: (\S+)(?: (.*))?)?$")


def csv_rows(lines):
    """The rows of one statement's `psql --csv -t` output lines.

    Every row ends with a newline, so the text handed to csv.reader gets
    its final one back (joining the lines drops it, and csv.reader then
    loses a last row that is an empty line).  psql prints an empty-string
    field unquoted, so a one-column row holding '' is an empty line, which
    csv.reader returns as []: it is the row ('',).  NULL is never an
    empty line here: SESSION_INIT has psql print it as <<NULL>>.
    """
    if not lines:
        return []
    return [tuple(r) if r else ("",) for r in csv.reader(io.StringIO("\n".join(lines) + "\n"))]


def run_batch(statements, timeout=PSQL_TIMEOUT):
    """Run [(id, sql)] in one psql session; return {id: Result}.

    Each statement is framed by `\\echo` markers; the end marker carries
    psql's SQLSTATE variable and, after a failure, LAST_ERROR_MESSAGE.
    A statement whose end marker never came (session lost, psql killed) is
    missing from the answer.
    """
    parts = [SESSION_INIT]
    for sid, sql in statements:
        parts.append(f"\\echo @@S {sid}\n{sql.rstrip().rstrip(';')};\n"
                     f"\\echo @@E {sid} :SQLSTATE :'LAST_ERROR_MESSAGE'\n")
    script = "".join(parts)
    # Never past the runner's kill: a hung batch must be reported, with its
    # queries, while the script still runs.
    timeout = min(timeout, max(10, SCRIPT_TIMEOUT - SCRIPT_MARGIN - (time.monotonic() - START)))
    try:
        proc = subprocess.run(
            [str(pg_bindir() / "psql"), "-X", "-q", "-t", "--csv", "-v", "ON_ERROR_STOP=0",
             "-f", "-"], input=script, capture_output=True, text=True, errors="replace",
            timeout=timeout)
        out = proc.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        print(f"# psql batch of {len(statements)} statements timed out after {timeout:.0f} s",
              flush=True)
    results = {}
    current, lines = None, []
    for line in out.split("\n"):
        m = MARK.match(line)
        if m and m.group(1) == "S":
            current, lines = m.group(2), []
        elif m and m.group(1) == "E" and m.group(2) == current:
            rows = csv_rows(lines)
            message = (m.group(4) or "").strip()
            if message.startswith("'") and message.endswith("'"):
                message = message[1:-1].replace("''", "'")
            results[current] = Result(m.group(3) or "?????", message, rows)
            current = None
        elif current is not None:
            lines.append(line)
    return results


def psql_json(sql):
    """The single JSON value a query returns."""
    res = run_batch([("j", sql)])["j"]
    if res.error:
        raise RuntimeError(f"{sql}: {res.sqlstate} {res.message}")
    return json.loads(res.rows[0][0])


# ---------------------------------------------------------------------------
# The mock: does it know rows_from? What does it serve, asked directly?
# ---------------------------------------------------------------------------

def http_json(url, headers, body=None):
    """(status, JSON answer) of a GET, or of a POST of the JSON `body`."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"null")
        except ValueError:
            return e.code, None


def mock_rows_from():
    """None when the mock honours rows_from, else what went wrong."""
    status, body = http_json(
        f"{MOCK}/_mock/tenant=diff-probe-{TAG},rows=2,rows_from=7/api/v1/cloud/environments?limit=10",
        {"Authorization": f"Bearer {QODER_TOKEN}"})
    if status != 200 or not isinstance(body, dict):
        return f"probe listing: HTTP {status} {str(body)[:200]}"
    created = sorted(e.get("created_at", "") for e in body.get("data", []))
    if len(created) == 2 and created[0].startswith("2026-01-01T00:07:00"):
        return None
    return f"rows=2,rows_from=7 listed created_at {created} (expected 2 rows from 2026-01-01T00:07:00)"


def qoder_items(prefix):
    """Every environment of a tenant, archived ones included, from the mock."""
    items, after = [], None
    while True:
        url = f"{MOCK}/_mock/{prefix}/api/v1/cloud/environments?limit=100&include_archived=true"
        if after:
            url += f"&after_id={after}"
        status, body = http_json(url, {"Authorization": f"Bearer {QODER_TOKEN}"})
        if status != 200:
            raise RuntimeError(f"mock listing: HTTP {status} {body}")
        items += body["data"]
        if not body["has_more"]:
            return items
        after = body["last_id"]


def eps_items(prefix):
    status, body = http_json(f"{MOCK}/_mock/{prefix}/v1.0/enterprise-projects?limit=1000",
                             {"X-Auth-Token": HW_TOKEN})
    if status != 200:
        raise RuntimeError(f"mock listing: HTTP {status} {body}")
    return body["enterprise_projects"]


def hw_json(prefix, path, body=None):
    """A Huawei API answer of the mock, which must be a 200."""
    status, answer = http_json(f"{MOCK}/_mock/{prefix}{path}", {"X-Auth-Token": HW_TOKEN}, body)
    if status != 200:
        raise RuntimeError(f"mock {path}: HTTP {status} {answer}")
    return answer


def all_pages(fetch, items_key, total_key):
    """Every item of a listing that reports its total; fetch(n) answers the
    n-th (0-based) page of 100."""
    items, n = [], 0
    while True:
        body = fetch(n)
        items += body[items_key]
        n += 1
        if n * 100 >= body[total_key]:
            return items


def deploy_items(prefix):
    """The environments of both applications; application_id added, as the
    FDW fills it in from the request."""
    items = []
    for app in (APP1, APP2):
        envs = all_pages(lambda n: hw_json(
            prefix, f"/v1/applications/{app}/environments?project_id={PROJECT}"
                    f"&page_size=100&page_index={n + 1}"), "result", "total")
        items += [dict(e, application_id=app) for e in envs]
    return items


def app_items(prefix, projects):
    """The applications of CodeArts projects."""
    return [a for p in projects for a in all_pages(lambda n: hw_json(
        prefix, "/v1/applications/list", {"project_id": p, "page": n + 1, "size": 100}),
        "result", "total_num")]


def eps_catalogue(prefix):
    """(region-level, global) resource types of the mock's EPS catalogue."""
    body = hw_json(prefix, "/v1.0/enterprise-projects/providers?locale=en-us&limit=200")
    types = [rt for p in body["providers"] for rt in p["resource_types"]]
    return (sorted(rt["resource_type"] for rt in types if not rt["global"]),
            sorted(rt["resource_type"] for rt in types if rt["global"]))


def eps_resource_items(prefix):
    """Every resource of every enterprise project: one filter for all the
    region-level types in all region projects, one for the global types."""
    region, global_types = eps_catalogue(prefix)
    items = []
    for ep in eps_items(prefix):
        for scope in ({"resource_types": region, "projects": EPS_REGION_PROJECTS},
                      {"resource_types": global_types}):
            def page(n):
                body = hw_json(prefix, f"/v1.0/enterprise-projects/{ep['id']}/resources/filter",
                               dict(scope, offset=100 * n, limit=100))
                if body["errors"]:   # the baseline would miss rows
                    raise RuntimeError(f"mock resources/filter of {ep['id']}: {body['errors']}")
                return body
            items += all_pages(page, "resources", "total_count")
    return items


def item_key(t, item):
    key = tuple(item_value(t, item, c) for c in t.key_cols)
    return key if len(key) > 1 else key[0]


def row_key(t, row):
    """The key of a local copy's row, as item_key reads it from the mock."""
    key = tuple(row[c] for c in t.key_cols)
    return key if len(key) > 1 else key[0].rstrip()


def paged_requests(t):
    """How many calls of table t's list path its tenant got for a page past
    the first (the mock's request log)."""
    tenant, path, field, first = t.paging
    status, records = http_json(f"{MOCK}/_mock/control/requests?tenant={tenant}", {})
    if status != 200:
        raise RuntimeError(f"mock request log: HTTP {status} {records}")
    return sum(1 for r in records if r["method"] == "POST" and r["path"].endswith(path)
               and json.loads(r["body"] or "{}").get(field, first) != first)


def item_value(t, item, col):
    """The JSON value column `col` reads from a mock item (its path option, or
    the field of its own name); None when the path is missing."""
    v = item
    for part in (t.paths.get(col) or col).split("."):
        if not isinstance(v, dict) or part not in v:
            return None
        v = v[part]
    return v


def as_text(t, col, v):
    """A column value as comparable text, read the way a reader expects: a
    JSON string is the text, a number (or numeric string) the integer, an
    ISO timestamp (without a zone: UTC) the instant, an array or object its
    canonical JSON.  Applied to the mock's JSON value and to the local copy's
    json_agg value alike."""
    if v is None:
        return NULL
    typ = t.types[col]
    try:
        if typ == "text":
            text = v if isinstance(v, str) else json.dumps(v)
            m = re.fullmatch(r"char\((\d+)\)", t.key_type) if col == "id" else None
            return text.ljust(int(m.group(1))) if m else text
        if typ == "int":
            if isinstance(v, bool) or not isinstance(v, (int, str)) or \
                    (isinstance(v, str) and not re.fullmatch(r"-?\d+", v.strip())):
                return f"<not an integer: {v!r}>"
            return str(int(v))
        if typ == "bool":
            return "true" if v is True else "false" if v is False else f"<not a boolean: {v!r}>"
        if typ == "ts":
            moment = datetime.datetime.fromisoformat(v)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.timezone.utc)
            return moment.astimezone(datetime.timezone.utc).isoformat()
        if typ in ("arr", "jsonb"):
            return json.dumps(v, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        return f"<unreadable {typ}: {v!r} ({e})>"
    raise ValueError(typ)


def baseline_problems(t, items):
    """Keys and every column of every row: the local copy against the mock."""
    problems = []
    have = collections.Counter(row_key(t, r) for r in t.rows)
    want = collections.Counter(item_key(t, i) for i in items)
    if have != want:
        problems.append(f"{t.name}: local copy has {sum(have.values())} rows, the mock holds "
                        f"{sum(want.values())}; missing {sorted(want - have)[:3]}, "
                        f"extra {sorted(have - want)[:3]}")
    local = {row_key(t, r): r for r in t.rows}
    bad = collections.Counter()
    for item in items:
        row = local.get(item_key(t, item))
        if row is None:
            continue
        for col in t.colnames:
            want_v, have_v = as_text(t, col, item_value(t, item, col)), as_text(t, col, row[col])
            if want_v != have_v:
                if not bad[col]:
                    problems.append(f"{t.name}.{col} of {item_key(t, item)}: local {have_v[:120]!r}, "
                                    f"the mock serves {want_v[:120]!r}")
                bad[col] += 1
    if bad:
        problems.append(f"{t.name}: rows differing per column: " +
                        ", ".join(f"{c} {n}" for c, n in bad.most_common()))
    return problems


# ---------------------------------------------------------------------------
# Schema: servers, user mappings, foreign tables, local copies, helpers
# ---------------------------------------------------------------------------

QODER_COLS = [
    ("id", "text", None), ("type", "text", None), ("name", "text", None),
    ("description", "text", None), ("status", "text", None), ("archived", "bool", None),
    ("networking_type", "text", "config.networking.type"),
    ("allowed_hosts", "arr", "config.networking.allowed_hosts"),
    ("allow_package_managers", "bool", "config.networking.allow_package_managers"),
    ("apt_packages", "arr", "config.packages.apt"),
    ("pip_packages", "arr", "config.packages.pip"),
    ("npm_packages", "arr", "config.packages.npm"),
    ("config", "jsonb", None), ("metadata", "jsonb", None),
    ("idx", "int", "metadata.index"), ("max_runners", "int", "metadata.max_runners"),
    ("team", "text", "metadata.team"),
    ("archived_at", "ts", None), ("created_at", "ts", None), ("updated_at", "ts", None),
]
CHAR_COLS = [
    ("id", "text", None), ("name", "text", None), ("status", "text", None),
    ("networking_type", "text", "config.networking.type"),
    ("idx", "int", "metadata.index"), ("created_at", "ts", None),
]
PART_COLS = [
    ("id", "text", None), ("name", "text", None), ("status", "text", None),
    ("networking_type", "text", "config.networking.type"),
    ("allowed_hosts", "arr", "config.networking.allowed_hosts"),
    ("idx", "int", "metadata.index"), ("metadata", "jsonb", None), ("created_at", "ts", None),
]
EPS_COLS = [
    ("id", "text", None), ("name", "text", None), ("description", "text", None),
    ("status", "int", None), ("type", "text", None), ("created_at", "ts", None),
    ("updated_at", "ts", None), ("delete_flag", "bool", None),
]
DEPLOY_COLS = [
    ("application_id", "text", None), ("id", "text", None), ("name", "text", None),
    ("description", "text", None), ("os", "text", None), ("project_id", "text", None),
    ("nick_name", "text", None), ("deploy_type", "int", None), ("instance_count", "int", None),
    ("created_time", "ts", None), ("created_by_id", "text", "created_by.user_id"),
    ("created_by_name", "text", "created_by.user_name"),
    ("can_view", "bool", "permission.can_view"), ("can_edit", "bool", "permission.can_edit"),
    ("can_delete", "bool", "permission.can_delete"),
    ("can_deploy", "bool", "permission.can_deploy"),
    ("can_manage", "bool", "permission.can_manage"),
    ("created_by", "jsonb", None), ("permission", "jsonb", None),
]
APP_COLS = [
    ("id", "text", None), ("name", "text", None), ("project_id", "text", None),
    ("project_name", "text", None), ("is_disable", "bool", None), ("deploy_system", "text", None),
    ("execution_state", "text", None), ("release_id", "int", None), ("duration", "text", None),
    ("create_user_id", "text", None), ("create_time", "ts", None), ("update_time", "ts", None),
    ("arrange_infos", "jsonb", None),
]
EPSRES_COLS = [
    ("enterprise_project_id", "text", None), ("project_id", "text", None),
    ("project_name", "text", None), ("resource_type", "text", None),
    ("id", "text", "resource_id"), ("name", "text", "resource_name"),
    ("resource_detail", "jsonb", None),
]
SQLTYPE = {"text": "text", "bool": "boolean", "ts": "timestamptz", "int": "integer",
           "arr": "text[]", "jsonb": "jsonb"}


def column_defs(cols, key_type="text", with_paths=True, overrides=None):
    defs = []
    for name, typ, path in cols:
        sqltype = (overrides or {}).get(name) or (key_type if name == "id" else SQLTYPE[typ])
        opt = f" OPTIONS (path '{path}')" if path and with_paths else ""
        defs.append(f"{name} {sqltype}{opt}")
    return ",\n  ".join(defs)


class Table:
    """A foreign table under test and what the generator knows about it."""

    def __init__(self, name, kind, cols, budget, key_type="text", groups=(), ints=(),
                 bools=(), rels=None, partitioned=False, families=(), scope_optional=False,
                 required=None, paging=None):
        self.name = name
        self.local = "local_" + name
        self.kind = kind                      # qoder | eps | deploy | apps | epsres
        self.cols = [(c, t) for c, t, _ in cols]
        self.paths = {c: p for c, _, p in cols if p}
        self.colnames = [c for c, _ in self.cols]
        self.types = dict(self.cols)
        self.budget = budget
        self.key_type = key_type              # type of the key column (text or char(40))
        self.groups = list(groups)            # low-cardinality columns for GROUP BY
        self.ints = list(ints)
        self.bools = list(bools)
        self.rels = rels or [name]            # the foreign tables (partitions) behind it
        self.partitioned = partitioned
        # The quals a listing needs: one {column: values} per valid combination
        # of columns; the first names every scope column, and the joins'
        # helper tables take their scopes from it.
        self.families = list(families)
        self.scope_cols = list(families[0]) if families else []
        self.scope_optional = scope_optional  # a table option gives the scope when no qual does
        self.key_cols = ["application_id", "id"] if kind == "deploy" else ["id"]
        # The copy: one listing per family, of every value the family holds.
        self.copy_quals = [None] if scope_optional or not families else [
            " AND ".join(f"{c} IN ({', '.join(map(q, vals))})" for c, vals in fam.items())
            for fam in families]
        self.required = REQUIRED_FEATURES if required is None else required
        self.paging = paging                  # (tenant, path, body field, first page) or None
        self.rows = []
        self.vals = {}
        self.mock_items = None                # what the mock serves, asked directly

    @property
    def free_cols(self):
        """The columns a filter may test: the scope is the scope generator's."""
        return [c for c in self.colnames if c not in self.scope_cols]

    def order(self, a, desc=False):
        d = " DESC" if desc else ""
        return ", ".join(f"{a}.{c}{d}" for c in self.key_cols)

    def helper(self, h):
        return f"{h}_{self.name}"


def hw_server(name, prefix, page_size):
    return f"""
CREATE SERVER {name} FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint '{MOCK}/_mock/{prefix}',
           page_size '{page_size}');
CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (auth_token '{HW_TOKEN}');
"""


def qoder_server(name, prefix, page_size):
    return f"""
CREATE SERVER {name} FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint '{MOCK}/_mock/{prefix}/api/v1/cloud',
           page_size '{page_size}');
CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (token '{QODER_TOKEN}');
"""


SERVERS = ["diff_qsyn", "diff_qfix", "diff_hw", "diff_hwfix", "diff_hwsyn",
           "diff_p1", "diff_p2", "diff_p3"]


def epsres_families(prefix):
    """EPS resources: every enterprise project of the tenant (and an unknown
    one) with a region-level type and a region project, or a global type and
    project_id '' (its rows have no region project; '' lists them without one)."""
    region, global_types = eps_catalogue(prefix)
    eps = [p["id"] for p in eps_items(prefix)] + [UNKNOWN_EP]
    return [{"enterprise_project_id": eps, "resource_type": region,
             "project_id": EPS_REGION_PROJECTS},
            {"enterprise_project_id": eps, "resource_type": global_types, "project_id": [""]}]


def build_schema():
    """Setup statements and the tables under test."""
    t = TAG
    prefixes = {
        "syn": f"tenant=diff-syn-{t},rows={SYNTH_ROWS}",
        "fix": f"tenant=diff-fix-{t}",
        "hw": f"tenant=diff-hw-{t},eps_rows=150,deploy_rows=120",
        "hwfix": f"tenant=diff-hwfix-{t}",
        "hwsyn": f"tenant=diff-hwsyn-{t},app_rows={APP_ROWS},eps_resource_rows={EPS_RESOURCE_ROWS}",
    }
    # Partitions of envs_part: (bounds, tenant prefix); rows_from keeps the
    # synthetic rows of the first two disjoint, the third is the fixture.
    parts = [("'2026-01-01 00:00+00'", "'2026-01-01 02:00+00'",
              f"tenant=diff-p1-{t},rows=120,rows_from=0"),
             ("'2026-01-01 02:00+00'", "'2026-01-02 00:00+00'",
              f"tenant=diff-p2-{t},rows=150,rows_from=120"),
             ("'2026-01-02 00:00+00'", "'2027-01-01 00:00+00'", f"tenant=diff-p3-{t}")]

    sql = [f"""
CREATE EXTENSION IF NOT EXISTS cloud_fdw;
DROP SCHEMA IF EXISTS diff CASCADE;
CREATE SCHEMA diff;
SET search_path = diff, public;
"""]
    for s in SERVERS:
        sql.append(f"DROP SERVER IF EXISTS {s} CASCADE;")
    sql.append(qoder_server("diff_qsyn", prefixes["syn"], 37))
    sql.append(qoder_server("diff_qfix", prefixes["fix"], 5))
    sql.append(hw_server("diff_hw", prefixes["hw"], 40))
    sql.append(hw_server("diff_hwfix", prefixes["hwfix"], 40))
    sql.append(hw_server("diff_hwsyn", prefixes["hwsyn"], 40))
    for i, (_, _, prefix) in enumerate(parts):
        sql.append(qoder_server(f"diff_p{i + 1}", prefix, 50))

    q_groups = ["status", "networking_type", "type", "archived", "allow_package_managers", "team"]
    app_groups = ["project_id", "is_disable", "execution_state", "deploy_system", "create_user_id"]
    res_groups = ["enterprise_project_id", "resource_type", "project_id", "project_name"]
    tables = [
        Table("envs", "qoder", QODER_COLS, 1.0, groups=q_groups, ints=["idx", "max_runners"],
              bools=["archived", "allow_package_managers"]),
        Table("envs_fix", "qoder", QODER_COLS, 0.45, groups=q_groups,
              ints=["max_runners", "idx"], bools=["archived", "allow_package_managers"]),
        Table("envs_char", "qoder", CHAR_COLS, 0.35, key_type="char(40)",
              groups=["status", "networking_type"], ints=["idx"]),
        Table("eps", "eps", EPS_COLS, 0.8, groups=["status", "type", "delete_flag"],
              ints=["status"], bools=["delete_flag"]),
        Table("eps_fix", "eps", EPS_COLS, 0.35, groups=["status", "type", "delete_flag"],
              ints=["status"], bools=["delete_flag"]),
        Table("deploy", "deploy", DEPLOY_COLS, 0.8,
              groups=["application_id", "os", "deploy_type", "nick_name", "created_by_name"],
              ints=["instance_count", "deploy_type"], bools=["can_edit", "can_delete"],
              families=[{"application_id": [APP1, APP2]}]),
        Table("deploy_fix", "deploy", DEPLOY_COLS, 0.35,
              groups=["application_id", "os", "deploy_type", "nick_name", "created_by_name"],
              ints=["instance_count", "deploy_type"], bools=["can_edit", "can_delete"],
              families=[{"application_id": [APP1, APP2]}]),
        Table("apps", "apps", APP_COLS, 0.5, groups=app_groups, ints=["release_id"],
              bools=["is_disable"], families=[{"project_id": [PROJECT, NO_PROJECT]}],
              scope_optional=True, required=APP_REQUIRED,
              paging=(f"diff-hwsyn-{t}", "/v1/applications/list", "page", 1)),
        Table("apps_fix", "apps", APP_COLS, 0.35, groups=app_groups, ints=["release_id"],
              bools=["is_disable"], families=[{"project_id": [PROJECT, PROJECT2, NO_PROJECT]}],
              required=APP_REQUIRED,
              paging=(f"diff-hwfix-{t}", "/v1/applications/list", "page", 1)),
        Table("epsres", "epsres", EPSRES_COLS, 0.5, groups=res_groups,
              families=epsres_families(prefixes["hwsyn"]), required=EPSRES_REQUIRED,
              paging=(f"diff-hwsyn-{t}", "/resources/filter", "offset", 0)),
        Table("epsres_fix", "epsres", EPSRES_COLS, 0.35, groups=res_groups,
              families=epsres_families(prefixes["hwfix"]), required=EPSRES_REQUIRED,
              paging=(f"diff-hwfix-{t}", "/resources/filter", "offset", 0)),
        Table("envs_part", "qoder", PART_COLS, 0.8, groups=["status", "networking_type"],
              ints=["idx"], rels=[f"envs_part_{i + 1}" for i in range(len(parts))],
              partitioned=True),
    ]
    by = {x.name: x for x in tables}
    by["envs"].mock_items = lambda: qoder_items(prefixes["syn"])
    by["envs_fix"].mock_items = lambda: qoder_items(prefixes["fix"])
    by["envs_char"].mock_items = lambda: qoder_items(prefixes["syn"])
    by["eps"].mock_items = lambda: eps_items(prefixes["hw"])
    by["eps_fix"].mock_items = lambda: eps_items(prefixes["hwfix"])
    by["deploy"].mock_items = lambda: deploy_items(prefixes["hw"])
    by["deploy_fix"].mock_items = lambda: deploy_items(prefixes["hwfix"])
    by["apps"].mock_items = lambda: app_items(prefixes["hwsyn"], [PROJECT])
    by["apps_fix"].mock_items = lambda: app_items(prefixes["hwfix"], [PROJECT, PROJECT2])
    by["epsres"].mock_items = lambda: eps_resource_items(prefixes["hwsyn"])
    by["epsres_fix"].mock_items = lambda: eps_resource_items(prefixes["hwfix"])
    by["envs_part"].mock_items = lambda: [i for _, _, p in parts for i in qoder_items(p)]

    sql.append(f"""
CREATE FOREIGN TABLE envs (
  {column_defs(QODER_COLS)}
) SERVER diff_qsyn OPTIONS (resource 'environments');
CREATE FOREIGN TABLE envs_fix (
  {column_defs(QODER_COLS)}
) SERVER diff_qfix OPTIONS (resource 'environments');
CREATE FOREIGN TABLE envs_char (
  {column_defs(CHAR_COLS, key_type='char(40)', overrides={'name': 'varchar(20)'})}
) SERVER diff_qsyn OPTIONS (resource 'environments');
CREATE FOREIGN TABLE eps (
  {column_defs(EPS_COLS)}
) SERVER diff_hw OPTIONS (resource 'enterprise_projects');
CREATE FOREIGN TABLE eps_fix (
  {column_defs(EPS_COLS)}
) SERVER diff_hwfix OPTIONS (resource 'enterprise_projects');
CREATE FOREIGN TABLE deploy (
  {column_defs(DEPLOY_COLS)}
) SERVER diff_hw OPTIONS (resource 'deploy_environments', codearts_project_id '{PROJECT}');
CREATE FOREIGN TABLE deploy_fix (
  {column_defs(DEPLOY_COLS)}
) SERVER diff_hwfix OPTIONS (resource 'deploy_environments', codearts_project_id '{PROJECT}');
CREATE FOREIGN TABLE apps (
  {column_defs(APP_COLS, overrides={'release_id': 'bigint'})}
) SERVER diff_hwsyn OPTIONS (resource 'deploy_applications', codearts_project_id '{PROJECT}',
                             page_size '9');
CREATE FOREIGN TABLE apps_fix (
  {column_defs(APP_COLS, overrides={'release_id': 'bigint'})}
) SERVER diff_hwfix OPTIONS (resource 'deploy_applications', page_size '2');
CREATE FOREIGN TABLE epsres (
  {column_defs(EPSRES_COLS)}
) SERVER diff_hwsyn OPTIONS (resource 'enterprise_project_resources', page_size '10');
CREATE FOREIGN TABLE epsres_fix (
  {column_defs(EPSRES_COLS)}
) SERVER diff_hwfix OPTIONS (resource 'enterprise_project_resources', page_size '1');
CREATE TABLE envs_part (
  {column_defs(PART_COLS, with_paths=False)}
) PARTITION BY RANGE (created_at);
""")
    for i, (lo, hi, _) in enumerate(parts):
        rel = f"envs_part_{i + 1}"
        sql.append(f"CREATE FOREIGN TABLE {rel} PARTITION OF envs_part FOR VALUES FROM ({lo}) "
                   f"TO ({hi}) SERVER diff_p{i + 1} OPTIONS (resource 'environments');")
        for name, _, path in PART_COLS:
            if path:
                sql.append(f"ALTER FOREIGN TABLE {rel} ALTER COLUMN {name} "
                           f"OPTIONS (ADD path '{path}');")
    # Local copies.
    for x in tables:
        if x.partitioned:
            sql.append(f"CREATE TABLE {x.local} (LIKE {x.name}) PARTITION BY RANGE (created_at);")
            for i, (lo, hi, _) in enumerate(parts):
                sql.append(f"CREATE TABLE {x.local}_{i + 1} PARTITION OF {x.local} "
                           f"FOR VALUES FROM ({lo}) TO ({hi});")
            sql.append(f"INSERT INTO {x.local} SELECT * FROM {x.name};")
        else:
            first, *more = x.copy_quals
            sql.append(f"CREATE TABLE {x.local} AS SELECT * FROM {x.name}{where(first)};")
            sql += [f"INSERT INTO {x.local} SELECT * FROM {x.name}{where(w)};" for w in more]
        sql.append(f"CREATE INDEX ON {x.local} (id);")
        sql.append(f"ANALYZE {x.local};")
    return sql, tables, len(parts)


def load_rows(tables):
    for x in tables:
        x.rows = psql_json(
            f"SELECT coalesce(json_agg(t ORDER BY {x.order('t')}), '[]') FROM {x.local} t")
        for col in x.colnames:
            seen = {}
            for r in x.rows:
                v = r[col]
                if v is not None:
                    seen[json.dumps(v, sort_keys=True, ensure_ascii=False)] = v
            x.vals[col] = [seen[k] for k in sorted(seen)]
        if x.kind == "qoder":
            x.ids = [r["id"].rstrip() for r in x.rows]
        else:
            x.ids = [r["id"] for r in x.rows]
        # (scope, key) of every row; the keyed rows of the joins' helpers
        # are those whose scope a join can give (the first family's).
        x.row_scopes = [(tuple(r[c] for c in x.scope_cols), r["id"]) for r in x.rows]
        x.joinable = [(sc, k) for sc, k in x.row_scopes
                      if x.families and fits(x.families[0], dict(zip(x.scope_cols, sc)))]


# ---------------------------------------------------------------------------
# SQL literals and value pools
# ---------------------------------------------------------------------------

def q(v):
    if v is None:
        return "NULL"
    return "'" + str(v).replace("'", "''") + "'"


def lit(v, typ):
    if v is None:
        return "NULL"
    if typ == "int":
        return str(int(v))
    if typ == "bool":
        return "true" if v else "false"
    if typ == "ts":
        return f"{q(v)}::timestamptz"
    if typ == "arr":
        return f"ARRAY[{', '.join(q(e) for e in v)}]::text[]" if v else "'{}'::text[]"
    if typ == "jsonb":
        return f"{q(json.dumps(v, ensure_ascii=False))}::jsonb"
    return q(v)


def unknown_ids(t):
    if t.kind == "qoder":
        return ["env_00000000000000000000000000000000", "env_ffffffffffffffffffffffffffffffff",
                "env_019e3bb39b6774d8878cd0b9d2375700"]
    if t.kind in ("eps", "epsres"):
        return [UNKNOWN_EP, "ffffffff-ffff-4fff-afff-ffffffffffff"]
    return ["ffffffffffffffffffffffffffffffff", "00000000000000000000000000000000"]


def archived_ids(t):
    return [r["id"].rstrip() for r in t.rows if r.get("archived") or r.get("status") == "archived"] \
        + (["env_019c226880c07a79af31c5d0c2a70152"] if t.kind == "qoder" else [])


def odd_ids(t, rng):
    """Values that look like keys but are none: case, blanks, path tricks."""
    v = rng.choice(t.ids) if t.ids else "x"
    return [v.upper(), v + " ", " " + v, v[:-1], "a/b c", "../environments", ".", "..", "%", v + "%"]


def key_value(t, rng):
    """A key value: mostly existing, sometimes unknown, NULL, '' or odd."""
    r = rng.random()
    if r < 0.62 and t.ids:
        return rng.choice(t.ids)
    if r < 0.74:
        return rng.choice(unknown_ids(t))
    if r < 0.80:
        return None
    if r < 0.85:
        return ""
    if r < 0.90 and t.kind == "qoder":
        return rng.choice(archived_ids(t))
    return rng.choice(odd_ids(t, rng))


def key_list(t, rng, n=None):
    n = n or rng.randint(1, 8)
    vals = [key_value(t, rng) for _ in range(n)]
    if vals and rng.random() < 0.5:
        vals.append(rng.choice(vals))  # a duplicate
    return vals


def flatten(obj, path=()):
    """(path, leaf) of every scalar of a JSON value; an array element's path
    component is its index."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from flatten(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from flatten(v, path + (i,))
    else:
        yield path, obj


# ---------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------

def atom(t, rng, a, col=None):
    col = col or rng.choice(t.free_cols)
    typ = t.types[col]
    c = f"{a}.{col}"
    vals = t.vals.get(col) or []

    def v():
        return rng.choice(vals) if vals else None

    if typ == "text":
        x = v() or "x"
        x = x.rstrip() if col == "id" else x
        y = v() or "y"
        choices = [
            lambda: f"{c} = {q(x)}", lambda: f"{c} <> {q(x)}",
            lambda: f"{c} IN ({', '.join(q(z) for z in rng.sample([x, y, x, None, 'no such'], rng.randint(1, 5)))})",
            lambda: f"{c} NOT IN ({q(x)}, {q(y)})", lambda: f"{c} NOT IN ({q(x)}, NULL)",
            lambda: f"{c} = ANY (ARRAY[{q(x)}, {q(y)}, NULL])", lambda: f"{c} <> ALL (ARRAY[{q(x)}])",
            lambda: f"{c} LIKE {q(x[:max(1, len(x) // 2)] + '%')}",
            lambda: f"{c} ILIKE {q('%' + x[len(x) // 3:len(x) // 3 + 3].upper() + '%')}",
            lambda: f"{c} NOT LIKE {q('%' + x[-2:])}", lambda: f"{c} LIKE {q('%' + x[1:3] + '_%')}",
            lambda: f"{c} < {q(x)}", lambda: f"{c} >= {q(x)}",
            lambda: f"{c} BETWEEN {q(min(x, y))} AND {q(max(x, y))}",
            lambda: f"{c} IS NULL", lambda: f"{c} IS NOT NULL",
            lambda: f"{c} IS DISTINCT FROM {q(x)}", lambda: f"{c} IS NOT DISTINCT FROM {q(x)}",
            lambda: f"lower({c}) = {q(x.lower())}", lambda: f"length({c}) > {len(x) - 1}",
            lambda: f"{c} = ''", lambda: f"coalesce({c}, '') = ''",
            lambda: f"{c} ~ {q('^' + re.escape(x[:3]))}", lambda: f"{c} = {q(x.upper())}",
            lambda: f"{c} = {q('no such value')}",
        ]
    elif typ == "bool":
        choices = [lambda: c, lambda: f"NOT {c}", lambda: f"{c} IS TRUE", lambda: f"{c} IS NOT TRUE",
                   lambda: f"{c} IS FALSE", lambda: f"{c} IS NOT FALSE", lambda: f"{c} IS NULL",
                   lambda: f"{c} IS UNKNOWN", lambda: f"{c} = true", lambda: f"{c} <> false",
                   lambda: f"{c} IN (true, NULL)", lambda: f"coalesce({c}, false)"]
    elif typ == "ts":
        x, y = v(), v()
        if x is None:
            x = y = "2026-03-01T00:00:00+00:00"
        lo, hi = min(x, y), max(x, y)
        choices = [
            lambda: f"{c} = {lit(x, 'ts')}", lambda: f"{c} < {lit(x, 'ts')}",
            lambda: f"{c} >= {lit(x, 'ts')}", lambda: f"{c} BETWEEN {lit(lo, 'ts')} AND {lit(hi, 'ts')}",
            lambda: f"{c} IN ({lit(x, 'ts')}, {lit(y, 'ts')}, NULL)", lambda: f"{c} IS NULL",
            lambda: f"{c} IS NOT NULL", lambda: f"{c} > {lit(x, 'ts')} - interval '90 minutes'",
            lambda: f"date_trunc('hour', {c}) = date_trunc('hour', {lit(x, 'ts')})",
            lambda: f"extract(minute from {c}) < 30", lambda: f"{c} <> {lit(x, 'ts')}",
            lambda: f"{c}::date = {lit(x, 'ts')}::date",
            lambda: f"{c} = ANY (ARRAY[{lit(x, 'ts')}, {lit(y, 'ts')}])",
            lambda: f"{c} < '2026-01-01 02:30:00+00'", lambda: f"{c} >= '2026-05-01'",
        ]
    elif typ == "int":
        x, y = v(), v()
        if x is None:
            x = y = 1
        choices = [
            lambda: f"{c} = {x}", lambda: f"{c} <> {x}", lambda: f"{c} < {x}", lambda: f"{c} >= {x}",
            lambda: f"{c} BETWEEN {min(x, y)} AND {max(x, y)}",
            lambda: f"{c} IN ({x}, {y}, NULL, {x})", lambda: f"{c} NOT IN ({x}, {y})",
            lambda: f"{c} % {rng.randint(2, 5)} = {rng.randint(0, 1)}", lambda: f"{c} IS NULL",
            lambda: f"{c} IS NOT NULL", lambda: f"{c} = ANY (ARRAY[{x}, {y}])",
            lambda: f"{c}::text LIKE '{str(x)[0]}%'", lambda: f"({c} = {x} OR {c} = {y})",
            lambda: f"{c} > -1",
        ]
        if t.kind == "eps" and col == "status":  # values the API refuses as filters
            choices += [lambda: f"{c} = {rng.choice([0, 3, -1])}", lambda: f"{c} = 2",
                        lambda: f"{c} = 1", lambda: f"{c} = NULL"]
    elif typ == "arr":
        elems = sorted({e for arr in vals for e in arr}) or ["x"]
        x, y = rng.choice(elems), rng.choice(elems)
        whole = v() or []
        choices = [
            lambda: f"{c} @> ARRAY[{q(x)}]", lambda: f"{q(x)} = ANY ({c})",
            lambda: f"{c} && ARRAY[{q(x)}, {q(y)}]", lambda: f"{c} IS NULL", lambda: f"{c} IS NOT NULL",
            lambda: f"cardinality({c}) = {rng.randint(0, 3)}", lambda: f"{c} = {lit(whole, 'arr')}",
            lambda: f"{c}[1] = {q(x)}", lambda: f"array_length({c}, 1) > 1",
            lambda: f"NOT ({c} @> ARRAY[{q(x)}])",
            lambda: f"{c} <@ ARRAY[{', '.join(q(e) for e in rng.sample(elems, min(3, len(elems))))}]",
            lambda: f"{c} = '{{}}'::text[]",
            lambda: f"array_to_string({c}, ',') LIKE {q('%' + x[:3] + '%')}",
        ]
    elif typ == "jsonb":
        leaves = sorted({(p, json.dumps(lv)) for d in vals for p, lv in flatten(d) if p},
                        key=lambda z: ([str(p) for p in z[0]], z[1]))
        if not leaves:
            leaves = [(("k",), '"v"')]
        path, leaf = rng.choice(leaves)
        leaf = json.loads(leaf)
        k = str(path[0])
        k2 = str(rng.choice(leaves)[0][0])
        nested = leaf   # what @> needs to find the leaf: an array holds it in an element
        for p in reversed(path):
            nested = [nested] if isinstance(p, int) else {p: nested}
        text_leaf = leaf if isinstance(leaf, str) else json.dumps(leaf)
        pathlit = "'{" + ",".join(map(str, path)) + "}'"
        choices = [
            lambda: f"{c} ? {q(k)}", lambda: f"{c} ?| ARRAY[{q(k)}, {q(k2)}]",
            lambda: f"{c} @> {lit(nested, 'jsonb')}", lambda: f"{c} #>> {pathlit} = {q(text_leaf)}",
            lambda: f"{c} IS NULL", lambda: f"{c} = '{{}}'::jsonb", lambda: f"jsonb_typeof({c}) = 'object'",
            lambda: f"{c} -> {q(k)} IS NULL", lambda: f"{c} = {lit(v() or {}, 'jsonb')}",
            lambda: f"({c} #>> {pathlit}) IN ({q(text_leaf)}, NULL)",
            lambda: f"{c}::text LIKE {q('%' + k + '%')}", lambda: f"NOT ({c} ? {q(k2)})",
        ]
    else:
        raise ValueError(typ)
    return rng.choice(choices)()


def combine(rng, atoms):
    expr = atoms[0]
    for x in atoms[1:]:
        expr = f"({expr} {rng.choice(['AND', 'AND', 'OR'])} {x})"
    if rng.random() < 0.12:
        expr = f"NOT ({expr})"
    return expr


def cond(t, rng, a, n=None):
    n = n or rng.choice([1, 1, 2, 2, 3])
    return combine(rng, [atom(t, rng, a) for _ in range(n)])


def key_lit(t, v):
    return q(v)


def key_atom(t, rng, a, c=None):
    """Quals on the key column: get-by-id for =, IN and = ANY."""
    c = c or f"{a}.id"
    ta, k = t.helper("da" if t.scope_cols else "ta"), "k"
    v = key_value(t, rng)
    lst = key_list(t, rng)
    cast = f"::{t.key_type}[]" if t.key_type != "text" and rng.random() < 0.5 else ""
    forms = [
        (5, lambda: f"{c} = {q(v)}"),
        (5, lambda: f"{c} IN ({', '.join(q(x) for x in lst)})"),
        (3, lambda: f"{c} = ANY (ARRAY[{', '.join(q(x) for x in lst)}]{cast})"),
        (1, lambda: f"{c} = ANY ('{{}}'::text[])"),
        (1, lambda: f"{c} = ANY (NULL::text[])"),
        (2, lambda: f"({c} = {q(v)} OR {c} = {q(key_value(t, rng))})"),
        (1, lambda: f"NOT ({c} IN ({', '.join(q(x) for x in lst if x is not None) or q('x')}))"),
        (1, lambda: f"{c} <> {q(v)}"),
        (2, lambda: f"{c} = (SELECT {q(v)}::text)"),
        (1, lambda: f"{c} = lower({q((v or '').upper())})"),
        (1, lambda: f"{c} = {q(v)}::varchar(64)"),
        (1, lambda: f"{c} IS NULL"), (1, lambda: f"{c} IS NOT NULL"),
        (2, lambda: f"{c} = (SELECT {k} FROM {ta} WHERE n = {rng.randint(1, 22)})"),
        (1, lambda: f"{c} = ANY ((SELECT array_agg({k}) FROM {ta} WHERE n % 3 = 0)::{t.key_type}[])"),
        (1, lambda: f"{c} LIKE {q((v or 'e')[:8] + '%')}"),
        (2, lambda: f"{c} IN ({', '.join(q(x) for x in lst)}) AND {c} IN ({', '.join(q(x) for x in key_list(t, rng))})"),
        (1, lambda: f"{c} = {q(v)} AND {c} = {q(key_value(t, rng))}"),
        (1, lambda: f"({c} IN ({', '.join(q(x) for x in lst)}) OR {c} IS NULL)"),
        (1, lambda: f"{c} COLLATE \"C\" = {q(v)}"),
        (1, lambda: f"{c} = {a}.name"),
    ]
    total = sum(w for w, _ in forms)
    r = rng.uniform(0, total)
    for w, f in forms:
        r -= w
        if r <= 0:
            return f()
    return forms[0][1]()


def fits(family, scope):
    """Whether a row's scope {column: value} is one of the family's (whose
    rows have no value in the columns the family leaves out: a global EPS
    type's project_id is '')."""
    return set(scope) >= set(family) and all(scope[c] in vals for c, vals in family.items()) \
        and not any(scope[c] for c in scope if c not in family)


def values_qual(rng, c, vals):
    """Values of one scope column as a qual the FDW takes apart."""
    lst = ", ".join(map(q, vals))
    forms = [f"{c} IN ({lst})", f"{c} IN ({lst}, NULL)",
             f"{c} = ANY (ARRAY[{', '.join(map(q, vals + vals[:1]))}])"]
    if len(vals) == 1:
        v = vals[0]
        forms += [f"{c} = {q(v)}"] * 4 + [f"{c} = (SELECT {q(v)}::text)",
                                          f"{c} = lower({q(v.upper())})"]
    return rng.choice(forms)


def scope(t, rng, a, given=()):
    """The quals a scoped table needs, but for the columns `given` by a join:
    a row's scope, so that most queries have rows, now and then widened with
    more values of its family (any combination of which is valid)."""
    if not t.scope_cols or (t.scope_optional and rng.random() < 0.4):
        return None
    families = [f for f in t.families if set(f) >= set(given)]
    row = dict(zip(t.scope_cols, rng.choice(t.row_scopes)[0]))
    family = next((f for f in families if fits(f, row)), None)
    if family is None:   # the row's scope cannot go with `given`: one from the pools
        family = rng.choice(families)
        row = {c: rng.choice(vals) for c, vals in family.items()}
    quals = []
    for c, pool in family.items():
        if c in given:
            continue
        vals = [row[c]]
        if rng.random() < 0.3:
            vals += rng.sample(pool, min(len(pool), rng.randint(1, 2)))
        quals.append(values_qual(rng, f"{a}.{c}", list(dict.fromkeys(vals))))
    return " AND ".join(quals) or None


def fuzzy_names(rng, names):
    """Names as they are, and cased or cut short: what a fuzzy match finds
    and the exact one does not."""
    some = rng.sample(names, min(2, len(names)))
    return names + [x.upper() for x in some] + [x[:len(x) // 2] for x in some]


def scope_on(t, a, b, cols=None):
    """Join condition: the scope of `a` from helper `b`'s columns."""
    return " AND ".join(f"{a}.{c} = {b}.{c}" for c in cols or t.scope_cols)


def where(*conds):
    conds = [x for x in conds if x]
    return (" WHERE " + " AND ".join(conds)) if conds else ""


def select_list(t, rng, a, extra=0):
    if rng.random() < 0.2:
        return f"{a}.*"
    cols = rng.sample(t.colnames, k=min(len(t.colnames), rng.randint(1, 5) + extra))
    return ", ".join(f"{a}.{x}" for x in cols)


# ---------------------------------------------------------------------------
# Units of work: a local query and one or more foreign executions of it
# ---------------------------------------------------------------------------

JOIN_SETTINGS = [
    {},
    {"enable_hashjoin": "off"},
    {"enable_mergejoin": "off"},
    {"enable_nestloop": "off"},
    {"enable_hashjoin": "off", "enable_mergejoin": "off"},
    {"enable_hashjoin": "off", "enable_nestloop": "off"},
    {"enable_mergejoin": "off", "enable_nestloop": "off"},
    {"enable_hashjoin": "off", "enable_mergejoin": "off", "enable_memoize": "off"},
    {"enable_hashjoin": "off", "enable_mergejoin": "off", "enable_material": "off"},
]
EST = [None, "1", "100000"]


class Step:
    def __init__(self, sql_f, sql_l=None, mode="multiset", limit=None, offset=0,
                 settings=None, est=None, label=""):
        self.sql_f = sql_f
        self.sql_l = sql_l            # None: compare with the unit's previous local result
        self.mode = mode              # ordered | multiset | limit
        self.limit = limit
        self.offset = offset
        self.settings = settings or {}
        self.est = est
        self.label = label


class Unit:
    def __init__(self, table, cat, steps, setup=(), teardown=(), note=""):
        self.table = table
        self.cat = cat
        self.steps = steps
        self.setup = list(setup)
        self.teardown = list(teardown)
        self.note = note


def settings_text(step, unit):
    parts = [f"{k}={v}" for k, v in step.settings.items()]
    if step.est is not None:
        parts.append(f"estimated_items={step.est}")
    if unit.note:
        parts.append(unit.note)
    if step.label:
        parts.append(step.label)
    return ", ".join(parts) or "defaults"


def sub(tpl, t, local):
    """Fill in the table names: @F@ is the foreign table or its copy."""
    out = tpl.replace("@F@", t.local if local else t.name)
    for h in ("ta", "tb", "tc", "big", "sc", "da", "db", "dc"):
        out = out.replace(f"@{h.upper()}@", t.helper(h))
    return out


def simple(t, cat, tpl, mode="multiset", rng=None, multi=False, **kw):
    """A unit of one query: the local copy once, the foreign table under
    one or (for joins) several planner settings."""
    sql_f, sql_l = sub(tpl, t, False), sub(tpl, t, True)
    if not multi:
        est = rng.choice(EST) if rng and rng.random() < 0.3 else None
        return Unit(t, cat, [Step(sql_f, sql_l, mode, est=est, **kw)])
    combos = [(s, e) for s in range(len(JOIN_SETTINGS)) for e in EST]
    picked = rng.sample(combos, multi)
    steps = []
    for i, (s, e) in enumerate(picked):
        steps.append(Step(sql_f, sql_l if i == 0 else None, mode, settings=JOIN_SETTINGS[s],
                          est=e, **kw))
    return Unit(t, cat, steps)


def maybe_order(t, rng, a, extra_order=None):
    if rng.random() < 0.4:
        order = ", ".join(filter(None, [extra_order, t.order(a, rng.random() < 0.3)]))
        return f" ORDER BY {order}", "ordered"
    return "", "multiset"


# ---------------------------------------------------------------------------
# Generators, one per category
# ---------------------------------------------------------------------------

def gen_filter(t, rng, n):
    units = []
    cols = t.free_cols
    for i in range(n):
        if i < len(cols) * 2:   # every column, twice, first
            c = atom(t, rng, "e", cols[i % len(cols)])
            if rng.random() < 0.4:
                c = combine(rng, [c, atom(t, rng, "e")])
        else:
            c = cond(t, rng, "e")
        order, mode = maybe_order(t, rng, "e")
        tpl = f"SELECT {select_list(t, rng, 'e')} FROM @F@ e{where(scope(t, rng, 'e'), c)}{order}"
        units.append(simple(t, "filter", tpl, mode, rng))
    if t.kind == "deploy":   # a project the application is not in: no rows, or an error?
        units.append(simple(t, "filter", f"SELECT e.id FROM @F@ e WHERE e.application_id = '{APP1}' "
                                         "AND e.project_id = 'ffffffffffffffffffffffffffffffff'", rng=rng))
        units.append(simple(t, "filter", f"SELECT e.id FROM @F@ e WHERE e.application_id = '{APP1}' "
                                         f"AND e.project_id = '{PROJECT}'", rng=rng))
    if t.kind == "epsres":
        # A global type's resources have project_id '': asking for exactly
        # that lists the type without a region project and finds them.
        for ep, rtype in sorted({(r["enterprise_project_id"], r["resource_type"]) for r in t.rows
                                 if not r["project_id"]})[:2]:
            units.append(simple(t, "filter", f"SELECT e.id, e.name FROM @F@ e WHERE e.enterprise_project_id = "
                                             f"{q(ep)} AND e.resource_type = {q(rtype)} AND e.project_id = ''",
                                rng=rng))
    return units


def gen_key(t, rng, n):
    units = []
    for i in range(n):
        c = key_atom(t, rng, "e")
        if rng.random() < 0.3:
            c = f"{c} AND {atom(t, rng, 'e')}"
        if t.scope_cols and rng.random() < 0.2:   # a row value: the whole identity at once
            (sc, k), (other, _) = rng.choice(t.row_scopes), rng.choice(t.row_scopes)
            cols = ", ".join(f"e.{x}" for x in t.scope_cols)
            c = (f"({cols}, e.id) IN (({', '.join(map(q, sc))}, {q(k)}), "
                 f"({', '.join(map(q, other))}, {q(key_value(t, rng))}))")
        order, mode = maybe_order(t, rng, "e")
        tpl = f"SELECT {select_list(t, rng, 'e')} FROM @F@ e{where(scope(t, rng, 'e'), c)}{order}"
        units.append(simple(t, "key", tpl, mode, rng))
    return units


def gen_bigin(t, rng, n):
    units = []
    sizes = [40, 150, 400, 1000, 2500, 6000] if t.budget >= 1 else \
        [40, 150, 400, 1000, 2500] if t.budget >= 0.5 else [60, 300, 1200]
    for i in range(n):
        size = sizes[i % len(sizes)]
        vals = []
        for _ in range(size):
            r = rng.random()
            if r < 0.55 and t.ids:
                vals.append(rng.choice(t.ids))
            elif r < 0.95:
                vals.append(("%s%08x" % (unknown_ids(t)[0][:-8], rng.getrandbits(32))))
            elif r < 0.98:
                vals.append(None)
            else:
                vals.append("")
        lst = ", ".join(q(v) for v in vals)
        form = i % 5
        if form == 0:
            c = f"e.id IN ({lst})"
        elif form == 1:
            c = f"e.id = ANY (ARRAY[{lst}])"
        elif form == 2:
            arr = "{" + ",".join('NULL' if v is None else '"' + v + '"' for v in vals) + "}"
            c = f"e.id = ANY ({q(arr)}::text[])"
        elif form == 3:
            c = f"e.id NOT IN ({', '.join(q(v) for v in vals if v is not None)})"
        else:
            c = f"e.id IN ({lst}) AND {atom(t, rng, 'e')}"
        sel = "count(*), count(DISTINCT e.id), min(e.id), max(e.id)" if rng.random() < 0.5 \
            else f"{t.order('e')}, e.name"
        tpl = f"SELECT {sel} FROM @F@ e{where(scope(t, rng, 'e'), c)}"
        units.append(simple(t, "bigin", tpl, rng=rng, label=f"{size} values"))
    return units


def join_templates(t, rng):
    """(template, mode-capable order key) for joins of keyed tables."""
    ef = lambda: cond(t, rng, "e", rng.choice([1, 1, 2]))  # noqa: E731
    cols = lambda: ", ".join(f"e.{c}" for c in rng.sample(t.colnames, min(len(t.colnames), rng.randint(1, 3))))  # noqa: E731
    if t.scope_cols:
        s = lambda: scope(t, rng, "e")  # noqa: E731
        on = lambda b: scope_on(t, "e", b)  # noqa: E731
        given = rng.sample(t.scope_cols, rng.randint(1, len(t.scope_cols)))   # by the join
        return [
            (f"SELECT da.n, da.tag, e.id, {cols()} FROM @DA@ da JOIN @F@ e ON {on('da')} AND e.id = da.k", "da.n, e.id"),
            (f"SELECT a.n, a.team, e.id, {cols()} FROM @SC@ a JOIN @F@ e ON {on('a')}{where(ef())}", "a.n, e.id"),
            (f"SELECT da.n, db.n, e.id, {cols()} FROM @DA@ da JOIN @DB@ db ON db.k = da.k JOIN @F@ e ON {on('da')} AND e.id = db.k", "da.n, db.n, e.id"),
            (f"SELECT a.n, da.n, db.n, e.id, {cols()} FROM @SC@ a JOIN @DA@ da ON {scope_on(t, 'da', 'a')} JOIN @DB@ db ON db.k = da.k JOIN @F@ e ON {on('a')} AND e.id = da.k", "a.n, da.n, db.n, e.id"),
            (f"SELECT da.n, db.n, dc.n, e.id FROM @DA@ da JOIN @DB@ db ON db.n = da.n JOIN @DC@ dc ON dc.k = db.k JOIN @F@ e ON {on('da')} AND e.id = dc.k", "da.n, db.n, dc.n, e.id"),
            (f"SELECT da.n, e.id, {cols()} FROM @DA@ da JOIN @F@ e ON e.id = da.k{where(s())}", "da.n, e.id"),
            (f"SELECT da.n, e.id, e.name FROM @DA@ da LEFT JOIN @F@ e ON {on('da')} AND e.id = da.k", "da.n, e.id"),
            (f"SELECT a.n, e.id, e.name FROM @SC@ a CROSS JOIN LATERAL (SELECT * FROM @F@ e WHERE {on('a')} ORDER BY e.id LIMIT 3) e", "a.n, e.id"),
            (f"SELECT a.n, e.c, e.s FROM @SC@ a LEFT JOIN LATERAL (SELECT count(*) AS c, sum({num(t, 'e', rng)}) AS s FROM @F@ e WHERE {on('a')}) e ON true", "a.n"),
            (f"SELECT db.n, e.id, {cols()} FROM @F@ e JOIN @DB@ db ON db.k = e.id{where(s())}", "db.n, e.id"),
            (f"SELECT e.id, e2.name FROM @F@ e JOIN @F@ e2 ON {scope_on(t, 'e2', 'e')} AND e2.id = e.id{where(s(), ef())}", "e.id"),
            (f"SELECT b.n, e.id FROM @BIG@ b JOIN @F@ e ON {on('b')} AND e.id = b.k{where(ef())}", "b.n, e.id"),
            (f"SELECT da.n, a.n, e.id FROM @DA@ da, @SC@ a, @F@ e WHERE {scope_on(t, 'a', 'da')} AND {on('a')} AND e.id = da.k", "da.n, a.n, e.id"),
            (f"SELECT a.n, db.n, e.id FROM @SC@ a JOIN @F@ e ON {on('a')} JOIN @DB@ db ON db.k = e.id", "a.n, db.n, e.id"),
            (f"SELECT da.n, e.id FROM @DA@ da JOIN @F@ e ON {on('da')} AND e.id = da.k AND e.name <> da.tag", "da.n, e.id"),
            (f"SELECT da.n, e.id, {cols()} FROM @DA@ da JOIN @F@ e ON {scope_on(t, 'e', 'da', given)} AND e.id = da.k{where(scope(t, rng, 'e', given))}", "da.n, e.id"),
            (f"SELECT db.n, e.id, e.name FROM @DB@ db JOIN @F@ e ON e.name = db.nm{where(s())}", "db.n, e.id"),
        ]
    return [
        (f"SELECT ta.n, ta.tag, e.id, {cols()} FROM @TA@ ta JOIN @F@ e ON e.id = ta.k{where(ef() if rng.random() < 0.4 else None)}", "ta.n, e.id"),
        (f"SELECT ta.n, e.id, {cols()} FROM @TA@ ta JOIN @F@ e ON ta.k = e.id", "ta.n, e.id"),
        (f"SELECT ta.n, tb.n, e.id, {cols()} FROM @TA@ ta JOIN @TB@ tb ON ta.k = tb.k JOIN @F@ e ON e.id = ta.k", "ta.n, tb.n, e.id"),
        (f"SELECT ta.n, tb.n, e.id FROM @TA@ ta JOIN @TB@ tb ON tb.n = ta.n JOIN @F@ e ON e.id = tb.k", "ta.n, tb.n, e.id"),
        (f"SELECT ta.n, tb.n, e.id, {cols()} FROM @TA@ ta JOIN @TB@ tb ON ta.k = tb.k JOIN @F@ e ON e.id = tb.k WHERE ta.tag = 'red'", "ta.n, tb.n, e.id"),
        (f"SELECT ta.n, tb.n, tc.n, e.id FROM @TA@ ta JOIN @TB@ tb ON tb.k = ta.k JOIN @TC@ tc ON tc.k = tb.k JOIN @F@ e ON e.id = tc.k", "ta.n, tb.n, tc.n, e.id"),
        (f"SELECT ta.n, tb.n, tc.n, e.id, {cols()} FROM @TA@ ta JOIN @TB@ tb ON tb.n = ta.n JOIN @TC@ tc ON tc.n = ta.n JOIN @F@ e ON e.id = ta.k", "ta.n, tb.n, tc.n, e.id"),
        (f"SELECT ta.n, e.id, e.name FROM @TA@ ta LEFT JOIN @F@ e ON e.id = ta.k", "ta.n, e.id"),
        (f"SELECT e.id, ta.n FROM @F@ e LEFT JOIN @TA@ ta ON ta.k = e.id{where(ef())}", "e.id, ta.n"),
        (f"SELECT ta.n, e.id FROM @TA@ ta FULL JOIN @F@ e ON e.id = ta.k WHERE (e.id IS NULL OR {ef()})", "ta.n, e.id"),
        (f"SELECT ta.n, e.id, {cols()} FROM @TA@ ta CROSS JOIN LATERAL (SELECT * FROM @F@ e WHERE e.id = ta.k{' AND ' + ef() if rng.random() < 0.3 else ''}) e", "ta.n, e.id"),
        (f"SELECT ta.n, e.id, e.name FROM @TA@ ta LEFT JOIN LATERAL (SELECT * FROM @F@ e WHERE e.id IN (ta.k, ta.k2) ORDER BY e.id LIMIT 1) e ON true", "ta.n, e.id"),
        (f"SELECT ta.n, e.c, e.m FROM @TA@ ta CROSS JOIN LATERAL (SELECT count(*) AS c, min(e.id) AS m FROM @F@ e WHERE e.id > ta.k) e", "ta.n"),
        (f"SELECT tb.n, e.id FROM @TB@ tb JOIN @F@ e ON e.name = tb.nm", "tb.n, e.id"),
        (f"SELECT e.id, e2.name FROM @F@ e JOIN @F@ e2 ON e2.id = e.id{where(ef())}", "e.id"),
        (f"SELECT ta.n, e.id FROM @TA@ ta JOIN @F@ e ON e.id = ANY (ARRAY[ta.k, ta.k2])", "ta.n, e.id"),
        (f"SELECT s.k, s.c, e.id, e.name FROM (SELECT k, count(*) AS c FROM @TA@ GROUP BY k) s JOIN @F@ e ON e.id = s.k", "s.k, e.id"),
        (f"SELECT b.n, e.id FROM @BIG@ b JOIN @F@ e ON e.id = b.k{where(ef())}", "b.n, e.id"),
        (f"SELECT ta.n, e.id FROM @TA@ ta JOIN @F@ e ON e.id = ta.k AND e.name <> ta.tag", "ta.n, e.id"),
        (f"SELECT ta.n, tb.n, e.id FROM @TA@ ta, @TB@ tb, @F@ e WHERE e.id = ta.k AND e.id = tb.k", "ta.n, tb.n, e.id"),
        (f"SELECT ta.n, tb.n, e.id FROM @TA@ ta JOIN @F@ e ON e.id = ta.k JOIN @TB@ tb ON tb.k = e.id", "ta.n, tb.n, e.id"),
        (f"SELECT tc.n, ta.n, e.id FROM @TA@ ta JOIN @F@ e ON e.id = ta.k RIGHT JOIN @TC@ tc ON tc.k = ta.k", "tc.n, ta.n, e.id"),
        (f"WITH s AS MATERIALIZED (SELECT * FROM @F@ e{where(ef())}) SELECT ta.n, s.id FROM @TA@ ta JOIN s ON s.id = ta.k", "ta.n, s.id"),
        (f"SELECT ta.n, e.id FROM @TA@ ta JOIN @F@ e ON e.id = lower(ta.k)", "ta.n, e.id"),
    ]


def num(t, a, rng):
    """An integer of a row: a column, or where the table has none its name's length."""
    return f"{a}.{rng.choice(t.ints)}" if t.ints else f"length({a}.name)"


def gen_join(t, rng, n):
    units = []
    for i in range(n):
        templates = join_templates(t, rng)
        tpl, order = templates[i % len(templates)] if i < len(templates) else rng.choice(templates)
        mode = "multiset"
        if rng.random() < 0.4:
            tpl += f" ORDER BY {order}"
            mode = "ordered"
        units.append(simple(t, "join", tpl, mode, rng, multi=rng.choice([2, 3, 3])))
    return units


def semi_templates(t, rng):
    ef = lambda: cond(t, rng, "e", 1)  # noqa: E731
    sel = lambda: select_list(t, rng, "e")  # noqa: E731
    if t.scope_cols:
        s = lambda *more: where(scope(t, rng, "e"), *more)  # noqa: E731
        on = lambda b: scope_on(t, "e", b)  # noqa: E731
        scope_list = ", ".join(t.scope_cols)
        row = ", ".join(f"e.{c}" for c in t.scope_cols)
        return [
            f"SELECT {sel()} FROM @F@ e{s('EXISTS (SELECT 1 FROM @DA@ da WHERE da.k = e.id)')}",
            f"SELECT {sel()} FROM @F@ e{s('NOT EXISTS (SELECT 1 FROM @DA@ da WHERE da.k = e.id)')}",
            f"SELECT da.n FROM @DA@ da WHERE EXISTS (SELECT 1 FROM @F@ e WHERE {on('da')} AND e.id = da.k)",
            f"SELECT da.n FROM @DA@ da WHERE NOT EXISTS (SELECT 1 FROM @F@ e WHERE {on('da')} AND e.id = da.k)",
            f"SELECT a.n FROM @SC@ a WHERE EXISTS (SELECT 1 FROM @F@ e WHERE {on('a')} AND {ef()})",
            f"SELECT da.n FROM @DA@ da WHERE da.k IN (SELECT e.id FROM @F@ e{s(ef())})",
            f"SELECT da.n FROM @DA@ da WHERE da.k NOT IN (SELECT e.id FROM @F@ e{s()})",
            f"SELECT da.n, (SELECT e.name FROM @F@ e WHERE {on('da')} AND e.id = da.k) FROM @DA@ da",
            f"SELECT {sel()} FROM @F@ e{s(f'({row}, e.id) IN (SELECT {scope_list}, k FROM @DA@)')}",
            f"SELECT {sel()} FROM @F@ e{s(f'e.id IN (SELECT k FROM @DB@ WHERE grp = {rng.randint(0, 3)})')}",
            f"SELECT {sel()} FROM @F@ e{s('e.id NOT IN (SELECT k FROM @DB@ WHERE k IS NOT NULL)')}",
            f"SELECT a.n, (SELECT count(*) FROM @F@ e WHERE {on('a')}) FROM @SC@ a",
        ]
    return [
        f"SELECT {sel()} FROM @F@ e WHERE EXISTS (SELECT 1 FROM @TA@ ta WHERE ta.k = e.id)",
        f"SELECT {sel()} FROM @F@ e WHERE EXISTS (SELECT 1 FROM @TA@ ta WHERE ta.k = e.id) AND {ef()}",
        f"SELECT {sel()} FROM @F@ e WHERE NOT EXISTS (SELECT 1 FROM @TA@ ta WHERE ta.k = e.id)",
        f"SELECT {sel()} FROM @F@ e WHERE e.id IN (SELECT k FROM @TB@ WHERE grp = {rng.randint(0, 3)})",
        f"SELECT {sel()} FROM @F@ e WHERE e.id NOT IN (SELECT k FROM @TB@ WHERE k IS NOT NULL)",
        f"SELECT {sel()} FROM @F@ e WHERE e.id NOT IN (SELECT k FROM @TA@)",
        f"SELECT ta.n, ta.k FROM @TA@ ta WHERE EXISTS (SELECT 1 FROM @F@ e WHERE e.id = ta.k)",
        f"SELECT ta.n, ta.k FROM @TA@ ta WHERE EXISTS (SELECT 1 FROM @F@ e WHERE e.id = ta.k AND {ef()})",
        f"SELECT ta.n FROM @TA@ ta WHERE NOT EXISTS (SELECT 1 FROM @F@ e WHERE e.id = ta.k)",
        f"SELECT ta.n FROM @TA@ ta WHERE ta.k IN (SELECT e.id FROM @F@ e WHERE {ef()})",
        f"SELECT ta.n FROM @TA@ ta WHERE ta.k NOT IN (SELECT e.id FROM @F@ e WHERE {ef()})",
        "SELECT ta.n, (SELECT e.name FROM @F@ e WHERE e.id = ta.k) FROM @TA@ ta",
        "SELECT ta.n, (SELECT count(*) FROM @F@ e WHERE e.id <> ta.k) FROM @TA@ ta",
        f"SELECT {sel()} FROM @F@ e WHERE e.id = ANY (SELECT k FROM @TC@)",
        f"SELECT {sel()} FROM @F@ e WHERE e.id IN (SELECT k FROM @TA@) AND e.id IN (SELECT k FROM @TB@)",
        "SELECT tc.n FROM @TC@ tc WHERE EXISTS (SELECT 1 FROM @F@ e JOIN @TA@ ta ON ta.k = e.id WHERE e.id = tc.k)",
        f"SELECT {sel()} FROM @F@ e WHERE EXISTS (SELECT 1 FROM @TA@ ta JOIN @TB@ tb ON tb.k = ta.k WHERE ta.k = e.id)",
        f"SELECT {sel()} FROM @F@ e WHERE e.id IN (SELECT k FROM @BIG@ WHERE n % 7 = 0)",
    ]


def gen_semi(t, rng, n):
    units = []
    for i in range(n):
        templates = semi_templates(t, rng)
        tpl = templates[i % len(templates)] if i < len(templates) else rng.choice(templates)
        units.append(simple(t, "semi", tpl, "multiset", rng, multi=rng.choice([1, 2])))
    return units


def gen_limit(t, rng, n):
    units = []
    total = len(t.rows)
    for i in range(n):
        lim = rng.choice([0, 1, 2, 3, 5, 7, 10, 37, 38, 50, 100, max(1, total - 1), total + 5])
        off = rng.choice([0, 0, 0, 1, 3, 10, 40, max(0, total - 2), total + 3])
        offs = f" OFFSET {off}" if off else ""
        c = cond(t, rng, "e", 1) if rng.random() < 0.4 else None
        s = scope(t, rng, "e")
        form = i % 8
        if form in (0, 1):
            tpl = f"SELECT {select_list(t, rng, 'e')} FROM @F@ e{where(s, c)} ORDER BY {t.order('e', rng.random() < 0.3)} LIMIT {lim}{offs}"
            units.append(simple(t, "limit", tpl, "ordered", rng))
        elif form in (2, 3):
            base = f"SELECT {select_list(t, rng, 'e')} FROM @F@ e{where(s, c)}"
            u = Unit(t, "limit", [Step(sub(base + f" LIMIT {lim}{offs}", t, False), sub(base, t, True),
                                       "limit", limit=lim, offset=off,
                                       est=rng.choice(EST) if rng.random() < 0.3 else None)])
            units.append(u)
        elif form == 4:
            base = f"SELECT {t.order('e')} FROM @F@ e{where(s, key_atom(t, rng, 'e'))}"
            units.append(Unit(t, "limit", [Step(sub(base + f" FETCH FIRST {lim} ROWS ONLY", t, False),
                                                sub(base, t, True), "limit", limit=lim)]))
        elif form == 5:
            tpl = f"SELECT count(*) FROM (SELECT 1 FROM @F@ e{where(s, c)} LIMIT {lim}{offs}) x"
            units.append(simple(t, "limit", tpl, "ordered", rng))
        elif form == 6:
            if t.scope_cols:
                tpl = f"SELECT da.n, e.id, e.name FROM @DA@ da JOIN @F@ e ON {scope_on(t, 'e', 'da')} AND e.id = da.k ORDER BY da.n, e.id LIMIT {lim}{offs}"
            else:
                tpl = f"SELECT ta.n, e.id, e.name FROM @TA@ ta JOIN @F@ e ON e.id = ta.k ORDER BY ta.n, e.id LIMIT {lim}{offs}"
            units.append(simple(t, "limit", tpl, "ordered", rng, multi=2))
        else:
            tcol = next((c for c, ty in t.cols if ty == "ts"), "name")
            tpl = f"SELECT e.id, e.{tcol} FROM @F@ e{where(s)} ORDER BY e.{tcol} DESC, {t.order('e')} LIMIT {lim}{offs}"
            units.append(simple(t, "limit", tpl, "ordered", rng))
    # LIMIT ALL, LIMIT NULL: every row.
    base = f"SELECT {t.order('e')} FROM @F@ e{where(scope(t, rng, 'e'))}"
    for tail in (" LIMIT ALL", " LIMIT NULL", " OFFSET 0"):
        units.append(Unit(t, "limit", [Step(sub(base + tail, t, False), sub(base, t, True), "multiset")]))
    return units


def gen_agg(t, rng, n):
    units = []
    for i in range(n):
        s = scope(t, rng, "e")
        c = cond(t, rng, "e", 1) if rng.random() < 0.5 else None
        w = where(s, c)
        g = rng.choice(t.groups)
        g2 = rng.choice(t.groups)
        x = num(t, "e", rng)
        b = rng.choice(t.bools) if t.bools else None
        form = i % 20
        mode = "multiset"
        if form == 0:
            tpl = f"SELECT count(*) FROM @F@ e{w}"
        elif form == 1:
            tpl = f"SELECT count(*), count({x}), count(DISTINCT e.{g}), min({x}), max({x}), sum({x}), round(avg({x}), 6) FROM @F@ e{w}"
        elif form == 2:
            tpl = f"SELECT e.{g}, count(*), min(e.id), max(e.id) FROM @F@ e{w} GROUP BY e.{g} ORDER BY e.{g}"
            mode = "ordered"
        elif form == 3:
            tpl = f"SELECT e.{g}, string_agg(e.name, ',' ORDER BY e.name, e.id) FROM @F@ e{w} GROUP BY 1"
        elif form == 4:
            tpl = f"SELECT e.{g}, array_agg(e.id ORDER BY e.id) FROM @F@ e{w} GROUP BY 1"
        elif form == 5:
            tpl = f"SELECT e.{g}, e.{g2}, count(*) FROM @F@ e{w} GROUP BY 1, 2 HAVING count(*) > 1"
        elif form == 6:
            tpl = f"SELECT DISTINCT e.{g} FROM @F@ e{w}"
        elif form == 7:
            tpl = f"SELECT DISTINCT e.{g}, e.{g2} FROM @F@ e{w}"
        elif form == 8:
            tpl = f"SELECT DISTINCT ON (e.{g}) e.{g}, e.id FROM @F@ e{w} ORDER BY e.{g}, e.id"
            mode = "ordered"
        elif form == 9:
            tpl = f"SELECT count(DISTINCT e.id), count(DISTINCT e.name) FROM @F@ e{w}"
        elif form == 10 and b:
            tpl = f"SELECT bool_and(e.{b}), bool_or(e.{b}), count(*) FILTER (WHERE e.{b}) FROM @F@ e{w}"
        elif form == 11:
            tpl = f"SELECT e.{g}, count(*) FROM @F@ e{w} GROUP BY ROLLUP (e.{g})"
        elif form == 12:
            tpl = f"SELECT e.id, row_number() OVER (PARTITION BY e.{g} ORDER BY e.id), count(*) OVER (PARTITION BY e.{g}) FROM @F@ e{w}"
        elif form == 13:
            tpl = f"SELECT e.id, rank() OVER (ORDER BY {x}), dense_rank() OVER (ORDER BY e.{g}) FROM @F@ e{w}"
        elif form == 14:
            tpl = f"SELECT e.id, lag(e.id) OVER (ORDER BY {t.order('e')}), lead(e.name) OVER (ORDER BY {t.order('e')}) FROM @F@ e{w}"
        elif form == 15:
            tpl = f"SELECT e.id, sum({x}) OVER (ORDER BY {t.order('e')} ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), ntile(4) OVER (ORDER BY {t.order('e')}) FROM @F@ e{w}"
        elif form == 16:
            tpl = f"SELECT e.id, first_value(e.name) OVER (PARTITION BY e.{g} ORDER BY e.id) FROM @F@ e{w} ORDER BY {t.order('e')}"
            mode = "ordered"
        elif form == 17:
            op = rng.choice(["UNION", "UNION ALL", "INTERSECT", "EXCEPT"])
            tpl = (f"SELECT e.id FROM @F@ e{where(s, cond(t, rng, 'e', 1))} {op} "
                   f"SELECT e.id FROM @F@ e{where(scope(t, rng, 'e'), cond(t, rng, 'e', 1))}")
        elif form == 18:
            if t.scope_cols:
                tpl = f"SELECT da.tag, count(*), string_agg(e.name, ',' ORDER BY e.name, da.n) FROM @DA@ da JOIN @F@ e ON {scope_on(t, 'e', 'da')} AND e.id = da.k GROUP BY da.tag"
            else:
                tpl = "SELECT ta.tag, count(*), string_agg(e.name, ',' ORDER BY e.name, ta.n) FROM @TA@ ta JOIN @F@ e ON e.id = ta.k GROUP BY ta.tag"
            units.append(simple(t, "agg", tpl, mode, rng, multi=2))
            continue
        else:
            tpl = f"SELECT count(*), min(e.{g}::text), max(e.{g}::text) FROM @F@ e{where(s, key_atom(t, rng, 'e'))}"
        units.append(simple(t, "agg", tpl, mode, rng))
    return units


PLAN_MODES = ["force_generic_plan", "force_custom_plan", "auto"]


def prepared_templates(t, rng):
    """(parameter types, body, argument generator)."""
    kt = t.key_type
    sel = select_list(t, rng, "e")
    kv = lambda: q(key_value(t, rng))  # noqa: E731
    tags = lambda: rng.choice(["'red'", "'blue'", "'green'", "NULL"])  # noqa: E731
    if t.scope_cols:
        n = len(t.scope_cols)
        family = t.families[0]
        params = " AND ".join(f"e.{c} = ${i + 1}" for i, c in enumerate(t.scope_cols))
        arrays = " AND ".join(f"e.{c} = ANY (${i + 1})" for i, c in enumerate(t.scope_cols))
        fixed = scope(t, rng, "e")
        name_args = fuzzy_names(rng, t.vals["name"]) + [None, "nope"]

        def scope_args():
            """A row's scope mostly, else values of the pools, now and then a NULL."""
            if rng.random() < 0.7:
                return ", ".join(map(q, rng.choice(t.joinable)[0]))
            sc = [rng.choice(family[c]) for c in t.scope_cols]
            if rng.random() < 0.3:
                sc[rng.randrange(n)] = None
            return ", ".join(map(q, sc))

        def pair():
            if rng.random() < 0.7:
                sc, k = rng.choice(t.joinable)
                return f"{', '.join(map(q, sc))}, {q(k)}"
            return f"{scope_args()}, {kv()}"

        def array_args():
            """Per scope column a row's value, alone, with others of the pool
            or a NULL, or no value at all."""
            out = []
            for c, v in zip(t.scope_cols, rng.choice(t.joinable)[0]):
                vals = rng.choice([[v], [v], [v] + rng.sample(family[c], min(2, len(family[c]))),
                                   [v, None], []])
                out.append(f"ARRAY[{', '.join(map(q, vals))}]::text[]" if vals else "'{}'::text[]")
            return ", ".join(out)
        return [
            (", ".join(["text"] * n + [kt]), f"SELECT {sel} FROM @F@ e WHERE {params} AND e.id = ${n + 1}", pair),
            (", ".join(["text"] * n), f"SELECT {sel} FROM @F@ e WHERE {params}", scope_args),
            (", ".join(["text[]"] * n), f"SELECT e.id, e.name FROM @F@ e WHERE {arrays} AND {cond(t, rng, 'e', 1)}",
             array_args),
            (", ".join(["text[]"] * (n + 1)), f"SELECT e.id, e.name FROM @F@ e WHERE {arrays} AND e.id = ANY (${n + 1})",
             lambda: f"{array_args()}, ARRAY[{', '.join(q(k) for _, k in rng.sample(t.joinable, 3))}, {kv()}]"),
            ("text", f"SELECT da.n, e.id, e.name FROM @DA@ da JOIN @F@ e ON {scope_on(t, 'e', 'da')} AND e.id = da.k WHERE da.tag = $1",
             tags),
            ("int", f"SELECT e.id FROM @F@ e{where(fixed)} ORDER BY {t.order('e')} LIMIT $1",
             lambda: str(rng.choice([0, 1, 3, 40, 41, 1000]))),
            ("text", f"SELECT a.n, e.id FROM @SC@ a JOIN @DA@ da ON {scope_on(t, 'da', 'a')} JOIN @F@ e ON {scope_on(t, 'e', 'a')} AND e.id = da.k WHERE a.team IS DISTINCT FROM $1",
             lambda: rng.choice(["'orders'", "'billing'", "NULL"])),
            ("text", f"SELECT e.id, e.name FROM @F@ e{where(fixed, 'e.name = $1')}",
             lambda: q(rng.choice(name_args))),
        ]
    return [
        (kt, f"SELECT {sel} FROM @F@ e WHERE e.id = $1", kv),
        (f"{kt}[]", "SELECT e.id, e.name FROM @F@ e WHERE e.id = ANY ($1)",
         lambda: f"ARRAY[{', '.join(q(x) for x in key_list(t, rng))}]::{kt}[]"),
        (f"{kt}, {kt}", "SELECT e.id FROM @F@ e WHERE e.id IN ($1, $2)", lambda: f"{kv()}, {kv()}"),
        ("text", "SELECT e.id, e.status FROM @F@ e WHERE e.name = $1",
         lambda: q(rng.choice(t.vals["name"] + [None, "nope"]))),
        ("int", "SELECT e.id FROM @F@ e ORDER BY e.id LIMIT $1",
         lambda: str(rng.choice([0, 1, 5, 37, 38, 1000]))),
        ("text", "SELECT ta.n, e.id, e.name FROM @TA@ ta JOIN @F@ e ON e.id = ta.k WHERE ta.tag = $1",
         tags),
        ("text", "SELECT e.id FROM @F@ e WHERE EXISTS (SELECT 1 FROM @TA@ ta WHERE ta.k = e.id AND ta.tag = $1)",
         tags),
        (kt, "SELECT e.id FROM @F@ e WHERE e.id = lower($1)", lambda: q((key_value(t, rng) or "").upper())),
        (f"{kt}, int", "SELECT e.id FROM @F@ e WHERE e.id >= $1 ORDER BY e.id LIMIT $2",
         lambda: f"{kv()}, {rng.choice([1, 3, 50])}"),
        ("text", "SELECT ta.n, tb.n, e.id FROM @TA@ ta JOIN @TB@ tb ON tb.k = ta.k JOIN @F@ e ON e.id = ta.k WHERE tb.nm IS DISTINCT FROM $1",
         lambda: q(rng.choice(t.vals["name"] + [None]))),
    ]


def gen_prepared(t, rng, n):
    units = []
    for i in range(n):
        templates = prepared_templates(t, rng)
        types, body, args = templates[i % len(templates)]
        mode = PLAN_MODES[(i // len(templates)) % len(PLAN_MODES)] if i >= len(templates) \
            else PLAN_MODES[i % len(PLAN_MODES)]
        fname, lname = f"pf_{t.name}_{i}", f"pl_{t.name}_{i}"
        setup = [f"SET plan_cache_mode = {mode}" if mode != "auto" else "RESET plan_cache_mode",
                 f"PREPARE {fname}({types}) AS {sub(body, t, False)}",
                 f"PREPARE {lname}({types}) AS {sub(body, t, True)}"]
        order = "ordered" if "ORDER BY" in body else "multiset"
        steps = []
        for _ in range(7 if mode == "auto" else 5):
            a = args()
            steps.append(Step(f"EXECUTE {fname}({a})", f"EXECUTE {lname}({a})", order,
                              label=f"plan_cache_mode={mode}"))
        units.append(Unit(t, "prepared", steps, setup,
                          [f"DEALLOCATE {fname}", f"DEALLOCATE {lname}", "RESET plan_cache_mode"],
                          note=f"PREPARE {fname}({types}) AS {sub(body, t, False)}"))
    return units


GENERATORS = {"filter": (gen_filter, 100), "key": (gen_key, 70), "bigin": (gen_bigin, 8),
              "join": (gen_join, 48), "semi": (gen_semi, 36), "limit": (gen_limit, 40),
              "agg": (gen_agg, 44), "prepared": (gen_prepared, 12)}


# ---------------------------------------------------------------------------
# Helper tables (local data to join with), from the copies' keys
# ---------------------------------------------------------------------------

def helper_sql(t, rng):
    kt = t.key_type
    sql = []
    name_vals = t.vals.get("name") or ["x"]
    if t.scope_cols:
        keyed = list(t.joinable)
        family = t.families[0]
        scope_defs = ", ".join(f"{c} text" for c in t.scope_cols)

        def tuples(rows):
            """VALUES rows, numbered (column n) from 1."""
            return ", ".join("(" + ", ".join([str(i + 1)] + [str(v) if isinstance(v, int) else q(v) for v in r]) + ")"
                             for i, r in enumerate(rows))

        def changed(sc, value):
            """A scope with one column set to `value(column, its value)`."""
            sc = list(sc)
            i = rng.randrange(len(sc))
            sc[i] = value(t.scope_cols[i], sc[i])
            return tuple(sc)

        def pool_scope():
            return tuple(rng.choice(family[c]) for c in t.scope_cols)
        rows_da = [rng.choice(keyed) for _ in range(14)]
        rows_da += [rows_da[0], rows_da[1], rows_da[1]]                           # same key, again
        rows_da += [(rows_da[2][0], unknown_ids(t)[0]),                            # unknown key
                    (changed(rows_da[3][0], lambda c, v: rng.choice([x for x in family[c] if x != v])),
                     rows_da[3][1]),                                               # a key, another scope
                    (changed(rows_da[4][0], lambda c, v: None), rows_da[4][1]),  # a NULL in the scope
                    (rows_da[5][0], None), (rows_da[6][0], "")]
        tags = ["red", "green", "blue", None]
        sql.append(f"CREATE TABLE {t.helper('da')} (n int, {scope_defs}, k {kt}, tag text, w int);")
        sql.append(f"INSERT INTO {t.helper('da')} VALUES "
                   + tuples([(*sc, k, rng.choice(tags), rng.randint(0, 9)) for sc, k in rows_da]) + ";")
        scopes = list(dict.fromkeys(sc for sc, _ in rows_da[:14]))[:2]
        scopes += [pool_scope() for _ in range(2 - len(scopes))]
        nulls = (None,) * len(t.scope_cols)
        sql.append(f"CREATE TABLE {t.helper('sc')} (n int, {scope_defs}, team text);")
        sql.append(f"INSERT INTO {t.helper('sc')} VALUES " + tuples(
            [(*scopes[0], "orders"), (*scopes[1], "billing"), (*nulls, "nobody"),
             (*scopes[0], "orders-again"), (*pool_scope(), "idle")]) + ";")
        keys = [k for _, k in rows_da if k] + [rng.choice(keyed)[1] for _ in range(8)]
        names = fuzzy_names(rng, name_vals)
        rows_db = [rng.choice(keys) for _ in range(16)] + [None, unknown_ids(t)[1]]
        sql.append(f"CREATE TABLE {t.helper('db')} (n int, k {kt}, grp int, nm text);")
        sql.append(f"INSERT INTO {t.helper('db')} VALUES "
                   + tuples([(k, rng.randint(0, 3), rng.choice(names)) for k in rows_db]) + ";")
        sql.append(f"CREATE TABLE {t.helper('dc')} (n int, k {kt}, x int);")
        sql.append(f"INSERT INTO {t.helper('dc')} VALUES "
                   + tuples([(rng.choice(keys), rng.randint(0, 99)) for _ in range(12)]) + ";")
        big = keyed[:300] + [(rng.choice(keyed)[0], "%s%08x" % (unknown_ids(t)[0][:-8], rng.getrandbits(32)))
                             for _ in range(150)]
        sql.append(f"CREATE TABLE {t.helper('big')} (n int, {scope_defs}, k {kt});")
        sql.append(f"INSERT INTO {t.helper('big')} VALUES " + tuples([(*sc, k) for sc, k in big]) + ";")
        for h in ("da", "sc", "db", "dc", "big"):
            sql.append(f"ANALYZE {t.helper(h)};")
        return sql
    ids = list(t.ids)
    some = rng.sample(ids, min(12, len(ids)))
    rows_ta = some + [some[0], some[1], some[1], some[2 % len(some)]]       # repeated keys
    rows_ta += unknown_ids(t)[:2] + [None, "", some[3 % len(some)].upper()]
    if t.kind == "qoder":
        rows_ta += archived_ids(t)[:1]
    rows_ta = rows_ta[:26]
    tags = ["red", "green", "blue", None]
    vals = ", ".join(f"({i + 1}, {q(k)}, {q(rng.choice(ids + [None]))}, {q(rng.choice(tags))}, {rng.randint(0, 9)})"
                     for i, k in enumerate(rows_ta))
    sql.append(f"CREATE TABLE {t.helper('ta')} (n int, k {kt}, k2 {kt}, tag text, w int);")
    sql.append(f"INSERT INTO {t.helper('ta')} VALUES {vals};")
    rows_tb = rng.sample(rows_ta, 10) + rng.sample(ids, min(8, len(ids))) + [None, unknown_ids(t)[-1]]
    vals = ", ".join(f"({i + 1}, {q(k)}, {rng.randint(0, 3)}, {q(rng.choice(name_vals + [None]))})"
                     for i, k in enumerate(rows_tb))
    sql.append(f"CREATE TABLE {t.helper('tb')} (n int, k {kt}, grp int, nm text);")
    sql.append(f"INSERT INTO {t.helper('tb')} VALUES {vals};")
    rows_tc = rng.sample(rows_ta, 6) + rng.sample(rows_tb, 6)
    vals = ", ".join(f"({i + 1}, {q(k)}, {rng.randint(0, 99)})" for i, k in enumerate(rows_tc))
    sql.append(f"CREATE TABLE {t.helper('tc')} (n int, k {kt}, x int);")
    sql.append(f"INSERT INTO {t.helper('tc')} VALUES {vals};")
    big = ids[:400] + ["%s%08x" % (unknown_ids(t)[0][:-8], rng.getrandbits(32)) for _ in range(150)]
    vals = ", ".join(f"({i + 1}, {q(k)})" for i, k in enumerate(big))
    sql.append(f"CREATE TABLE {t.helper('big')} (n int, k {kt});")
    sql.append(f"INSERT INTO {t.helper('big')} VALUES {vals};")
    for h in ("ta", "tb", "tc", "big"):
        sql.append(f"ANALYZE {t.helper(h)};")
    return sql


# ---------------------------------------------------------------------------
# Running and comparing
# ---------------------------------------------------------------------------

class Failure:
    def __init__(self, unit, step, symptom, kind, diff=()):
        self.unit = unit
        self.step = step
        self.symptom = symptom
        self.kind = kind
        self.diff = list(diff)
        self.plan = ""


NODE = re.compile(r"^\s*(?:->\s+)?([A-Z][A-Za-z ]+?)(?: on (\S+)(?: (\w+))?)?(?:\s+\(.*)?$")


def plan_shape(lines):
    """A one-line outline of an EXPLAIN (VERBOSE): nodes and remote requests."""
    out = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if i == 0 or stripped.startswith("->"):
            m = NODE.match(line)
            if m:
                out.append(m.group(1) + (f" {m.group(3) or m.group(2).split('.')[-1]}" if m.group(2) else ""))
        elif stripped.startswith("Remote request:"):
            out[-1:] = [out[-1] + " [" + stripped.split(": ", 1)[1].replace(" (all pages)", " ...") + "]"] if out else []
        elif stripped.startswith("Remote keys:"):
            out[-1:] = [out[-1][:-1] + "; " + stripped.split(": ", 1)[1] + "]"] if out and out[-1].endswith("]") else out[-1:]
        elif stripped.startswith(("InitPlan", "SubPlan")):
            out.append(stripped.split(" (")[0])
    return " > ".join(out)


OUTER_KEY = re.compile(r"=\s*[a-z_][a-z_0-9]*\.[a-z_]+|IN\s*\(?ARRAY\[[a-z_][a-z_0-9]*\.")


def plan_features(lines):
    text = "\n".join(lines)
    feats = set()
    if re.search(r"Hash (Join|Semi Join|Anti Join|Right|Left|Full)", text):
        feats.add("hash")
    if re.search(r"Merge (Join|Semi Join|Anti Join|Right|Left|Full)", text):
        feats.add("merge")
    if "Nested Loop" in text:
        feats.add("nestloop")
    if "Memoize" in text:
        feats.add("memoize")
    if "Append" in text:
        feats.add("append")
    if "SubPlan" in text:
        feats.add("subplan")
    for line in lines:
        line = line.strip()
        if line.startswith("Remote request:"):
            feats.add("listing" if "(all pages)" in line else "get")
        elif line.startswith("Remote keys:"):
            if OUTER_KEY.search(line):
                feats.add("per outer row")
            if "$" in line:
                feats.add("param key")
    return feats


def est_sql(t, old, new):
    out = []
    if old == new:
        return out
    for rel in t.rels:
        if new is None:
            out.append(f"ALTER FOREIGN TABLE {rel} OPTIONS (DROP estimated_items)")
        elif old is None:
            out.append(f"ALTER FOREIGN TABLE {rel} OPTIONS (ADD estimated_items '{new}')")
        else:
            out.append(f"ALTER FOREIGN TABLE {rel} OPTIONS (SET estimated_items '{new}')")
    return out


def emit(units):
    """The statements of a batch, and where each step's results will be."""
    stmts = []
    plan = []   # (unit, step, local id, foreign id, [control ids])
    for u_i, u in enumerate(units):
        ctl = []
        for k, s in enumerate(u.setup):
            sid = f"u{u_i}.s{k}"
            stmts.append((sid, s))
            ctl.append(sid)
        est = None
        local_id = None
        for j, st in enumerate(u.steps):
            if st.sql_l is not None:
                local_id = f"u{u_i}.{j}.l"
                stmts.append((local_id, st.sql_l))
            for k, s in enumerate(est_sql(u.table, est, st.est)):
                sid = f"u{u_i}.{j}.e{k}"
                stmts.append((sid, s))
                ctl.append(sid)
            est = st.est
            for k, (name, value) in enumerate(st.settings.items()):
                stmts.append((f"u{u_i}.{j}.g{k}", f"SET {name} = {value}"))
            fid = f"u{u_i}.{j}.f"
            stmts.append((f"{fid}.p", f"EXPLAIN (VERBOSE, COSTS OFF) {st.sql_f}"))
            stmts.append((fid, st.sql_f))
            for k, name in enumerate(st.settings):
                stmts.append((f"u{u_i}.{j}.r{k}", f"RESET {name}"))
            plan.append((u, st, local_id, fid, ctl))
        for k, s in enumerate(est_sql(u.table, est, None) + u.teardown):
            stmts.append((f"u{u_i}.t{k}", s))
    return stmts, plan


def short(row, width=110):
    text = ",".join(row) if any(row) else ",".join(["''"] * len(row))   # ('',) shows as ''
    return text if len(text) <= width else text[:width] + "..."


def compare(st, f, l):
    """None when they agree, else (kind, symptom, diff lines)."""
    if l is None or f is None:
        return "lost", "no result (session lost or timed out)", []
    if l.error:   # no generated query is meant to fail: a bug of this script
        return "local-error", f"local query failed (generator bug): {l.sqlstate} {l.message}" + \
            (f"; foreign: {f.sqlstate}" if f.error else ""), []
    if f.error:
        return f"error {f.sqlstate}", f"foreign error {f.sqlstate}: {f.message}", []
    fc, lc = collections.Counter(f.rows), collections.Counter(l.rows)
    if st.mode == "limit":
        lim = st.limit if st.limit is not None else len(l.rows)
        want = max(0, min(lim, len(l.rows) - st.offset))
        extra = fc - lc
        if len(f.rows) == want and not extra:
            return None
        diff = [f"foreign: {len(f.rows)} rows, expected {want} (local base {len(l.rows)} rows, "
                f"LIMIT {st.limit} OFFSET {st.offset})"]
        diff += [f"+ {short(r)}" for r in list(extra.elements())[:2]]
        kind = "extra rows" if extra else "row count"
        return kind, f"LIMIT: {len(f.rows)} rows, expected {want}" + (", rows not in the local result" if extra else ""), diff
    if st.mode == "ordered" and fc == lc and f.rows != l.rows:
        first = next(i for i, (a, b) in enumerate(zip(f.rows, l.rows)) if a != b)
        return "order", f"same rows, different order (first difference at row {first + 1})", \
            [f"foreign: {short(f.rows[first])}", f"local:   {short(l.rows[first])}"]
    if fc == lc:
        return None
    extra, missing = fc - lc, lc - fc
    diff = [f"foreign {len(f.rows)} rows, local {len(l.rows)} rows"]
    diff += [f"+ {short(r)}" for r in list(extra.elements())[:2]]
    diff += [f"- {short(r)}" for r in list(missing.elements())[:2]]
    if extra and missing:
        kind = "different rows"
    elif extra:
        kind = "extra rows"
    else:
        kind = "missing rows"
    return kind, f"{kind}: {sum(extra.values())} only foreign, {sum(missing.values())} only local", diff


def run_units(units):
    """Run the units of one table in one session; (checked, failures)."""
    stmts, plan = emit(units)
    return check_units(plan, run_batch(stmts))


def check_units(plan, results):
    """Each step of a batch's plan, checked against its local result."""
    checked = []   # (unit, step, failure or None, plan features, local result had rows)
    for u, st, lid, fid, ctl in plan:
        explain = results.get(f"{fid}.p")
        lines = [r[0] for r in explain.rows if r] if explain and not explain.error else []
        bad = [c for c in ctl if c in results and results[c].error]
        if bad:
            r = results[bad[0]]
            fail = Failure(u, st, f"setup failed: {r.sqlstate} {r.message}", "setup")
        else:
            res = compare(st, results.get(fid), results.get(lid))
            fail = Failure(u, st, res[1], res[0], res[2]) if res else None
            if fail is None and (explain is None or explain.error or not lines):
                # The query ran and agreed, but its plan could not be shown.
                why = "no result (session lost or timed out)" if explain is None else \
                    f"{explain.sqlstate} {explain.message}" if explain.error else "no plan lines"
                fail = Failure(u, st, f"EXPLAIN (VERBOSE) failed while the query succeeded: {why}",
                               "explain")
        if fail and fail.kind != "explain":
            fail.plan = plan_shape(lines) if lines else \
                (f"(EXPLAIN failed too: {explain.sqlstate})" if explain else "")
        local = results.get(lid)
        nonempty = bool(local and not local.error and local.rows)
        checked.append((u, st, fail, plan_features(lines), nonempty))
    return checked


def cached_pass(work):
    """A sample of every table's queries again with cache_ttl on its server,
    twice in one session (this cluster's cache is per backend): the first
    round fills the cache, the second is answered from it; both must agree
    with the local copies as the uncached queries did."""
    run_batch([(f"c{i}", f"ALTER SERVER {s} OPTIONS (ADD cache_ttl '10min')")
               for i, s in enumerate(SERVERS)])
    for name, (t, units) in sorted(work.items()):
        sample = units[::8][:25]
        stmts, plan = emit(sample + sample)
        results = run_batch(stmts + [("stats", "SELECT hits FROM cloud_fdw_cache_stats()")])
        checked = check_units(plan, results)
        fails = [fail for _, _, fail, _, _ in checked if fail]
        stats = results.get("stats")
        hits = int(stats.rows[0][0]) if stats and not stats.error and stats.rows else 0
        tap.ok(not fails and hits > 0,
               f"{name}: with cache_ttl, {len(checked) - len(fails)} of {len(checked)} sampled "
               f"queries agree with the local copy ({hits} answers from the cache)",
               diag="\n".join(f"{f.step.sql_f[:300]}\n  -> {f.symptom[:300]}" for f in fails[:SHOW]))
    run_batch([(f"c{i}", f"ALTER SERVER {s} OPTIONS (DROP cache_ttl)")
               for i, s in enumerate(SERVERS)])


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def main():
    print(f"# seed {SEED}")
    problem = mock_rows_from()
    if not tap.ok(problem is None, "setup: the mock honours rows_from (disjoint synthetic partitions)",
                  diag=problem or ""):
        return
    setup, tables, nparts = build_schema()
    res = run_batch([(f"s{i}", s) for i, s in enumerate(setup)])
    errors = [(sid, r) for sid, r in sorted(res.items()) if r.error]
    missing = [f"s{i}" for i in range(len(setup)) if f"s{i}" not in res]
    if not tap.ok(not errors and not missing,
                  f"setup: {len(tables)} foreign tables ({nparts} foreign partitions), local copies",
                  diag="\n".join([f"{setup[int(sid[1:])][:200]} -> {r.sqlstate} {r.message}"
                                  for sid, r in errors[:10]] + [f"no answer: {m}" for m in missing[:5]])):
        return
    load_rows(tables)

    # Baseline: the copies are made by the code under test, so check them
    # against the mock, asked directly: every item (archived ones included)
    # and, in every row, every column.
    problems = []
    compared = 0
    for t in tables:
        try:
            items = t.mock_items()
        except Exception as e:  # noqa: BLE001 - report, do not crash
            problems.append(f"{t.name}: cannot list the mock: {e}")
            continue
        problems += baseline_problems(t, items)
        compared += len(items) * len(t.colnames)
    tap.ok(not problems, f"baseline: each local copy holds every item of its tenant, every column "
                         f"as the mock serves it ({compared} values compared)",
           diag="\n".join(problems))
    print("# copies: " + ", ".join(f"{t.name} {len(t.rows)}" for t in tables))

    # Helpers and the generated units, per table.
    helper = []
    for t in tables:
        helper += helper_sql(t, random.Random(f"{SEED}:{t.name}:helpers"))
    res = run_batch([(f"h{i}", s) for i, s in enumerate(helper)])
    bad = [(sid, r) for sid, r in res.items() if r.error]
    if not tap.ok(not bad and len(res) == len(helper), "setup: local helper tables",
                  diag="\n".join(f"{helper[int(s[1:])][:150]} -> {r.sqlstate} {r.message}" for s, r in bad[:5])):
        return

    # The request log counts the later pages of the copies too: only those
    # requested from here on are the queries'.
    paged_before = {t.name: paged_requests(t) for t in tables if t.paging}
    by_name = {t.name: t for t in tables}
    work = {}
    for t in tables:
        units = []
        for cat in CATEGORIES:
            if not ONLY.search(f"{t.name}/{cat}"):
                continue
            gen, base = GENERATORS[cat]
            n = max(2, round(base * t.budget * SCALE))
            units += gen(t, random.Random(f"{SEED}:{t.name}:{cat}"), n)
        if units:
            work[t.name] = (t, units)

    started = time.monotonic()
    checked = {}

    def job(name):
        t, units = work[name]
        t0 = time.monotonic()
        # Chunks keep one lost session from hiding the rest of the table.
        out = []
        for i in range(0, len(units), 150):
            out += run_units(units[i:i + 150])
        return name, out, time.monotonic() - t0

    order = sorted(work, key=lambda n: -sum(len(u.steps) for u in work[n][1]))
    with ThreadPoolExecutor(max_workers=2) as pool:
        for name, out, secs in pool.map(job, order):
            checked[name] = (out, secs)

    # One line per table and category.
    counts = collections.defaultdict(lambda: collections.Counter())
    kinds = collections.Counter()
    for t in tables:
        if t.name not in checked:
            continue
        out, secs = checked[t.name]
        for cat in CATEGORIES:
            rows = [(u, st, fail) for u, st, fail, _, _ in out if u.cat == cat]
            if not rows:
                continue
            fails = [fail for _, _, fail in rows if fail]
            counts[t.name][cat] = len(rows)
            diag = []
            by_kind = collections.Counter(f.kind for f in fails)
            if fails:
                diag.append("symptoms: " + ", ".join(f"{k} x{v}" for k, v in by_kind.most_common()))
            # One entry per failing query, with every setting it failed under.
            grouped = collections.OrderedDict()
            for f in fails:
                grouped.setdefault(f.step.sql_f, []).append(f)
            for sql, fs in list(grouped.items())[:SHOW]:
                f = fs[0]
                diag.append("[" + " | ".join(settings_text(x.step, x.unit) for x in fs) + "]")
                diag.append(f"  {sql[:400]}{'...' if len(sql) > 400 else ''}")
                diag.append(f"  -> {f.symptom[:300]}")
                if f.plan:
                    diag.append(f"     plan: {f.plan[:300]}")
                diag += [f"     {d}" for d in f.diff]
            if len(grouped) > SHOW:
                rest = list(grouped.values())[SHOW:]
                diag.append(f"... and {len(rest)} more failing queries ({sum(map(len, rest))} executions)")
            for f in fails:
                kinds[f"{f.kind}: {f.symptom[:90]}" if f.kind.startswith("error") else f.kind] += 1
            tap.ok(not fails, f"{t.name}/{cat}: {len(rows) - len(fails)} of {len(rows)} queries agree "
                              f"with the local copy", diag="\n".join(diag))
    total = sum(sum(c.values()) for c in counts.values())
    all_feats = collections.Counter()
    for name, c in counts.items():
        out = checked[name][0]
        feats = collections.Counter(f for *_, fs, _ in out for f in fs)
        all_feats.update(feats)
        nonempty = sum(1 for *_, ne in out if ne)
        pct = 100 * nonempty // max(1, len(out))
        print(f"# summary {name}: " + ", ".join(f"{cat} {c[cat]}" for cat in CATEGORIES if c[cat])
              + f" ({sum(c.values())} queries, {pct}% with rows, "
              f"{checked[name][1]:.1f} s)")
        print(f"#   plans: " + ", ".join(f"{k} {v}" for k, v in sorted(feats.items())))
        # Coverage: a generator drifting into empty results or into plans
        # that never take the paths under test must fail, not just print.
        t = by_name[name]
        fam = collections.defaultdict(collections.Counter)
        for u, _, _, fs, _ in out:
            fam[u.cat].update(fs)
        for cat in sorted(t.required):
            if c[cat]:
                print(f"#   {cat} plans: " + ", ".join(f"{k} {v}" for k, v in sorted(fam[cat].items())))
        if all(c[cat] for cat in CATEGORIES):   # a DIFF_ONLY subset has another mix
            tap.ok(pct >= MIN_ROWS_PCT, f"{name}: {pct}% of {len(out)} queries return rows "
                                        f"(at least {MIN_ROWS_PCT}%)",
                   diag=f"{nonempty} of {len(out)} local results have rows; the generator "
                        f"drifted into empty results")
            if t.paging:
                pages = paged_requests(t) - paged_before[name]
                tap.ok(pages >= MIN_LATER_PAGES,
                       f"{name}: the queries had the mock serve {pages} pages past the first "
                       f"(at least {MIN_LATER_PAGES})",
                       diag="the small pages were never paged through: the listings the "
                            "generator makes are too short or too few")
        need = [(cat, f) for cat, fs in sorted(t.required.items()) if c[cat] for f in fs]
        if need:
            short_of = [f"{cat}: no plan with {f!r} in {c[cat]} queries"
                        for cat, f in need if not fam[cat][f]]
            tap.ok(not short_of, f"{name}: plans cover " + ", ".join(
                f"{cat} {f} {fam[cat][f]}" for cat, f in need),
                diag="\n".join(short_of))
    per_cat = collections.Counter()
    for c in counts.values():
        per_cat.update(c)
    print("# summary per category: " + ", ".join(f"{cat} {per_cat[cat]}" for cat in CATEGORIES if per_cat[cat]))
    print(f"# summary: {total} foreign queries in {time.monotonic() - started:.1f} s "
          f"(whole script {time.monotonic() - START:.1f} s); {sum(kinds.values())} mismatches")
    for k, v in kinds.most_common(15):
        print(f"#   {v:4d}  {k}")

    cached_pass(work)

    if not KEEP:
        run_batch([(f"d{i}", s) for i, s in enumerate(
            ["DROP SCHEMA IF EXISTS diff CASCADE"] +
            [f"DROP SERVER IF EXISTS {s} CASCADE" for s in SERVERS])])


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - a crash here must still be a 'not ok'
        import traceback
        traceback.print_exc()
        tap.ok(False, f"t_differential: internal error: {e}")
    sys.exit(tap.exit_code())
