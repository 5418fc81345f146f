#!/usr/bin/env python3
"""What differs by PostgreSQL major: the wait event of a backend waiting
for the API in pg_stat_activity (CloudFdwRequest from 17 on, the generic
"Extension" before); from 18, the module's name and version in
pg_get_loaded_modules(), and virtual generated columns, computed locally and
never sent in an update."""
import os
import re
import secrets
import subprocess
import sys
import time

from harness import ROOT, Tap, pg_bindir, psql, run_psql

tap = Tap()
mock_url = os.environ["MOCK_URL"]
tenant = "view-" + secrets.token_hex(4)
# This tenant never answers: the backend waits until it is cancelled.
endpoint = f"{mock_url}/_mock/tenant={tenant},hang=1/api/v1/cloud"
version = int(psql("SHOW server_version_num"))

psql(f"""
CREATE EXTENSION IF NOT EXISTS cloud_fdw;
DROP SERVER IF EXISTS view_srv CASCADE;
CREATE SERVER view_srv FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint '{endpoint}');
CREATE USER MAPPING FOR CURRENT_USER SERVER view_srv OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE view_envs (id text, name text) SERVER view_srv
  OPTIONS (resource 'environments');
""")

# A second session waits for the API; this one watches it, then cancels it.
waiting = subprocess.Popen(
    [pg_bindir() / "psql", "-X", "-q", "-A", "-t", "-c",
     "SET application_name = 'cloud_fdw_waiting';"
     " SELECT count(*) FROM view_envs WHERE id = 'env_a'"],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
expected = "Extension/CloudFdwRequest" if version >= 170000 else "Extension/Extension"
seen = set()
deadline = time.monotonic() + 30
while time.monotonic() < deadline and waiting.poll() is None and expected not in seen:
    row = psql("SELECT coalesce(wait_event_type, '') || '/' || coalesce(wait_event, '')"
               " FROM pg_stat_activity WHERE application_name = 'cloud_fdw_waiting'")
    if row:
        seen.add(row)
    time.sleep(0.05)
psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
     " WHERE application_name = 'cloud_fdw_waiting'")
out, err = waiting.communicate(timeout=30)
tap.ok(waiting.returncode != 0 and "canceling statement due to user request" in err,
       "the waiting query ended by the cancel", diag=f"{out}{err}")

tap.ok(expected in seen,
       f"pg_stat_activity shows {expected} while the backend waits for the API", diag=seen)
tap.ok(not any(s.startswith("Extension/") and s != expected for s in seen),
       "no other wait event of an extension", diag=seen)

if version >= 180000:
    row = psql("SELECT view_envs FROM view_envs WHERE false;"
               " SELECT module_name || ' ' || version FROM pg_get_loaded_modules()"
               " WHERE module_name = 'cloud_fdw'")
    control = (ROOT / "cloud_fdw.control").read_text()
    extversion = re.search(r"default_version = '([^']+)'", control).group(1)
    tap.ok(row == f"cloud_fdw {extversion}",
           f"pg_get_loaded_modules() names cloud_fdw {extversion}", diag=row)

    # A plain endpoint (no latency) for the update.
    trace = run_psql(f"""
ALTER SERVER view_srv OPTIONS (SET endpoint '{mock_url}/_mock/tenant={tenant}/api/v1/cloud');
CREATE FOREIGN TABLE view_virtual (id text, name text,
  shout text GENERATED ALWAYS AS (upper(name)) VIRTUAL) SERVER view_srv
  OPTIONS (resource 'environments');
SET cloud_fdw.trace = on;
SET client_min_messages = notice;
UPDATE view_virtual SET name = 'quiet' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b'
  RETURNING name || ' ' || shout;
""")
    tap.ok(trace.returncode == 0 and "quiet QUIET" in trace.stdout,
           "a virtual generated column is computed from the row the API returns", diag=trace)
    tap.ok('PUT /environments/env_019e3bb39b6774d8878cd0b9d237574b {"name":"quiet"}' in trace.stderr,
           "the PUT body holds only the column set, not the virtual one", diag=trace.stderr)

psql("DROP SERVER view_srv CASCADE;")
sys.exit(tap.exit_code())
