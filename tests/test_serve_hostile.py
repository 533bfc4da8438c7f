# SPDX-License-Identifier: MIT
"""`mpota serve` against hostile clients and a careless layout: its own
keys by any path, numbers too long for int(), framing tricks, deep JSON,
a request head trickled a byte at a time, more connections than it
serves. Each must get an answer or a closed connection, never a
traceback, a key or a thread per connection."""

import http.client
import select
import socket
import ssl
import threading

import pytest

from mpota_host import serve
from net.serveproc import Serve

DATA = bytes(range(256)) * 8  # 2048 bytes
_WAIT = 10  # seconds before a test gives up on an answer that never comes


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "www"
    (root / "b").mkdir(parents=True)
    (root / "b" / "f").write_bytes(DATA)
    return root


def _tls_socket(srv):
    ctx = ssl.create_default_context(cafile=srv.ca_pem)
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=_WAIT),
                           server_hostname="localhost")


def _raw(srv, request):
    """Send request bytes as they are; (status, body) of the answer, or
    None if the server closed without one."""
    s = _tls_socket(srv)
    try:
        s.sendall(request)
        r = http.client.HTTPResponse(s)
        try:
            r.begin()
        except http.client.RemoteDisconnected:
            return None
        return r.status, r.read()
    finally:
        s.close()


def _get(srv, path):
    return _raw(srv, "GET {} HTTP/1.1\r\nHost: localhost\r\n\r\n".format(path).encode())


def test_state_directory_inside_dir_is_refused_so_its_ca_key_is_never_served(tree):
    srv = Serve(tree, "--state", str(tree / "devstate"))
    try:
        srv.start()
    except RuntimeError as e:
        refused = str(e)
    else:
        leaked = _get(srv, "/devstate/ca.key")
        srv.stop()
        pytest.fail("started with --state inside DIR; /devstate/ca.key: {}".format(leaked))
    assert "mpota: --state" in refused and "inside DIR" in refused
    assert "Traceback" not in refused


@pytest.mark.parametrize("link, target, path", [
    ("key", ".mpota-serve/server.key", "/key"),
    ("st", ".mpota-serve", "/st/ca.key"),
], ids=["symlink-to-a-key", "symlink-to-the-state-dir"])
def test_symlink_into_the_state_directory_does_not_serve_its_keys(tree, link, target, path):
    with Serve(tree) as srv:
        (tree / link).symlink_to(tree / target)
        answer = _get(srv, path)
    assert answer is not None and answer[0] == 404, answer
    assert b"PRIVATE" not in answer[1]


_DIGITS = "9" * 5000


@pytest.mark.parametrize("request_, status", [
    ("GET /b/f HTTP/1.1\r\nRange: bytes={}-\r\n\r\n".format(_DIGITS), 416),
    ("GET /b/f HTTP/1.1\r\nRange: bytes=-{}\r\n\r\n".format(_DIGITS), 206),
    ("GET /b/f HTTP/1.1\r\nRange: bytes=0-{}\r\n\r\n".format(_DIGITS), 206),
    ("GET /b/f HTTP/1.1\r\nRange: bytes=\u00b2-\r\n\r\n", 200),
    ("POST /.mpota/status HTTP/1.1\r\nContent-Length: {}\r\n\r\n{{}}".format(_DIGITS), 413),
    ("POST /.mpota/status HTTP/1.1\r\nContent-Length: \u00b2\r\n\r\n{}", 411),
    ("POST /.mpota/status HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", 400),
    ("POST /.mpota/status HTTP/1.1\r\nContent-Length: 4000\r\n\r\n" + "[" * 2000 + "]" * 2000, 400),
], ids=["range-start-5000-digits", "range-suffix-5000-digits", "range-end-5000-digits",
        "range-superscript-two", "content-length-5000-digits", "content-length-superscript-two",
        "content-length-twice", "status-json-2000-deep"])
def test_hostile_request_gets_an_answer_not_a_traceback(tree, request_, status):
    with Serve(tree) as srv:
        answer = _raw(srv, request_.encode("utf-8"))
        # The server still answers the next client.
        assert _get(srv, "/b/f") == (200, DATA)
    assert answer is not None and answer[0] == status, answer
    assert "Traceback" not in "".join(srv.err)


class _InProcess:
    """A BundleServer in this process (plain HTTP), so a test can shorten
    its limits and look at its sockets and threads."""

    def __init__(self, root, state, handler=None):
        self.srv = serve.BundleServer("127.0.0.1", 0, str(root), str(state), quiet=True)
        if handler is not None:
            self.srv.RequestHandlerClass = handler
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join()

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=_WAIT)


def test_request_head_trickled_a_byte_at_a_time_is_cut_at_the_request_deadline(
        tree, tmp_path, monkeypatch):
    # One byte every 0.3 s of a 60-byte head (18 s), each byte well inside
    # the socket timeout; the whole head is allowed 1 s here.
    monkeypatch.setattr(serve, "_REQUEST_SECONDS", 1)
    head = b"GET /b/f HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"p" * 13 + b"\r\n\r\n"
    assert len(head) == 60
    with _InProcess(tree, tmp_path / "state") as srv:
        s = srv.connect()
        sent = 0
        try:
            for i in range(len(head)):
                s.sendall(head[i:i + 1])
                sent += 1
                if select.select([s], [], [], 0.3)[0]:
                    break  # answered or closed
            tail = s.recv(4096)
        except OSError:
            tail = b""
        finally:
            s.close()
    assert sent < len(head) and tail == b"", (sent, tail[:40])


def test_connections_past_the_cap_are_closed_not_given_threads(tree, tmp_path, monkeypatch):
    monkeypatch.setattr(serve, "MAX_CONNECTIONS", 8)
    base = threading.active_count()
    with _InProcess(tree, tmp_path / "state") as srv:
        held = []
        try:
            for _ in range(8):
                held.append(srv.connect())
            # Each held connection has its thread (bounded wait: 200 looks).
            for _ in range(200):
                if threading.active_count() >= base + 1 + 8:
                    break
                threading.Event().wait(0.05)
            extra = srv.connect()
            try:
                ready = select.select([extra], [], [], _WAIT)[0]
                closed = bool(ready) and extra.recv(1) == b""
            finally:
                extra.close()
            threads = threading.active_count() - base - 1  # less serve_forever's
            # The held ones are still served.
            held[0].sendall(b"GET /b/f HTTP/1.1\r\nHost: x\r\n\r\n")
            r = http.client.HTTPResponse(held[0])
            r.begin()
            body = r.read()
        finally:
            for s in held:
                s.close()
    assert closed
    assert threads <= 8
    assert body == DATA


def test_each_answer_leaves_without_waiting_for_a_delayed_ack(tree, tmp_path):
    # Headers and body are separate writes; with Nagle's algorithm on, the
    # body waits for the client's delayed ACK of the headers (~40 ms per
    # answer on Linux). The server must set TCP_NODELAY on every connection.
    seen = []

    class Probe(serve.Handler):
        def handle(self):
            seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            super().handle()

    with _InProcess(tree, tmp_path / "state", Probe) as srv:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=_WAIT)
        c.request("GET", "/b/f")
        assert c.getresponse().read() == DATA
        c.close()
    assert seen and all(seen), seen
