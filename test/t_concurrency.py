#!/usr/bin/env python3
"""Concurrency, rate limiting and cancellation, seen from outside.

The mock counts the client ports a tenant's requests came from: transfers
running at the same time need connections of their own, so the count tells
whether requests overlapped.  Rate limits give a lower bound on elapsed
time, which no machine can beat, so that check cannot flake.
"""
import os
import secrets
import subprocess
import sys
import threading
import time

from harness import MockControl, Tap, pg_bindir, psql, run_psql

tap = Tap()
mock = MockControl()
mock_url = os.environ["MOCK_URL"]
IDS = ["env_019b92947fa97faaacdf8beed28a7fc0", "env_019be0ddcb5a737c9ff4c8e1b065359a",
       "env_019c226880c07a79af31c5d0c2a70152", "env_019c6b6e269b7aa38b7af332193e9c96",
       "env_019cd4ab02ce7811ae96659c6830218b", "env_019d2d626a1c7d3b90439d60f9db3bf4",
       "env_019d8b0121f474738346ed1b96bfd0f5", "env_019e2590d33f711fabf42f2857cecd8a"]
in_list = ", ".join(f"'{i}'" for i in IDS)


def server(name, tenant_opts, options=""):
    """A fresh server and table on a fresh tenant; returns the tenant."""
    tenant = f"{name}-{secrets.token_hex(4)}"
    endpoint = f"{mock_url}/_mock/tenant={tenant}{tenant_opts}/api/v1/cloud"
    psql(f"""
        CREATE EXTENSION IF NOT EXISTS cloud_fdw;
        DROP SERVER IF EXISTS {name} CASCADE;
        CREATE SERVER {name} FOREIGN DATA WRAPPER cloud_fdw
          OPTIONS (provider 'qoder', endpoint '{endpoint}'{options});
        CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (token 'pt-test-admin');
        CREATE FOREIGN TABLE {name}_envs (id text, name text, description text)
          SERVER {name} OPTIONS (resource 'environments');
    """)
    return tenant


def timed(sql):
    start = time.monotonic()
    result = run_psql(sql)
    return time.monotonic() - start, result


# Gets of an IN list overlap; with concurrency 1 they do not.
tenant = server("conc8", ",latency_ms=150")
elapsed, result = timed(f"SELECT count(*) FROM conc8_envs WHERE id IN ({in_list});")
seen = mock.connections(tenant)
tap.ok(result.stdout.strip() == "8", "8 ids, 8 rows", diag=result.stdout + result.stderr)
tap.ok(seen["requests"] == 8 and seen["distinct_client_ports"] == 8,
       "concurrency 8: the 8 gets ran at once, on 8 connections", diag=seen)
tenant = server("conc1", ",latency_ms=20", ", concurrency '1'")
result = run_psql(f"SELECT count(*) FROM conc1_envs WHERE id IN ({in_list});")
seen = mock.connections(tenant)
tap.ok(seen["requests"] == 8 and seen["distinct_client_ports"] == 1,
       "concurrency 1: the 8 gets went one after the other on one connection", diag=seen)

# UPDATE without RETURNING overlaps its PUTs; with RETURNING it cannot.
tenant = server("upd", ",latency_ms=100")
result = run_psql(f"UPDATE upd_envs SET description = 'concurrent' WHERE id IN ({in_list});")
seen = mock.connections(tenant)
tap.ok(result.returncode == 0 and seen["requests"] == 16,
       "8 gets and 8 PUTs", diag=(seen, result.stderr))
tap.ok(seen["distinct_client_ports"] >= 8, "the PUTs overlapped", diag=seen)
check = psql(f"SELECT count(*) FROM upd_envs WHERE id IN ({in_list}) AND description = 'concurrent';")
tap.ok(check == "8", "all 8 rows were changed remotely", diag=check)
tenant = server("updret", ",latency_ms=20", ", concurrency '1'")
result = run_psql(f"UPDATE updret_envs SET description = 'x' WHERE id IN ({in_list}) RETURNING id;")
tap.ok(result.stdout.count("env_") == 8, "RETURNING gives the 8 rows", diag=result.stdout)

