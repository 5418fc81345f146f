#!/usr/bin/env python3
"""Run cloud_fdw's whole test suite; this is what `make test` runs.

Steps: build and install the extension; start a throwaway cluster and the
mock cloud; run the pg_regress tests (`make installcheck`); run the
mock's own tests (test/test_mock_cloud.py) and every test/t_*.py script;
check the server log for backend crashes.  Every result is counted, and the
last line printed is always `N passed, N failed`, which is what CI reads;
the exit status is 1 if anything failed or nothing ran.

Test scripts get PGHOST/PGPORT/PGUSER/PGDATABASE, MOCK_URL, PG_LOG (the
server log), CLOUD_FDW_ROOT and a PYTHONPATH with test/ (for `import
harness`), and print one `ok - ...` or `not ok - ...` line per test.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from harness import (IS_ROOT, PG_SYSTEM_USER, ROOT, TAP_LINE, Cluster,
                     CommandError, Interrupted, Mock, build_and_install,
                     install_signal_handlers, pg_bindir, pg_config, run)

TEST_DIR = ROOT / "test"
DEFAULT_SCRIPT_TIMEOUT = 600
INSTALLCHECK_TIMEOUT = 1800
MAX_DIFF_LINES = 300

# One line per pg_regress test: up to 15, e.g.
#   "test options                   ... ok           23 ms"
#   "     pushdown                  ... FAILED       40 ms"   (parallel group)
# and from 16 in TAP form, e.g.
#   "ok 1         - options                                    56 ms"
#   "not ok 3     - pushdown                                   71 ms"
#   "ok 4         + update                                     52 ms"   (parallel group)
REGRESS_LINE = re.compile(
    r"^\s*(?:test\s+)?(\S+)\s+\.\.\.\s+(ok|FAILED|failed \(ignored\))(?=\s|$)")
REGRESS_TAP_LINE = re.compile(r"^(ok|not ok) \d+\s+[-+] (\S+)")

CRASH_LINE = re.compile(
    r"server process .* terminated by signal|was terminated by signal"
    r"|terminated abnormally")

INTERNAL_ERROR_LINE = re.compile(r"\] XX000 (?:ERROR|FATAL|PANIC):")

TIMEOUT_COMMENT = re.compile(r"^#\s*timeout:\s*(\d+)")


class Results:
    """The suite's test results, in the order they ran."""

    def __init__(self):
        self.rows = []  # (passed: bool, name)

    def add(self, passed, name):
        self.rows.append((passed, name))

    @property
    def passed(self):
        return sum(1 for ok, _ in self.rows if ok)

    @property
    def failed(self):
        return len(self.rows) - self.passed

    def print_table(self):
        print("\n==== results")
        for ok, name in self.rows:
            print(f"{'PASS' if ok else 'FAIL'}  {name[:110]}")


def heading(text):
    print(f"\n==== {text}", flush=True)


def print_limited(text, limit):
    lines = text.splitlines()
    print("\n".join(lines[:limit]))
    if len(lines) > limit:
        print(f"... ({len(lines) - limit} more lines)")


def regress_outcome(line):
    """(test name, passed) if `line` is pg_regress's result of one test."""
    match = REGRESS_LINE.match(line)
    if match:
        return match.group(1), match.group(2) == "ok"
    match = REGRESS_TAP_LINE.match(line)
    if match:
        return match.group(2), match.group(1) == "ok"
    return None


def run_installcheck(env, results):
    """Run pg_regress via `make installcheck` and count its tests."""
    heading("make installcheck")
    started = time.time()
    result = run(["make", "-C", ROOT, "installcheck"], env=env,
                 timeout=INSTALLCHECK_TIMEOUT, echo=True)
    failures = 0
    for line in result.lines:
        outcome = regress_outcome(line)
        if outcome:
            name, passed = outcome
            failures += not passed
            results.add(passed, f"regress/{name}")
    if result.timed_out:
        results.add(False, f"regress: timed out after {INSTALLCHECK_TIMEOUT} s")
    elif result.returncode != 0 and failures == 0:
        results.add(False, f"regress: make installcheck exited "
                           f"with status {result.returncode}")
    if failures or result.returncode != 0:
        # pg_regress deletes its old diffs when it starts, but it may not
        # have got that far: only show a file written by this run.
        for diffs in ROOT.glob("**/regression.diffs"):
            if diffs.stat().st_mtime >= started:
                heading(f"{diffs.relative_to(ROOT)} (first {MAX_DIFF_LINES} lines)")
                print_limited(diffs.read_text(errors="replace"), MAX_DIFF_LINES)


