#!/usr/bin/env python3
# timeout: 300
"""Two-level scale-out: a coordinator in front of a node in front of the cloud.

The node (the suite's cluster, database scaleout_node) has two tables
partitioned by account, envs_a over accounts acct1 and acct2 and envs_b
over acct3 and acct4.  Each partition is a cloud_fdw foreign table on a
server and mock tenant of its own, whose account column has the fixed value
of its account (column option `value`).  A coordinator (a cluster of its
own) has one postgres_fdw server per node table, both pointing at the node
with async_capable, and a table partitioned by account over the two.

A query on the coordinator runs the two node tables at once (postgres_fdw's
asynchronous Append, coordinator level), and each node backend runs its
table's two cloud_fdw partitions at once (cloud_fdw's async_capable, node
level).  Both show in the mock's request log: requests of tenants under
different node tables overlap in time, and so do requests of the two
tenants under one node table.  Every partition takes 4 pages of 150 ms one
after the other, so with both levels the query takes about a quarter of the
sum of the request durations, with only one level about half; the check
allows 0.4.  The control run turns async_capable off on the node (for
envs_a's servers, for envs_b's tables) and sees the node level go away
while the coordinator level stays.  Skipped when the PostgreSQL under test
has no postgres_fdw.
"""
import os
import secrets
import sys
import time

from harness import Cluster, MockControl, Tap, psql, run_psql

tap = Tap()
mock = MockControl()
mock_url = os.environ["MOCK_URL"]
NODE_DB = "scaleout_node"
LATENCY_MS = 150
PAGE_SIZE = 10
ELAPSED_LIMIT = 0.4
# node table -> account -> rows; 35..38 rows are 4 pages of 10 each
LAYOUT = {"envs_a": {"acct1": 38, "acct2": 37}, "envs_b": {"acct3": 36, "acct4": 35}}
ACCOUNTS = {account: table for table, accounts in LAYOUT.items() for account in accounts}
COLUMNS = "id text, name text, description text, status text, created_at timestamptz"
SELECT_LIST = "account, id, name, description, status, created_at"
tenants = {account: f"scale-{account}-{secrets.token_hex(4)}" for account in ACCOUNTS}


def node(sql):
    """Run sql on the node's database; the CompletedProcess."""
    return run_psql(sql, db=NODE_DB)


def lines(result):
    """psql's output lines, sorted, as one string."""
    return "\n".join(sorted(result.stdout.split()))


def failure(result):
    return f"exit status {result.returncode}\n{result.stderr}"


def postgres_fdw_available():
    return psql("SELECT count(*) FROM pg_available_extensions WHERE name = 'postgres_fdw'") == "1"


def node_setup_sql():
    parts = ["CREATE EXTENSION cloud_fdw;"]
    for number, (account, table) in enumerate(ACCOUNTS.items(), start=1):
        rows = LAYOUT[table][account]
        endpoint = (f"{mock_url}/_mock/tenant={tenants[account]},rows={rows},"
                    f"rows_from={1000 * number},latency_ms={LATENCY_MS}/api/v1/cloud")
        parts.append(f"""
CREATE SERVER scale_{account} FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint '{endpoint}', page_size '{PAGE_SIZE}');
CREATE USER MAPPING FOR CURRENT_USER SERVER scale_{account} OPTIONS (token 'pt-test-admin');""")
    for table, accounts in LAYOUT.items():
        parts.append(f"CREATE TABLE {table} (account text, {COLUMNS}) PARTITION BY LIST (account);")
        for account in accounts:
            parts.append(f"""
CREATE FOREIGN TABLE {table}_{account} (account text OPTIONS (value '{account}'), {COLUMNS})
  SERVER scale_{account} OPTIONS (resource 'environments');
ALTER TABLE {table} ATTACH PARTITION {table}_{account} FOR VALUES IN ('{account}');""")
    return "\n".join(parts)


def coordinator_setup_sql():
    parts = ["CREATE EXTENSION postgres_fdw;",
             f"CREATE TABLE envs (account text, {COLUMNS}) PARTITION BY LIST (account);"]
    host = os.environ.get("PGHOST", "127.0.0.1")
    for table, accounts in LAYOUT.items():
        values = ", ".join(f"'{account}'" for account in accounts)
        parts.append(f"""
CREATE SERVER node_{table} FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host '{host}', port '{os.environ["PGPORT"]}', dbname '{NODE_DB}',
           async_capable 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER node_{table}
  OPTIONS (user '{os.environ.get("PGUSER", "postgres")}');
CREATE FOREIGN TABLE envs_{table} PARTITION OF envs FOR VALUES IN ({values})
  SERVER node_{table} OPTIONS (schema_name 'public', table_name '{table}');""")
    return "\n".join(parts)


# -- the mock's request log ---------------------------------------------------

def log_mark():
    """The highest seq of our tenants' requests so far: later ones are newer."""
    return max((r["seq"] for t in tenants.values() for r in mock.requests(t)), default=0)


