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
- peak backend memory of scans of 1,000 and 100,000 rows.

It prints a table and writes it, with the machine, date and settings, to
bench/RESULTS.md, as the section of the PostgreSQL major it ran on: the
sections of other majors are kept, so one file holds the last run on each.
"""
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

TOKEN = "pt-test-admin"
RUNS = 5
ROWS = 10_000
PAGE = 100


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

    def server(self, name, endpoint, options=""):
        self.psql(f"""
            DROP SERVER IF EXISTS {name} CASCADE;
            CREATE SERVER {name} FOREIGN DATA WRAPPER cloud_fdw
              OPTIONS (provider 'qoder', endpoint '{endpoint}'{options});
            CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (token '{TOKEN}');
            CREATE FOREIGN TABLE {name}_envs (id text, name text, description text, status text,
              created_at timestamptz) SERVER {name} OPTIONS (resource 'environments');""")

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

    def scan(self, latency):
        tenant = f"scan{latency}"
        endpoint = self.endpoint(tenant, f",rows={ROWS},latency_ms={latency}")
        self.server(f"scan{latency}", endpoint)
        count = self.psql(f"SELECT count(*) FROM scan{latency}_envs")
        assert count == str(ROWS), count
        fdw = median_time(lambda: self.psql(f"SELECT count(*), max(created_at) FROM scan{latency}_envs"))

        urls = self.page_urls(endpoint)
        config = "".join(f'url = "{u}"\noutput = /dev/null\n' for u in urls)
        curl = median_time(lambda: subprocess.run(
            ["curl", "-s", "-f", "-H", f"Authorization: Bearer {TOKEN}", "--config", "-"],
            input=config, text=True, check=True))

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
        proc = subprocess.Popen([self.psql_bin, "-X", "-q", "-A", "-t"], env=self.env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        proc.stdin.write("SELECT pg_backend_pid();\n")
        proc.stdin.flush()
        pid = proc.stdout.readline().strip()
        proc.stdin.write(f"SELECT count(*) FROM {name}_envs;\n")
        proc.stdin.flush()
        count = proc.stdout.readline().strip()
        status = Path(f"/proc/{pid}/status").read_text()
        proc.stdin.close()
        proc.wait()
        assert count == str(rows), count
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) // 1024 // 1024
    return f"{os.cpu_count()} x {cpu}, {mem} GiB, {platform.system()} {platform.release()}"


def main():
    install_signal_handlers()
    build_and_install(ROOT)
    with Cluster(settings={"shared_buffers": "128MB"}) as cluster, Mock() as mock:
        bench = Bench(cluster, mock)
        bench.psql("CREATE EXTENSION IF NOT EXISTS cloud_fdw; CREATE EXTENSION IF NOT EXISTS plpython3u;")
        scans = [bench.scan(5), bench.scan(20)]
        joins = [bench.join(5)]
        updates = [bench.update(20)]
        mem_small = bench.memory(1_000)
        mem_large = bench.memory(100_000)

    major = re.match(r"PostgreSQL (\d+)", pg_config("--version")).group(1)  # also "18beta1"
    lines = [
        f"## PostgreSQL {major}",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        f"- PostgreSQL: {pg_config('--version')}",
        f"- settings: mock cloud on loopback with an injected per-request latency; page size {PAGE}; "
        f"median of {RUNS} runs for scans, one run for the join and the update",
        "",
        f"### Full scan of {ROWS:,} rows",
        "",
        "| latency | pages | curl alone (floor) | cloud_fdw | PL/Python + urllib | cloud_fdw / floor | PL/Python / cloud_fdw |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in scans:
        lines.append(f"| {s['latency']} ms | {s['pages']} | {s['curl']:.3f} s | {s['fdw']:.3f} s | "
                     f"{s['plpython']:.3f} s | {s['fdw'] / s['curl']:.2f}x | {s['plpython'] / s['fdw']:.2f}x |")
    lines += ["", "### 1,000 local rows joined to remote rows by id", "",
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
    section = "\n".join(lines)
    print(section)
    out = ROOT / "bench" / "RESULTS.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(merge_section(out.read_text() if out.exists() else "", major, section))
    print(f"written to {out.relative_to(ROOT)}, section PostgreSQL {major}")


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
