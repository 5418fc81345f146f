#!/usr/bin/env python3
"""Credentials never leave the user mapping: not in errors, NOTICEs, EXPLAIN,
the server log at any level, or the connection list.

A unique token is sent (the mock checks it really arrives as a bearer
token, so the grep below looks for something that was used), then every
output of the session and the server log are searched for it.
"""
import os
import secrets
import sys
import urllib.request
import json

from harness import Tap, run_psql

tap = Tap()
mock_url = os.environ["MOCK_URL"]
token = "pt-secret-" + secrets.token_hex(12)
tenant = "secrets-" + secrets.token_hex(4)
endpoint = f"{mock_url}/_mock/tenant={tenant}/api/v1/cloud"
slow_endpoint = f"{mock_url}/_mock/tenant={tenant},latency_ms=1000/api/v1/cloud"

setup = f"""
CREATE EXTENSION IF NOT EXISTS cloud_fdw;
DROP SERVER IF EXISTS secrets_srv CASCADE;
CREATE SERVER secrets_srv FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint '{endpoint}');
CREATE USER MAPPING FOR CURRENT_USER SERVER secrets_srv OPTIONS (token '{token}');
CREATE FOREIGN TABLE secrets_envs (id text, name text, metadata jsonb)
  SERVER secrets_srv OPTIONS (resource 'environments');
CREATE FOREIGN TABLE secrets_slow (id text) SERVER secrets_srv
  OPTIONS (resource 'environments', endpoint '{slow_endpoint}');
"""
result = run_psql(setup)
tap.ok(result.returncode == 0, "set up a server whose user mapping holds a unique token",
       diag=result.stderr)

# Everything below runs with the most talkative settings there are.  Each
# statement is its own psql command so that errors do not stop the session.
session = """
\\set ON_ERROR_STOP 0
SET client_min_messages = debug5;
SET log_min_messages = debug5;
SET log_min_error_statement = debug5;
SET log_error_verbosity = verbose;
SET log_statement = 'all';
SET cloud_fdw.trace = on;
SELECT * FROM secrets_envs;
SELECT * FROM secrets_envs WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
UPDATE secrets_envs SET name = 'x' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
EXPLAIN (VERBOSE) SELECT * FROM secrets_envs;
EXPLAIN (VERBOSE, ANALYZE) SELECT * FROM secrets_envs WHERE id = 'x';
EXPLAIN (VERBOSE) UPDATE secrets_envs SET name = 'x';
SET statement_timeout = '300ms';
SELECT * FROM secrets_slow;
RESET statement_timeout;
SELECT * FROM cloud_fdw_get_connections();
SELECT * FROM pg_stat_activity WHERE pid = pg_backend_pid();
"""
result = run_psql(session)
output = result.stdout + result.stderr
tap.ok("401" in output and "authentication_error" in output,
       "the session reached the API and was refused (so the token was used)",
       diag=output[-2000:])
tap.ok("canceling statement due to statement timeout" in output,
       "a slow request was cancelled by statement_timeout", diag=output[-2000:])
tap.ok(token not in output, "the token is in no result, error, NOTICE, DEBUG line or EXPLAIN")

with urllib.request.urlopen(f"{mock_url}/_mock/control/requests?tenant={tenant}") as r:
    received = json.load(r)
auth = {req["headers"].get("Authorization") or req["headers"].get("authorization")
        for req in received}
tap.ok(auth == {f"Bearer {token}"},
       "every request carried the token as a bearer token, and only there",
       diag=f"saw {len(received)} requests, Authorization values: {len(auth)}")
tap.ok(all(token not in req["path"] + req["query"] + (req["body"] or "") for req in received),
       "the token is in no request path, query or body")

log = open(os.environ["PG_LOG"], encoding="utf-8", errors="replace").read()
tap.ok("secrets_envs" in log, "the server log did record the session (debug5, log_statement)")
tap.ok(token not in log, "the token is nowhere in the server log")

run_psql("DROP SERVER secrets_srv CASCADE;")
sys.exit(tap.exit_code())
