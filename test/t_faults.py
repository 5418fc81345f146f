#!/usr/bin/env python3
"""The fault matrix: every fault the mock cloud can inject, what cloud_fdw
must do about it, and what it did, printed as a table.

Rows count as handled when the outcome is the expected one: all 12 rows
(a retry made the fault invisible), or an ERROR with the expected SQLSTATE
(never fewer rows than exist).  The mock's request log checks what was
sent (how many attempts, whether a PUT was repeated).  The runner checks
the server log for crashed backends after every script.
"""
# timeout: 600
import os
import re
import secrets
import sys
import time

from harness import MockControl, Tap, run_psql

tap = Tap()
mock = MockControl()
mock_url = os.environ["MOCK_URL"]
ENV = "env_019e3bb39b6774d8878cd0b9d237574b"


def requests_of(tenant, method=None):
    return [req for req in mock.requests(tenant) if method is None or req["method"] == method]


def run(fault, sql, server_options="", endpoint=None):
    """Run sql against a fresh server on a fresh tenant with the fault."""
    tenant = "fault-" + secrets.token_hex(4)
    endpoint = endpoint or f"{mock_url}/_mock/tenant={tenant}{',' if fault else ''}{fault}/api/v1/cloud"
    start = time.monotonic()
    result = run_psql(f"""
\\set VERBOSITY verbose
CREATE EXTENSION IF NOT EXISTS cloud_fdw;
DROP SERVER IF EXISTS faults CASCADE;
CREATE SERVER faults FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint '{endpoint}'{server_options});
CREATE USER MAPPING FOR CURRENT_USER SERVER faults OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE faults_envs (id text, name text, description text)
  SERVER faults OPTIONS (resource 'environments');
{sql}
""")
    elapsed = time.monotonic() - start
    error = re.search(r"ERROR:  ([0-9A-Z]{5}): (.*)", result.stderr)
    if error:
        observed = f"ERROR {error.group(1)}: {error.group(2)}"
    else:
        observed = f"{result.stdout.strip().splitlines()[-1] if result.stdout.strip() else '?'} rows"
    return tenant, observed, elapsed


COUNT = "SELECT count(*) FROM faults_envs;"
UPDATE = f"UPDATE faults_envs SET description = 'fault test' WHERE id = '{ENV}';"
rows = []


def check(fault, expected, sql=COUNT, attempts=None, method="GET", server_options="",
          min_elapsed=None, endpoint=None):
    tenant, observed, elapsed = run(fault, sql, server_options, endpoint)
    ok = observed.startswith(expected)
    notes = []
    if attempts is not None:
        sent = len(requests_of(tenant, method))
        notes.append(f"{sent} {method}")
        ok = ok and sent == attempts
    if min_elapsed is not None:  # a lower bound only: Retry-After was honoured
        notes.append(f"{elapsed:.2f} s")
        ok = ok and elapsed >= min_elapsed
    rows.append((fault or "(none)", expected, observed[:70] + (f" [{', '.join(notes)}]" if notes else ""),
                 "ok" if ok else "FAILED"))
    tap.ok(ok, f"{fault or 'no fault'}: {expected}", diag=observed)


# Transient failures of gets: retried, nothing lost.
check("", "12 rows", attempts=1)
for status in (500, 502, 503, 504, 408):
    check(f"status={status},fault_count=2", "12 rows", attempts=3)
check("status=429,fault_count=1,retry_after=1", "12 rows", attempts=2, min_elapsed=1.0)
check("status=503,fault_count=1,retry_after_ms=300", "12 rows", attempts=2, min_elapsed=0.3)
check("reset=1,fault_count=1", "12 rows", attempts=2)
# Failures that last: an error once the retries are spent.
check("status=503", "ERROR 53000", attempts=4)
check("status=502,body=html", "ERROR HV000", attempts=2, server_options=", max_retries '1'")
check("status=503,retry_after=3600", "ERROR 53000", attempts=1)
# A redirect is an error, never followed (the mock would log a second request).
check("status=302", "ERROR HV000", attempts=1)
check("status=401", "ERROR 28000", attempts=1)
# A 404 in the API's own envelope means "no such collection": no rows; a
# bare 404 (HTML: not the API) is a wrong endpoint, an error.
check("status=404", "0 rows", attempts=1)
check("status=404,body=html", "ERROR 42704", attempts=1)
check("hang=1", "ERROR 08006", attempts=2,
      server_options=", request_timeout '300ms', max_retries '1'")
# 57014 shows that statement_timeout cut the slow request short (no upper
# bound on the time taken: tests never assert how fast something is).
check("latency_ms=3000", "ERROR 57014", sql="SET statement_timeout = '300ms';\n" + COUNT)
check("", "ERROR HV00N", endpoint="http://127.0.0.1:1/api/v1/cloud",
      server_options=", max_retries '1'")
# Broken and hostile bodies.
check("body=empty", "ERROR 22032")
check("body=truncated", "ERROR 22032")
check("body=malformed", "ERROR 22032")
check("body=bad_utf8", "ERROR 22032")
check("body=deep", "ERROR 22032")
check("body=wrong_types", "ERROR HV000")
check("body=no_envelope", "ERROR HV000")
# A NUL (\u0000) is no text: an error for the query that reads that field,
# and nothing for one that does not (count(*) converts no column).
check("body=nul", "ERROR 22021", sql="SELECT count(description) FROM faults_envs;")
check("body=nul", "12 rows")
# An item that is not an object is a broken answer, even to a query that reads no column.
check("body=string_item", "ERROR HV000")
check("body=huge", "ERROR 54000")
check("cursor_loop=1", "ERROR HV000")
# Writes: retried only when they cannot have been applied.
check("status=500,fault_methods=PUT", "ERROR HV000", sql=UPDATE,
      attempts=1, method="PUT")
check("status=503,fault_methods=PUT,fault_count=1,retry_after=0", "UPDATE", sql=UPDATE + "\nSELECT 'UPDATE';",
      attempts=2, method="PUT")
check("status=503,fault_methods=PUT", "ERROR 53000", sql=UPDATE, attempts=1, method="PUT")
check("reset=1,fault_methods=PUT", "ERROR 08006", sql=UPDATE, attempts=1, method="PUT")

width = [max(len(r[i]) for r in rows + [("fault", "expected", "observed", "verdict")]) for i in range(4)]
line = "| " + " | ".join("{:%d}" % w for w in width) + " |"
print("# " + line.format("fault", "expected", "observed", "verdict"))
print("# " + line.format(*("-" * w for w in width)))
for r in rows:
    print("# " + line.format(*r))
sys.exit(tap.exit_code())
