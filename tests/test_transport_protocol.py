# SPDX-License-Identifier: MIT
"""The device's HTTP client against a server that breaks the protocol on
purpose (tests/net/rawserver.py), under the MicroPython unix build. Plain
HTTP with allow_http=True: the framing rules are the same inside TLS, and
TLS itself is tested against `mpota serve`."""

import time

import pytest

from net import device
from net.rawserver import RawServer, ok, response

BODY = bytes(range(256)) * 20  # 5120 bytes


def _fetch(unix_target, srv, name="f", offset=0, **options):
    return _fetch_counting(unix_target, srv, name, offset, **options)[0]


def _fetch_counting(unix_target, srv, name="f", offset=0, **options):
    """The fetch's result and the retry pauses the client took (their
    attempt numbers): counted, not timed."""
    opts = "".join(", {}={!r}".format(k, v) for k, v in options.items())
    code = "src = counting_pauses(HttpSource({!r}, allow_http=True{}))\n".format(
        srv.url("/b/"), opts)
    code += "report('x', read_all, src, {!r}, {})\n".format(name, offset)
    code += "report('pauses', lambda: src.pauses)\n"
    r, pauses = device.run(unix_target, code)
    return r, pauses["ok"]


def _send(data, keep=False):
    def script(server, conn, head, n):
        conn.sendall(data)
        return keep
    return script


def test_request_names_the_host_and_asks_for_the_range(unix_target):
    partial = response(206, [("Content-Length", 5020), ("Content-Range", "bytes 100-5119/5120")], BODY[100:])
    with RawServer(_send(partial)) as srv:
        r = _fetch(unix_target, srv, "chunks/ab", 100)
        head = srv.requests[0].split("\r\n")
    assert r["ok"][0] == 5020
    assert head[0] == "GET /b/chunks/ab HTTP/1.1"
    assert "Host: 127.0.0.1:{}".format(srv.port) in head
    assert "Range: bytes=100-" in head


def test_whole_file_answer_to_a_range_is_skipped_to_the_offset(unix_target):
    with RawServer(_send(ok(BODY))) as srv:
        r = _fetch(unix_target, srv, "f", 1000)
    assert r["ok"][0] == len(BODY) - 1000


