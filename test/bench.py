#!/usr/bin/env python3
"""The benchmark of `make bench`: cloud_fdw against the alternatives a user
has, on the mock cloud with an injected per-request latency, all measured
in one run so that the ratios compare like with like.

- a full scan of 10,000 rows: cloud_fdw, the floor (the same pages fetched
  by one curl process over one kept-alive connection), and what a user
  would write today inside PostgreSQL (PL/Python with urllib);
- 1,000 local rows joined to remote rows by id: the planner's choice, and
  one get per row;
- a bulk UPDATE of 1,000 rows: concurrency 8, and the same PUTs one by one;
- peak backend memory of scans of 1,000 and 100,000 rows;
- close to the wire: CPU per row without any latency, 100,000 rows from a
  lean server (test/lean_cloud.py) that answers every page from bytes
  serialised at start-up; count(*), a report and COPY against the curl
  floor and PL/Python (http.client, one kept-alive connection), and the
  peak memory of the COPY against one of 1,000 rows, each against a goal;
- organisation scale, each against a goal (printed as met or missed, the
  run does not fail on a miss): 8 foreign partitions under one Append,
  asynchronous against one after the other; 10,000 enterprise projects in
  100 offset pages, concurrency 8 against concurrency 1 and the curl
  floor; count(*) of those 10,000 in one request; and 4 backends under one
  rate_limit of 20/s, with cloud_fdw in shared_preload_libraries (one
  budget for the cluster) and without (a budget per backend);
- a dashboard of 10 report queries over Qoder environments, CodeArts
  environments and enterprise projects, run 5 times by each of 4 backends
  at once, with the shared cache (cache_ttl '60s', preloaded) and without:
  requests against one run's, and the time of the repeated runs.

It prints a table and writes it, with the machine, date and settings, to
bench/RESULTS.md, as the section of the PostgreSQL major it ran on: the
sections of other majors are kept, so one file holds the last run on each.

`--only wire` runs the close-to-the-wire section alone and prints it without
writing RESULTS.md; `--no-build` uses the cloud_fdw installed as it is
(both for working on the extension's CPU per row).
"""
import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (ROOT, Cluster, Mock, build_and_install,  # noqa: E402
                     install_signal_handlers, pg_bindir, pg_config)
from lean_cloud import LeanCloud  # noqa: E402

TOKEN = "pt-test-admin"
HW_TOKEN = "hw-test-token"
RUNS = 5
ROWS = 10_000
PAGE = 100
SCALE_LATENCY = 20          # ms, of every organisation-scale measurement
PARTITIONS = 8
PARTITION_ROWS = 300        # 3 cursor pages of 100 each
EPS_ROWS = 10_000
BUDGET_RATE = 20            # requests per second
BUDGET_BACKENDS = 4
BUDGET_PAGES = 50           # per backend, pages of one item: 4 x 50 at 20/s = 10 s
GOAL_ASYNC = 5.0            # async Append against enable_async_append = off
GOAL_PAGES = 4.0            # concurrency 8 against concurrency 1 and the floor
GOAL_COUNT_REQUESTS = 1
GOAL_BUDGET_PER_10S = 210
ENV_COLUMNS = "id text, name text, description text, status text, created_at timestamptz"
WIRE_ROWS = 100_000          # rows of the close-to-the-wire section, no latency
WIRE_SMALL_ROWS = 1_000      # the memory baseline
GOAL_WIRE_COUNT = 1.5        # count(*) at most this times the curl floor
GOAL_WIRE_REPORT = 2.0       # the report query
GOAL_WIRE_COPY = 2.5         # COPY of every column
GOAL_WIRE_PLPY = 3.0         # COPY at least this much faster than PL/Python's
GOAL_WIRE_MEMORY_MB = 5.0    # 100,000 rows' peak memory over 1,000 rows'
WIRE_COLUMNS = ("id text, name text, status text, archived boolean, networking_type text, "
                "allowed_hosts text[], config jsonb, metadata jsonb, created_at timestamptz, "
                "updated_at timestamptz")
# the foreign table's: a column without `path` reads the top-level field of its name, and
# these two are below config (without the option they would be NULL, and cost nothing)
WIRE_TABLE_COLUMNS = WIRE_COLUMNS.replace(
    "networking_type text", "networking_type text OPTIONS (path 'config.networking.type')").replace(
    "allowed_hosts text[]", "allowed_hosts text[] OPTIONS (path 'config.networking.allowed_hosts')")
WIRE_QUERIES = {
    "count": "SELECT count(*) FROM wire_envs",
    "report": "SELECT count(*), sum(length(name)), count(networking_type), max(created_at) FROM wire_envs",
    "copy": "COPY (SELECT * FROM wire_envs) TO '/dev/null'",
}
DASH_BACKENDS = 4
DASH_RUNS = 5
DASH_APP = "43943381f7764c52baae8e697720873f"      # the fixture's first CodeArts application
DASH_PROJECT = "55837d272adf4eee90319800e2da6961"  # ... and its CodeArts project
GOAL_DASH_SPEEDUP = 10.0    # repeated runs, cached against not
DASH_ROWS = {"rows": 300, "deploy_rows": 60, "eps_rows": 300}  # Qoder, CodeArts, EPS items
DASH_QUERIES = [
    "SELECT status, count(*) FROM dash_envs GROUP BY 1 ORDER BY 1",
    "SELECT networking_type, count(*) FROM dash_envs GROUP BY 1 ORDER BY 1",
    "SELECT name FROM dash_envs ORDER BY created_at DESC, id LIMIT 10",
    "SELECT o.team, count(*) FROM dash_envs e JOIN dash_owners o USING (status) GROUP BY 1 ORDER BY 1",
    f"SELECT os, count(*) FROM dash_deploy WHERE application_id = '{DASH_APP}' GROUP BY 1 ORDER BY 1",
    f"SELECT name FROM dash_deploy WHERE application_id = '{DASH_APP}' ORDER BY created_time DESC, id LIMIT 10",
    "SELECT status, count(*) FROM dash_eps GROUP BY 1 ORDER BY 1",
    "SELECT count(*) FROM dash_eps",
    "SELECT count(*) FROM dash_eps WHERE name LIKE '%7%'",
    "SELECT count(*) FROM dash_eps p JOIN dash_envs e ON right(p.name, 2) = right(e.name, 2)",
]


