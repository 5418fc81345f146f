#!/usr/bin/env python3
"""Asynchronous partitions, concurrent pages and shared request budgets,
seen from the mock cloud's request log.

Each request record carries when the mock received it and when it
answered (`started`, `finished`, on the mock's clock), so overlap is read
from the log rather than from elapsed times.  Budgets are checked as
lower bounds on spacing, which no machine can beat: the checks cannot
flake on a slow machine, only fail when a budget is not shared.
"""
import os
import secrets
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs

from harness import Cluster, MockControl, Tap, pg_bindir

tap = Tap()
mock = MockControl()
mock_url = os.environ["MOCK_URL"]


def tenant_name(prefix):
    return f"{prefix}-{secrets.token_hex(4)}"


def qoder_server(sql_run, name, tenant, opts="", server_options=""):
    endpoint = f"{mock_url}/_mock/tenant={tenant}{opts}/api/v1/cloud"
    sql_run(f"""
        CREATE EXTENSION IF NOT EXISTS cloud_fdw;
        DROP SERVER IF EXISTS {name} CASCADE;
        CREATE SERVER {name} FOREIGN DATA WRAPPER cloud_fdw
          OPTIONS (provider 'qoder', endpoint '{endpoint}'{server_options});
        CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (token 'pt-test-admin');
    """)


def overlaps(a, b):
    return a["started"] < b["finished"] and b["started"] < a["finished"]