def spans_since(mark):
    """account -> [(started, finished)] of its tenant's requests after mark;
    a string saying what is wrong when the log does not time requests or a
    request is unanswered."""
    spans = {}
    for account, tenant in tenants.items():
        records = [r for r in mock.requests(tenant) if r["seq"] > mark]
        if any("started" not in r or "finished" not in r for r in records):
            return "the mock's request records have no started/finished times"
        unanswered = [r["seq"] for r in records if r["finished"] is None]
        if unanswered:
            return f"{account}'s requests {unanswered} are unanswered"
        spans[account] = [(r["started"], r["finished"]) for r in records]
    return spans


def overlap(spans_a, spans_b):
    """Whether a request of one list was in flight while one of the other was."""
    return any(a0 < b1 and b0 < a1 for a0, a1 in spans_a for b0, b1 in spans_b)


def peak_in_flight(spans):
    """The most requests in flight at one moment (an end sorts before a start)."""
    events = sorted([(s, 1) for s, _ in spans] + [(f, -1) for _, f in spans])
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def account_spans(spans, table):
    return [span for account in LAYOUT[table] for span in spans.get(account, [])]


def describe(spans):
    """Each tenant's requests relative to the first start, for diagnostics."""
    if not spans:
        return "no timed requests"
    origin = min((s for account in spans.values() for s, _ in account), default=0)
    return "\n".join(f"{account}: " + " ".join(f"[{s - origin:.3f},{f - origin:.3f}]"
                                               for s, f in sorted(account_spans))
                     for account, account_spans in spans.items())


def check_levels(spans, label, node_level):
    """The concurrency checks of one run; node_level: whether the node's
    partitions of one table should overlap (True) or not (False)."""
    if isinstance(spans, str):
        tap.ok(False, f"{label}: the mock's request log times every request", diag=spans)
        return
    a, b = (account_spans(spans, table) for table in LAYOUT)
    tap.ok(overlap(a, b),
           f"{label}: coordinator level: requests under envs_a and envs_b were in flight at once",
           diag=describe(spans))
    for table, (first, second) in ((t, list(accounts)) for t, accounts in LAYOUT.items()):
        both = overlap(spans[first], spans[second])
        if not (spans[first] and spans[second]):
            tap.ok(False, f"{label}: node level: {first} and {second} (under {table}) "
                          "were both asked", diag=describe(spans))
        elif node_level:
            tap.ok(both, f"{label}: node level: requests of {first} and {second} "
                         f"(both under {table}) were in flight at once", diag=describe(spans))
        else:
            tap.ok(not both, f"{label}: node level off: {first} and {second} "
                             f"(both under {table}) went one after the other",
                   diag=describe(spans))


# -- the test -----------------------------------------------------------------

if not postgres_fdw_available():
    print("ok - two-level scale-out # SKIP postgres_fdw is not installed "
          "(test/pg18.sh builds it for PostgreSQL 18; postgresql-15 has it)")
    sys.exit(0)

expected_counts = "\n".join(f"{account}|{LAYOUT[table][account]}"
                            for account, table in sorted(ACCOUNTS.items()))
# No ORDER BY: an Append that must keep an order never runs its children
# asynchronously (PostgreSQL's rule), so the lines are sorted here.
group_by = "SELECT account, count(*) FROM {} GROUP BY account;"
all_rows = f"SET TimeZone = 'UTC'; SELECT {SELECT_LIST} FROM {{}} ORDER BY account, id;"