def verdict(met):
    """How a goal is reported: a miss is a figure to read, not a failed run."""
    return "goal met" if met else "goal missed"


def median_time(fn, runs=RUNS):
    times = []
    for _ in range(runs):
        start = time.monotonic()
        fn()
        times.append(time.monotonic() - start)
    return statistics.median(times)


class Bench:
    def __init__(self, cluster, mock):
        self.cluster = cluster
        self.mock = mock
        self.env = {**os.environ, **cluster.env()}
        self.psql_bin = str(pg_bindir() / "psql")

    def psql(self, sql):
        result = subprocess.run([self.psql_bin, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                                env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        return result.stdout.strip()

    def endpoint(self, tenant, opts=""):
        return f"{self.mock.url}/_mock/tenant={tenant}{opts}/api/v1/cloud"

    def server(self, name, endpoint, options="", columns=ENV_COLUMNS):
        self.psql(f"""
            DROP SERVER IF EXISTS {name} CASCADE;
            CREATE SERVER {name} FOREIGN DATA WRAPPER cloud_fdw
              OPTIONS (provider 'qoder', endpoint '{endpoint}'{options});
            CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (token '{TOKEN}');
            CREATE FOREIGN TABLE {name}_envs ({columns})
              SERVER {name} OPTIONS (resource 'environments');""")

    def requests(self, tenant):
        return self.mock.control.connections(tenant)["requests"]

    def page_urls(self, endpoint):
        """The URLs of every page of a listing, found once with urllib (not timed)."""
        urls = [f"{endpoint}/environments?limit={PAGE}"]
        while True:
            req = urllib.request.Request(urls[-1], headers={"Authorization": f"Bearer {TOKEN}"})
            with urllib.request.urlopen(req) as r:
                page = json.load(r)
            if not page["has_more"]:
                return urls
            urls.append(f"{endpoint}/environments?limit={PAGE}&after_id={page['last_id']}")

    def curl_floor(self, urls, header):
        """The floor of a listing: its pages one after the other, by one curl
        process over one kept-alive connection (no PostgreSQL, no parsing)."""
        config = "".join(f'url = "{u}"\noutput = /dev/null\n' for u in urls)
        return median_time(lambda: subprocess.run(
            ["curl", "-s", "-f", "-H", header, "--config", "-"],
            input=config, text=True, check=True))

    def curl_chains(self, chains, header):
        """The floor of listings read at once: one curl process per listing,
        all started together, each fetching its pages in turn."""
        def run():
            procs = [subprocess.Popen(["curl", "-s", "-f", "-H", header, "--config", "-"],
                                      stdin=subprocess.PIPE, text=True) for _ in chains]
            for proc, urls in zip(procs, chains):
                proc.stdin.write("".join(f'url = "{u}"\noutput = /dev/null\n' for u in urls))
                proc.stdin.close()
            for proc in procs:
                if proc.wait() != 0:
                    raise RuntimeError(f"curl exit status {proc.returncode}")
        return median_time(run)

    def scan(self, latency):
        tenant = f"scan{latency}"
        endpoint = self.endpoint(tenant, f",rows={ROWS},latency_ms={latency}")
        self.server(f"scan{latency}", endpoint)
        count = self.psql(f"SELECT count(*) FROM scan{latency}_envs")
        assert count == str(ROWS), count
        fdw = median_time(lambda: self.psql(f"SELECT count(*), max(created_at) FROM scan{latency}_envs"))

        urls = self.page_urls(endpoint)
        curl = self.curl_floor(urls, f"Authorization: Bearer {TOKEN}")

        self.psql(f"""
            CREATE OR REPLACE FUNCTION py_envs(endpoint text, token text)
            RETURNS TABLE (id text, name text, description text, status text, created_at timestamptz)
            LANGUAGE plpython3u AS $$
            import json, urllib.request
            url = endpoint + "/environments?limit={PAGE}"
            while True:
                req = urllib.request.Request(url, headers={{"Authorization": "Bearer " + token}})
                with urllib.request.urlopen(req) as r:
                    page = json.load(r)
                for e in page["data"]:
                    yield (e["id"], e["name"], e.get("description"), e.get("status"), e["created_at"])
                if not page["has_more"]:
                    break
                url = endpoint + "/environments?limit={PAGE}&after_id=" + page["last_id"]
            $$;""")
        plpy = median_time(lambda: self.psql(
            f"SELECT count(*), max(created_at) FROM py_envs('{endpoint}', '{TOKEN}')"))
        return {"latency": latency, "pages": len(urls), "fdw": fdw, "curl": curl, "plpython": plpy}

    def join(self, latency):
        tenant = f"join{latency}"
        self.server(f"join{latency}", self.endpoint(tenant, f",rows={ROWS},latency_ms={latency}"),
                    ", concurrency '8'")
        self.psql(f"""
            DROP TABLE IF EXISTS local_ids;
            CREATE TABLE local_ids AS SELECT id FROM join{latency}_envs ORDER BY id LIMIT 1000;
            ANALYZE local_ids;
            ALTER FOREIGN TABLE join{latency}_envs OPTIONS (ADD estimated_items '{ROWS}');""")
        query = f"SELECT count(*) FROM local_ids l JOIN join{latency}_envs e ON e.id = l.id"
        before = self.requests(tenant)
        chosen = median_time(lambda: self.psql(query), runs=1)
        chosen_requests = self.requests(tenant) - before
        plan = self.psql(f"EXPLAIN (COSTS OFF) {query}").splitlines()[1].strip()
        # the baseline: one get per local row, forced by a huge estimate
        self.psql(f"ALTER FOREIGN TABLE join{latency}_envs OPTIONS (SET estimated_items '1e9')")
        per_row_plan = self.psql(f"EXPLAIN (COSTS OFF) {query}")
        assert "Nested Loop" in per_row_plan, per_row_plan
        before = self.requests(tenant)
        per_row = median_time(lambda: self.psql(query), runs=1)
        per_row_requests = self.requests(tenant) - before
        return {"latency": latency, "chosen": chosen, "chosen_requests": chosen_requests,
                "plan": plan.replace("->", "").strip(),
                "per_row": per_row, "per_row_requests": per_row_requests}

    def update(self, latency):
        results = {}
        for concurrency in (8, 1):
            name = f"upd{latency}c{concurrency}"
            self.server(name, self.endpoint(name, f",rows=1000,latency_ms={latency}"),
                        f", concurrency '{concurrency}'")
            results[concurrency] = median_time(lambda: self.psql(
                f"UPDATE {name}_envs SET description = 'bench'"), runs=1)
            assert self.psql(f"SELECT count(*) FROM {name}_envs WHERE description = 'bench'") == "1000"
        return {"latency": latency, "concurrent": results[8], "one_by_one": results[1]}

    def memory(self, rows):
        name = f"mem{rows}"
        self.server(name, self.endpoint(name, f",rows={rows}"))
        output, peak = self.backend_peak(f"SELECT count(*) FROM {name}_envs")
        assert output == [str(rows)], output
        return peak

    def backend_peak(self, sql):
        """Run `sql` in a fresh backend: its output lines, and the backend's
        peak resident memory (VmHWM, kB) afterwards, read while it lives.
        A marker after `sql` tells its end, as a COPY TO a file prints nothing."""
        proc = subprocess.Popen([self.psql_bin, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
                                env=self.env, text=True, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdin.write("SELECT pg_backend_pid();\n")
        proc.stdin.flush()
        pid = proc.stdout.readline().strip()
        proc.stdin.write(f"{sql};\nSELECT 'end of backend_peak';\n")
        proc.stdin.flush()
        output = []
        for line in proc.stdout:
            if line.strip() == "end of backend_peak":
                break
            output.append(line.strip())
        else:
            proc.wait()
            raise RuntimeError(f"backend_peak: {sql}: {proc.stderr.read()}")
        status = Path(f"/proc/{pid}/status").read_text()
        proc.stdin.close()
        proc.wait()
        return output, int(next(line.split()[1] for line in status.splitlines()
                                if line.startswith("VmHWM")))

    def wire(self):
        """Close to the wire: cloud_fdw's CPU per row, with no latency to hide
        it. A lean server answers each of 1,000 pages from bytes serialised at
        start-up, so the floor (curl) costs little more than the bytes'
        transfer; cloud_fdw reads 10 columns of every type a table of it
        has, against that floor and against PL/Python doing the same. Every
        time is a median inside one session, so no backend start or new
        connection is counted; memory is each COPY in a fresh backend."""
        with LeanCloud(WIRE_ROWS) as large, LeanCloud(WIRE_SMALL_ROWS) as small:
            urls = self.page_urls(large.endpoint)
            assert len(urls) == WIRE_ROWS // PAGE, len(urls)
            floor = self.wire_floor(large, urls)
            self.server("wire", large.endpoint, f", page_size '{PAGE}'", WIRE_TABLE_COLUMNS)
            self.server("wire_small", small.endpoint, f", page_size '{PAGE}'", WIRE_TABLE_COLUMNS)
            self.py_wire()
            py_copy = f"COPY (SELECT * FROM py_wire('{large.endpoint}', '{TOKEN}')) TO '/dev/null'"
            self.wire_check(large.endpoint)
            times = {name: self.session_median(query) for name, query in WIRE_QUERIES.items()}
            times["plpython"] = self.session_median(py_copy)
            # PostgreSQL's own share: the same rows COPYed out of a heap table
            self.psql("DROP TABLE IF EXISTS wire_local; CREATE TABLE wire_local AS SELECT * FROM wire_envs")
            times["local"] = self.session_median(WIRE_QUERIES["copy"].replace("wire_envs", "wire_local"))
            _, mem_small = self.backend_peak(WIRE_QUERIES["copy"].replace("wire_envs", "wire_small_envs"))
            _, mem_large = self.backend_peak(WIRE_QUERIES["copy"])
        ratios = {name: t / floor["time"] for name, t in times.items()}
        growth = (mem_large - mem_small) / 1024
        return {**floor, "times": times, "ratios": ratios, "pages": len(urls),
                "plpython_vs_copy": times["plpython"] / times["copy"],
                "mem_small": mem_small, "mem_large": mem_large, "growth": growth,
                "met": {"count": ratios["count"] <= GOAL_WIRE_COUNT,
                        "report": ratios["report"] <= GOAL_WIRE_REPORT,
                        "copy": ratios["copy"] <= GOAL_WIRE_COPY,
                        "plpython": times["plpython"] / times["copy"] >= GOAL_WIRE_PLPY,
                        "memory": growth <= GOAL_WIRE_MEMORY_MB}}

    def wire_floor(self, cloud, urls):
        """The curl floor of the lean cloud, and the CPU per page that the
        server and curl spent on it: which of the two bounds the floor."""
        server, children = cloud.cpu_seconds(), os.times()
        floor = self.curl_floor(urls, f"Authorization: Bearer {TOKEN}")
        after = os.times()
        pages = len(urls) * RUNS
        curl = (after.children_user + after.children_system
                - children.children_user - children.children_system)
        return {"time": floor, "server_cpu": (cloud.cpu_seconds() - server) / pages,
                "curl_cpu": curl / pages}

    def py_wire(self):
        """What a user would write today for the same rows: PL/Python with
        http.client on one kept-alive connection and json.loads, jsonb as
        json.dumps text, text[] as lists, timestamps as the API's strings."""
        self.psql(f"""
            CREATE OR REPLACE FUNCTION py_wire(endpoint text, token text)
            RETURNS TABLE ({WIRE_COLUMNS}) LANGUAGE plpython3u AS $$
            import http.client, json, urllib.parse
            url = urllib.parse.urlsplit(endpoint)
            conn = http.client.HTTPConnection(url.hostname, url.port)
            headers = dict(Authorization="Bearer " + token)
            first = url.path + "/environments?include_archived=true&limit={PAGE}"
            path = first
            try:
                while True:
                    conn.request("GET", path, headers=headers)
                    reply = conn.getresponse()
                    body = reply.read()
                    if reply.status != 200:
                        plpy.error("GET %s: %d %s" % (path, reply.status, body[:200]))
                    page = json.loads(body)
                    for e in page["data"]:
                        network = (e.get("config") or dict()).get("networking") or dict()
                        yield (e["id"], e.get("name"), e.get("status"), e.get("archived"),
                               network.get("type"), network.get("allowed_hosts"),
                               json.dumps(e.get("config")), json.dumps(e.get("metadata")),
                               e.get("created_at"), e.get("updated_at"))
                    if not page["has_more"]:
                        break
                    path = first + "&after_id=" + page["last_id"]
            finally:
                conn.close()
            $$;""")

    def wire_check(self, endpoint):
        """Before any figure: every row is there, on both sides, and cloud_fdw
        and PL/Python give the same rows (a fair comparison converts the
        same values). No LIMIT: cloud_fdw would send it as the page size,
        which the lean server refuses."""
        py = f"py_wire('{endpoint}', '{TOKEN}')"
        counts = self.psql(f"""SELECT (SELECT count(*) FROM wire_envs), (SELECT count(*) FROM {py}),
                                      (SELECT count(*) FROM wire_small_envs),
                                      (SELECT count(*) FROM (SELECT * FROM wire_envs
                                                             EXCEPT ALL SELECT * FROM {py}) d)""")
        assert counts == f"{WIRE_ROWS}|{WIRE_ROWS}|{WIRE_SMALL_ROWS}|0", counts

    def async_append(self, latency, accounts):
        """8 accounts under one partitioned table: with async Append every
        partition's pages are on their way at once (3 round trips in all),
        with enable_async_append = off one partition after the other (24).
        Each account is a mock of its own, as accounts are independent API
        capacity: one Python process would do the 8 answers of a round one
        after the other on the two cores PostgreSQL shares with it."""
        self.psql("""
            DROP TABLE IF EXISTS parts;
            CREATE TABLE parts (account text NOT NULL, id text, name text, status text)
              PARTITION BY LIST (account);""")
        tenants = [f"part{k}" for k in range(PARTITIONS)]
        endpoints = [f"{mock.url}/_mock/tenant={tenant},rows={PARTITION_ROWS},"
                     f"rows_from={k * PARTITION_ROWS},latency_ms={latency}/api/v1/cloud"
                     for k, (tenant, mock) in enumerate(zip(tenants, accounts))]
        for k, endpoint in enumerate(endpoints):
            self.server(f"s{k}", endpoint)
            # column options come before NOT NULL; PARTITION OF takes none, hence ATTACH
            self.psql(f"""
                CREATE FOREIGN TABLE p_{k} (account text OPTIONS (value 'acct-{k}') NOT NULL,
                                            id text, name text, status text)
                  SERVER s{k} OPTIONS (resource 'environments');
                ALTER TABLE parts ATTACH PARTITION p_{k} FOR VALUES IN ('acct-{k}');""")
        query = "SELECT count(id) FROM parts"   # count(id): every row is read, no count from a total
        sync = f"SET enable_async_append = off; {query}"
        assert "Async Foreign Scan" in self.psql(f"EXPLAIN (COSTS OFF) {query}")
        assert "Async" not in self.psql(f"SET enable_async_append = off; EXPLAIN (COSTS OFF) {query}")
        def requests():
            return sum(m.control.connections(t)["requests"] for t, m in zip(tenants, accounts))
        before = requests()
        count = self.psql(query)
        pages = requests() - before
        assert count == str(PARTITIONS * PARTITION_ROWS), count
        assert self.psql(sync) == count
        asynchronous = self.session_median(query)
        synchronous = self.session_median(query, "SET enable_async_append = off;")
        # the same pages by curl: what the mock itself allows at once and in turn
        chains = [self.page_urls(endpoint) for endpoint in endpoints]
        header = f"Authorization: Bearer {TOKEN}"
        curl_at_once = self.curl_chains(chains, header)
        curl_in_turn = self.curl_floor([u for urls in chains for u in urls], header)
        ratio = synchronous / asynchronous
        return {"latency": latency, "pages": pages, "async": asynchronous, "sync": synchronous,
                "ratio": ratio, "curl_at_once": curl_at_once, "curl_in_turn": curl_in_turn,
                "met": ratio >= GOAL_ASYNC}

    def session_median(self, query, settings="", runs=RUNS):
        """The median time of a query run `runs` times in one session, after a
        first run: what the scans take, without a new backend and its
        connections to the cloud each time (which cost both sides alike)."""
        timings = self.psql(f"""{settings}
            CREATE TEMP TABLE timings (t float8);
            DO $$ DECLARE started timestamptz; BEGIN
              EXECUTE $q${query}$q$;
              FOR i IN 1..{runs} LOOP
                started := clock_timestamp();
                EXECUTE $q${query}$q$;
                INSERT INTO timings VALUES (extract(epoch FROM clock_timestamp() - started));
              END LOOP;
            END $$;
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM timings;""")
        return float(timings.splitlines()[-1])

    def eps_server(self, name, endpoint, options=""):
        """A Huawei Cloud server with the fixed test token, and its table eps
        of enterprise projects in pages of 100 (offset pagination with a
        total: every page's position is known after the first)."""
        self.psql(f"""
            DROP SERVER IF EXISTS {name} CASCADE;
            CREATE SERVER {name} FOREIGN DATA WRAPPER cloud_fdw
              OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint '{endpoint}'{options});
            CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (auth_token '{HW_TOKEN}');
            CREATE FOREIGN TABLE eps (id text, name text, status integer, type text)
              SERVER {name} OPTIONS (resource 'enterprise_projects', page_size '{PAGE}');""")

    def eps_pages(self, latency):
        """10,000 enterprise projects in 100 pages: concurrency 8 against 1,
        and against the curl floor, which fetches the same pages in turn."""
        tenant = f"eps{latency}"
        endpoint = f"{self.mock.url}/_mock/tenant={tenant},eps_rows={EPS_ROWS},latency_ms={latency}"
        self.eps_server("eps_hw", endpoint, ", concurrency '8'")
        query = "SELECT count(id) FROM eps"     # count(id): the scan, not the count shortcut
        assert self.psql(query) == str(EPS_ROWS)
        peak = self.mock.control.concurrency(tenant)["peak_in_flight"]
        results = {}
        for concurrency in (8, 1):
            self.psql(f"ALTER SERVER eps_hw OPTIONS (SET concurrency '{concurrency}')")
            results[concurrency] = median_time(lambda: self.psql(query))
        self.psql("ALTER SERVER eps_hw OPTIONS (SET concurrency '8')")
        urls = [f"{endpoint}/v1.0/enterprise-projects?limit={PAGE}&offset={offset}"
                for offset in range(0, EPS_ROWS, PAGE)]
        curl = self.curl_floor(urls, f"X-Auth-Token: {HW_TOKEN}")
        vs_one, vs_curl = results[1] / results[8], curl / results[8]
        return {"latency": latency, "tenant": tenant, "pages": len(urls), "peak": peak,
                "concurrent": results[8], "one_by_one": results[1], "curl": curl,
                "vs_one": vs_one, "vs_curl": vs_curl, "met": min(vs_one, vs_curl) >= GOAL_PAGES}

    def count_star(self, pages):
        """count(*) of the 10,000 enterprise projects of eps_pages: the API's
        total_count of a page of one item, so one request whatever the size."""
        tenant = pages["tenant"]
        query = "SELECT count(*) FROM eps"
        before = self.requests(tenant)
        count = self.psql(query)
        requests = self.requests(tenant) - before
        elapsed = median_time(lambda: self.psql(query))
        return {"latency": pages["latency"], "count": int(count), "requests": requests,
                "time": elapsed, "met": count == str(EPS_ROWS) and requests == GOAL_COUNT_REQUESTS}

    def budget(self, latency, label):
        """4 backends at once list the same credential's 50 pages of one item
        each under rate_limit 20/s. One budget for the cluster spreads the
        200 requests over 10 s; a budget per backend lets each go at 20/s.
        The rate is read from the mock's clock: first arrival to last answer."""
        tenant = f"budget_{label}"
        self.server("budget", self.endpoint(tenant, f",rows={BUDGET_PAGES},latency_ms={latency}"),
                    f", rate_limit '{BUDGET_RATE}', page_size '1'")
        cmd = [self.psql_bin, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
               "-c", "SELECT count(id) FROM budget_envs"]
        start = time.monotonic()
        procs = [subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(BUDGET_BACKENDS)]
        outputs = [(proc.communicate(), proc.returncode) for proc in procs]
        elapsed = time.monotonic() - start
        finished = sum(rc == 0 and out.strip() == str(BUDGET_PAGES) for (out, _), rc in outputs)
        for (_, err), rc in outputs:
            if rc != 0:
                print(f"budget ({label}): a backend failed: {err.strip()}", file=sys.stderr)
        records = self.mock.control.requests(tenant)
        span = max(r["finished"] for r in records) - min(r["started"] for r in records)
        per_10s = len(records) * 10 / span
        return {"latency": latency, "label": label, "requests": len(records), "span": span,
                "elapsed": elapsed, "per_10s": per_10s, "vs_rate": len(records) / span / BUDGET_RATE,
                "finished": finished,
                "met": per_10s <= GOAL_BUDGET_PER_10S and finished == BUDGET_BACKENDS}

    def dashboard(self, latency):
        """The dashboard: 10 report queries over the three resources, in one
        PL/pgSQL call that digests every row, run DASH_RUNS times in a row by
        DASH_BACKENDS backends at once; each run timed inside its backend."""
        tenant = "dash"
        sizes = ",".join(f"{k}={v}" for k, v in DASH_ROWS.items())
        endpoint = f"{self.mock.url}/_mock/tenant={tenant},{sizes},latency_ms={latency}"
        queries = ", ".join("$q$" + q + "$q$" for q in DASH_QUERIES)
        self.psql(f"""
            DROP SERVER IF EXISTS dash_q CASCADE;
            DROP SERVER IF EXISTS dash_hw CASCADE;
            CREATE SERVER dash_q FOREIGN DATA WRAPPER cloud_fdw
              OPTIONS (provider 'qoder', endpoint '{endpoint}/api/v1/cloud', cache_ttl '60s');
            CREATE USER MAPPING FOR CURRENT_USER SERVER dash_q OPTIONS (token '{TOKEN}');
            CREATE SERVER dash_hw FOREIGN DATA WRAPPER cloud_fdw
              OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint '{endpoint}', cache_ttl '60s');
            CREATE USER MAPPING FOR CURRENT_USER SERVER dash_hw OPTIONS (auth_token '{HW_TOKEN}');
            CREATE FOREIGN TABLE dash_envs (id text, name text, status text,
              networking_type text OPTIONS (path 'config.networking.type'),
              created_at timestamptz) SERVER dash_q OPTIONS (resource 'environments');
            CREATE FOREIGN TABLE dash_deploy (application_id text, id text, name text, os text,
              created_time timestamptz) SERVER dash_hw
              OPTIONS (resource 'deploy_environments', codearts_project_id '{DASH_PROJECT}');
            CREATE FOREIGN TABLE dash_eps (id text, name text, status integer, type text)
              SERVER dash_hw OPTIONS (resource 'enterprise_projects', page_size '{PAGE}');
            DROP TABLE IF EXISTS dash_owners;
            CREATE TABLE dash_owners AS SELECT * FROM (VALUES ('ready', 'web'), ('archived', 'ops')) v(status, team);
            CREATE OR REPLACE FUNCTION dash_run() RETURNS text LANGUAGE plpgsql AS $fn$
            DECLARE q text; r record; digest text := '';
            BEGIN
              FOREACH q IN ARRAY ARRAY[{queries}] LOOP
                FOR r IN EXECUTE q LOOP digest := md5(digest || r::text); END LOOP;
              END LOOP;
              RETURN digest;
            END $fn$;""")
        runs_sql = (f"DO $$ DECLARE t0 timestamptz; d text; BEGIN FOR i IN 1..{DASH_RUNS} LOOP "
                    "t0 := clock_timestamp(); d := dash_run(); "
                    "RAISE NOTICE 'run % % %', i, extract(epoch FROM clock_timestamp() - t0), d; "
                    "END LOOP; END $$")
        cmd = [self.psql_bin, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]

        def backends(options):
            env = {**self.env, "PGOPTIONS": options}
            before = self.requests(tenant)
            start = time.monotonic()
            procs = [subprocess.Popen(cmd + ["-c", runs_sql], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in range(DASH_BACKENDS)]
            outputs = [proc.communicate() for proc in procs]
            elapsed = time.monotonic() - start
            runs = [re.findall(r"NOTICE:  run (\d+) ([\d.]+) (\w+)", err) for _, err in outputs]
            if any(len(r) != DASH_RUNS for r in runs):
                raise RuntimeError(f"dashboard: a backend failed: {[err for _, err in outputs]}")
            return {"requests": self.requests(tenant) - before, "elapsed": elapsed,
                    "first": statistics.median(float(r[0][1]) for r in runs),
                    "repeated": statistics.median(float(t) for r in runs for _, t, _ in r[1:]),
                    "digests": {d for r in runs for _, _, d in r}}

        def one_run(options):
            self.psql("SELECT cloud_fdw_cache_clear()")
            before = self.requests(tenant)
            digest = subprocess.run(cmd + ["-c", "SELECT dash_run()"], env={**self.env, "PGOPTIONS": options},
                                    capture_output=True, text=True, check=True).stdout.strip()
            return self.requests(tenant) - before, digest

        one_off, digest_off = one_run("-c cloud_fdw.cache_ttl=0")
        one_on, digest_on = one_run("")
        off = backends("-c cloud_fdw.cache_ttl=0")
        self.psql("SELECT cloud_fdw_cache_clear()")
        on = backends("")
        stats = self.psql("SELECT entries || ' entries, ' || pg_size_pretty(bytes) FROM cloud_fdw_cache_stats()")
        same = len(off["digests"] | on["digests"] | {digest_off, digest_on}) == 1
        speedup = off["repeated"] / on["repeated"]
        return {"latency": latency, "one_off": one_off, "one_on": one_on, "off": off, "on": on,
                "speedup": speedup, "same": same, "stats": stats,
                "met": same and on["requests"] == one_on and speedup >= GOAL_DASH_SPEEDUP}


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) // 1024 // 1024
    return f"{os.cpu_count()} x {cpu}, {mem} GiB, {platform.system()} {platform.release()}"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["wire"],
                        help="run this section alone and print it (bench/RESULTS.md is not written)")
    parser.add_argument("--no-build", action="store_true",
                        help="use the cloud_fdw installed as it is (no build_and_install)")
    return parser.parse_args(argv)


def only_wire():
    """The close-to-the-wire section alone, printed: the loop of working on
    cloud_fdw's CPU per row, which needs neither the mock nor RESULTS.md."""
    with Cluster(settings={"shared_buffers": "128MB"}) as cluster:
        bench = Bench(cluster, None)
        bench.psql("CREATE EXTENSION IF NOT EXISTS cloud_fdw; CREATE EXTENSION IF NOT EXISTS plpython3u;")
        print("\n".join(wire_lines(bench.wire())))


def main(argv=None):
    args = parse_args(argv)
    install_signal_handlers()
    if not args.no_build:
        build_and_install(ROOT)
    if args.only == "wire":
        only_wire()
        return
    with Cluster(settings={"shared_buffers": "128MB"}) as cluster, Mock() as mock:
        bench = Bench(cluster, mock)
        bench.psql("CREATE EXTENSION IF NOT EXISTS cloud_fdw; CREATE EXTENSION IF NOT EXISTS plpython3u;")
        scans = [bench.scan(5), bench.scan(20)]
        wire = bench.wire()
        joins = [bench.join(5)]
        updates = [bench.update(20)]
        mem_small = bench.memory(1_000)
        mem_large = bench.memory(100_000)
        with contextlib.ExitStack() as stack:
            accounts = [stack.enter_context(Mock()) for _ in range(PARTITIONS)]
            parts = bench.async_append(SCALE_LATENCY, accounts)
        pages = bench.eps_pages(SCALE_LATENCY)
        counted = bench.count_star(pages)
        budgets = [bench.budget(SCALE_LATENCY, "per_backend")]
        with Cluster(settings={"shared_buffers": "128MB",
                               "shared_preload_libraries": "cloud_fdw"}) as preloaded:
            shared = Bench(preloaded, mock)
            shared.psql("CREATE EXTENSION IF NOT EXISTS cloud_fdw;")
            budgets.insert(0, shared.budget(SCALE_LATENCY, "shared"))
            dash = shared.dashboard(SCALE_LATENCY)

    major = re.match(r"PostgreSQL (\d+)", pg_config("--version")).group(1)  # also "18beta1"
    lines = [
        f"## PostgreSQL {major}",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        f"- PostgreSQL: {pg_config('--version')}",
        f"- settings: mock cloud on loopback with an injected per-request latency; page size {PAGE}; "
        f"median of {RUNS} runs for scans and counts, one run for the join, the update and "
        f"the budgets; organisation scale at {SCALE_LATENCY} ms",
        "",
        f"### Full scan of {ROWS:,} rows",
        "",
        "| latency | pages | curl alone (floor) | cloud_fdw | PL/Python + urllib | cloud_fdw / floor | PL/Python / cloud_fdw |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in scans:
        lines.append(f"| {s['latency']} ms | {s['pages']} | {s['curl']:.3f} s | {s['fdw']:.3f} s | "
                     f"{s['plpython']:.3f} s | {s['fdw'] / s['curl']:.2f}x | {s['plpython'] / s['fdw']:.2f}x |")
    lines += [""] + wire_lines(wire)
    lines += ["### 1,000 local rows joined to remote rows by id", "",
              "| latency | planner's choice | requests | time | one get per row: requests | time | speed-up |",
              "|---|---|---|---|---|---|---|"]
    for j in joins:
        lines.append(f"| {j['latency']} ms | {j['plan']} | {j['chosen_requests']} | {j['chosen']:.3f} s | "
                     f"{j['per_row_requests']} | {j['per_row']:.3f} s | {j['per_row'] / j['chosen']:.1f}x |")
    lines += ["", "### Bulk UPDATE of 1,000 rows (one PUT each)", "",
              "| latency | concurrency 8 | one by one | speed-up |", "|---|---|---|---|"]
    for u in updates:
        lines.append(f"| {u['latency']} ms | {u['concurrent']:.3f} s | {u['one_by_one']:.3f} s | "
                     f"{u['one_by_one'] / u['concurrent']:.1f}x |")
    lines += ["", "### Peak backend memory (VmHWM) of a full scan", "",
              "| rows | peak RSS | growth over 1,000 rows |", "|---|---|---|",
              f"| 1,000 | {mem_small / 1024:.1f} MB | |",
              f"| 100,000 | {mem_large / 1024:.1f} MB | {(mem_large - mem_small) / 1024:+.1f} MB |", ""]
    lines += scale_lines(parts, pages, counted, budgets)
    lines += dashboard_lines(dash)
    section = "\n".join(lines)
    print(section)
    out = ROOT / "bench" / "RESULTS.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(merge_section(out.read_text() if out.exists() else "", major, section))
    print(f"written to {out.relative_to(ROOT)}, section PostgreSQL {major}")


def wire_lines(w):
    """The close-to-the-wire table: each query against the curl floor and its
    goal, PL/Python's COPY against cloud_fdw's, and the COPY's memory."""
    t, r, met = w["times"], w["ratios"], w["met"]
    per_page = w["time"] / w["pages"] * 1e6
    return [f"### Close to the wire: {WIRE_ROWS:,} rows, no latency", "",
            f"What cloud_fdw costs per row once the network costs nothing: {w['pages']:,} pages of "
            f"{PAGE} Qoder environments on loopback, with no injected latency, from a lean server "
            "(test/lean_cloud.py) that serialised every page once at start-up and answers a request "
            "with one dict lookup and one send. The floor is one curl process fetching the same pages "
            "over one kept-alive connection into /dev/null (no parsing); during it the server spent "
            f"{w['server_cpu'] * 1e6:.0f} µs of CPU per page and curl {w['curl_cpu'] * 1e6:.0f} µs, "
            f"against {per_page:.0f} µs of wall time per page. cloud_fdw reads a foreign table of 10 columns "
            "(text, boolean, text[] and text below `config`, jsonb, timestamptz); PL/Python reads "
            "the same 10 with http.client on one kept-alive connection and json.loads. Times are "
            f"medians of {RUNS} runs in one session after a first run; memory is each COPY in a fresh "
            "backend.", "",
            "| what | time | vs curl floor | goal |", "|---|---|---|---|",
            f"| curl alone (floor) | {w['time']:.3f} s | 1.00x | |",
            f"| `SELECT count(*)` | {t['count']:.3f} s | {r['count']:.2f}x | "
            f"<= {GOAL_WIRE_COUNT:g}x: {verdict(met['count'])} |",
            f"| report: `count(*), sum(length(name)), count(networking_type), max(created_at)` | "
            f"{t['report']:.3f} s | {r['report']:.2f}x | <= {GOAL_WIRE_REPORT:g}x: {verdict(met['report'])} |",
            f"| `COPY (SELECT * ...) TO '/dev/null'` | {t['copy']:.3f} s | {r['copy']:.2f}x | "
            f"<= {GOAL_WIRE_COPY:g}x: {verdict(met['copy'])} |",
            f"| the same COPY from PL/Python + http.client | {t['plpython']:.3f} s | {r['plpython']:.2f}x | "
            "contrast, no goal |",
            f"| the same COPY from a local heap table of the rows | {t['local']:.3f} s | {r['local']:.2f}x | "
            "PostgreSQL's own output, no goal |",
            "", f"- PL/Python's COPY / cloud_fdw's: {w['plpython_vs_copy']:.2f}x; goal >= "
            f"{GOAL_WIRE_PLPY:g}x: {verdict(met['plpython'])}", "",
            "| COPY of | peak backend memory (VmHWM) | growth | goal |", "|---|---|---|---|",
            f"| {WIRE_SMALL_ROWS:,} rows | {w['mem_small'] / 1024:.1f} MB | | |",
            f"| {WIRE_ROWS:,} rows | {w['mem_large'] / 1024:.1f} MB | {w['growth']:+.1f} MB | "
            f"<= +{GOAL_WIRE_MEMORY_MB:g} MB: {verdict(met['memory'])} |", ""]


def scale_lines(parts, pages, counted, budgets):
    """The organisation-scale tables, each row with its goal and whether it
    was met, then the goals again in one list."""
    shared = budgets[0]
    lines = [f"### Async Append: {PARTITIONS} foreign partitions of {PARTITION_ROWS} rows "
             f"({PARTITION_ROWS // PAGE} cursor pages each), `SELECT count(id)`", "",
             "| latency | pages | async Append | enable_async_append = off | speed-up | goal | "
             f"curl: {PARTITIONS} listings at once | curl: one after the other | curl speed-up |",
             "|---|---|---|---|---|---|---|---|---|",
             f"| {parts['latency']} ms | {parts['pages']} | {parts['async']:.3f} s | {parts['sync']:.3f} s | "
             f"{parts['ratio']:.2f}x | >= {GOAL_ASYNC:g}x: {verdict(parts['met'])} | "
             f"{parts['curl_at_once']:.3f} s | {parts['curl_in_turn']:.3f} s | "
             f"{parts['curl_in_turn'] / parts['curl_at_once']:.2f}x |",
             "", f"Each account is a mock process of its own; cloud_fdw's times are medians of "
             f"{RUNS} runs in one session. The curl columns fetch the same {parts['pages']} pages, "
             "one curl per account at once and one curl for all in turn: what the mocks "
             "themselves allow on the machine's cores.",
             "", f"### Concurrent pages: {EPS_ROWS:,} enterprise projects, `SELECT count(id)`", "",
             "| latency | pages | curl alone (floor) | concurrency 1 | concurrency 8 | peak in flight | "
             "vs concurrency 1 | vs floor | goal |",
             "|---|---|---|---|---|---|---|---|---|",
             f"| {pages['latency']} ms | {pages['pages']} | {pages['curl']:.3f} s | {pages['one_by_one']:.3f} s | "
             f"{pages['concurrent']:.3f} s | {pages['peak']} | {pages['vs_one']:.2f}x | {pages['vs_curl']:.2f}x | "
             f">= {GOAL_PAGES:g}x both: {verdict(pages['met'])} |",
             "", f"### count(*) of {EPS_ROWS:,} enterprise projects", "",
             "| latency | answer | requests | time | goal |", "|---|---|---|---|---|",
             f"| {counted['latency']} ms | {counted['count']} | {counted['requests']} | {counted['time']:.3f} s | "
             f"{GOAL_COUNT_REQUESTS} request: {verdict(counted['met'])} |",
             "", f"### Shared budget: rate_limit {BUDGET_RATE}/s, {BUDGET_BACKENDS} backends at once, "
             f"{BUDGET_PAGES} pages of 1 item each", "",
             "| cluster | requests | mock: first arrival to last answer | elapsed | per 10 s | "
             f"vs {BUDGET_RATE}/s | backends with all rows | goal |",
             "|---|---|---|---|---|---|---|---|"]
    for b in budgets:
        cluster = ("shared_preload_libraries = cloud_fdw" if b is shared
                   else "not preloaded (a budget per backend)")
        goal = (f"<= {GOAL_BUDGET_PER_10S} per 10 s, all finish: {verdict(b['met'])}" if b is shared
                else "contrast, no goal")
        lines.append(f"| {cluster} | {b['requests']} | {b['span']:.2f} s | {b['elapsed']:.2f} s | "
                     f"{b['per_10s']:.0f} | {b['vs_rate']:.2f}x | {b['finished']} of {BUDGET_BACKENDS} | "
                     f"{goal} |")
    lines += ["", "### Goals", "",
              f"- async Append >= {GOAL_ASYNC:g}x: {parts['ratio']:.2f}x, {verdict(parts['met'])}",
              f"- concurrency 8 >= {GOAL_PAGES:g}x faster than concurrency 1 and the floor: "
              f"{pages['vs_one']:.2f}x and {pages['vs_curl']:.2f}x, {verdict(pages['met'])}",
              f"- count(*) of {EPS_ROWS:,} in {GOAL_COUNT_REQUESTS} request: {counted['count']} in "
              f"{counted['requests']}, {verdict(counted['met'])}",
              f"- shared budget <= {GOAL_BUDGET_PER_10S} requests per 10 s, every backend finishes: "
              f"{shared['per_10s']:.0f}, {shared['finished']} of {BUDGET_BACKENDS}, {verdict(shared['met'])}",
              ""]
    return lines


def dashboard_lines(d):
    """The dashboard with and without the shared cache, against its goal."""
    off, on = d["off"], d["on"]
    return [f"### Dashboard: {len(DASH_QUERIES)} report queries, {DASH_RUNS} runs by each of "
            f"{DASH_BACKENDS} backends at once (preloaded, {d['latency']} ms)", "",
            f"Over {DASH_ROWS['rows']} Qoder environments (cursor pages of {PAGE}), "
            f"{DASH_ROWS['deploy_rows']} CodeArts environments of one application and "
            f"{DASH_ROWS['eps_rows']} enterprise projects (offset pages of {PAGE}); "
            "each run is one PL/pgSQL call that reads every row of the ten queries. "
            f"One run alone makes {d['one_off']} requests without the cache, {d['one_on']} with it "
            "(queries of one run share listings).", "",
            "| cache | requests | elapsed | first run (median) | repeated runs (median) |",
            "|---|---|---|---|---|",
            f"| off (`cloud_fdw.cache_ttl = 0`) | {off['requests']} | {off['elapsed']:.2f} s | "
            f"{off['first']:.3f} s | {off['repeated']:.3f} s |",
            f"| `cache_ttl '60s'` | {on['requests']} | {on['elapsed']:.2f} s | "
            f"{on['first']:.3f} s | {on['repeated']:.4f} s |",
            "", f"Every run of every backend gave the same rows: {'yes' if d['same'] else 'NO'}. "
            f"The cache held {d['stats']} afterwards.", "",
            f"- goal: requests with the cache = one run's ({d['one_on']}): {on['requests']}; repeated runs "
            f">= {GOAL_DASH_SPEEDUP:g}x faster: {d['speedup']:.1f}x; {verdict(d['met'])}", ""]


def merge_section(text, major, section):
    """RESULTS.md with the section of one major replaced, majors in order."""
    sections = {m: body for m, body in re.findall(
        r"^## PostgreSQL (\d+)\n(.*?)(?=^## PostgreSQL |\Z)", text, re.M | re.S)}
    sections[major] = section.split("\n", 1)[1]
    head = "# cloud_fdw benchmark\n\nThe last run of `make bench` on each PostgreSQL major.\n\n"
    return head + "".join(f"## PostgreSQL {m}\n{sections[m].rstrip()}\n\n"
                          for m in sorted(sections, key=int)).rstrip() + "\n"


if __name__ == "__main__":
    main()
