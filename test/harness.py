"""Shared helpers for cloud_fdw's test runner, demo and test scripts.

Everything here is standard library only, so that `make test` works on a
fresh Debian machine once test/deps.sh has installed the system packages.

- `Cluster`: a throwaway PostgreSQL cluster, so tests never touch (or depend
  on) a server that happens to be installed and running on the machine.
- `Mock`: the mock cloud server (test/mock_cloud.py), so tests never need the
  network or real credentials.
- `build_and_install()`: build the extension and install it into the system
  PostgreSQL, which is where a server started by `Cluster` loads it from.
- `run()`: run a command in its own process group with a timeout, so that a
  hung test can be killed together with everything it started.
- `psql()` / `run_psql()` / `Tap`: small conveniences for test scripts, which
  get the connection settings through the PG* environment variables.
- `MockControl`: the mock's control API (request log, reset, connection
  counts), for test scripts (which get the mock's URL through MOCK_URL)
  and, as `Mock.control`, for `Mock` itself, the demo and the benchmark.
"""

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (this file lives in ROOT/test)."""

IS_ROOT = os.geteuid() == 0

# initdb and postgres refuse to run as root; as root we run them as the
# system user that the postgresql-15 package creates.
PG_SYSTEM_USER = "postgres"


class Interrupted(BaseException):
    """Raised by the handlers of `install_signal_handlers()`.

    An exception (rather than the default "die at once") lets `with` blocks
    stop the server and the mock on Ctrl-C or a CI timeout.  Like
    KeyboardInterrupt it is not an `Exception`, so that `except Exception`
    in a test does not swallow it.
    """

    def __init__(self, signum):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def install_signal_handlers():
    """Turn SIGINT/SIGTERM/SIGHUP into `Interrupted`, once.

    Later signals are ignored, so that a second Ctrl-C cannot cut the
    cleanup that the first one started.
    """
    signums = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def handler(signum, _frame):
        for s in signums:
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    for s in signums:
        signal.signal(s, handler)


class CommandError(RuntimeError):
    """A command failed; `output` holds what it printed, for the CI log."""

    def __init__(self, message, output=""):
        super().__init__(message)
        self.output = output

    def __str__(self):
        text = super().__str__()
        return f"{text}\n{self.output.rstrip()}" if self.output.strip() else text


class Completed:
    """What `run()` returns: exit status, merged stdout+stderr, timeout flag."""

    def __init__(self, returncode, output, timed_out):
        self.returncode = returncode
        self.output = output
        self.timed_out = timed_out

    @property
    def lines(self):
        return self.output.splitlines()


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:  # nothing left in the group
        pass


def _kill_group(proc, grace=5.0):
    """SIGTERM the process group of `proc`, then SIGKILL what is left.

    The grace period lets a test script that started its own cluster or
    mock run its cleanup before it is killed.
    """
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def run(cmd, *, env=None, cwd=None, timeout=None, echo=False, prefix=""):
    """Run `cmd` in a new process group, capturing stdout and stderr together.

    With `echo`, each line is also printed as it arrives (after `prefix`),
    so that long steps show progress in CI logs.  On timeout, or when this
    process is interrupted, the whole process group is killed: a test's
    psql or pg_regress children must not outlive it.  Whatever the command
    leaves running in its group when it exits is killed too.  (Servers and
    mocks started through this module run in sessions of their own, so they
    are not affected.)
    """
    proc = subprocess.Popen(
        [str(c) for c in cmd], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        errors="replace", start_new_session=True)
    lines = []

    def reader():
        for line in proc.stdout:
            lines.append(line)
            if echo:
                sys.stdout.write(prefix + line)
                sys.stdout.flush()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
        _signal_group(proc, signal.SIGKILL)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
    except BaseException:
        _kill_group(proc, grace=2.0)
        raise
    finally:
        # A grandchild that escaped the group may still hold the pipe open;
        # do not hang on it.
        thread.join(timeout=10)
    return Completed(proc.returncode, "".join(lines), timed_out)


def run_or_raise(cmd, **kwargs):
    """`run()`, raising `CommandError` (with the output) unless it exits 0."""
    result = run(cmd, **kwargs)
    if result.timed_out:
        raise CommandError(f"timed out: {' '.join(map(str, cmd))}", result.output)
    if result.returncode != 0:
        raise CommandError(
            f"exit status {result.returncode}: {' '.join(map(str, cmd))}",
            result.output)
    return result


def pg_config(option):
    """Ask pg_config (or $PG_CONFIG, as PGXS does) for one setting."""
    exe = os.environ.get("PG_CONFIG", "pg_config")
    return subprocess.run([exe, option], check=True, capture_output=True,
                          text=True).stdout.strip()


def pg_bindir():
    return Path(pg_config("--bindir"))


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=40):
    """The last `lines` lines of a text file, or "" if it cannot be read."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


