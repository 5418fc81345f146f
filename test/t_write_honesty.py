#!/usr/bin/env python3
# timeout: 420
"""Write honesty: when an UPDATE ends early, does cloud_fdw say exactly
which rows it changed remotely, and which it sent without knowing?

The contract (one WARNING per foreign table of the statement, when the
transaction or subtransaction aborts, if rows were or may have been changed):

    WARNING:  UPDATE of foreign table "envs" ended early: rows changed remotely: 3, in doubt: 1
    DETAIL:  Changed remotely: "env_a", "env_b" (partly), "env_c". In doubt (sent, outcome unknown): "env_d".
    HINT:  Cloud APIs are not transactional: rows changed remotely stay changed.

Each case runs one UPDATE against a fresh mock tenant (its name in the
server's endpoint), with page_size 10 so that the UPDATE's scan reads
several pages, at concurrency 1, 8 and 64, with and without RETURNING, and
ends it early in one way: a refused PUT at the first, a middle or the last
position, a 5xx, a connection reset, a request timeout, writes the mock
applied before it answered 5xx / reset / hung (outcome genuinely unknown),
statement_timeout or pg_cancel_backend while a PUT hangs (the cancel is sent
once the mock's request log shows the hung PUT; when writes go one at a
time, the rows applied are exactly those before it), a division by zero in
SET for one row, a list page that fails while the scan reads page 2 or 3;
EPS actions and PUTs that fail around each other; CodeArts Deploy
environments; and more than 100 keys, two foreign tables in one statement
(writable CTE), in BEGIN and in a SAVEPOINT.  Then it asks the mock which writes it
applied (request records with `applied` true) and checks the WARNING
against them:

* every key reported changed was applied, and answered 2xx (no over-claim,
  no guess);
* every applied key is reported changed or in doubt (no silent change);
* no key twice, none in both lists, lists sorted, counts = list lengths
  (up to 100 keys; beyond, the first 100 and ", and N more"), " (status
  only)" exactly when an EPS action succeeded but its PUT did not, every
  key a row of the table, the HINT as written;
* one WARNING per foreign table the statement changed, and no other; none
  when nothing was changed or can have been; a successful UPDATE has none,
  and its row count is the number of rows the mock applied.

In doubt may name a write that never reached the mock (started, then
abandoned): cautious, so allowed.  That the WARNING follows the ERROR cannot
be checked through psql: libpq hands a notice that arrives together with
the error to psql first.

The first test line says whether the running mock has fault_skip,
after_apply and `applied`; cases that need a missing option fail as "not
run", and without `applied` a write counts as applied when the mock
answered it 2xx.

It prints a table in the style of t_faults.py's fault matrix.
"""
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import mock_cloud  # the mock's own synthetic ids: every key reported must be a row
from harness import MockControl, Tap, pg_bindir, psql, run_psql

tap = Tap()
mock = MockControl()
mock_url = os.environ["MOCK_URL"]
started = time.monotonic()

CONCURRENCIES = (1, 8, 64)
QODER_ROWS = 50
EPS_ROWS = 41             # "0" (the default project, never updated) + 40
DEPLOY_ROWS = 40
MANY_ROWS = 130           # more than 100 keys in a list
DEPLOY_APP = "43943381f7764c52baae8e697720873f"
DEPLOY_PROJECT = "55837d272adf4eee90319800e2da6961"
HINT = "Cloud APIs are not transactional: rows changed remotely stay changed."

# ---------------------------------------------------------------------------
# The mock: which of the options this suite needs it has, its request log
# ---------------------------------------------------------------------------


