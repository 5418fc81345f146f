"""HTTP plumbing: the threaded server, request framing, /_mock/ prefix parsing, dispatch."""

import io
import os
import re
import select
import signal
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from . import faults
from .control import CONTROL_ROUTES
from .iam import redact_passwords
from .options import MockOptionError, MockOptions
from .replies import ApiRequest, Reply
from .routes import find_service, route_request
from .state import MockState

MOCK_PREFIX_RE = re.compile(r"/_mock/([^/]*)(/.*)?")


class MockHandler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive, every answer framed by Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "cloud-fdw-mock/1.0"

    def setup(self):
        """Disable Nagle: headers and body go out in separate writes, and with the
        client's delayed ACK each keep-alive request would otherwise stall ~40 ms."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        """Silence the per-request stderr line; the request log replaces it."""

    def do_GET(self):
        """Every method goes through dispatch; routes decide what is allowed."""
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def read_body(self):
        """Read the request body (Content-Length or chunked) so keep-alive stays in sync."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def dispatch(self):
        """Control routes, or: strip and parse the /_mock/ prefix, log, answer."""
        state = self.server.state
        raw_path, _, query = self.path.partition("?")
        try:
            body = self.read_body()
        except ValueError as error:
            self.close_connection = True
            self.send_reply(Reply.json(400, {"mock_error": f"bad request body framing: {error}"}))
            return
        prefix = MOCK_PREFIX_RE.fullmatch(raw_path)
        if prefix and prefix.group(1) == "control":
            self.send_reply(self.control(state, (prefix.group(2) or "/").strip("/"), query))
            return
        opts_text, path = (prefix.group(1), prefix.group(2) or "/") if prefix else ("", raw_path)
        try:
            opts = MockOptions(opts_text)
        except MockOptionError as error:
            self.send_reply(Reply.json(400, {"mock_error": str(error)}))
            return
        service = find_service(path)
        req = ApiRequest(state, opts, service, self.command, raw_path, path, query, self.headers,
                         body)
        text = body.decode("utf-8", errors="replace")
        record = {"tenant": opts.tenant, "opts": opts_text, "method": self.command, "path": path,
                  "query": query, "headers": dict(self.headers.items()),
                  "body": redact_passwords(text) if service and service.name == "iam" else text,
                  "client_port": self.client_address[1], "status": None, "applied": False}
        state.begin_record(record)
        req.record = record
        try:
            reply = self.answer(req)
            if reply is not None:
                reply.headers.setdefault("x-request-id", req.request_id)
                # complete the record before any byte leaves: a client that has its
                # answer and then asks /_mock/control/requests must see the status
                self.close_record(req, reply.status)
                self.send_reply(reply)
        finally:
            self.close_record(req, 0)   # no answer (shutdown) or a mock bug; no-op once closed

    @staticmethod
    def close_record(req, status):
        """Give the request's record its final status and write its log line, once."""
        if not req.finished:
            req.finished = True
            req.state.finish_record(req.record, status, req.note)

    def no_answer(self, req, how):
        """Reset the connection or hang (``how``), the record completed with status 0
        first: a client that sees the reset or gives up finds it final in the log."""
        self.close_record(req, 0)
        if how == "reset":
            self.reset_connection()
        else:
            self.hang()

    def answer(self, req):
        """The answer of ``req`` with its faults (see faults.answer); None when none is sent."""
        return faults.answer(req, route_request, self)

    @property
    def port(self):
        """The mock's listening port (the Location of injected redirects)."""
        return self.server.server_address[1]

    def pause(self, seconds):
        """Sleep ``seconds`` (latency_ms); True when the server stopped meanwhile, and
        then the connection is to be closed without an answer."""
        if self.server.stopping.wait(seconds):
            self.close_connection = True
            return True
        return False

    def control(self, state, action, query):
        """Answer /_mock/control/<action> from the CONTROL_ROUTES table."""
        handler = CONTROL_ROUTES.get((self.command, action))
        if handler is None:
            return Reply.json(404, {"mock_error": f"no control route {self.command} {action}"})
        return Reply.json(200, handler(state, dict(parse_qsl(query))))

    def send_reply(self, reply):
        """Write status, headers and body (or stream); a vanished client just ends the connection."""
        self.send_response(reply.status)
        if reply.content_type and reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
        if reply.status != 204:      # RFC 9110: no Content-Length on 204
            self.send_header("Content-Length", str(reply.length))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            if reply.stream is not None:
                for chunk in reply.stream:
                    self.wfile.write(chunk)
            elif reply.body:
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def hang(self):
        """Hold the request unanswered until the client disconnects or the server stops."""
        sock = self.connection
        while not self.server.stopping.is_set():
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                try:
                    if not sock.recv(65536):
                        break
                except OSError:
                    break
        self.close_connection = True

    def reset_connection(self):
        """Abort the connection with a TCP RST (SO_LINGER 0) and no response at all."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()
        # the base class still flushes/closes these after the handler returns
        self.rfile, self.wfile = io.BytesIO(), io.BytesIO()
        self.close_connection = True


class MockServer(ThreadingHTTPServer):
    """Threaded server on daemon threads; ``stopping`` releases hung and sleeping requests."""

    daemon_threads = True
    # the default backlog of 5 drops connections a client opens at once
    # (64 concurrent writes), which then come a second late
    request_queue_size = 128

    def __init__(self, address, state):
        super().__init__(address, MockHandler)
        self.state = state
        self.stopping = threading.Event()

    def handle_error(self, request, client_address):
        """Clients that vanish mid-request are normal in fault tests; stay quiet about them."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def write_port_file(path, port):
    """Write the port atomically so a poller never reads a half-written file."""
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="ascii") as handle:
        handle.write(f"{port}\n")
    os.replace(temp, path)



def serve(port=0, port_file=None, fixtures_dir=None, log_path=None):
    """Run until SIGTERM/SIGINT; serve_forever runs in a thread so the signal handler can stop it."""
    state = MockState(fixtures_dir, log_path)
    server = MockServer(("127.0.0.1", port), state)
    port = server.server_address[1]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    thread.start()
    if port_file:
        write_port_file(port_file, port)
    print(f"mock_cloud listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        pass
    server.stopping.set()
    server.shutdown()
    server.server_close()
    state.close()
    return 0