class _Managed:
    """Start on entering a `with` block, close on leaving it (unless kept)."""

    keep = False

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        if not self.keep:
            self.close()


class Cluster(_Managed):
    """A throwaway PostgreSQL cluster in a fresh temporary directory.

    It listens on 127.0.0.1 on a free port, with its unix socket in its own
    directory, so it never clashes with a system cluster.  fsync is off:
    the data is thrown away anyway.  Use it as a context manager; it is
    stopped and deleted on exit, also on exceptions, unless `keep` is set
    (for debugging with `run_tests.py --keep`).
    """

    def __init__(self, settings=None, keep=False, start_timeout=60, server_program=None):
        """`settings`: extra postgresql.conf parameters, e.g. for benchmarks;
        `server_program`: what pg_ctl starts instead of postgres (a script
        that runs it under valgrind)."""
        self.settings = dict(settings or {})
        self.server_program = server_program
        self.keep = keep
        self.start_timeout = start_timeout
        self.bindir = pg_bindir()
        self.port = None
        self.tmpdir = None
        self.running = False

    # -- paths -------------------------------------------------------------

    @property
    def datadir(self):
        return self.tmpdir / "data"

    @property
    def log_path(self):
        """The server log: tests grep it, the runner checks it for crashes."""
        return self.tmpdir / "server.log"

    # -- lifecycle ---------------------------------------------------------

    def _as_server_user(self, cmd):
        """Prefix `cmd` so that it runs as a user PostgreSQL accepts."""
        if IS_ROOT:
            return ["runuser", "-u", PG_SYSTEM_USER, "--"] + cmd
        return cmd

    def _pg(self, cmd, timeout=120):
        """Run a server-side binary (initdb, pg_ctl) as the server user.

        The cwd is the cluster's directory because the server user may not
        be allowed into the caller's cwd (e.g. /root).
        """
        return run_or_raise(self._as_server_user(cmd), cwd=self.tmpdir,
                            timeout=timeout)

    def _make_tmpdir(self):
        # As root the directory must be reachable by the postgres user, so
        # it goes under /tmp rather than a possibly private $TMPDIR.
        self.tmpdir = Path(tempfile.mkdtemp(prefix="cloud_fdw_pg.",
                                            dir="/tmp" if IS_ROOT else None))
        if IS_ROOT:
            user = pwd.getpwnam(PG_SYSTEM_USER)
            os.chown(self.tmpdir, user.pw_uid, user.pw_gid)
            self.tmpdir.chmod(0o755)

    def _write_config(self):
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": self.port,
            "unix_socket_directories": str(self.tmpdir),
            # the SQLSTATE of every message, so the runner can look for XX000
            "log_line_prefix": "%m [%p] %e ",
            "fsync": "off",
            **self.settings,
        }
        with open(self.datadir / "postgresql.conf", "a") as f:
            f.write("\n# added by test/harness.py\n")
            for name, value in settings.items():
                quoted = str(value).replace("'", "''")
                f.write(f"{name} = '{quoted}'\n")

    def _server_running(self):
        """False only if pg_ctl says so (3: not running, 4: no data dir).

        When in doubt (pg_ctl itself fails), assume a server, so that
        stop() goes on to kill it rather than leave it behind.
        """
        status = run(self._as_server_user(
            [self.bindir / "pg_ctl", "-D", self.datadir, "status"]),
            cwd=self.tmpdir, timeout=30)
        return status.returncode not in (3, 4)

    def start(self):
        """Create the cluster (first time only) and start the server."""
        if self.tmpdir is None:
            self._make_tmpdir()
            self.port = free_port()
            self._pg([self.bindir / "initdb", "-D", self.datadir,
                      "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--locale=C", "--no-sync"])
            self._write_config()
        # Set first: even a failed or timed-out start may leave a server.
        self.running = True
        program = ["-p", self.server_program] if self.server_program else []
        try:
            self._pg([self.bindir / "pg_ctl", "-D", self.datadir,
                      "-l", self.log_path, "-w", *program,
                      "-t", str(self.start_timeout), "start"],
                     timeout=self.start_timeout + 30)
        except CommandError as e:
            e.output += "\n--- server log ---\n" + tail(self.log_path)
            raise

    def _postmaster_pid(self):
        try:
            return int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        """Stop the server (fast mode); if that fails, kill it.

        Safe to call twice.  The runner stops the server before reading the
        log for crashes, so that a crash during shutdown is caught too.
        """
        if not self.running:
            return
        self.running = False
        if not self._server_running():
            return
        try:
            self._pg([self.bindir / "pg_ctl", "-D", self.datadir,
                      "-m", "fast", "-w", "-t", "30", "stop"], timeout=60)
            return
        except (CommandError, OSError) as e:
            print(f"harness: pg_ctl stop failed, killing the server: {e}",
                  file=sys.stderr)
        pid = self._postmaster_pid()
        if pid is None:
            return
        # SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes
        # its backends down with it.  SIGKILL only if even that hangs.
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            for _ in range(50):
                time.sleep(0.1)
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return

    def close(self):
        """Stop the server and delete its directory."""
        self.stop()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    # -- clients -----------------------------------------------------------

    def env(self):
        """libpq variables that point clients (psql, pg_regress) here."""
        return {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": "postgres",
            "PGDATABASE": "postgres",
        }

    def psql(self, sql, db="postgres", check=True):
        """Run `sql` in database `db`; return its unaligned, tuples-only stdout."""
        return psql(sql, db=db, check=check, env={**os.environ, **self.env()})

    def run_psql(self, sql, db="postgres"):
        """Run `sql` in database `db`; return stdout, stderr and exit status."""
        return run_psql(sql, db=db, env={**os.environ, **self.env()})


