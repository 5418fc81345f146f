#!/usr/bin/env python3
"""A database whose encoding is not UTF-8 (EUC_CN): values go into paths,
queries and bodies as UTF-8 and come back in the database encoding, and the
request trace never fails where the request itself succeeds.  The mock's
request log shows what was actually sent."""
import json
import os
import secrets
import urllib.parse

from harness import MockControl, Tap, run_psql

tap = Tap()
mock = MockControl()
mock_url = os.environ["MOCK_URL"]
tenant = "euc-" + secrets.token_hex(4)
endpoint = f"{mock_url}/_mock/tenant={tenant}"
db = "cloud_fdw_euc_cn"


def sql(text):
    """Run in the EUC_CN database, as a UTF-8 client."""
    env = {**os.environ, "PGCLIENTENCODING": "UTF8"}
    return run_psql(text, db=db, env=env)


result = run_psql(f"""
DROP DATABASE IF EXISTS {db};
CREATE DATABASE {db} ENCODING 'EUC_CN' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
""")
tap.ok(result.returncode == 0, "created an EUC_CN database", diag=result.stderr)

result = sql(f"""
CREATE EXTENSION cloud_fdw;
CREATE SERVER hw FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint '{endpoint}');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (auth_token 'hw-test-token');
CREATE FOREIGN TABLE eps (id text, name text, description text)
  SERVER hw OPTIONS (resource 'enterprise_projects');
SHOW server_encoding;
""")
tap.ok(result.returncode == 0 and "EUC_CN" in result.stdout, "set up a server in it",
       diag=result.stdout + result.stderr)

# A pushed-down filter: the query parameter must be UTF-8 for the API.
result = sql("SET cloud_fdw.trace = on; SELECT id, name FROM eps WHERE name = '研发中心';")
tap.ok(result.returncode == 0 and "研发中心" in result.stdout,
       "WHERE name = '研发中心' finds the project", diag=result.stdout + result.stderr)
sent = [r for r in mock.requests(tenant) if r.get("method") == "GET"]
queries = [urllib.parse.unquote(r.get("path", "") + "?" + r.get("query", "")) for r in sent]
tap.ok(any("name=研发中心" in q for q in queries),
       "the filter reached the API as UTF-8", diag="\n".join(queries))

# A body: the trace shows it, the API stores UTF-8, the row comes back.
result = sql("""
SET cloud_fdw.trace = on;
UPDATE eps SET description = '华北二区的研发项目' WHERE name = '研发中心' RETURNING description;
""")
tap.ok(result.returncode == 0 and "华北二区的研发项目" in result.stdout,
       "UPDATE with a Chinese description returns it", diag=result.stdout + result.stderr)
tap.ok("华北二区的研发项目" in result.stderr, "the trace showed the body",
       diag=result.stderr)
puts = [r for r in mock.requests(tenant) if r.get("method") == "PUT"]
tap.ok(any("华北二区的研发项目" in json.dumps(r, ensure_ascii=False) for r in puts),
       "the PUT body reached the API as UTF-8", diag=json.dumps(puts, ensure_ascii=False)[:2000])

# Reading back through a fresh session: values convert into EUC_CN.
result = sql("SELECT description FROM eps WHERE name = '研发中心';")
tap.ok(result.returncode == 0 and result.stdout.strip() == "华北二区的研发项目",
       "the description reads back", diag=result.stdout + result.stderr)

run_psql(f"DROP DATABASE IF EXISTS {db};")
raise SystemExit(tap.exit_code())
