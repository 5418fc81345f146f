#!/usr/bin/env python3
"""What the server shows of cloud_fdw, which differs by PostgreSQL major:
the wait event of a backend waiting for the API in pg_stat_activity
(CloudFdwRequest from 17 on, the generic "Extension" before), and from 18
the module's name and version in pg_get_loaded_modules()."""
import os
import re
import secrets
import subprocess
import sys
import time

from harness import ROOT, Tap, pg_bindir, psql

tap = Tap()
mock_url = os.environ["MOCK_URL"]
tenant = "view-" + secrets.token_hex(4)
# Every request of this tenant takes 1.5 s: long enough to be seen waiting.
endpoint = f"{mock_url}/_mock/tenant={tenant},latency_ms=1500/api/v1/cloud"
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

# A second session runs slow requests; this one watches it.
slow = subprocess.Popen(
    [pg_bindir() / "psql", "-X", "-q", "-A", "-t", "-c",
     "SET application_name = 'cloud_fdw_waiting';"
     " SELECT count(*) FROM view_envs WHERE id IN ('env_a', 'env_b', 'env_c')"],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
seen = set()
deadline = time.monotonic() + 20
while time.monotonic() < deadline and slow.poll() is None:
    row = psql("SELECT coalesce(wait_event_type, '') || '/' || coalesce(wait_event, '')"
               " FROM pg_stat_activity WHERE application_name = 'cloud_fdw_waiting'")
    if row:
        seen.add(row)
    time.sleep(0.1)
out, err = slow.communicate(timeout=30)
tap.ok(slow.returncode == 0 and out.strip() == "0", "the slow query ran (three gets of no item)",
       diag=f"{out}{err}")

expected = "Extension/CloudFdwRequest" if version >= 170000 else "Extension/Extension"
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

psql("DROP SERVER view_srv CASCADE;")
sys.exit(tap.exit_code())