def probe_mock():
    """Which of fault_skip, after_apply and `applied` the running mock knows."""
    features = {}
    tenant = "wh-probe-" + secrets.token_hex(4)
    for option in ("fault_skip=0", "after_apply=500"):
        url = (f"{mock_url}/_mock/tenant={tenant},fault_methods=PATCH,{option}"
               "/api/v1/cloud/environments?limit=1")
        request = urllib.request.Request(url, headers={"Authorization": "Bearer pt-test-admin"})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                features[option.split("=")[0]] = r.status == 200
        except urllib.error.HTTPError as e:
            body = e.read().decode(errors="replace")
            features[option.split("=")[0]] = "unknown mock option" not in body
    request = urllib.request.Request(  # a write the mock refuses: no such environment
        f"{mock_url}/_mock/tenant={tenant}/api/v1/cloud/environments/env_probe",
        data=b'{"description":"probe"}', method="PUT",
        headers={"Authorization": "Bearer pt-test-admin", "Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError:
        pass
    features["applied"] = any("applied" in r for r in mock.requests(tenant))
    return features


FEATURES = probe_mock()
missing = [name for name, present in FEATURES.items() if not present]
tap.ok(not missing, "the mock has fault_skip, after_apply and `applied` in its request records",
       diag=f"missing from the running mock: {', '.join(missing)}; cases that need "
            "fault_skip or after_apply are not run, and without `applied` a write counts "
            "as applied when the mock answered it 2xx")


def known_ids(kind, rows):
    """The keys of the rows the mock seeds a tenant with."""
    if kind == "qoder":
        return {mock_cloud.synthetic_env_id(i) for i in range(rows)}
    if kind == "eps":
        return {"0"} | {mock_cloud.synthetic_enterprise_project(i)["id"] for i in range(1, rows)}
    return {mock_cloud.synthetic_deploy_env(i, DEPLOY_PROJECT)["id"] for i in range(rows)}


KEY_PATHS = [
    re.compile(r"/api/v1/cloud/environments/(?P<key>[^/?]+)/?$"),
    re.compile(r"/v1\.0/enterprise-projects/(?P<key>[^/?]+)(?P<action>/action)?/?$"),
    re.compile(r"/v1/applications/[^/]+/environments/(?P<key>[^/?]+)/?$"),
]


def writes_of(records):
    """Per key: what the statement's writes did, as the mock saw them."""
    keys = {}
    for r in records:
        if r["method"] not in ("PUT", "POST"):
            continue
        for pattern in KEY_PATHS:
            match = pattern.match(r["path"])
            if match:
                break
        else:
            continue
        key = urllib.request.unquote(match.group("key"))
        kind = "action" if match.groupdict().get("action") else "put"
        if "applied" in r:
            applied = r["applied"] is True
        else:
            applied = r["status"] is not None and 200 <= r["status"] <= 299
        entry = keys.setdefault(key, {"put_sent": False, "put_applied": False,
                                      "action_sent": False, "action_applied": False,
                                      "statuses": []})
        entry[f"{kind}_sent"] = True
        entry[f"{kind}_applied"] |= applied
        entry["statuses"].append(r["status"])
    return keys


def settle(tenant, since, quiet=0.25, limit=10.0):
    """The tenant's records after seq `since`, once every request is answered
    and no new one has come for `quiet` seconds (a write on its way when the
    statement failed is still applied by the mock afterwards)."""
    deadline = time.monotonic() + limit
    last, quiet_since = None, time.monotonic()
    while True:
        records = [r for r in mock.requests(tenant) if r["seq"] > since]
        busy = any(r["status"] is None for r in records)
        if busy or len(records) != last:
            last, quiet_since = len(records), time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            return records, True
        if time.monotonic() > deadline:
            return records, False
        time.sleep(0.05)


def last_seq(tenant):
    return max((r["seq"] for r in mock.requests(tenant)), default=0)


# ---------------------------------------------------------------------------
# psql output: messages and the WARNING of the contract
# ---------------------------------------------------------------------------

MESSAGE = re.compile(r"^(?:psql:.*?:\d+: )?(ERROR|WARNING|NOTICE|FATAL|INFO):  "
                     r"(?:([0-9A-Z]{5}): )?(.*)$")
FIELD = re.compile(r"^(DETAIL|HINT|CONTEXT|LOCATION|QUERY|STATEMENT):  (.*)$")
WARNING_TEXT = re.compile(r'^UPDATE of foreign table "(?P<table>[^"]+)" ended early: '
                          r'rows changed remotely: (?P<changed>\d+), in doubt: (?P<doubt>\d+)$')
ITEM = r'"[^"]*"(?: \(partly\))?'
LIST = rf'{ITEM}(?:, {ITEM})*(?:, and \d+ more)?'
CHANGED_SENTENCE = rf'Changed remotely: (?P<changed>{LIST})\.'
DOUBT_SENTENCE = rf'In doubt \(sent, outcome unknown\): (?P<doubt>{LIST})\.'
DETAIL_FORMS = [re.compile(f"^{CHANGED_SENTENCE} {DOUBT_SENTENCE}$"),
                re.compile(f"^{CHANGED_SENTENCE}$"), re.compile(f"^{DOUBT_SENTENCE}$")]


def messages(stderr):
    """psql's stderr as [{severity, sqlstate, text, DETAIL, HINT, ...}]."""
    found, field = [], None
    for line in stderr.splitlines():
        match = MESSAGE.match(line)
        if match:
            found.append({"severity": match.group(1), "sqlstate": match.group(2),
                          "text": match.group(3)})
            field = "text"
            continue
        match = FIELD.match(line)
        if match and found:
            field = match.group(1)
            found[-1][field] = match.group(2)
        elif found and field:
            found[-1][field] += "\n" + line
    return found


def parse_list(text):
    """'"a", "b" (partly), and 3 more' -> ([(a, False), (b, True)], 3)."""
    if text is None:
        return [], 0
    more = re.search(r", and (\d+) more\.?$", text.strip())
    items = [(key, bool(suffix)) for key, suffix in
             re.findall(r'"([^"]*)"( \(partly\))?', text)]
    return items, int(more.group(1)) if more else 0


def parse_warning(message):
    """The contract's WARNING as a dict, or None when it is another WARNING."""
    match = WARNING_TEXT.match(message["text"])
    if not match:
        return None
    warning = {"table": match.group("table"), "n_changed": int(match.group("changed")),
               "n_doubt": int(match.group("doubt")), "problems": [],
               "changed": [], "doubt": [], "more_changed": 0, "more_doubt": 0}
    detail = message.get("DETAIL")
    if message.get("HINT") != HINT:
        warning["problems"].append(f"HINT is {message.get('HINT')!r}, not {HINT!r}")
    if detail is None:
        if warning["n_changed"] or warning["n_doubt"]:
            warning["problems"].append("no DETAIL with the keys")
        return warning
    for form in DETAIL_FORMS:
        match = form.match(detail)
        if match:
            groups = match.groupdict()
            break
    else:
        warning["problems"].append(f"DETAIL does not have the contract's form: {detail[:300]!r}")
        # read the keys anyway, so that the checks against the mock still say something
        changed_part, _, doubt_part = detail.partition("In doubt (sent, outcome unknown): ")
        groups = {"changed": changed_part if changed_part.startswith("Changed remotely: ") else None,
                  "doubt": doubt_part or None}
    warning["changed"], warning["more_changed"] = parse_list(groups.get("changed"))
    warning["doubt"], warning["more_doubt"] = parse_list(groups.get("doubt"))
    return warning


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------


class Case:
    """One UPDATE that ends early (or not) in one way.

    kind: qoder (table envs), eps (table eps), deploy (table deploy), two
    (a writable CTE on envs feeding an UPDATE of envs_b).  fault: mock
    options of the faulty tenant.  expect: "error" or "ok".  late_sends: the
    statement may have sent writes the mock never recorded (interrupted in
    the middle of sending).  hang_at, interrupt: the hang_at-th PUT hangs
    (the fault must say so) and the statement is ended while it hangs, by
    "statement_timeout" or by "cancel" (pg_cancel_backend once the mock has
    recorded hang_at PUTs).
    """

    def __init__(self, label, kind, conc, fault="", sql=None, returning=False, expect="error",
                 server_options="", pre_sql="", rows=None, eps_disable_all=False,
                 wrap=None, late_sends=False, hang_at=None, interrupt=None):
        self.label, self.kind, self.conc, self.fault = label, kind, conc, fault
        self.returning, self.expect = returning, expect
        self.server_options, self.pre_sql = server_options, pre_sql
        self.eps_disable_all, self.wrap, self.late_sends = eps_disable_all, wrap, late_sends
        self.hang_at, self.interrupt = hang_at, interrupt
        self.rows = rows or {"qoder": QODER_ROWS, "two": QODER_ROWS, "eps": EPS_ROWS,
                             "deploy": DEPLOY_ROWS}[kind]
        self.sql = sql or {"qoder": Q_SET, "two": TWO_SQL, "eps": EPS_DESC,
                           "deploy": DEPLOY_SET}[kind]

    @property
    def name(self):
        return f"{self.label}{' RETURNING' if self.returning else ''}"

    def needs(self):
        needed = []
        if re.search(r"fault_skip=[1-9]", self.fault):
            needed.append("fault_skip")
        if "after_apply=" in self.fault:
            needed.append("after_apply")
        return [n for n in needed if not FEATURES.get(n)]


Q_SET = "UPDATE envs SET description = 'x' || id"
Q_DIV_MID = ("UPDATE envs SET description = 'x' || id || "
             "(1 / (CASE WHEN name = 'env-000025' THEN 0 ELSE 1 END))::text")
Q_DIV_FIRST = "UPDATE envs SET description = 'x' || id || (1 / (length(id) - length(id)))::text"
EPS_DESC = "UPDATE eps SET description = 'x' || id WHERE id <> '0'"
EPS_DISABLE = "UPDATE eps SET status = 2, name = name || 'x' WHERE id <> '0'"
EPS_ENABLE = "UPDATE eps SET status = 1, description = 'x' || id WHERE id <> '0'"
DEPLOY_SET = f"UPDATE deploy SET description = 'x' || id WHERE application_id = '{DEPLOY_APP}'"
DEPLOY_DIV_MID = (f"UPDATE deploy SET description = 'x' || id || "
                  f"(1 / (CASE WHEN name = 'env-000020' THEN 0 ELSE 1 END))::text "
                  f"WHERE application_id = '{DEPLOY_APP}'")
TWO_SQL = ("WITH a AS (UPDATE envs SET description = 'x' || id RETURNING id) "
           "UPDATE envs_b SET description = 'x' || envs_b.id FROM (SELECT count(*) AS n FROM a) c "
           "WHERE c.n > 0")


def nth(n):
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def put_fault(what, skip, methods="PUT"):
    return f"{what},fault_methods={methods},fault_skip={skip},fault_count=1"


MID = QODER_ROWS // 2
TIMEOUT = ", request_timeout '500ms'"
# statement_timeout while the (MID + 1)th PUT hangs: it must not fire before
# that PUT reaches the mock; when it does (a slow machine; at concurrency 64
# connections wait for the mock's small listen backlog, about 1 s), the case
# is run again with the next, longer one.  All are below request_timeout (60 s).
STATEMENT_TIMEOUTS_MS = (2000, 8000, 30000)
HANG_MID = dict(fault=put_fault("hang=1", MID), hang_at=MID + 1, late_sends=True)
# (label, keyword arguments) of the Qoder cases, run at every concurrency
QODER_MODES = [
    ("success", dict(expect="ok")),
    ("PUT refused (400), 1st", dict(fault="status=400,fault_methods=PUT,fault_count=1")),
    (f"PUT refused (409), {nth(MID + 1)}", dict(fault=put_fault("status=409", MID))),
    (f"PUT refused (400), last ({nth(QODER_ROWS)})", dict(fault=put_fault("status=400", QODER_ROWS - 1))),
    (f"PUT 500, not applied, {nth(MID + 1)}", dict(fault=put_fault("status=500", MID))),
    (f"PUT applied, then 502, {nth(MID + 1)}", dict(fault=put_fault("after_apply=502", MID))),
    (f"PUT connection reset, {nth(MID + 1)}", dict(fault=put_fault("reset=1", MID))),
    (f"PUT applied, then reset, {nth(MID + 1)}", dict(fault=put_fault("after_apply=reset", MID))),
    (f"PUT hangs: request_timeout, {nth(MID + 1)}",
     dict(fault=put_fault("hang=1", MID), server_options=TIMEOUT)),
    (f"PUT applied, then hangs: request_timeout, {nth(MID + 1)}",
     dict(fault=put_fault("after_apply=hang", MID), server_options=TIMEOUT)),
    (f"PUT hangs: statement_timeout, {nth(MID + 1)}", dict(HANG_MID, interrupt="statement_timeout")),
    (f"PUT hangs: pg_cancel_backend, {nth(MID + 1)}", dict(HANG_MID, interrupt="cancel")),
    ("division by zero in SET, 26th row", dict(sql=Q_DIV_MID)),
    ("division by zero in SET, 1st row", dict(sql=Q_DIV_FIRST)),
    ("list page 2 fails (GET 400)", dict(fault="status=400,fault_methods=GET,fault_skip=1,fault_count=1")),
    ("list page 3 fails (GET 500, retries spent)",
     dict(fault="status=500,fault_methods=GET,fault_skip=2", server_options=", max_retries '1'")),
]
RETURNING_MODES = {f"PUT refused (409), {nth(MID + 1)}", f"PUT applied, then 502, {nth(MID + 1)}",
                   f"PUT connection reset, {nth(MID + 1)}",
                   f"PUT applied, then hangs: request_timeout, {nth(MID + 1)}",
                   f"PUT hangs: statement_timeout, {nth(MID + 1)}",
                   f"PUT hangs: pg_cancel_backend, {nth(MID + 1)}",
                   "division by zero in SET, 26th row", "list page 2 fails (GET 400)"}
EPS_MID = 20
EPS_MODES = [
    ("EPS status 2 + name: success", dict(sql=EPS_DISABLE, expect="ok")),
    (f"EPS description: PUT refused, {nth(EPS_MID + 1)}", dict(fault=put_fault("status=400", EPS_MID))),
    (f"EPS status 2 + name: PUT refused, {nth(EPS_MID + 1)}",
     dict(sql=EPS_DISABLE, fault=put_fault("status=400", EPS_MID))),
    (f"EPS status 2 + name: disable refused after PUT, {nth(EPS_MID + 1)}",
     dict(sql=EPS_DISABLE, fault=put_fault("status=400", EPS_MID, "POST"))),
    (f"EPS status 1 + description: enable refused, {nth(EPS_MID + 1)}",
     dict(sql=EPS_ENABLE, eps_disable_all=True, fault=put_fault("status=400", EPS_MID, "POST"))),
    (f"EPS status 1 + description: PUT refused after enable, {nth(EPS_MID + 1)}",
     dict(sql=EPS_ENABLE, eps_disable_all=True, fault=put_fault("status=400", EPS_MID))),
    (f"EPS status 1 + description: PUT reset after enable, {nth(EPS_MID + 1)}",
     dict(sql=EPS_ENABLE, eps_disable_all=True, fault=put_fault("reset=1", EPS_MID))),
    (f"EPS status 1 + description: enable applied, then 500, {nth(EPS_MID + 1)}",
     dict(sql=EPS_ENABLE, eps_disable_all=True, fault=put_fault("after_apply=500", EPS_MID, "POST"))),
]
DEPLOY_MODES = [
    ("CodeArts: success", dict(expect="ok")),
    ("CodeArts: PUT refused (400), 21st", dict(fault=put_fault("status=400", 20))),
    ("CodeArts: PUT applied, then 500, 21st", dict(fault=put_fault("after_apply=500", 20))),
    ("CodeArts: division by zero in SET, 21st row", dict(sql=DEPLOY_DIV_MID)),
    ("CodeArts: list page 2 fails (GET 400)",
     dict(fault="status=400,fault_methods=GET,fault_skip=1,fault_count=1")),
]

CASES = []
for conc in CONCURRENCIES:
    for label, kwargs in QODER_MODES:
        CASES.append(Case(label, "qoder", conc, **kwargs))
    for label, kwargs in QODER_MODES:
        if label in RETURNING_MODES:
            CASES.append(Case(label, "qoder", conc, returning=True, **kwargs))
    for label, kwargs in EPS_MODES:
        CASES.append(Case(label, "eps", conc, **kwargs))
    CASES.append(Case(f"EPS description: PUT refused, {nth(EPS_MID + 1)}", "eps", conc,
                      fault=put_fault("status=400", EPS_MID), returning=True))
    for label, kwargs in DEPLOY_MODES:
        CASES.append(Case(label, "deploy", conc, **kwargs))
    CASES.append(Case("CodeArts: PUT refused (400), 21st", "deploy", conc,
                      fault=put_fault("status=400", 20), returning=True))
CASES += [
    Case(f"more than 100 keys: PUT refused, {nth(121)} of {MANY_ROWS}", "qoder", 64,
         rows=MANY_ROWS, fault=put_fault("status=400", 120)),
    Case(f"two tables (writable CTE): envs_b PUT refused, {nth(MID + 1)}", "two", 8,
         fault=put_fault("status=400", MID)),
    Case(f"in BEGIN: PUT refused (409), {nth(MID + 1)}", "qoder", 8,
         fault=put_fault("status=409", MID), wrap="begin"),
    Case(f"in a SAVEPOINT: PUT refused (409), {nth(MID + 1)}", "qoder", 8,
         fault=put_fault("status=409", MID), wrap="savepoint"),
]


def endpoint(kind, options):
    base = f"{mock_url}/_mock/{options}"
    return base + "/api/v1/cloud" if kind in ("qoder", "two") else base


def seed(kind, rows):
    return {"qoder": f"rows={rows}", "two": f"rows={rows}", "eps": f"eps_rows={rows}",
            "deploy": f"deploy_rows={rows}"}[kind]


def server_ddl(server, kind, ep, conc, extra, table):
    if kind in ("qoder", "two"):
        return f"""
DROP SERVER IF EXISTS {server} CASCADE;
CREATE SERVER {server} FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint '{ep}', page_size '10', concurrency '{conc}'{extra});
CREATE USER MAPPING FOR CURRENT_USER SERVER {server} OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE {table} (id text, name text, description text)
  SERVER {server} OPTIONS (resource 'environments');
"""
    columns, options = (("id text, name text, description text, status integer, type text",
                         "resource 'enterprise_projects'") if kind == "eps" else
                        ("application_id text, id text, name text, description text",
                         f"resource 'deploy_environments', codearts_project_id '{DEPLOY_PROJECT}'"))
    return f"""
DROP SERVER IF EXISTS {server} CASCADE;
CREATE SERVER {server} FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint '{ep}', page_size '10',
           concurrency '{conc}'{extra});
CREATE USER MAPPING FOR CURRENT_USER SERVER {server} OPTIONS (auth_token 'hw-test-token');
CREATE FOREIGN TABLE {table} ({columns}) SERVER {server} OPTIONS ({options});
"""


def run_session(sql, app, cancel_tenant=None, since=0, hang_at=None):
    """Run the UPDATE's session; with cancel_tenant, pg_cancel_backend it once
    the mock has recorded hang_at PUTs of it, so that the hung one is among
    them (the statement cannot finish before the cancel: that PUT is never
    answered, and request_timeout is 60 s)."""
    env = {**os.environ, "PGAPPNAME": app}
    if cancel_tenant is None:
        return run_psql(sql, env=env, timeout=120), None
    cmd = [str(pg_bindir() / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    out = {}

    def communicate():
        try:
            out["stdout"], out["stderr"] = proc.communicate(sql, timeout=120)
        except subprocess.TimeoutExpired as e:
            proc.kill()
            out["stdout"], out["stderr"] = proc.communicate()  # collects the child too
            out["timeout"] = e

    reader = threading.Thread(target=communicate)
    reader.start()
    deadline, cancelled = time.monotonic() + 100, None
    while time.monotonic() < deadline and proc.poll() is None:
        puts = [r for r in mock.requests(cancel_tenant) if r["seq"] > since and r["method"] == "PUT"]
        if len(puts) >= hang_at:
            cancelled = psql("SELECT count(pg_cancel_backend(pid)) FROM (SELECT pid FROM "
                             f"pg_stat_activity WHERE application_name = '{app}' "
                             "AND pid <> pg_backend_pid() OFFSET 0) s;", check=False)
            break
        time.sleep(0.02)
    reader.join(timeout=130)
    if reader.is_alive():  # not even the kill helped: do not leave psql behind
        proc.kill()
        reader.join()
    if "timeout" in out:
        raise out["timeout"]  # as run_psql does; run_case's caller reports it
    return subprocess.CompletedProcess(cmd, proc.returncode, out.get("stdout", ""),
                                       out.get("stderr", "")), cancelled


def judge_hang(case, keys, applied, one_at_a_time):
    """What is determined when the hang_at-th PUT hangs until the statement is
    ended: the mock applies every PUT it receives but that one, so at least
    the hang_at - 1 before it; exactly those when writes go one at a time."""
    sent = sorted(k for k, v in keys.items() if v["put_sent"])
    hung = sorted(k for k, v in keys.items() if not v["put_applied"] and 0 in v["statuses"])
    if len(sent) < case.hang_at:
        return [f"the statement ended before its {nth(case.hang_at)} PUT, the one that hangs, "
                f"reached the mock (it received {len(sent)})"]
    problems = []
    if len(hung) != 1:
        problems.append(f"{len(hung)} PUTs left unanswered and not applied, want 1 (the hung one)")
    if len(applied) != len(sent) - 1:
        problems.append(f"the mock applied {len(applied)} of the {len(sent)} PUTs it received, "
                        "want all but the hung one")
    if one_at_a_time and len(applied) != case.hang_at - 1:
        problems.append(f"the mock applied {len(applied)} rows, want exactly {case.hang_at - 1} "
                        f"(writes go one at a time and the {nth(case.hang_at)} hangs)")
    return problems


def hang_reached(case, records):
    """Whether the PUT that hangs reached the mock (always true without hang_at)."""
    if case.hang_at is None:
        return True
    return sum(v["put_sent"] for v in writes_of(records).values()) >= case.hang_at


def judge_table(case, table, warnings, records, ids, ok_row_count):
    """The problems of one foreign table's WARNING against the mock's record."""
    problems = []
    keys = writes_of(records)
    applied = {k for k, v in keys.items() if v["put_applied"] or v["action_applied"]}
    mine = [w for w in warnings if w and w["table"] == table]
    # Nothing can have changed when nothing was applied, every write that
    # reached the mock was refused with a 4xx, and no other can have been on
    # its way: none reached the mock, or writes go one at a time.
    one_at_a_time = case.conc == 1 or case.returning or case.kind == "eps"
    definite = (not case.late_sends
                and all(s is not None and 400 <= s <= 499
                        for v in keys.values() for s in v["statuses"])
                and (one_at_a_time or not keys))
    summary = {"applied": len(applied), "changed": "-", "doubt": "-"}
    hung = set()
    if case.hang_at is not None:
        problems += judge_hang(case, keys, applied, one_at_a_time)
        hung = {k for k, v in keys.items() if not v["put_applied"] and 0 in v["statuses"]}
    if case.expect == "ok":
        if mine:
            problems.append(f"successful UPDATE printed the WARNING for {table}")
        if ok_row_count is not None and ok_row_count != len(applied):
            problems.append(f"row count {ok_row_count} but the mock applied {len(applied)} rows")
        return problems, summary, mine
    if len(mine) > 1:
        problems.append(f"{len(mine)} WARNINGs for {table}, not one")
    if not mine:
        if applied:
            problems.append(f"no WARNING for {table}, but the mock applied {len(applied)} "
                            f"rows: {', '.join(sorted(applied)[:5])}{' ...' if len(applied) > 5 else ''}")
        return problems, summary, mine
    w = mine[0]
    summary.update(changed=w["n_changed"], doubt=w["n_doubt"])
    problems += w["problems"]
    if not applied and definite:
        problems.append("WARNING although nothing was changed or can have been "
                        "(every write was refused with a 4xx)")
    if w["n_changed"] == 0 and w["n_doubt"] == 0:
        problems.append("WARNING with nothing changed and nothing in doubt")
    changed = [k for k, _ in w["changed"]]
    doubt = [k for k, _ in w["doubt"]]
    for name, shown, count, more in (("changed", changed, w["n_changed"], w["more_changed"]),
                                     ("in doubt", doubt, w["n_doubt"], w["more_doubt"])):
        dupes = sorted({k for k in shown if shown.count(k) > 1})
        if dupes:
            problems.append(f"{name} lists twice: {', '.join(dupes[:5])}")
        if shown != sorted(shown):
            problems.append(f"{name} keys are not sorted")
        if count <= 100 and (len(shown) != count or more):
            problems.append(f"{name}: message says {count}, DETAIL lists {len(shown)}"
                            f"{f' and {more} more' if more else ''}")
        if count > 100 and (len(shown) != 100 or len(shown) + more != count):
            problems.append(f"{name}: {count} keys but DETAIL lists {len(shown)} "
                            f"and {more} more (want 100 and {count - 100} more)")
    both = sorted(set(changed) & set(doubt))
    if both:
        problems.append(f"in both lists: {', '.join(both[:5])}")
    over = sorted(set(changed) - applied)
    if over:
        problems.append(f"reported changed but not applied by the mock: {', '.join(over[:5])}")
    guessed = sorted(k for k in set(changed) & applied
                     if not any(s is not None and 200 <= s <= 299 for s in keys[k]["statuses"]))
    if guessed:
        problems.append(f"reported changed although no write of it was answered 2xx (applied, "
                        f"but cloud_fdw cannot have known): {', '.join(guessed[:5])}")
    if not w["more_changed"] and not w["more_doubt"]:
        silent = sorted(applied - set(changed) - set(doubt))
        if silent:
            problems.append(f"applied by the mock but reported neither changed nor in doubt: "
                            f"{len(silent)} ({', '.join(silent[:5])})")
    elif not w["more_doubt"]:
        expect = sorted(applied - set(doubt))
        if w["n_changed"] != len(expect) or changed != expect[:100]:
            problems.append(f"changed: {w['n_changed']} reported, the mock applied {len(expect)} "
                            "not in doubt (or the first 100 shown are not theirs)")
    # "(partly)": of an EPS row's two calls (action, PUT), both were sent and
    # exactly one is known applied.
    for key, partly in w["changed"]:
        k = keys.get(key)
        split = (k is not None and k["action_sent"] and k["put_sent"]
                 and k["action_applied"] != k["put_applied"])
        if partly and (case.kind != "eps" or not split):
            problems.append(f'"{key}" (partly), but its calls were not half applied')
        if not partly and split:
            problems.append(f'"{key}": only one of its calls was applied, not marked (partly)')
    if any(s for _, s in w["doubt"]):
        problems.append("(partly) in the in-doubt list")
    # A PUT that hangs was sent and never answered: in doubt, not forgotten.
    missing = sorted(hung - set(doubt)) if not w["more_doubt"] else []
    if missing:
        problems.append(f"the PUT that hung is not in doubt: {', '.join(missing)}")
    # One at a time, every write before the hung one was answered 2xx.
    if (case.hang_at is not None and one_at_a_time and not w["more_changed"]
            and set(changed) != applied):
        problems.append(f"changed lists {len(changed)} keys, the mock applied {len(applied)} "
                        "(all answered 2xx before the next PUT was sent): not the same keys")
    # In doubt may name a write that never reached the mock (started, then
    # abandoned): cautious, not dishonest.  But every key must be a row.
    strays = sorted((set(doubt) | set(changed)) - ids)
    if strays:
        problems.append(f"listed keys of no row of the table: {', '.join(strays[:5])}")
    return problems, summary, mine


rows_out = []


def record_row(case, table_suffix, summary, verdict):
    rows_out.append((case.name + table_suffix, str(case.conc), str(summary["applied"]),
                     str(summary["changed"]), str(summary["doubt"]), verdict))


NO_SUMMARY = {"applied": "-", "changed": "-", "doubt": "-"}


def run_case(case):
    missing_opts = case.needs()
    if missing_opts:
        verdict = f"NOT RUN: mock lacks {', '.join(missing_opts)}"
        record_row(case, "", NO_SUMMARY, verdict)
        tap.ok(False, f"{case.name}, concurrency {case.conc}: needs mock option "
                      f"{', '.join(missing_opts)}, not in this mock yet")
        return
    timeouts = STATEMENT_TIMEOUTS_MS if case.interrupt == "statement_timeout" else (None,)
    for i, timeout_ms in enumerate(timeouts):
        pre_sql = case.pre_sql
        if timeout_ms is not None:
            pre_sql += f"\nSET statement_timeout = '{timeout_ms}ms';"
        result = run_attempt(case, pre_sql)
        if result["reached"] or i == len(timeouts) - 1:
            break
        # Not a failure: this machine is too slow for the shorter timeout.
        print(f"# {case.name}, concurrency {case.conc}: statement_timeout {timeout_ms} ms fired "
              f"before the {nth(case.hang_at)} PUT reached the mock; again with "
              f"{timeouts[i + 1]} ms", flush=True)
    for suffix, summary, verdict in result["rows"]:
        record_row(case, suffix, summary, verdict)
    tap.ok(not result["problems"], result["description"], diag=result["diag"])


def run_attempt(case, pre_sql):
    """Run the case once on fresh tenants; return its table rows, problems,
    TAP description and diagnostics, and whether the PUT that hangs (if
    any) reached the mock."""
    tag = secrets.token_hex(4)
    tenant = f"wh-{tag}"
    fault_opts = ",".join(filter(None, [f"tenant={tenant}", seed(case.kind, case.rows), case.fault]))
    extra = case.server_options
    tables = []   # (table, tenant, kind, rows)
    if case.kind == "two":
        tenant_a = f"wh-{tag}-a"
        ddl = server_ddl("wh_a", "qoder", endpoint("qoder", f"tenant={tenant_a},rows={case.rows}"),
                         case.conc, extra, "envs")
        ddl += server_ddl("wh_b", "qoder", endpoint("qoder", fault_opts), case.conc, extra, "envs_b")
        tables = [("envs", tenant_a, "qoder", case.rows), ("envs_b", tenant, "qoder", case.rows)]
    else:
        table = {"qoder": "envs", "eps": "eps", "deploy": "deploy"}[case.kind]
        ddl = server_ddl("wh_a", case.kind, endpoint(case.kind, fault_opts), case.conc, extra, table)
        tables = [(table, tenant, case.kind, case.rows)]
    if case.eps_disable_all:  # the same tenant without the fault
        ddl += server_ddl("wh_setup", "eps", endpoint("eps", f"tenant={tenant},eps_rows={case.rows}"),
                          8, "", "eps_setup")
        ddl += "UPDATE eps_setup SET status = 2 WHERE id <> '0';\nDROP SERVER wh_setup CASCADE;\n"
    setup = run_psql("CREATE EXTENSION IF NOT EXISTS cloud_fdw;\n" + ddl, timeout=120)
    if setup.returncode != 0:
        return {"rows": [("", NO_SUMMARY, "FAILED: setup")], "problems": ["setup failed"],
                "description": f"{case.name}, concurrency {case.conc}: setup",
                "diag": setup.stderr, "reached": True}
    since = {t: last_seq(t) for _, t, _, _ in tables}
    update = case.sql + (" RETURNING id" if case.returning else "") + ";"
    if case.wrap == "begin":
        update = f"BEGIN;\n{update}"
    elif case.wrap == "savepoint":
        update = f"BEGIN;\nSAVEPOINT before_update;\n{update}"
    session = f"\\set VERBOSITY verbose\n{pre_sql}\n{update}\n\\echo ROW_COUNT=:ROW_COUNT\n"
    if case.wrap:
        session += "COMMIT;\n"
    app = f"wh_{tag}"
    t0 = time.monotonic()
    result, cancelled = run_session(session, app, tenant if case.interrupt == "cancel" else None,
                                    since[tenant], case.hang_at)
    elapsed = time.monotonic() - t0
    msgs = messages(result.stderr)
    errors = [m for m in msgs if m["severity"] in ("ERROR", "FATAL")]
    warnings = [m for m in msgs if m["severity"] == "WARNING"]
    parsed = [parse_warning(m) for m in warnings]
    count = re.search(r"^ROW_COUNT=(\d+)$", result.stdout, re.M)
    problems = []
    if case.expect == "ok":
        if errors:
            problems.append(f"UPDATE failed: {errors[0]['sqlstate']}: {errors[0]['text']}")
        if not count:
            problems.append("no row count")
        if warnings:
            problems.append(f"WARNING on success: {warnings[0]['text'][:150]}")
    else:
        if not errors:
            problems.append("the UPDATE did not end early (no ERROR)"
                            + (f"; cancel found {cancelled!r} backends"
                               if case.interrupt == "cancel" else ""))
        elif case.interrupt and errors[0]["sqlstate"] != "57014":
            problems.append(f"ended by {errors[0]['sqlstate']}, not by the {case.interrupt} (57014)"
                            + (f"; cancel found {cancelled!r} backends"
                               if case.interrupt == "cancel" else ""))
        # (Whether the WARNING follows the ERROR cannot be told from psql:
        # libpq hands a notice that arrives with the error to psql first.)
        others = [m["text"] for m, p in zip(warnings, parsed) if p is None]
        if others:
            problems.append(f"WARNING that is not the contract's: {others[0][:200]}")
    outcome = (f"ERROR {errors[0]['sqlstate']}: {errors[0]['text'][:80]}" if errors
               else f"UPDATE {count.group(1) if count else '?'}")
    case_problems = list(problems)
    rows_of_case, reached = [], True
    for table, t, kind, rows in tables:
        records, settled = settle(t, since[t])
        if not settled:
            case_problems.append(f"mock still busy for tenant {t}")
        if t == tenant:
            reached = hang_reached(case, records)
        ok_count = int(count.group(1)) if (count and case.kind != "two") else None
        table_problems, summary, _ = judge_table(
            case, table, parsed, records, known_ids(kind, rows), ok_count)
        shown = problems + table_problems
        verdict = "ok" if not shown else "FAILED: " + shown[0][:72]
        rows_of_case.append((f" [{table}]" if case.kind == "two" else "", summary, verdict))
        case_problems += table_problems
    if case.expect != "ok" and case.kind != "two" and len(warnings) > 1:
        case_problems.append(f"{len(warnings)} WARNINGs for a one-table statement")
    if case.kind == "two" and len([p for p in parsed if p]) != 2:
        case_problems.append(f"{len([p for p in parsed if p])} contract WARNINGs, want one "
                             "per foreign table (2)")
    diag = "\n".join(case_problems + [f"outcome: {outcome} ({elapsed:.2f} s)",
                                      "stderr:"] + result.stderr.strip().splitlines()[:12])
    return {"rows": rows_of_case, "problems": case_problems, "diag": diag, "reached": reached,
            "description": f"{case.name}, concurrency {case.conc}: {outcome[:60]}"}


for case in CASES:
    try:
        run_case(case)
    except Exception as e:  # noqa: BLE001 - one broken case must not hide the others
        record_row(case, "", NO_SUMMARY, "FAILED: test error")
        tap.ok(False, f"{case.name}, concurrency {case.conc}: the test itself failed",
               diag=f"{type(e).__name__}: {e}")

psql("DROP SERVER IF EXISTS wh_a, wh_b, wh_setup CASCADE;", check=False)
head = ("case", "concurrency", "applied", "reported changed", "in doubt", "verdict")
width = [max(len(r[i]) for r in rows_out + [head]) for i in range(len(head))]
line = "| " + " | ".join("{:%d}" % w for w in width) + " |"
print("# " + line.format(*head))
print("# " + line.format(*("-" * w for w in width)))
for r in rows_out:
    print("# " + line.format(*r))
print(f"# {len(CASES)} cases in {time.monotonic() - started:.1f} s")
sys.exit(tap.exit_code())
