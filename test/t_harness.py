#!/usr/bin/env python3
"""The runner's own checks can fail: the valgrind report filter flags a
memory error with a frame in cloud_fdw and ignores PostgreSQL's own, and
the crash check matches PostgreSQL's report of a crashed backend, and the
result lines of pg_regress are read in the form of every major."""
import sys
import tempfile
from pathlib import Path

import run_tests
from harness import Tap

tap = Tap()


class Results:
    def __init__(self):
        self.rows = []

    def add(self, passed, name):
        self.rows.append((passed, name))


ours = """==42== Invalid read of size 8
==42==    at 0x4E1A2B3: cf_store_item (convert.c:350)
==42==    by 0x4E0F00D: cloudIterateForeignScan (in /usr/lib/postgresql/15/lib/cloud_fdw.so)
==42==  Address 0x10 is not stack'd, malloc'd or (recently) free'd
==42==
"""
theirs = """==43== Syscall param write(buf) points to uninitialised byte(s)
==43==    at 0x58D3350: write (write.c:26)
==43==    by 0x6AE47E: RelationCacheInitializePhase3 (in /usr/lib/postgresql/15/bin/postgres)
==43==
"""
for name, text, expected in [("a report in cloud_fdw fails the check", ours + theirs, False),
                             ("PostgreSQL's own reports do not", theirs, True)]:
    with tempfile.TemporaryDirectory() as d:
        Path(d, "vg.1").write_text(text)
        results = Results()
        run_tests.check_valgrind_logs(d, results)
        tap.ok(results.rows == [(expected, "valgrind: no memory error in cloud_fdw")], name,
               diag=results.rows)

crash = "LOG:  server process (PID 123) was terminated by signal 11: Segmentation fault"
tap.ok(run_tests.CRASH_LINE.search(crash) is not None, "a crashed backend is recognised in the log")
tap.ok(run_tests.CRASH_LINE.search("LOG:  database system is ready") is None,
       "an ordinary log line is not a crash")
internal = "2026-12-01 12:00:00.000 UTC [123] XX000 ERROR:  unrecognized node type: 1"
tap.ok(run_tests.INTERNAL_ERROR_LINE.search(internal) is not None,
       "an XX000 error is recognised in the log")
tap.ok(run_tests.INTERNAL_ERROR_LINE.search(internal.replace("XX000", "22023")) is None,
       "an error with a real SQLSTATE is not")
with tempfile.TemporaryDirectory() as d:
    log = Path(d, "server.log")
    log.write_text(internal + "\n")
    results = Results()
    run_tests.check_server_log(log, results)
    tap.ok((False, "server log: no error with SQLSTATE XX000") in results.rows,
           "the server-log check fails on an XX000 error", diag=results.rows)

regress_lines = [
    ("test options                   ... ok           23 ms", ("options", True)),      # 15
    ("     pushdown                  ... FAILED       40 ms", ("pushdown", False)),
    ("ok 1         - options                                    56 ms", ("options", True)),  # 16+
    ("not ok 3     - pushdown                                   71 ms", ("pushdown", False)),
    ("ok 4         + update                                     52 ms", ("update", True)),
    ("# 1 of 15 tests failed.", None),
    ("ok", None),
]
for line, expected in regress_lines:
    tap.ok(run_tests.regress_outcome(line) == expected, f"pg_regress line read: {line.strip()}",
           diag=run_tests.regress_outcome(line))
sys.exit(tap.exit_code())