def script_timeout(path):
    """The `# timeout: N` from the script's first 5 lines, or the default."""
    with open(path, errors="replace") as f:
        for _, line in zip(range(5), f):
            match = TIMEOUT_COMMENT.match(line)
            if match:
                return int(match.group(1))
    return DEFAULT_SCRIPT_TIMEOUT


def run_script(path, env, results):
    """Run one test script and count its `ok` / `not ok` lines."""
    timeout = script_timeout(path)
    heading(f"{path.name} (timeout {timeout} s)")
    result = run([sys.executable, path], env=env, cwd=ROOT, timeout=timeout,
                 echo=True, prefix="    ")
    reported = failures = 0
    for line in result.lines:
        match = TAP_LINE.match(line)
        if match:
            passed = match.group(1) is None
            reported += 1
            failures += not passed
            results.add(passed, f"{path.name}: {match.group(2).strip()}")
    if result.timed_out:
        results.add(False, f"{path.name}: timed out after {timeout} s")
    elif result.returncode != 0 and failures == 0:
        results.add(False, f"{path.name}: exited with status "
                           f"{result.returncode} without a 'not ok' line")
    elif reported == 0:  # a script that tests nothing is broken
        results.add(False, f"{path.name}: printed no 'ok' / 'not ok' lines")


def check_server_log(log_path, results):
    """Count one test: no backend crashed during the whole run."""
    heading("server log: backend crashes and XX000 errors")
    with open(log_path, errors="replace") as f:
        lines = f.readlines()
    crashes = [i for i, line in enumerate(lines) if CRASH_LINE.search(line)]
    for i in crashes:
        # The DETAIL line after the report names the statement that crashed.
        print("".join(lines[max(0, i - 5):i + 3]), end="")
        print("----")
    print("no crashes" if not crashes else f"{len(crashes)} crash report(s)")
    results.add(not crashes, "server log: no backend crashed")

    # An error without a meaningful SQLSTATE (internal_error, XX000) is a bug
    # wherever a test provoked it: every error reachable from SQL has one.
    internal = [line for line in lines if INTERNAL_ERROR_LINE.search(line)]
    for line in internal[:20]:
        print(line, end="")
    print("no XX000 errors" if not internal else f"{len(internal)} XX000 error(s)")
    results.add(not internal, "server log: no error with SQLSTATE XX000")


def valgrind_setup():
    """A server program that runs postgres under valgrind's memcheck, and
    the directory of its logs (one per process).

    The Debian server is not built for valgrind, so PostgreSQL's own code
    makes reports valgrind cannot tell from bugs (uninitialised padding
    written to disk, memory left to process exit on purpose): only reports
    with a frame in cloud_fdw count.
    """
    work = Path(tempfile.mkdtemp(prefix="cloud_fdw_valgrind."))
    os.chmod(work, 0o777)
    program = work / "postgres"
    program.write_text(
        "#!/bin/sh\n"
        f"exec valgrind --quiet --trace-children=yes --track-origins=no --leak-check=no "
        f"--num-callers=30 --log-file={work}/vg.%p "
        f"{pg_bindir() / 'postgres'}"
        " \"$@\"\n")
    program.chmod(0o755)
    return program, work


def check_valgrind_logs(log_dir, results):
    """Count one test: valgrind reported no error in cloud_fdw's code."""
    heading("valgrind reports in cloud_fdw")
    reports = []
    for path in sorted(Path(log_dir).glob("vg.*")):
        block = []
        for line in path.read_text(errors="replace").splitlines() + [""]:
            body = re.sub(r"^==\d+== ?", "", line)
            if body.strip():
                block.append(body)
                continue
            if any("cloud_fdw" in b for b in block):
                reports.append("\n".join(block))
            block = []
    for report in reports[:10]:
        print(report + "\n----")
    print("no reports" if not reports else f"{len(reports)} report(s)")
    results.add(not reports, "valgrind: no memory error in cloud_fdw")