def run_psql(sql, db=None, env=None, timeout=300):
    """Run `sql` through psql; return the `subprocess.CompletedProcess`.

    Without `env`, the PG* variables of this process are used, which is how
    test scripts started by run_tests.py reach the cluster.  ON_ERROR_STOP
    makes psql exit non-zero at the first error; stderr is kept separate so
    that tests can look at error messages.
    """
    cmd = [pg_bindir() / "psql", "-X", "-q", "-A", "-t",
           "-v", "ON_ERROR_STOP=1", "-f", "-"]
    if db is not None:
        cmd += ["-d", db]
    return subprocess.run(cmd, input=sql, env=env, capture_output=True,
                          text=True, timeout=timeout)


def psql(sql, db=None, check=True, env=None):
    """Run `sql` through psql and return its stdout (no trailing newline).

    With `check`, a failure raises `CommandError` carrying psql's stderr.
    """
    result = run_psql(sql, db=db, env=env)
    if check and result.returncode != 0:
        raise CommandError(f"psql exit status {result.returncode}",
                           result.stderr)
    return result.stdout.rstrip("\n")


class MockControl:
    """A client of the mock cloud's control API, /_mock/control/...

    `url` is the mock's base URL; test scripts, which get only the MOCK_URL
    environment variable, leave it out.  Every call gives up after `timeout`
    seconds.
    """

    def __init__(self, url=None, timeout=10):
        self.url = url or os.environ["MOCK_URL"]
        self.timeout = timeout

    def _call(self, method, name, tenant=None):
        """Call /_mock/control/NAME (for one tenant); return its JSON."""
        url = f"{self.url}/_mock/control/{name}"
        if tenant:
            url += "?" + urllib.parse.urlencode({"tenant": tenant})
        request = urllib.request.Request(
            url, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read() or b"null")

    def requests(self, tenant=None):
        """The requests the mock cloud has recorded (optionally for one tenant).

        Each record is a dict with `seq`, `method`, `path`, `query`,
        `headers`, `body`, `status` and `applied` (see test/mock_cloud.py),
        and `started` and `finished`: time.monotonic() seconds (floats) of
        the mock process at the request's arrival and when its answer's
        status was decided (null while unanswered).  They are comparable
        only with each other, not with the test's own clock.
        """
        return self._call("GET", "requests", tenant)

    def health(self):
        """`{"ok": true}` once the mock is up."""
        return self._call("GET", "health")

    def connections(self, tenant):
        """How many `requests` a tenant made and from how many
        `distinct_client_ports`: a kept-alive connection reuses one port."""
        return self._call("GET", "connections", tenant)

    def concurrency(self, tenant=None):
        """`{"requests": N, "peak_in_flight": P}`: how many requests the
        tenant (all tenants when None) made, and the most of them that were
        in flight at one moment (arrived, answer not yet decided; an
        unanswered one counts until now)."""
        return self._call("GET", "concurrency", tenant)


