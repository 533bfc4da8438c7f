# SPDX-License-Identifier: MIT
"""`mpota serve DIR`: an HTTPS server for update bundles during development.

A threaded stdlib http.server that serves the files under DIR the way a
static web server would, and no more: GET and HEAD, single byte ranges
(206, Content-Range, 416), Content-Length on every answer, keep-alive, no
directory listings, nothing outside DIR, nothing whose name starts with
a dot and nothing whose real path is inside the state directory (the CA's
key lives there). TLS uses the development CA of devca.py, made on first use.

It is the stdlib server with its reading bounded: each request (its head
and any body) must arrive within one deadline, at most MAX_CONNECTIONS
are served at once, and numbers in headers are length-checked ASCII
digits before int() sees them.

Devices report their status with POST /.mpota/status (a JSON object of at
most 4 KB); each report is appended as one JSON line to status.log in the
state directory, and GET /.mpota/status returns the log.

--fault makes the server misbehave on purpose (faults.py), for tests of a
device's transport.
"""

import io
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import devca, outdir
from .errors import CommandError
from .faults import Fault

STATUS_PATH = "/.mpota/status"
STATE_DIRNAME = outdir.SERVE_STATE
MAX_STATUS = 4096  # bytes of one status report
_DISCARD_MAX = 64 * 1024  # an oversized report up to this is read before refusing it
MAX_STATUS_LOG = 1 << 20  # status.log is moved to status.log.1 past this
_BLOCK = 64 * 1024
_HANDSHAKE_SECONDS = 10
_IDLE_SECONDS = 30  # a keep-alive connection idle this long is closed
_REQUEST_SECONDS = 30  # the wait for a request, its whole head and body
MAX_CONNECTIONS = 64  # served at once; more are closed at once
_MAX_DIGITS = 18  # a number longer than this is larger than any file
_MAX_JSON_DEPTH = 32  # nesting of a status report
DESCRIPTION = (
    "Serve the files under DIR (a bundle directory, or a tree of them) over HTTPS, "
    "for devices under development. On first use it makes a development CA and a "
    "server certificate in the state directory; pin the CA on devices. Supports "
    "Range (206, 416), keep-alive, and device status reports: POST a JSON object "
    "to /.mpota/status, GET it to read the log. No directory listings, nothing "
    "outside DIR, no names starting with a dot, nothing inside the state directory "
    "(which must not be inside DIR unless it is the default). Stops on Ctrl-C or SIGTERM.")
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*\Z")
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)\Z", re.ASCII)


class BundleServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, host, port, root, state, tls_context=None, fault=None, quiet=False):
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.root = os.path.realpath(root)
        self.state = state
        self.state_real = os.path.realpath(state)
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.tls_context = tls_context
        self.fault = fault
        self.quiet = quiet
        self.stopping = threading.Event()
        self.status_lock = threading.Lock()
        super().__init__((host, port), Handler)

    def process_request(self, request, client_address):
        # One thread per connection, at most MAX_CONNECTIONS of them: past
        # that a connection is closed at once rather than given a thread.
        if not self.slots.acquire(blocking=False):
            self.log("{} refused: {} connections open".format(client_address[0], MAX_CONNECTIONS))
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, so a
        # slow or hostile client cannot hold up accept().
        if self.tls_context is not None:
            request.settimeout(_HANDSHAKE_SECONDS)
            try:
                request = self.tls_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                self.log("{} TLS handshake failed: {}".format(client_address[0], e))
                request.close()
                return
        super().finish_request(request, client_address)

    def log(self, line):
        if not self.quiet:
            sys.stderr.write("{} {}\n".format(time.strftime("%H:%M:%S"), line))

    def status_log(self):
        return os.path.join(self.state, "status.log")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mpota-serve"
    sys_version = ""
    timeout = _IDLE_SECONDS
    # Headers and body leave in separate writes: without this, the body
    # would wait for the client's delayed ACK of the headers (~40 ms).
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.reader = _Deadline(self.connection, _IDLE_SECONDS)
        self.rfile = io.BufferedReader(self.reader)

    def handle_one_request(self):
        # The wait for a request, its head and body share one deadline, so
        # a client sending a byte just inside each socket timeout cannot
        # hold the connection (and its thread) for longer.
        self.reader.start(_REQUEST_SECONDS)
        try:
            super().handle_one_request()
        finally:
            self.reader.stop()

    def parse_request(self):
        if not super().parse_request():
            return False
        # One length only, and no other framing: anything else could make
        # this server and a proxy in front of it disagree where a body ends.
        if len(self.headers.get_all("Content-Length", ())) > 1 or "Transfer-Encoding" in self.headers:
            self.close_connection = True
            self._short(400, "one Content-Length, no Transfer-Encoding", [("Connection", "close")])
            return False
        if self.command != "POST" and self.headers.get("Content-Length", "0") != "0":
            self.close_connection = True  # a body this server will not read
        return True

    def log_message(self, fmt, *args):
        # The client's port tells connections apart (keep-alive is visible).
        self.server.log("{}:{} {}".format(self.client_address[0], self.client_address[1], fmt % args))

    # Answers

    def _short(self, code, text="", extra=()):
        body = (text + "\n").encode() if text else b""
        self.send_response(code)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self._target() == STATUS_PATH:
            self._get_status()
            return
        self._file()

    def do_HEAD(self):
        self._file()

    def do_POST(self):
        if self._target() != STATUS_PATH:
            self._short(405, "only {} takes POST".format(STATUS_PATH), [("Allow", "GET, HEAD")])
            return
        self._post_status()

    def _target(self):
        return self.path.split("?", 1)[0]

    # Files

    def _resolve(self):
        # Only plain names: no percent-escapes, no dot segments, no hidden
        # files (the state directory may sit inside DIR), then a check that
        # symlinks do not lead outside DIR.
        parts = self._target().split("/")
        if parts[0] != "" or not all(_SEGMENT.match(p) for p in parts[1:]):
            return None
        path = os.path.realpath(os.path.join(self.server.root, *parts[1:]))
        if not path.startswith(self.server.root + os.sep) or not os.path.isfile(path):
            return None
        if _inside(path, self.server.state_real):
            return None  # the CA's and the server's keys, by any name
        return path

    def _file(self):
        path = self._resolve()
        if path is None:
            self._short(404, "not found")
            return
        try:
            f = open(path, "rb")
        except OSError:
            self._short(404, "not found")
            return
        with f:
            size = os.fstat(f.fileno()).st_size
            fault = self.server.fault
            fault = fault if fault is not None and fault.applies(self._target()) else None
            rng = self.headers.get("Range")
            if fault is not None and fault.mode == "ignore-range":
                rng = None
            span = _byte_range(rng, size) if rng else None
            if span == "unsatisfiable":
                self._short(416, "range not satisfiable", [("Content-Range", "bytes */{}".format(size))])
                return
            start, end = span if span else (0, size)
            self.send_response(206 if span else 200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            if span:
                self.send_header("Content-Range", "bytes {}-{}/{}".format(start, end - 1, size))
            declared = end - start if fault is None else fault.declared(end - start)
            self.send_header("Content-Length", str(declared))
            self.end_headers()
            if self.command == "HEAD":
                return
            f.seek(start)
            if fault is not None:
                self.close_connection = fault.send(self, f, start, end)
                return
            left = end - start
            while left:
                block = f.read(min(_BLOCK, left))
                if not block:
                    # The file shrank under us: the declared length cannot
                    # be met, so end the connection rather than lie.
                    self.close_connection = True
                    return
                self.wfile.write(block)
                left -= len(block)

    # Device status

    def _post_status(self):
        length = _number(self.headers.get("Content-Length"))
        if length is None:
            self.close_connection = True
            self._short(411, "Content-Length required (ASCII digits)", [("Connection", "close")])
            return
        if length > MAX_STATUS:
            if length <= _DISCARD_MAX:
                self.rfile.read(length)  # read, so the answer is not lost to a reset
            else:
                self.close_connection = True
            self._short(413, "a status report is at most {} bytes".format(MAX_STATUS),
                        [("Connection", "close")] if self.close_connection else ())
            return
        body = self.rfile.read(length)
        try:
            text = body.decode()
            report = json.loads(text) if _json_depth(text) <= _MAX_JSON_DEPTH else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            report = None
        if not isinstance(report, dict):
            self._short(400, "the status must be a JSON object")
            return
        line = json.dumps({"time": int(time.time()), "client": self.client_address[0],
                           "status": report}, sort_keys=True) + "\n"
        log = self.server.status_log()
        with self.server.status_lock:
            try:
                if os.path.exists(log) and os.path.getsize(log) > MAX_STATUS_LOG:
                    os.replace(log, log + ".1")
                with open(log, "a") as f:
                    f.write(line)
            except OSError as e:
                self._short(500, "cannot write the status log: {}".format(e.strerror))
                return
        self._short(204)

    def _get_status(self):
        with self.server.status_lock:
            try:
                with open(self.server.status_log(), "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                data = b""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Deadline(io.RawIOBase):
    """A connection's reads, each within `idle` seconds and, between
    start() and stop(), all of them by one deadline."""

    def __init__(self, sock, idle):
        self.sock = sock
        self.idle = idle
        self.until = None

    def readable(self):
        return True

    def start(self, seconds):
        self.until = time.monotonic() + seconds

    def stop(self):
        self.until = None

    def readinto(self, b):
        left = self.idle if self.until is None else min(self.idle, self.until - time.monotonic())
        if left <= 0:
            raise TimeoutError("request not complete in time")
        self.sock.settimeout(left)
        try:
            return self.sock.recv_into(b)
        finally:
            self.sock.settimeout(self.idle)  # what writes wait for


def _inside(path, directory):
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _number(text, digits=_MAX_DIGITS):
    """The value of a header of ASCII digits (None if it is not one), with
    any number longer than `digits` read as 10**digits: larger than every
    file, and never a long conversion."""
    if text is None or not text or not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= digits else 10 ** digits


def _json_depth(text):
    """The deepest nesting of arrays and objects in JSON text, counted
    without recursion (json.loads recurses once per level)."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def _byte_range(header, size):
    """(start, end) of one `bytes=` range, "unsatisfiable", or None to
    ignore the header and send the whole file (several ranges, bad syntax:
    RFC 9110 lets a server ignore Range)."""
    m = _RANGE.match(header.strip())
    if not m or m.group(1) == m.group(2) == "":
        return None
    first, last = _number(m.group(1)), _number(m.group(2))
    if first is None:
        if last == 0:
            return "unsatisfiable"
        return (max(0, size - last), size)
    start = first
    end = size if last is None else min(last + 1, size)
    if last is not None and last < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return (start, end)


# The command

def arguments(p):
    p.add_argument("dir", metavar="DIR", help="directory to serve: a bundle, or a tree of bundles")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8443,
                   help="port to listen on; 0 picks a free one (default: 8443)")
    p.add_argument("--http", action="store_true",
                   help="plain HTTP, no TLS (devices must be configured to allow it)")
    p.add_argument("--state", metavar="STATE_DIR",
                   help="where the CA, the server certificate and status.log live "
                        "(default: DIR/{})".format(STATE_DIRNAME))
    p.add_argument("--name", action="append", metavar="NAME",
                   help="host name or address devices use to reach the server, for its "
                        "certificate; repeat (default: localhost, 127.0.0.1, ::1)")
    p.add_argument("--fault", metavar="MODE[:N]",
                   help="misbehave on purpose, for tests: " + Fault.summary())
    p.add_argument("--fault-on", metavar="TEXT", default="",
                   help="apply --fault only to paths containing TEXT")
    p.add_argument("--fault-times", type=int, default=0, metavar="N",
                   help="apply --fault to the first N matching answers only (default: all)")
    p.add_argument("--quiet", action="store_true", help="no request log on stderr")


def run(args):
    root = args.dir
    if not os.path.isdir(root):
        raise CommandError("{} is not a directory".format(root))
    if not 0 <= args.port <= 65535:
        raise CommandError("--port must be 0 to 65535")
    state = os.path.abspath(args.state or os.path.join(root, STATE_DIRNAME))
    _check_state(root, state, args.state is not None)
    fault = Fault.parse(args.fault, args.fault_on, args.fault_times) if args.fault else None
    ctx = None
    names = args.name or list(devca.DEFAULT_NAMES)
    if not args.http:
        paths, created = devca.ensure(state, names)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(paths.cert, paths.key)
    else:
        os.makedirs(state, exist_ok=True)
    try:
        server = BundleServer(args.host, args.port, root, state, ctx, fault, args.quiet)
    except OSError as e:
        raise CommandError("cannot listen on {} port {}: {}".format(args.host, args.port, e.strerror))
    port = server.server_address[1]
    url_host = names[0] if args.host in ("127.0.0.1", "::1", "0.0.0.0", "::") else args.host
    if ":" in url_host:
        url_host = "[" + url_host + "]"
    url = "{}://{}:{}/".format("http" if args.http else "https", url_host, port)
    print("serving {} at {}".format(os.path.abspath(root), url))
    if ctx is not None:
        if created:
            print("made {} in {}".format(" and ".join(created), state))
        print("CA to pin on devices: {} (PEM: {})".format(paths.ca_der, paths.ca_pem))
    print("device status: POST or GET {}{} (log: {})".format(url, STATUS_PATH[1:], server.status_log()))
    if fault is not None:
        print("fault: {}".format(fault))
    sys.stdout.flush()
    _serve_until_signal(server)
    print("mpota serve: stopped")


def _check_state(root, state, given):
    """The state directory holds the CA's private key: it must never be
    served. Its default, DIR/.mpota-serve, is hidden by its dot and by its
    real path; a --state elsewhere inside DIR is refused outright."""
    real_root, real_state = os.path.realpath(root), os.path.realpath(state)
    if _inside(real_root, real_state):
        raise CommandError("{} is inside the state directory {}: serve another directory".format(
            root, state))
    default = os.path.join(real_root, STATE_DIRNAME)
    if given and _inside(real_state, real_root) and real_state != default:
        raise CommandError("--state {} is inside DIR {}: its keys would be served; put it "
                           "outside DIR".format(state, root))


def _serve_until_signal(server):
    def stop(signum, frame):
        # Ask the loop to end rather than raise here: the signal may land
        # inside a request's processing, whose `except Exception` would
        # take the exception for a failed request and serve on.
        # shutdown() waits for the loop, so it must not run on this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    old = signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, old)
        server.stopping.set()
        server.server_close()
