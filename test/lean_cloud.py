#!/usr/bin/env python3
"""A lean Qoder cloud for the "close to the wire" benchmark (test/bench.py).

The full mock (test/mock_cloud.py) parses every request with http.server,
logs it, looks up its tenant and options and builds each page's JSON: fine
for the tests, but on a benchmark without latency its CPU, not the client's,
would be what is measured.  This server does the least an HTTP server can:

- it serves one listing, ``GET /api/v1/cloud/environments``, of ``--rows``
  synthetic environments (test/mockcloud/store.py's ``synthetic_env``) in the
  Qoder cursor format of the full mock (``{"data", "first_id", "last_id",
  "has_more"}``, newest first, next page by ``after_id=<last_id>``);
- every page of 100 is serialised ONCE at start-up, headers included, into a
  dict keyed by its ``after_id`` (None for the first page), so a request
  costs one dict lookup and one sendall of prebuilt bytes;
- requests are parsed minimally (request line, then the headers up to the
  blank line), connections are kept alive (HTTP/1.1, Content-Length), one
  thread per connection, TCP_NODELAY;
- ``Authorization: Bearer pt-test-admin`` is required (401 otherwise),
  ``limit`` must be 100 (400 otherwise: the benchmark always asks for 100),
  ``include_archived`` and any other parameter are ignored, anything else
  is a 404.

It prints its port (chosen by the OS, on 127.0.0.1) on the first line of
stdout once it is ready.  ``LeanCloud`` starts it as a subprocess for a
``with`` block, like harness.Mock does the full mock.
"""

import argparse
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import _Managed  # noqa: E402
from mockcloud.store import synthetic_env  # noqa: E402

ROWS = 100_000
PAGE = 100
PATH = b"/api/v1/cloud/environments"
AUTHORIZATION = b"Bearer pt-test-admin"
MAX_HEAD = 64 * 1024        # a request head longer than this is refused


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def response(status, reason, body):
    """A whole HTTP/1.1 answer with a JSON body: status line, headers, body."""
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (status, reason, len(body))) + body


def error(status, reason, message, param=None):
    """An answer in the Qoder error envelope (rare: built on demand)."""
    err = {"type": "invalid_request_error" if status == 400 else
           "authentication_error" if status == 401 else "not_found_error", "message": message}
    if param is not None:
        err["param"] = param
    return response(status, reason, compact({"type": "error", "error": err, "request_id": "lean"}))


def build_pages(rows, page=PAGE):
    """Every page of the listing as a ready answer, keyed by its after_id:
    None for the first page, then the last_id of the page before."""
    pages = {}
    after = None
    for top in range(rows - 1, -1, -page):     # descending ids: newest first
        data = [synthetic_env(index) for index in range(top, max(top - page, -1), -1)]
        body = compact({"data": data, "first_id": data[0]["id"], "last_id": data[-1]["id"],
                        "has_more": top - page >= 0})
        pages[after] = response(200, b"OK", body)
        after = data[-1]["id"]
    if rows == 0:
        pages[None] = response(200, b"OK", compact(
            {"data": [], "first_id": None, "last_id": None, "has_more": False}))
    synthetic_env.cache_clear()     # the dicts are not needed any more, only their bytes
    return pages


def parse_head(head):
    """(method, target, version, headers) of a request head: the header names
    lower-cased, only as far as this server needs them."""
    lines = head.split(b"\r\n")
    method, target, version = lines[0].split(b" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return method, target, version, headers


def answer(pages, method, target, headers):
    """The answer to one request: one dict lookup on the benchmark's path."""
    if headers.get(b"authorization") != AUTHORIZATION:
        return error(401, b"Unauthorized", "Invalid API key or token.")
    path, _, query = target.partition(b"?")
    if method != b"GET" or path != PATH:
        return error(404, b"Not Found", "Not found.")
    params = dict(part.partition(b"=")[::2] for part in query.split(b"&") if part)
    if params.get(b"limit") != b"100":
        return error(400, b"Bad Request", "limit must be 100 on this server", "limit")
    after = params.get(b"after_id")
    if after is not None:
        after = urllib.parse.unquote(after.decode("latin-1"))
    page = pages.get(after)
    if page is None:
        return error(400, b"Bad Request", f"Unknown cursor: {after}", "after_id")
    return page


def keep_alive(version, headers):
    """HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 the other way round."""
    connection = headers.get(b"connection", b"").lower()
    if version == b"HTTP/1.0":
        return connection == b"keep-alive"
    return connection != b"close"


def serve_connection(conn, pages):
    """Answer the requests of one connection in turn until it closes."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = b""
    with conn:
        while True:
            end = buffer.find(b"\r\n\r\n")
            while end < 0:
                if len(buffer) > MAX_HEAD:
                    return
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                end = buffer.find(b"\r\n\r\n")
            head, buffer = buffer[:end], buffer[end + 4:]
            try:
                method, target, version, headers = parse_head(head)
            except ValueError:
                conn.sendall(error(400, b"Bad Request", "Malformed request."))
                return
            if b"transfer-encoding" in headers:     # no bodies here, least of all chunked ones
                conn.sendall(error(400, b"Bad Request", "Request bodies are not supported."))
                return
            length = int(headers.get(b"content-length", b"0") or b"0")
            while len(buffer) < length:             # skip a body, so keep-alive stays in sync
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            buffer = buffer[length:]
            conn.sendall(answer(pages, method, target, headers))
            if not keep_alive(version, headers):
                return


def serve(rows):
    """Build the pages, listen, say the port, then one thread per connection."""
    pages = build_pages(rows)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve_connection, args=(conn, pages), daemon=True).start()


class LeanCloud(_Managed):
    """The lean server for a ``with`` block: started as a subprocess in a
    session of its own (a Ctrl-C aimed at the benchmark does not kill it
    before the benchmark's cleanup), ready once it has printed its port,
    killed on exit."""

    def __init__(self, rows=ROWS, start_timeout=120):
        self.rows = rows
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.errors = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self):
        """The endpoint option of a cloud_fdw server for this cloud."""
        return f"{self.url}/api/v1/cloud"

    def start(self):
        self.errors = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--rows", str(self.rows)], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self.errors, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                line = self.proc.stdout.readline()
                if line.strip().isdigit():
                    self.port = int(line)
                    return
                break               # EOF or garbage: it died, say why below
            if self.proc.poll() is not None:
                break
        self.errors.seek(0)
        raise RuntimeError(f"lean cloud of {self.rows} rows did not start: "
                           f"{self.errors.read().decode(errors='replace').strip()}")

    def cpu_seconds(self):
        """User and system CPU the server has used so far (from /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
        if self.errors is not None:
            self.errors.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=ROWS,
                        help=f"synthetic environments to serve (default {ROWS})")
    serve(parser.parse_args().rows)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