def run_sql(env, sql):
    return subprocess.run([str(pg_bindir() / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1",
                           "-c", sql], env=env, capture_output=True, text=True, timeout=120)


main_env = dict(os.environ)


def main_psql(sql):
    result = run_sql(main_env, sql)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return result.stdout.strip()


# --- An Append over four accounts: every partition's request at once.
LATENCY_MS = 300
tenants = [tenant_name(f"async{k}") for k in range(4)]
main_psql("DROP TABLE IF EXISTS async_envs; CREATE TABLE async_envs "
          "(account text NOT NULL, id text, name text) PARTITION BY LIST (account);")
for k, tenant in enumerate(tenants):
    qoder_server(main_psql, f"async_acct{k}", tenant,
                 f",rows=3,rows_from={3 * k},latency_ms={LATENCY_MS}")
    main_psql(f"""
        CREATE FOREIGN TABLE async_envs_{k} (account text OPTIONS (value 'acct-{k}') NOT NULL,
                                             id text, name text)
          SERVER async_acct{k} OPTIONS (resource 'environments');
        ALTER TABLE async_envs ATTACH PARTITION async_envs_{k} FOR VALUES IN ('acct-{k}');""")


def partition_records(after=0):
    """The partitions' requests with a sequence number above `after`."""
    return [r for t in tenants for r in mock.requests(t) if r["seq"] > after]


def last_seq():
    return max((r["seq"] for r in partition_records()), default=0)


before = last_seq()
rows = main_psql("SELECT account || ':' || count(*) FROM async_envs GROUP BY account ORDER BY 1;")
records = partition_records(before)
tap.ok(rows.split() == [f"acct-{k}:3" for k in range(4)],
       "async Append: every account's rows", diag=rows)
tap.ok(len(records) == 4 and all(r["finished"] is not None for r in records),
       "async Append: one request per partition", diag=records)
tap.ok(all(overlaps(a, b) for a in records for b in records if a is not b),
       "async Append: the four partitions' requests were on their way at the same time",
       diag=[(r["tenant"], r["started"], r["finished"]) for r in records])

before = last_seq()
result = run_sql({**main_env, "PGOPTIONS": "-c enable_async_append=off"},
                 "SELECT account || ':' || count(*) FROM async_envs GROUP BY account ORDER BY 1;")
rows_sync = result.stdout.strip()
records = partition_records(before)
tap.ok(rows_sync == rows, "enable_async_append = off: the same rows", diag=rows_sync)
tap.ok(len(records) == 4 and not any(overlaps(a, b) for a in records for b in records if a is not b),
       "enable_async_append = off: the partitions' requests one after the other",
       diag=[(r["tenant"], r["started"], r["finished"]) for r in records])

# A failing partition under 'warn' does not stop the others' concurrent requests.
main_psql("ALTER USER MAPPING FOR CURRENT_USER SERVER async_acct1 OPTIONS (SET token 'pt-revoked');"
          "ALTER SERVER async_acct1 OPTIONS (ADD on_partition_error 'warn');")
result = run_sql(main_env, "SELECT count(*) FROM async_envs;")
tap.ok(result.returncode == 0 and result.stdout.strip() == "9"
       and 'skipping foreign table "async_envs_1" of server "async_acct1"' in result.stderr,
       "async Append, one account refused: a WARNING names it, the other rows come",
       diag=result.stdout + result.stderr)
main_psql("ALTER USER MAPPING FOR CURRENT_USER SERVER async_acct1 OPTIONS (SET token 'pt-test-admin');")

# --- Concurrent pages: offset pages in order, "concurrency" on their way.
eps_tenant = tenant_name("pages")
endpoint = f"{mock_url}/_mock/tenant={eps_tenant},eps_rows=200,latency_ms=100"
main_psql(f"""
    DROP SERVER IF EXISTS pages_hw CASCADE;
    CREATE SERVER pages_hw FOREIGN DATA WRAPPER cloud_fdw
      OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint '{endpoint}', concurrency '5');
    CREATE USER MAPPING FOR CURRENT_USER SERVER pages_hw OPTIONS (auth_token 'hw-test-token');
    CREATE FOREIGN TABLE pages_eps (id text, name text)
      SERVER pages_hw OPTIONS (resource 'enterprise_projects', page_size '10');""")
ids = main_psql("SELECT string_agg(id, ',') FROM pages_eps;")
records = mock.requests(eps_tenant)
peak = mock.concurrency(eps_tenant)["peak_in_flight"]
offsets = sorted(int(parse_qs(r["query"])["offset"][0]) for r in records)
tap.ok(len(ids.split(",")) == 200 and offsets == list(range(0, 200, 10)),
       "concurrent pages: 200 items, each offset asked for once", diag=offsets)
tap.ok(1 < peak <= 5,
       "concurrent pages: several pages on their way, never more than concurrency (5)",
       diag=peak)
main_psql("ALTER SERVER pages_hw OPTIONS (SET concurrency '1');")
ids_sequential = main_psql("SELECT string_agg(id, ',') FROM pages_eps;")
tap.ok(ids_sequential == ids, "concurrent pages: the same rows in the same order as one by one")

# --- Shared budgets: two backends, one credential.


def budget_case(env, run, label, shared):
    """Two backends list 20 pages each under rate_limit 10/s."""
    tenant = tenant_name("budget")
    qoder_server(run, "budget", tenant, ",rows=200", ", rate_limit '10', page_size '10'")
    run("CREATE FOREIGN TABLE budget_envs (id text) SERVER budget OPTIONS (resource 'environments');")
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        run_sql(env, "SELECT count(*) FROM budget_envs;"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts = sorted(r["started"] for r in mock.requests(tenant))
    span = starts[-1] - starts[0]
    ok_rows = all(r.returncode == 0 and r.stdout.strip() == "200" for r in results)
    tap.ok(ok_rows and len(starts) == 40, f"{label}: both backends list all 200 rows in 20 pages",
           diag=[r.stdout + r.stderr for r in results])
    # one budget: 39 gaps of 100 ms at least (less a little clock slack);
    # two: each backend's 20 requests alone, 1.9 s
    what = "the two backends drew from one budget" if shared else "each backend has its own budget"
    tap.ok(span >= 3.6 if shared else span < 3.0,
           f"{label}: {what} of 10/s (40 requests over {span:.2f} s)", diag=span)


def retry_after_case(env, run, label, shared):
    """One backend is told to wait 2 s; does a second backend wait too?"""
    tenant = tenant_name("pause")
    # both servers: one endpoint and one token, so one identity
    paused = f"{mock_url}/_mock/tenant={tenant},rows=1,status=429,retry_after=2,fault_count=1/api/v1/cloud"
    for name in ("pause_a", "pause_b"):
        run(f"""
            DROP SERVER IF EXISTS {name} CASCADE;
            CREATE SERVER {name} FOREIGN DATA WRAPPER cloud_fdw
              OPTIONS (provider 'qoder', endpoint '{paused}');
            CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (token 'pt-test-admin');
            CREATE FOREIGN TABLE {name}_envs (id text) SERVER {name} OPTIONS (resource 'environments');""")
    first = []
    a = threading.Thread(target=lambda: first.append(run_sql(env, "SELECT count(*) FROM pause_a_envs;")))
    a.start()
    time.sleep(0.7)
    b = run_sql(env, "SELECT count(*) FROM pause_b_envs;")
    a.join()
    records = mock.requests(tenant)
    refused = [r for r in records if r["status"] == 429]
    answered = [r for r in records if r["status"] == 200]
    tap.ok(first and first[0].returncode == 0 and b.returncode == 0 and len(refused) == 1
           and len(answered) == 2, f"{label}: a 429 with Retry-After: 2, then both backends' answers",
           diag=[(r["status"], r["started"]) for r in records] + [b.stderr])
    if len(refused) == 1 and len(answered) == 2:
        waited = min(r["started"] for r in answered) - refused[0]["started"]
        what = "waited for the pause too" if shared else "did not wait"
        tap.ok(waited >= 1.9 if shared else waited < 1.5,
               f"{label}: the other backend {what} ({waited:.2f} s after the 429)", diag=waited)


# Without preloading (the suite's cluster): per-backend budgets.
budget_case(main_env, main_psql, "without shared_preload_libraries", shared=False)
retry_after_case(main_env, main_psql, "without shared_preload_libraries", shared=False)

# With preloading: one budget per credential for the whole cluster.
with Cluster(settings={"shared_preload_libraries": "cloud_fdw"}) as cluster:
    env = {**os.environ, **cluster.env()}

    def cluster_psql(sql):
        result = run_sql(env, sql)
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        return result.stdout.strip()

    budget_case(env, cluster_psql, "with shared_preload_libraries", shared=True)
    retry_after_case(env, cluster_psql, "with shared_preload_libraries", shared=True)

sys.exit(tap.exit_code())
