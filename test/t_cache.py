#!/usr/bin/env python3
"""The cache of read answers shared between backends, seen from the mock
cloud's request log.

With cloud_fdw in shared_preload_libraries, backends share one cache:
answers one backend fetched serve the others within the TTL; backends
asking at once make one request; an UPDATE in one backend drops the
resource's answers for every backend when its statement ends, and a
fetch still on its way then is not kept; credentials keep entries apart;
a backend that dies while fetching does not leave the others waiting.
Without preloading, each backend has its own cache (the documented
fallback).  sql/cache.sql covers what one backend sees.
"""
import os
import re
import secrets
import subprocess
import sys
import threading
import time

from harness import Cluster, MockControl, Tap, pg_bindir

tap = Tap()
mock = MockControl()
mock_url = os.environ["MOCK_URL"]
DOC_ENV = "env_019e3bb39b6774d8878cd0b9d237574b"


def run_sql(env, sql, timeout=120):
    return subprocess.run([str(pg_bindir() / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1",
                           "-c", sql], env=env, capture_output=True, text=True, timeout=timeout)


class Db:
    """psql against one cluster, one backend per call."""

    def __init__(self, env):
        self.env = env

    def __call__(self, sql, options=""):
        result = run_sql({**self.env, "PGOPTIONS": options} if options else self.env, sql)
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        return result.stdout.strip()

    def try_sql(self, sql, options=""):
        return run_sql({**self.env, "PGOPTIONS": options} if options else self.env, sql)


def tenant_name(prefix):
    return f"{prefix}-{secrets.token_hex(4)}"


tenant_of = {}


def qoder_server(db, name, tenant, opts="", server_options=", cache_ttl '60s'", token="pt-test-admin"):
    tenant_of[name] = tenant
    endpoint = f"{mock_url}/_mock/tenant={tenant}{opts}/api/v1/cloud"
    db(f"""
        CREATE EXTENSION IF NOT EXISTS cloud_fdw;
        DROP SERVER IF EXISTS {name} CASCADE;
        CREATE SERVER {name} FOREIGN DATA WRAPPER cloud_fdw
          OPTIONS (provider 'qoder', endpoint '{endpoint}'{server_options});
        CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (token '{token}');
        CREATE FOREIGN TABLE {name}_envs (id text, name text, status text)
          SERVER {name} OPTIONS (resource 'environments');
        GRANT SELECT ON {name}_envs TO PUBLIC;""")


def gets(tenant, path_part="/environments"):
    return [r for r in mock.requests(tenant) if r["method"] == "GET" and path_part in r["path"]]


def cache_counts(explain_output):
    hits = re.search(r"Cache hits: (\d+)", explain_output)
    misses = re.search(r"Cache misses: (\d+)", explain_output)
    return (int(hits.group(1)) if hits else None, int(misses.group(1)) if misses else None)


def concurrently(env, sqls):
    results = [None] * len(sqls)

    def one(i):
        results[i] = run_sql(env, sqls[i])
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(sqls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def shared_cases(db, env):
    label = "shared"
    # --- Two backends, one after the other: the second makes no request.
    tenant = tenant_name("cache-share")
    qoder_server(db, "share", tenant, ",rows=250")
    first = db("SELECT count(*), count(DISTINCT name) FROM share_envs WHERE name IS NOT NULL;")
    asked = len(gets(tenant))
    explain = db("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                 "SELECT count(name) FROM share_envs;")
    second = db("SELECT count(*), count(DISTINCT name) FROM share_envs WHERE name IS NOT NULL;")
    tap.ok(first == second == "250|250" and asked == 3 and len(gets(tenant)) == 3,
           f"{label}: a second and third backend get the 3 pages another fetched, without a request",
           diag=(first, second, asked, len(gets(tenant))))
    tap.ok(cache_counts(explain) == (3, 0),
           f"{label}: EXPLAIN ANALYZE in another backend shows 3 cache hits, 0 misses", diag=explain)
    stats = db("SELECT entries, hits > 0, shared FROM cloud_fdw_cache_stats();")
    tap.ok(stats == "3|t|t", f"{label}: cloud_fdw_cache_stats() in a fourth backend sees the shared entries",
           diag=stats)

    # --- Four backends at once: each page is asked for once.
    tenant = tenant_name("cache-herd")
    qoder_server(db, "herd", tenant, ",rows=250,latency_ms=300")
    results = concurrently(env, ["SELECT count(DISTINCT id) FROM herd_envs;"] * 4)
    pages = gets(tenant)
    tap.ok(all(r.returncode == 0 and r.stdout.strip() == "250" for r in results),
           f"{label}: four backends at once all get the 250 rows",
           diag=[r.stdout + r.stderr for r in results])
    tap.ok(len(pages) == 3, f"{label}: four backends at once make the 3 page requests once",
           diag=[(r["path"], r["query"]) for r in pages])

    # --- An UPDATE in another backend: dropped for every backend at its statement's end.
    tenant = tenant_name("cache-write")
    qoder_server(db, "write", tenant)
    db(f"SELECT count(name) FROM write_envs; SELECT name FROM write_envs WHERE id = '{DOC_ENV}';")
    before = len(gets(tenant))
    db(f"SELECT count(name) FROM write_envs; SELECT name FROM write_envs WHERE id = '{DOC_ENV}';")
    tap.ok(len(gets(tenant)) == before, f"{label}: a listing and a get are cached",
           diag=(before, len(gets(tenant))))
    # the writer's transaction stays open 3 s after its UPDATE statement
    writer = subprocess.Popen(
        [str(pg_bindir() / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c",
         f"BEGIN; UPDATE write_envs SET name = 'renamed-elsewhere' WHERE id = '{DOC_ENV}'; "
         "SELECT pg_sleep(3); COMMIT;"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline and not any(r["method"] == "PUT" and r["status"] == 200
                                             for r in mock.requests(tenant)):
        time.sleep(0.05)
    time.sleep(0.5)
    before = len(gets(tenant))
    got = db(f"SELECT name FROM write_envs WHERE id = '{DOC_ENV}';")
    after_get = len(gets(tenant))
    listed = db("SELECT count(*) FROM write_envs WHERE name = 'renamed-elsewhere';")
    after_list = len(gets(tenant))
    still_open = writer.poll() is None
    writer.communicate(timeout=30)
    tap.ok(got == "renamed-elsewhere" and after_get == before,
           f"{label}: after an UPDATE in another backend, the get is answered from the cache "
           "with the item its PUT returned", diag=(got, before, after_get))
    tap.ok(listed == "1" and after_list == after_get + 1 and still_open,
           f"{label}: the listing was dropped for every backend when the UPDATE statement ended, "
           "before its transaction did", diag=(listed, after_get, after_list, still_open))

    # --- A fetch on its way while another backend writes is not kept.
    tenant = tenant_name("cache-doom")
    qoder_server(db, "doom_slow", tenant, ",latency_ms=1500")
    qoder_server(db, "doom_fast", tenant)
    reader = subprocess.Popen(
        [str(pg_bindir() / "psql"), "-X", "-At", "-c", "SELECT count(name) FROM doom_slow_envs;"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.4)
    db(f"UPDATE doom_fast_envs SET name = 'during-fetch' WHERE id = '{DOC_ENV}';")
    reader.communicate(timeout=30)
    before = len(gets(tenant))
    db("SELECT count(name) FROM doom_slow_envs;")
    tap.ok(len(gets(tenant)) == before + 1,
           f"{label}: an answer fetched while another backend's UPDATE ran is not kept",
           diag=(before, len(gets(tenant))))
    before = len(gets(tenant))
    db("SELECT count(name) FROM doom_slow_envs;")
    tap.ok(len(gets(tenant)) == before,
           f"{label}: ... and the next answer is", diag=(before, len(gets(tenant))))

    # --- Credentials keep entries apart, across backends.
    tenant = tenant_name("cache-roles")
    qoder_server(db, "roles", tenant)
    db("DROP ROLE IF EXISTS regress_cache_other; CREATE ROLE regress_cache_other LOGIN;"
       "CREATE USER MAPPING FOR regress_cache_other SERVER roles OPTIONS (token 'pt-test-readonly');")
    db("SELECT count(name) FROM roles_envs;")
    before = len(gets(tenant))
    other_env = {**env, "PGUSER": "regress_cache_other"}
    other = run_sql(other_env, "SELECT count(name) FROM roles_envs;")
    tap.ok(other.returncode == 0 and other.stdout.strip() == "12" and len(gets(tenant)) == before + 1,
           f"{label}: another role's credentials make their own request",
           diag=(other.stdout, other.stderr, before, len(gets(tenant))))
    db("ALTER USER MAPPING FOR regress_cache_other SERVER roles OPTIONS (SET token 'pt-unknown');")
    refused = run_sql(other_env, "SELECT count(name) FROM roles_envs;")
    tap.ok(refused.returncode != 0 and "HTTP status 401" in refused.stderr,
           f"{label}: a refused token gets the API's 401, never rows cached for others",
           diag=refused.stdout + refused.stderr)
    db("ALTER USER MAPPING FOR regress_cache_other SERVER roles OPTIONS (SET token 'pt-test-readonly');")
    run_sql(other_env, "SELECT count(name) FROM roles_envs;")
    cleared = run_sql(other_env, "SELECT cloud_fdw_cache_clear();")
    before = len(gets(tenant))
    db("SELECT count(name) FROM roles_envs;")
    tap.ok(cleared.stdout.strip() == "1" and len(gets(tenant)) == before,
           f"{label}: a user's cloud_fdw_cache_clear() drops their own answer only",
           diag=(cleared.stdout, cleared.stderr, before, len(gets(tenant))))
    db("DROP SERVER roles CASCADE; DROP ROLE regress_cache_other;")

    # --- ALTER SERVER in one backend drops what others cached through it.
    db("SELECT count(name) FROM share_envs;")
    db("ALTER SERVER share OPTIONS (ADD request_latency '40ms');")
    before = len(gets(tenant_of["share"]))
    db("SELECT count(name) FROM share_envs;")
    tap.ok(len(gets(tenant_of["share"])) == before + 3,
           f"{label}: altering the server drops its entries for every backend",
           diag=(before, len(gets(tenant_of["share"]))))

    # --- A backend that dies while fetching leaves no one waiting.
    tenant = tenant_name("cache-die")
    qoder_server(db, "die", tenant, ",latency_ms=3000", ", cache_ttl '60s', request_timeout '30s'")
    victim = subprocess.Popen(
        [str(pg_bindir() / "psql"), "-X", "-At", "-c", "SELECT count(name) FROM die_envs;"],
        env={**env, "PGAPPNAME": "cache_victim"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    time.sleep(0.5)
    started = time.time()
    waiter = []
    t = threading.Thread(target=lambda: waiter.append(run_sql(env, "SELECT count(name) FROM die_envs;")))
    t.start()
    time.sleep(0.5)
    db("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cache_victim';")
    t.join()
    elapsed = time.time() - started
    victim.communicate(timeout=30)
    tap.ok(waiter and waiter[0].returncode == 0 and waiter[0].stdout.strip() == "12" and elapsed < 15,
           f"{label}: a backend waiting for another's fetch goes on when that one is terminated "
           f"({elapsed:.1f} s, the wait's bound is 30 s)",
           diag=(waiter[0].stdout + waiter[0].stderr if waiter else None, elapsed))

    # --- A backend waiting for another's fetch can be cancelled like any wait.
    tenant = tenant_name("cache-timeout")
    qoder_server(db, "slow", tenant, ",latency_ms=3000")
    fetcher = subprocess.Popen(
        [str(pg_bindir() / "psql"), "-X", "-At", "-c", "SELECT count(name) FROM slow_envs;"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    started = time.time()
    waited = run_sql({**env, "PGOPTIONS": "-c statement_timeout=500"}, "SELECT count(name) FROM slow_envs;")
    elapsed = time.time() - started
    fetcher.communicate(timeout=30)
    tap.ok(waited.returncode != 0 and "statement timeout" in waited.stderr and elapsed < 2.5
           and len(gets(tenant)) == 1,
           f"{label}: statement_timeout ends a wait for another backend's fetch ({elapsed:.1f} s), "
           "which is still made once", diag=(waited.stderr, elapsed, len(gets(tenant))))


def eviction_case(db):
    label = "cache_size 1MB"
    tenant = tenant_name("cache-evict")
    qoder_server(db, "evict", tenant, ",rows=3000")
    db("SELECT count(name) FROM evict_envs;")
    stats = db("SELECT entries, bytes, evictions, size FROM cloud_fdw_cache_stats();")
    entries, nbytes, evictions, size = (int(x) for x in stats.split("|"))
    tap.ok(evictions > 0 and 0 < entries < 30 and nbytes <= size <= 1024 * 1024,
           f"{label}: 30 pages do not fit; the least recently used make room "
           f"({entries} entries, {nbytes} bytes, {evictions} evictions)", diag=stats)
    before = len(gets(tenant))
    db("SELECT count(name) FROM evict_envs;")
    tap.ok(len(gets(tenant)) > before, f"{label}: evicted pages are fetched again",
           diag=(before, len(gets(tenant))))


def check_log(cluster, label):
    log = cluster.log_path.read_text(errors="replace")
    bad = [line for line in log.splitlines()
           if " XX000 " in line or "terminated by signal" in line]
    tap.ok(not bad, f"{label}: no internal error or crash in the server log", diag="\n".join(bad[:20]))


# Without preloading (the suite's cluster): each backend has its own cache.
main = Db(dict(os.environ))
local_tenant = tenant_name("cache-local")
qoder_server(main, "local_cache", local_tenant)
main("SELECT count(name) FROM local_cache_envs;")
main("SELECT count(name) FROM local_cache_envs;")
tap.ok(len(gets(local_tenant)) == 2,
       "without shared_preload_libraries: another backend has its own cache and asks again",
       diag=len(gets(local_tenant)))
shared = main("SELECT shared FROM cloud_fdw_cache_stats();")
tap.ok(shared == "f", "without shared_preload_libraries: cloud_fdw_cache_stats() says shared = f",
       diag=shared)
main("DROP SERVER local_cache CASCADE;")

with Cluster(settings={"shared_preload_libraries": "cloud_fdw", "log_line_prefix": "%m [%p] %e "}) as cluster:
    env = {**os.environ, **cluster.env()}
    shared_cases(Db(env), env)
    check_log(cluster, "shared")

with Cluster(settings={"shared_preload_libraries": "cloud_fdw", "cloud_fdw.cache_size": "1MB",
                       "log_line_prefix": "%m [%p] %e "}) as cluster:
    env = {**os.environ, **cluster.env()}
    eviction_case(Db(env))
    check_log(cluster, "cache_size 1MB")

sys.exit(tap.exit_code())