def run_suite(args, results):
    """Everything except the summary, which main() prints last."""
    heading(f"{pg_config('--version')} ({os.environ.get('PG_CONFIG', 'pg_config')})")
    heading("build and install")
    server_program, valgrind_dir = valgrind_setup() if args.valgrind else (None, None)
    if args.no_build:
        print("skipped (--no-build): testing the extension already installed")
    else:
        try:
            build_and_install(ROOT)
        except CommandError as e:
            print(e)
            results.add(False, "build and install")
            return
        results.add(True, "build and install")

    scripts = sorted(TEST_DIR.glob("t_*.py"))
    if (TEST_DIR / "test_mock_cloud.py").exists():
        scripts.insert(0, TEST_DIR / "test_mock_cloud.py")

    def selected(name):
        return args.only is None or re.search(args.only, name) is not None

    scripts = [s for s in scripts if selected(s.name)]
    with_regress = selected("regress")
    if not scripts and not with_regress:
        results.add(False, f"suite: no tests match --only {args.only!r}")
        return

    heading("start cluster and mock")
    with Cluster(keep=args.keep, server_program=server_program,
                 start_timeout=300 if args.valgrind else 60) as cluster, \
            Mock(keep=args.keep) as mock:
        env = {**os.environ, **cluster.env(), "MOCK_URL": mock.url}
        print(f"PGPORT={cluster.port} MOCK_URL={mock.url} PG_LOG={cluster.log_path}")
        if with_regress:
            run_installcheck(env, results)
        script_env = {
            **env,
            "PG_LOG": str(cluster.log_path),
            "CLOUD_FDW_ROOT": str(ROOT),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(TEST_DIR), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
        for script in scripts:
            run_script(script, script_env, results)
        if len(results.rows) == (0 if args.no_build else 1):  # no test beyond the build
            results.add(False, "suite: no tests ran")
        if args.keep:
            print_kept(cluster, mock)
        else:
            cluster.stop()  # so that a crash at shutdown is in the log too
        check_server_log(cluster.log_path, results)
    if valgrind_dir:
        check_valgrind_logs(valgrind_dir, results)
        shutil.rmtree(valgrind_dir, ignore_errors=True)


def print_kept(cluster, mock):
    """Tell the developer how to reach, and later remove, what --keep kept."""
    heading("kept running (--keep)")
    for name, value in {**cluster.env(), "MOCK_URL": mock.url}.items():
        print(f"export {name}={value}")
    print(f"# server log: {cluster.log_path}")
    as_user = f"runuser -u {PG_SYSTEM_USER} -- " if IS_ROOT else ""
    print(f"# to stop: {as_user}{cluster.bindir}/pg_ctl -D {cluster.datadir} stop;"
          f" kill -- -{mock.proc.pid}; rm -rf {cluster.tmpdir} {mock.tmpdir}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", metavar="PATTERN",
                        help="run only the test scripts whose file name matches "
                             "this regular expression (pg_regress runs only if "
                             "it matches 'regress')")
    parser.add_argument("--no-build", action="store_true",
                        help="test the extension as installed, without building it "
                             "(for work on the tests while the sources are mid-change)")
    parser.add_argument("--valgrind", action="store_true",
                        help="run the server under valgrind's memcheck; any "
                             "report with a frame in cloud_fdw fails the run")
    parser.add_argument("--keep", action="store_true",
                        help="leave the cluster and the mock running, and print "
                             "their environment, for debugging")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # keep order in CI logs
    install_signal_handlers()

    results = Results()
    try:
        run_suite(args, results)
    except Interrupted as e:
        results.add(False, f"suite: {e}")
    except CommandError as e:  # cluster or mock would not start
        print(e)
        results.add(False, f"suite: {str(e).splitlines()[0]}")
    except Exception:  # a bug here must still end with the summary line
        traceback.print_exc()
        results.add(False, "suite: internal error in run_tests.py")

    results.print_table()
    print(f"{results.passed} passed, {results.failed} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