@pytest.mark.parametrize("case, data, reason", [
    ("head over 2 KB", response(200, [("X-Pad", "a" * 2100), ("Content-Length", 5)], b"hello"), "too-large"),
    ("no Content-Length", response(200, [], b"hello"), "bad-response"),
    ("chunked", response(200, [("Transfer-Encoding", "chunked")], b"5\r\nhello\r\n0\r\n\r\n"), "bad-response"),
    ("chunked with a length", response(200, [("Content-Length", 5), ("Transfer-Encoding", "chunked")], b"hello"), "bad-response"),
    ("two lengths", response(200, [("Content-Length", 5), ("Content-Length", 5)], b"hello"), "bad-response"),
    ("length with a sign", response(200, [("Content-Length", "+5")], b"hello"), "bad-response"),
    ("length beyond any file", response(200, [("Content-Length", "99999999999")], b"hello"), "too-large"),
    ("bare LF", b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello", "bad-response"),
    ("folded header", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n X: y\r\n\r\nhello", "bad-response"),
    ("space before colon", b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello", "bad-response"),
    ("NUL in a value", b"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 5\r\n\r\nhello", "bad-response"),
    ("not HTTP", b"SSH-2.0-OpenSSH\r\n\r\n", "bad-response"),
    ("HTTP/2 status line", b"HTTP/2 200\r\nContent-Length: 5\r\n\r\nhello", "bad-response"),
    ("1xx interim", b"HTTP/1.1 100 Continue\r\n\r\n" + response(200, [("Content-Length", 5)], b"hello"), "bad-response"),
    ("gzip body", response(200, [("Content-Length", 5), ("Content-Encoding", "gzip")], b"hello"), "bad-response"),
    ("server error", response(500, [("Content-Length", 0)]), "http-status"),
    ("not found", response(404, [("Content-Length", 0)]), "not-found"),
    ("gone", response(410, [("Content-Length", 0)]), "not-found"),
    ("no content", response(204, [("Content-Length", 0)]), "http-status"),
])
def test_malformed_or_unusable_answers_are_refused(unix_target, case, data, reason):
    with RawServer(_send(data)) as srv:
        r = _fetch(unix_target, srv, read_timeout=1, retries=0)
    assert r.get("error") == reason, (case, r)


def test_body_shorter_than_content_length_is_closed(unix_target):
    data = response(200, [("Content-Length", len(BODY) + 10)], BODY)
    with RawServer(_send(data)) as srv:
        r = _fetch(unix_target, srv)
    assert r["error"] == "closed"


@pytest.mark.parametrize("connection", [None, "close"])
def test_bytes_beyond_content_length_are_too_large(unix_target, connection):
    extra = [("Connection", connection)] if connection else []
    data = response(200, [("Content-Length", len(BODY) - 7)] + extra, BODY)
    with RawServer(_send(data)) as srv:
        r = _fetch(unix_target, srv)
    assert r["error"] == "too-large"


@pytest.mark.parametrize("case, content_range, length, reason", [
    ("starts elsewhere", "bytes 50-5119/5120", 5070, "bad-response"),
    ("stops short of the end", "bytes 100-199/5120", 100, "bad-response"),
    ("length disagrees", "bytes 100-5119/5120", 5000, "bad-response"),
    ("no Content-Range", None, 5020, "bad-response"),
    ("unknown total", "bytes 100-5119/*", 5020, "bad-response"),
    ("exact", "bytes 100-5119/5120", 5020, None),
])
def test_partial_answer_must_cover_exactly_the_rest_of_the_file(unix_target, case, content_range, length, reason):
    headers = [("Content-Length", length)] + ([("Content-Range", content_range)] if content_range else [])
    with RawServer(_send(response(206, headers, BODY[100:100 + length]))) as srv:
        r = _fetch(unix_target, srv, "f", 100)
    if reason:
        assert r.get("error") == reason, case
    else:
        assert r["ok"][0] == 5020


def test_partial_answer_to_a_whole_file_request_is_refused(unix_target):
    data = response(206, [("Content-Length", 10), ("Content-Range", "bytes 0-9/5120")], BODY[:10])
    with RawServer(_send(data)) as srv:
        r = _fetch(unix_target, srv)
    assert r["error"] == "bad-response"


def test_resume_exactly_at_the_end_is_an_empty_file(unix_target):
    data = response(416, [("Content-Length", 0), ("Content-Range", "bytes */5120")])
    with RawServer(_send(data)) as srv:
        at_end = _fetch(unix_target, srv, "f", 5120)
        past_end = _fetch(unix_target, srv, "f", 5000)
    assert at_end["ok"][0] == 0
    assert past_end["error"] == "http-status"


def _redirects(hops, final=ok(BODY), location=lambda srv, n: "/b/hop{}".format(n)):
    def script(server, conn, head, n):
        if n <= hops:
            conn.sendall(response(302, [("Location", location(server, n)), ("Content-Length", 0)]))
        else:
            conn.sendall(final)
        return True
    return script


def test_three_redirects_are_followed(unix_target):
    with RawServer(_redirects(3)) as srv:
        r = _fetch(unix_target, srv)
        paths = [h.split()[1] for h in srv.requests]
    assert r["ok"][0] == len(BODY)
    assert paths == ["/b/f", "/b/hop1", "/b/hop2", "/b/hop3"]


def test_a_fourth_redirect_is_refused(unix_target):
    with RawServer(_redirects(4)) as srv:
        r = _fetch(unix_target, srv)
        assert len(srv.requests) == 4
    assert r["error"] == "http-status"


def test_redirect_loop_ends(unix_target):
    with RawServer(_redirects(10 ** 6, location=lambda srv, n: "/b/f")) as srv:
        r = _fetch(unix_target, srv)
    assert r["error"] == "http-status"


def test_relative_redirect_resolves_against_the_directory(unix_target):
    with RawServer(_redirects(1, location=lambda srv, n: "moved/f")) as srv:
        r = _fetch(unix_target, srv, "chunks/f")
        second = srv.requests[1].split()[1]
    assert r["ok"][0] == len(BODY)
    assert second == "/b/chunks/moved/f"


def test_redirect_keeps_the_range(unix_target):
    partial = response(206, [("Content-Length", 20), ("Content-Range", "bytes 5100-5119/5120")], BODY[5100:])
    with RawServer(_redirects(1, final=partial)) as srv:
        r = _fetch(unix_target, srv, "f", 5100)
        assert "Range: bytes=5100-" in srv.requests[1]
    assert r["ok"][0] == 20


@pytest.mark.parametrize("location", ["https://127.0.0.1:1/b/f", "ftp://127.0.0.1/b/f", "/b/a b", ""])
def test_redirect_to_another_scheme_or_a_bad_location_is_refused(unix_target, location):
    with RawServer(_redirects(1, location=lambda srv, n: location)) as srv:
        r = _fetch(unix_target, srv)
        assert len(srv.requests) == 1
    assert r["error"] == "bad-response"


def test_unavailable_server_is_retried_with_backoff_then_succeeds(unix_target):
    def script(server, conn, head, n):
        conn.sendall(response(503, [("Content-Length", 0)]) if n <= 2 else ok(BODY))
        return True
    with RawServer(script) as srv:
        r, pauses = _fetch_counting(unix_target, srv, retries=3, backoff=0.2)
        assert len(srv.requests) == 3
    assert r["ok"][0] == len(BODY)
    # A pause before each retry, the second twice the first (counted by
    # attempt number, not timed).
    assert pauses == [0, 1]


def test_retries_end_with_the_last_reason(unix_target):
    def script(server, conn, head, n):
        conn.sendall(response(503, [("Content-Length", 0)]))
        return True
    with RawServer(script) as srv:
        r = _fetch(unix_target, srv, retries=2, backoff=0.05)
        assert len(srv.requests) == 3
    assert r["error"] == "http-status"


def test_refused_connection_is_retried_then_reported(unix_target):
    srv = RawServer(_send(b""))
    srv.close()  # nothing listens on this port any more
    r, pauses = _fetch_counting(unix_target, srv, retries=2, backoff=0.05)
    assert r["error"] == "connect"
    assert pauses == [0, 1]  # two retries, then the reason


def test_server_that_never_answers_times_out(unix_target):
    # The server holds each request until the test ends: only the client's
    # own read timeout can give 'timeout' (a client that waited would get
    # 'closed' when the server finally lets go).
    def silent(server, conn, head, n):
        server.closing.wait(600)
        return False
    with RawServer(silent) as srv:
        r = _fetch(unix_target, srv, read_timeout=0.5, retries=1, backoff=0.05)
        assert len(srv.requests) == 2  # the timeout was retried once
    assert r["error"] == "timeout"


def test_head_dripped_byte_by_byte_is_cut_off(unix_target):
    # Each byte comes well within the read timeout; the whole head may take
    # no more than one read timeout. The drip (about 12 s of head, then the
    # body) would end in a whole answer: 'timeout' means the client cut it.
    sent = [0]

    def drip(server, conn, head, n):
        for b in response(200, [("Content-Length", 5), ("X-Slow", "a" * 200)], b"hello"):
            if server.closing.wait(0.05):
                break
            try:
                conn.sendall(bytes([b]))
            except OSError:
                break
            sent[0] += 1
        return False
    with RawServer(drip) as srv:
        r = _fetch(unix_target, srv, read_timeout=1, retries=0)
    assert r["error"] == "timeout"
    assert sent[0] < len(response(200, [("Content-Length", 5), ("X-Slow", "a" * 200)], b"hello"))


def test_body_that_stops_coming_times_out(unix_target):
    # The server keeps the connection until the test ends: 'timeout' is the
    # client's own read timeout ('closed' would be the server letting go).
    def stall(server, conn, head, n):
        conn.sendall(response(200, [("Content-Length", len(BODY))], BODY[:1000]))
        server.closing.wait(600)
        return False
    with RawServer(stall) as srv:
        r = _fetch(unix_target, srv, read_timeout=0.5, retries=3)
        assert len(srv.requests) == 1  # a broken body is for the caller to resume
    assert r["error"] == "timeout"


def test_connection_dropped_by_server_while_idle_is_replaced(unix_target):
    # The server answers, then closes the kept connection: the next open()
    # notices and asks again on a new connection, without a retry pause.
    def once(server, conn, head, n):
        conn.sendall(ok(BODY))
        return False
    with RawServer(once) as srv:
        code = "src = counting_pauses(HttpSource({!r}, allow_http=True, backoff=5))\n".format(
            srv.url("/b/"))
        code += "report('1', read_all, src, 'f')\n"
        code += "time.sleep_ms(100)\n"
        code += "report('2', read_all, src, 'f')\n"
        code += "report('pauses', lambda: src.pauses)\n"
        first, second, pauses = device.run(unix_target, code)
        assert srv.connections == 2
    assert first["ok"][0] == second["ok"][0] == len(BODY)
    assert pauses["ok"] == []  # no retry pause (counted, not timed)


def test_stale_bytes_on_a_kept_connection_do_not_poison_the_next_file(unix_target):
    # Extra bytes that arrive after the first body was taken as complete
    # end up in front of the second answer; the client retries that once on
    # a new connection.
    def late_garbage(server, conn, head, n):
        if n == 1:
            conn.sendall(ok(BODY))
            time.sleep(0.2)
            conn.sendall(b"garbage")
            return True
        conn.sendall(ok(BODY))
        return True
    with RawServer(late_garbage) as srv:
        code = "src = HttpSource({!r}, allow_http=True)\n".format(srv.url("/b/"))
        code += "report('1', read_all, src, 'f')\n"
        code += "time.sleep_ms(400)\n"
        code += "report('2', read_all, src, 'f')\n"
        first, second = device.run(unix_target, code)
    assert first["ok"][0] == second["ok"][0] == len(BODY)


def test_names_that_could_inject_into_the_request_are_misuse(unix_target):
    with RawServer(_send(ok(BODY))) as srv:
        code = "src = HttpSource({!r}, allow_http=True)\n".format(srv.url("/b/"))
        for name in ["a b", "a\r\nHost: evil", "/etc/passwd", "a/../../b", "a//b", "", "x?y=1", "a%2e"]:
            code += "report({!r}, read_all, src, {!r})\n".format(name, name)
        results = device.run(unix_target, code)
        assert srv.requests == []
    assert all(r.get("misuse") == "name" for r in results), results