# Rate limit: 8 requests at 20 per second cannot take less than 7/20 s.
tenant = server("rate", "", ", rate_limit '20'")
elapsed, result = timed(f"SELECT count(*) FROM rate_envs WHERE id IN ({in_list});")
tap.ok(result.returncode == 0 and elapsed >= 0.35,
       f"rate_limit 20/s spaced 8 requests over at least 0.35 s (took {elapsed:.2f} s)",
       diag=result.stderr)

# Cancellation and termination: a server that never answers.
server("hang", ",hang=1")
server("good", "")


def interrupt_waiting_query(signal_function):
    """Start a session that waits on the silent server, interrupt it with
    signal_function (pg_cancel_backend or pg_terminate_backend) and return
    the session's output and how long it took to give up."""
    proc = subprocess.Popen(
        [str(pg_bindir() / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0", "-f", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    session = f"""
SELECT count(*) FROM hang_envs WHERE id IN ({in_list});
SELECT 'after interrupt: ' || count(*) FROM good_envs;
"""
    out = {}
    reader = threading.Thread(
        target=lambda: out.update(zip(("stdout", "stderr"), proc.communicate(session))))
    reader.start()
    pid = None
    deadline = time.monotonic() + 10
    while pid is None and time.monotonic() < deadline:
        rows = psql("SELECT pid FROM pg_stat_activity WHERE query LIKE '%hang_envs%' "
                    "AND pid <> pg_backend_pid() AND state = 'active';")
        pid = rows.split()[0] if rows else None
        time.sleep(0.1)
    time.sleep(0.5)  # let it sit in the transfer
    interrupted_at = time.monotonic()
    if pid:
        psql(f"SELECT {signal_function}({pid});")
    reader.join(timeout=10)
    return pid, out, time.monotonic() - interrupted_at


pid, out, waited = interrupt_waiting_query("pg_cancel_backend")
tap.ok(pid is not None, "the query waiting on a silent server was found")
tap.ok("canceling statement due to user request" in out.get("stderr", ""),
       "pg_cancel_backend cancelled the waiting transfers", diag=out)
tap.ok(waited < 0.5 + 0.5, f"the backend gave up within 0.5 s of the cancel, plus slack ({waited:.2f} s)")
tap.ok("after interrupt: 12" in out.get("stdout", ""),
       "the same session kept working after the cancel", diag=out)

pid, out, waited = interrupt_waiting_query("pg_terminate_backend")
tap.ok("terminating connection due to administrator command" in out.get("stderr", ""),
       "pg_terminate_backend ended the waiting backend", diag=out)
tap.ok(waited < 0.5 + 0.5, f"it ended within 0.5 s of the signal, plus slack ({waited:.2f} s)")
gone = psql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid};") if pid else "?"
tap.ok(gone == "0", "the backend is gone", diag=gone)

# The pauses of retries and of the rate limit wake up for interrupts too.
server("pause", ",status=503,retry_after=30")
elapsed, result = timed("SET statement_timeout = '300ms'; SELECT count(*) FROM pause_envs;")
tap.ok("canceling statement due to statement timeout" in result.stderr and elapsed < 1.5,
       f"statement_timeout ended a 30 s Retry-After pause ({elapsed:.2f} s)", diag=result.stderr)
server("slow_rate", "", ", rate_limit '0.5'")
elapsed, result = timed("SET statement_timeout = '300ms'; "
                        f"SELECT count(*) FROM slow_rate_envs WHERE id IN ({in_list});")
tap.ok("canceling statement due to statement timeout" in result.stderr and elapsed < 1.5,
       f"statement_timeout ended a 2 s rate-limit pause ({elapsed:.2f} s)", diag=result.stderr)

psql("DROP SERVER conc8, conc1, upd, updret, rate, hang, good, pause, slow_rate CASCADE;")
sys.exit(tap.exit_code())