class Mock(_Managed):
    """The mock cloud server test/mock_cloud.py, on a free port.

    It is started in its own session so that a Ctrl-C aimed at the test run
    does not kill it before the tests that use it have been stopped; it is
    stopped on exit from the `with` block unless `keep` is set.
    """

    def __init__(self, script=None, keep=False, start_timeout=10):
        self.script = Path(script or ROOT / "test" / "mock_cloud.py")
        self.keep = keep
        self.start_timeout = start_timeout
        self.tmpdir = None
        self.proc = None
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self):
        """The log file that the mock itself writes (its --log option)."""
        return self.tmpdir / "mock.log"

    @property
    def output_path(self):
        """Where the mock's stdout and stderr go (tracebacks end up here)."""
        return self.tmpdir / "mock.out"

    def start(self):
        """Start the mock and wait until it says it is healthy."""
        if not self.script.is_file():
            raise CommandError(f"mock server not found: {self.script}")
        self.tmpdir = Path(tempfile.mkdtemp(prefix="cloud_fdw_mock."))
        port_file = self.tmpdir / "port"
        with open(self.output_path, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, self.script, "--port", "0",
                 "--port-file", port_file, "--log", self.log_path],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        last_error = "no port file yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CommandError(
                    f"mock server exited with status {self.proc.returncode}",
                    tail(self.output_path))
            try:
                self.port = int(port_file.read_text().strip())
                if self.control.health().get("ok") is True:
                    return
                last_error = "health check did not say ok"
            except (OSError, ValueError) as e:  # not written / not up yet
                last_error = str(e)
            time.sleep(0.1)
        raise CommandError(
            f"mock server not healthy after {self.start_timeout} s "
            f"({last_error})", tail(self.output_path))

    @property
    def control(self):
        """A `MockControl` of this mock."""
        return MockControl(self.url, timeout=5)

    def close(self):
        """Stop the mock (its whole process group) and delete its directory."""
        if self.proc is not None and self.proc.poll() is None:
            _kill_group(self.proc)
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


def _install_dirs_writable():
    dirs = [pg_config("--pkglibdir"), Path(pg_config("--sharedir")) / "extension"]
    return all(os.access(d, os.W_OK) for d in dirs)


def build_and_install(root=ROOT):
    """Build the extension and install it into the system PostgreSQL.

    The install uses sudo when not root and the PGXS directories are not
    writable, so a developer can run `make test` as themselves.  Raises
    `CommandError` with the build output on failure.
    """
    make_vars = []
    if "PG_CONFIG" in os.environ:  # sudo would drop it from the environment
        make_vars.append(f"PG_CONFIG={os.environ['PG_CONFIG']}")
    run_or_raise(["make", "-C", root, "-j2"] + make_vars, timeout=1200)
    install = ["make", "-C", str(root), "install"] + make_vars
    if IS_ROOT or _install_dirs_writable():
        run_or_raise(install, timeout=600)
        return
    if shutil.which("sudo") is None:
        raise CommandError(
            "cannot install the extension: not root, the PostgreSQL "
            "directories are not writable, and sudo is not available")
    # Not run(): that would start a new session without a terminal, and
    # sudo may need the terminal to ask for a password.
    result = subprocess.run(["sudo"] + install, capture_output=True, text=True)
    if result.returncode != 0:
        raise CommandError(
            f"exit status {result.returncode}: sudo {' '.join(install)}",
            result.stdout + result.stderr)


class Tap:
    """Print TAP-style result lines for run_tests.py and remember failures.

    Usage in a test script:
        tap = Tap()
        tap.ok(value == 42, "value is 42", diag=f"got {value}")
        sys.exit(tap.exit_code())
    """

    def __init__(self):
        self.failed = 0

    def ok(self, condition, description, diag=None):
        """Report one test; `diag` is printed (as # comments) on failure."""
        print(f"{'ok' if condition else 'not ok'} - {description}", flush=True)
        if not condition:
            self.failed += 1
            if diag:
                for line in str(diag).splitlines():
                    print(f"# {line}", flush=True)
        return bool(condition)

    def exit_code(self):
        return 1 if self.failed else 0


TAP_LINE = re.compile(r"^(not )?ok\b(?:\s+\d+)?\s*(?:-\s*)?(.*)$")
"""Matches `ok - description` / `not ok 3 - description` lines."""
