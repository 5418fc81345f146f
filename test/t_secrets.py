#!/usr/bin/env python3
"""Credentials never leave the user mapping: not in errors, NOTICEs, EXPLAIN,
the server log at any level, or the connection list.

A unique token is sent (the mock checks it really arrives as a bearer
token, so the grep below looks for something that was used), then every
output of the session and the server log are searched for it.
"""
import json
import os
import secrets
import sys

from harness import MockControl, Tap, run_psql

tap = Tap()
mock = MockControl()
mock_url = os.environ["MOCK_URL"]
token = "pt-secret-" + secrets.token_hex(12)
tenant = "secrets-" + secrets.token_hex(4)
endpoint = f"{mock_url}/_mock/tenant={tenant}/api/v1/cloud"
slow_endpoint = f"{mock_url}/_mock/tenant={tenant},latency_ms=1000/api/v1/cloud"

setup = f"""
CREATE EXTENSION IF NOT EXISTS cloud_fdw;
DROP SERVER IF EXISTS secrets_srv CASCADE;
DROP SERVER IF EXISTS secrets_slow_srv CASCADE;
CREATE SERVER secrets_srv FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint '{endpoint}');
CREATE USER MAPPING FOR CURRENT_USER SERVER secrets_srv OPTIONS (token '{token}');
CREATE FOREIGN TABLE secrets_envs (id text, name text, metadata jsonb)
  SERVER secrets_srv OPTIONS (resource 'environments');
CREATE SERVER secrets_slow_srv FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint '{slow_endpoint}');
CREATE USER MAPPING FOR CURRENT_USER SERVER secrets_slow_srv OPTIONS (token '{token}');
CREATE FOREIGN TABLE secrets_slow (id text) SERVER secrets_slow_srv
  OPTIONS (resource 'environments');
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

received = mock.requests(tenant)
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

run_psql("DROP SERVER secrets_srv CASCADE; DROP SERVER secrets_slow_srv CASCADE;")

# Huawei Cloud: the secret key signs but never travels; the IAM password
# travels only to IAM; the token IAM returns is a credential too.
hw_tenant = "secrets-hw-" + secrets.token_hex(4)
hw_endpoint = f"{mock_url}/_mock/tenant={hw_tenant}"
secret_key = "HWTESTSK00000000000000000000000000000000"
password = "test-password"
result = run_psql(f"""
CREATE SERVER secrets_hw FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint '{hw_endpoint}',
           iam_endpoint '{hw_endpoint}', domain_id 'd0000000000000000000000000000001');
CREATE USER MAPPING FOR CURRENT_USER SERVER secrets_hw
  OPTIONS (access_key 'HWTESTAK0000000000000', secret_key '{secret_key}');
CREATE FOREIGN TABLE secrets_eps (id text, name text, description text) SERVER secrets_hw
  OPTIONS (resource 'enterprise_projects');
CREATE ROLE secrets_iam_user LOGIN;
GRANT SELECT, UPDATE ON secrets_eps TO secrets_iam_user;
CREATE USER MAPPING FOR secrets_iam_user SERVER secrets_hw
  OPTIONS (user 'test-user', password '{password}', domain_name 'test-domain');
""")
tap.ok(result.returncode == 0, "set up a Huawei server with AK/SK and IAM password mappings",
       diag=result.stderr)
hw_session = """
\\set ON_ERROR_STOP 0
SET client_min_messages = debug5;
SET log_min_messages = debug5;
SET log_statement = 'all';
SET cloud_fdw.trace = on;
SELECT count(*) FROM secrets_eps;
UPDATE secrets_eps SET description = 'x' WHERE name = 'marketing';
EXPLAIN (VERBOSE, ANALYZE) SELECT * FROM secrets_eps;
SET ROLE secrets_iam_user;
SELECT count(*) FROM secrets_eps;
SELECT count(*) FROM secrets_eps WHERE id = '0';
UPDATE secrets_eps SET description = 'y' WHERE name = 'marketing';
RESET ROLE;
"""
result = run_psql(hw_session)
hw_output = result.stdout + result.stderr
tap.ok(hw_output.count("POST /v3/auth/tokens") == 1 and hw_output.count("NOTICE:  cloud_fdw: PUT") == 2,
       "signed requests and one IAM login worked", diag=hw_output[-2000:])
hw_received = mock.requests(hw_tenant)
iam_tokens = set()
for req in hw_received:
    for name, value in req["headers"].items():
        if name.lower() == "x-auth-token":
            iam_tokens.add(value)
wire = json.dumps(hw_received)
tap.ok(len(iam_tokens) == 1, "the IAM token was used by the API requests", diag=iam_tokens)
tap.ok(secret_key not in wire, "the secret key never left the server (only signatures did)")
# The password goes to IAM and nowhere else.  The mock records the login's
# body with its "password" values replaced by ***, so the password shows in
# the record of the login as its (redacted) user password, and the login's
# 201 says that it arrived intact (the mock issues a token for the right
# password only): the "in no other request" check cannot pass vacuously.
logins = [req for req in hw_received
          if req["method"] == "POST" and req["path"].rstrip("/") == "/v3/auth/tokens"]
others = [req for req in hw_received if req not in logins]


def login_password(req):
    """The user password of an IAM password login body, as the mock logged it."""
    try:
        return json.loads(req["body"])["auth"]["identity"]["password"]["user"]["password"]
    except (TypeError, ValueError, KeyError):
        return None


tap.ok(len(logins) == 1 and logins[0]["status"] == 201 and login_password(logins[0]) == "***",
       "the password went to IAM: one login, answered 201, with the (redacted) user password",
       diag=json.dumps([{k: r.get(k) for k in ("path", "status", "body")} for r in logins])[:2000])
tap.ok(all(password not in json.dumps(req) for req in others),
       "the password is in no request but the IAM login (path, query, headers, body)",
       diag=[f"{r['method']} {r['path']}" for r in others if password in json.dumps(r)])
tap.ok(all(password not in json.dumps(req) for req in logins),
       "the password is nowhere in the IAM login but its user password (which the mock redacts)")
log = open(os.environ["PG_LOG"], encoding="utf-8", errors="replace").read()
for name, value in [("secret key", secret_key), ("password", password)] + \
        [("IAM token", t) for t in iam_tokens]:
    tap.ok(value not in hw_output, f"the {name} is in no result, error, NOTICE or EXPLAIN")
    tap.ok(value not in log, f"the {name} is nowhere in the server log")

run_psql("DROP SERVER secrets_hw CASCADE; DROP ROLE secrets_iam_user;")
sys.exit(tap.exit_code())
