#!/usr/bin/env python3
"""Connection reuse, seen from the server side: one backend keeps one
kept-alive connection per user mapping across queries, and opens a new one
after ALTER SERVER (which drops the cached handle)."""
import os
import secrets
import sys

from harness import MockControl, Tap, run_psql

tap = Tap()
mock = MockControl()
mock_url = os.environ["MOCK_URL"]
tenant = "conn-" + secrets.token_hex(4)
endpoint = f"{mock_url}/_mock/tenant={tenant}/api/v1/cloud"


setup = f"""
CREATE EXTENSION IF NOT EXISTS cloud_fdw;
DROP SERVER IF EXISTS conn_srv CASCADE;
CREATE SERVER conn_srv FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint '{endpoint}', page_size '4');
CREATE USER MAPPING FOR CURRENT_USER SERVER conn_srv OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE conn_envs (id text, name text) SERVER conn_srv
  OPTIONS (resource 'environments');
"""
result = run_psql(setup)
tap.ok(result.returncode == 0, "set up a server", diag=result.stderr)

# One session: a full scan (3 pages of 4 for 11 items), two gets, an update.
result = run_psql("""
SELECT count(*) FROM conn_envs;
SELECT name FROM conn_envs WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SELECT name FROM conn_envs WHERE id = 'env_019be0ddcb5a737c9ff4c8e1b065359a';
UPDATE conn_envs SET name = 'renamed' WHERE id = 'env_019be0ddcb5a737c9ff4c8e1b065359a';
""")
tap.ok(result.returncode == 0, "queries and an update ran", diag=result.stderr)
seen = mock.connections(tenant)
tap.ok(seen["requests"] == 7, "3 pages + 2 gets + (get + PUT) = 7 requests", diag=seen)
tap.ok(seen["distinct_client_ports"] == 1, "all 7 requests came over one connection", diag=seen)

# ALTER SERVER in the middle of a session: the next query opens a new handle.
result = run_psql("""
SELECT count(*) FROM conn_envs WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
ALTER SERVER conn_srv OPTIONS (ADD request_timeout '30s');
SELECT count(*) FROM conn_envs WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SELECT count(*) FROM conn_envs WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
""")
tap.ok(result.returncode == 0, "a session with ALTER SERVER in the middle ran", diag=result.stderr)
seen = mock.connections(tenant)
tap.ok(seen["requests"] == 10, "3 more requests", diag=seen)
tap.ok(seen["distinct_client_ports"] == 3,
       "the new session used one connection before ALTER and a new one after it", diag=seen)

run_psql("DROP SERVER conn_srv CASCADE;")
sys.exit(tap.exit_code())