psql(f"DROP DATABASE IF EXISTS {NODE_DB} WITH (FORCE);")
psql(f"CREATE DATABASE {NODE_DB};")
try:
    result = node(node_setup_sql())
    tap.ok(result.returncode == 0,
           "node: 4 cloud_fdw partitions (column option value) under 2 tables partitioned "
           "by account", diag=failure(result))

    result = node(group_by.format("envs_a") + group_by.format("envs_b"))
    node_counts = lines(result)
    tap.ok(result.returncode == 0 and node_counts == expected_counts,
           "node: each account's rows, the account column from the option value",
           diag=f"expected:\n{expected_counts}\ngot:\n{node_counts}\n{result.stderr}")
    result = node("SELECT count(*) FROM envs_b_acct3 WHERE account = 'acct3';"
                  "SELECT count(*) FROM envs_b_acct3 WHERE account = 'acct4';"
                  "SELECT count(*) FROM envs_b_acct3 WHERE account IS NULL;")
    tap.ok(result.returncode == 0
           and result.stdout.split() == [str(LAYOUT["envs_b"]["acct3"]), "0", "0"],
           "node: a qual on the value column keeps the rows whose value matches, and only them",
           diag=result.stdout + result.stderr)

    for table in LAYOUT:
        result = node(f"EXPLAIN (COSTS OFF) SELECT account FROM {table};")
        tap.ok(result.returncode == 0 and result.stdout.count("Async Foreign Scan on") == 2,
               f"node: EXPLAIN shows both partitions of {table} as Async Foreign Scan",
               diag=result.stdout + result.stderr)
    node_rows = node(f"SET TimeZone = 'UTC'; SELECT {SELECT_LIST} FROM envs_a UNION ALL "
                     f"SELECT {SELECT_LIST} FROM envs_b ORDER BY account, id;")
    total_rows = sum(sum(accounts.values()) for accounts in LAYOUT.values())
    tap.ok(node_rows.returncode == 0 and len(node_rows.stdout.splitlines()) == total_rows,
           f"node: the {total_rows} full rows of both tables", diag=failure(node_rows))

    with Cluster() as coordinator:
        result = coordinator.run_psql(coordinator_setup_sql())
        tap.ok(result.returncode == 0,
               "coordinator: a table partitioned by account over a postgres_fdw server "
               "(async_capable) per node table", diag=failure(result))

        result = coordinator.run_psql("EXPLAIN (COSTS OFF, VERBOSE) " + group_by.format("envs"))
        tap.ok(result.returncode == 0 and result.stdout.count("Async Foreign Scan on") == 2,
               "coordinator: EXPLAIN shows both node tables as Async Foreign Scan",
               diag=result.stdout + result.stderr)

        # The timed query: the coordinator's count per account.
        mark = log_mark()
        started = time.monotonic()
        result = coordinator.run_psql(group_by.format("envs"))
        elapsed = time.monotonic() - started
        spans = spans_since(mark)
        tap.ok(result.returncode == 0 and lines(result) == node_counts == expected_counts,
               "coordinator: count per account equals the node's",
               diag=f"node:\n{node_counts}\ncoordinator:\n{result.stdout}{result.stderr}")
        check_levels(spans, "coordinator query", node_level=True)
        if not isinstance(spans, str):
            every = [span for account in spans.values() for span in account]
            peak = peak_in_flight(every)
            tap.ok(peak > max(len(LAYOUT), max(map(len, LAYOUT.values()))),
                   f"more requests in flight at once ({peak}) than either level alone "
                   "could give", diag=describe(spans))
            total = sum(f - s for s, f in every)
            tap.ok(len(every) >= 4 * len(ACCOUNTS) and elapsed < ELAPSED_LIMIT * total,
                   f"coordinator query took {elapsed:.2f} s, less than {ELAPSED_LIMIT} of the "
                   f"{len(every)} requests' {total:.2f} s", diag=describe(spans))

        result = coordinator.run_psql(all_rows.format("envs"))
        tap.ok(node_rows.returncode == 0 and result.returncode == 0
               and result.stdout == node_rows.stdout and result.stdout.strip() != "",
               "coordinator: every row equals the node's",
               diag=f"{len(node_rows.stdout.splitlines())} rows on the node, "
                    f"{len(result.stdout.splitlines())} on the coordinator\n{result.stderr}")

        # One account: pruned to one node table, there to one partition.
        mark = log_mark()
        result = coordinator.run_psql("SELECT count(*) FROM envs WHERE account = 'acct3';")
        asked = sorted(account for account, tenant in tenants.items()
                       if any(r["seq"] > mark for r in mock.requests(tenant)))
        tap.ok(result.returncode == 0 and result.stdout.strip() == str(LAYOUT["envs_b"]["acct3"])
               and asked == ["acct3"],
               "coordinator: WHERE account = 'acct3' counts acct3's rows, asking only its tenant",
               diag=f"{result.stdout}{result.stderr}tenants asked: {asked}")

        # Control run: async_capable off on the node, by server for envs_a's
        # partitions and by table for envs_b's.
        result = node("ALTER SERVER scale_acct1 OPTIONS (ADD async_capable 'maybe');")
        tap.ok(result.returncode != 0 and 'invalid option "async_capable"' not in result.stderr,
               "node: async_capable is an option that takes only a boolean",
               diag=result.stdout + result.stderr)
        result = node("""
ALTER SERVER scale_acct1 OPTIONS (ADD async_capable 'false');
ALTER SERVER scale_acct2 OPTIONS (ADD async_capable 'false');
ALTER FOREIGN TABLE envs_b_acct3 OPTIONS (ADD async_capable 'false');
ALTER FOREIGN TABLE envs_b_acct4 OPTIONS (ADD async_capable 'false');
EXPLAIN (COSTS OFF) SELECT account FROM envs_a;
EXPLAIN (COSTS OFF) SELECT account FROM envs_b;""")
        tap.ok(result.returncode == 0 and "Async" not in result.stdout
               and result.stdout.count("Foreign Scan on") == 4,
               "control: with async_capable 'false' (server or table) the node's "
               "partitions are plain Foreign Scans", diag=result.stdout + result.stderr)
        mark = log_mark()
        started = time.monotonic()
        result = coordinator.run_psql(group_by.format("envs"))
        control_elapsed = time.monotonic() - started
        spans = spans_since(mark)
        tap.ok(result.returncode == 0 and lines(result) == expected_counts,
               "control: the same counts per account", diag=result.stdout + result.stderr)
        check_levels(spans, "control", node_level=False)
        if not isinstance(spans, str):
            total = sum(f - s for account in spans.values() for s, f in account)
            print(f"# control: {control_elapsed:.2f} s for requests taking {total:.2f} s "
                  f"(the coordinator level alone)")
finally:
    psql(f"DROP DATABASE IF EXISTS {NODE_DB} WITH (FORCE);")

sys.exit(tap.exit_code())
