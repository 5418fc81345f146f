#!/usr/bin/env python3
"""Show cloud_fdw at work; this is what `make demo` runs.

Builds and installs the extension, starts a throwaway cluster and the mock
cloud, runs demo/demo.sql with psql (echoing each statement, and with
NOTICE messages shown), then lists the requests that changed the mock
cloud's state, so the reader sees what the SQL did on the "cloud" side.
Everything is cleaned up afterwards; the exit status is non-zero if any
step failed.
"""

import json
import os
import sys

from harness import (ROOT, Cluster, CommandError, Interrupted, Mock,
                     build_and_install, install_signal_handlers, run)

DEMO_SQL = ROOT / "demo" / "demo.sql"


def format_body(text):
    """A request body on one line: JSON compacted, anything else as it came."""
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), separators=(",", ":"),
                          ensure_ascii=False)
    except ValueError:
        return text.replace("\n", "\\n")


def print_changing_requests(mock):
    """List the requests the mock applied, oldest first, one per line.

    The mock marks each request it changed its data for as `applied`: a POST
    is not always a write (CodeArts lists applications, and EPS filters
    resources, with a POST), and a write the mock refused changed nothing.
    """
    print("\n==== Requests that changed the cloud")
    changing = [r for r in mock.control.requests() if r.get("applied")]
    for r in changing:
        path = r["path"] + (f"?{r['query']}" if r.get("query") else "")
        print(f"{r['method']} {path} {format_body(r.get('body'))}".rstrip())
    if not changing:
        print("(none)")


def demo():
    if not DEMO_SQL.is_file():
        print(f"demo: {DEMO_SQL.relative_to(ROOT)} does not exist yet; "
              f"nothing to demonstrate", file=sys.stderr)
        return 1
    print("==== build and install", flush=True)
    build_and_install(ROOT)
    with Cluster() as cluster, Mock() as mock:
        env = {**os.environ, **cluster.env(), "MOCK_URL": mock.url,
               "PGOPTIONS": "-c client_min_messages=notice"}
        print(f"\n==== psql -f {DEMO_SQL.relative_to(ROOT)}", flush=True)
        result = run([cluster.bindir / "psql", "-X", "-v", "ON_ERROR_STOP=1",
                      "-e", f"--set=mock_url={mock.url}", "-f", DEMO_SQL],
                     env=env, cwd=ROOT, timeout=600, echo=True)
        if result.timed_out or result.returncode != 0:
            print(f"demo: psql failed (status {result.returncode}"
                  f"{', timed out' if result.timed_out else ''})",
                  file=sys.stderr)
            return 1
        print_changing_requests(mock)
    return 0


def main():
    sys.stdout.reconfigure(line_buffering=True)
    install_signal_handlers()
    try:
        return demo()
    except (CommandError, Interrupted, OSError) as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
