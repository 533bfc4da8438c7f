# SPDX-License-Identifier: MIT
"""A peer that sends just enough, just in time, to keep each receive inside
its socket timeout must not hold the device's HTTP client for longer than
the step's own time: the TLS handshake (connect_timeout), a response head
(read_timeout), bytes skipped to a resume offset or drained from a refused
answer (the rate floor). The danger is real on MicroPython: its timeouts
bound each receive, and its TLS layer returns nothing before a whole record
(up to 16 KB) has arrived, so a trickled record once held one read for
hours. Each case trickles a byte every 0.3-0.4 s against half-second
limits, for a minute or more if nobody cuts it; what is asserted is a
count, not a time: the client gave up while the peer still had most of
its trickle to send."""

import socket
import ssl
import threading

import pytest

from mpota_host import devca
from net import device
from net.rawserver import RawServer, response

BODY = bytes(range(256)) * 20
FAST = "connect_timeout=0.5, read_timeout=0.5, min_rate=128, retries=0"


def _listener():
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    return sock


def _in_thread(fn):
    stop = threading.Event()
    threading.Thread(target=fn, args=(stop,), daemon=True).start()
    return stop


class Trickle:
    """Sends data a byte every `gap` seconds until it is done, the peer hangs
    up or `stop` is set; counts what it sent."""

    def __init__(self, data, gap):
        self.data, self.gap, self.sent = data, gap, 0

    def run(self, conn, stop):
        for i in range(len(self.data)):
            if stop.wait(self.gap):
                return
            try:
                conn.sendall(self.data[i:i + 1])
            except OSError:
                return
            self.sent += 1

    def cut_early(self):
        """The client gave up with most of the trickle still to come."""
        return self.sent < len(self.data) // 2


def _on(runtime, unix_target, code):
    if runtime == "cpython":
        return device.one(device.run_cpython(code, timeout=60))
    return device.one(device.run(unix_target, code, timeout=60))


def _fetch_over_tls(runtime, unix_target, certs, sock, stop, *read_args):
    """read_all of file f from the server listening on sock, with the
    client's limits at half a second; stops the server after."""
    more = "".join(", {}".format(a) for a in read_args)
    try:
        return _on(runtime, unix_target, "src = HttpSource('https://localhost:{}/b/', ca=ca({!r}), {})\n"
                   "report('x', read_all, src, 'f'{})\n".format(sock.getsockname()[1], certs.ca_pem,
                                                              FAST, more))
    finally:
        stop.set()
        sock.close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return devca.ensure(str(tmp_path_factory.mktemp("stall-ca")))[0]


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_a_handshake_trickled_inside_the_socket_timeout_ends_at_connect_timeout(
        unix_target, certs, runtime):
    # No certificate needed for this: a handshake record header announcing
    # 200 bytes, then one byte every 0.4 s (80 s in all).
    sock = _listener()
    trickle = Trickle(bytes(200), 0.4)

    def serve(stop):
        conn, _ = sock.accept()
        conn.recv(4096)  # the ClientHello
        conn.sendall(bytes([0x16, 3, 3, 0, 200]))
        trickle.run(conn, stop)
        conn.close()

    r = _fetch_over_tls(runtime, unix_target, certs, sock, _in_thread(serve))
    assert r["error"] == "timeout" and trickle.cut_early(), (r, trickle.sent)


def _tls_server(certs, answer, gap):
    """A TLS server (the pinned CA's certificate) whose answer to the first
    request leaves as one TLS record, trickled a byte at a time; (listening
    socket, its stop event, the Trickle once it starts)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.cert, certs.key)
    sock = _listener()
    trickle = []

    def serve(stop):
        conn, _ = sock.accept()
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(inc, out, server_side=True)
        request = b""
        while b"\r\n\r\n" not in request:
            try:
                if tls.pending() or inc.pending:
                    request += tls.read(4096)
                    continue
                tls.do_handshake()
                request += tls.read(4096)
            except ssl.SSLWantReadError:
                conn.sendall(out.read())
                data = conn.recv(4096)
                if not data:
                    return
                inc.write(data)
        conn.sendall(out.read())
        tls.write(answer)
        trickle.append(Trickle(out.read(), gap))
        trickle[0].run(conn, stop)
        conn.close()

    return sock, _in_thread(serve), trickle


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_a_response_head_trickled_inside_one_tls_record_ends_at_read_timeout(
        unix_target, certs, runtime):
    # A head padded to about 300 bytes: 90 s of trickle, in one record.
    answer = response(200, [("Content-Length", 20), ("X-Pad", "p" * 200)], b"y" * 20)
    sock, stop, trickle = _tls_server(certs, answer, 0.3)
    r = _fetch_over_tls(runtime, unix_target, certs, sock, stop, 0, 1)
    assert r["error"] == "timeout" and trickle[0].cut_early(), (r, trickle[0].sent)


def _trickled_answer(status, length, trickle):
    def script(server, conn, head, n):
        conn.sendall(response(status, [("Content-Length", length)]))
        trickle.run(conn, server.closing)
        return False
    return script


def test_bytes_skipped_to_a_resume_offset_are_held_to_the_rate_floor(unix_target):
    # A 200 answer to a Range request: the first 400 bytes are to be read
    # and dropped, trickled at about 3 bytes per second (2 minutes for the
    # 400).
    trickle = Trickle(BODY[:400], 0.3)
    with RawServer(_trickled_answer(200, len(BODY), trickle)) as srv:
        r = device.one(device.run(unix_target, "src = HttpSource({!r}, allow_http=True, {})\n"
                                  "report('x', read_all, src, 'f', 400)\n".format(srv.url("/b/"), FAST)))
    assert r["error"] == "timeout" and trickle.cut_early(), (r, trickle.sent)


def test_a_refused_body_drained_at_a_trickle_does_not_hold_the_answer(unix_target):
    # A 404 whose 400-byte body is read off to keep the connection (2
    # minutes at the trickle's pace): the answer comes without it.
    trickle = Trickle(BODY[:400], 0.3)
    with RawServer(_trickled_answer(404, 400, trickle)) as srv:
        r = device.one(device.run(unix_target, "src = HttpSource({!r}, allow_http=True, {})\n"
                                  "report('x', read_all, src, 'f')\n".format(srv.url("/b/"), FAST)))
    assert r["error"] == "not-found" and trickle.cut_early(), (r, trickle.sent)


def test_a_huge_skip_budget_stays_inside_a_32_bit_boards_ticks(unix_target):
    # Resuming 60,000 bytes into a file whose server ignores Range, with no
    # rate floor: the time allowed for the skip is large. ticks_add on a
    # 32-bit port (as boards/qemu and every MCU) refuses a delta of 2**29
    # ms or more; the wrapper below applies that rule on the 64-bit unix
    # port, where it would otherwise not show.
    data = bytes(range(256)) * 300

    def whole(server, conn, head, n):
        conn.sendall(response(200, [("Content-Length", len(data))], data))
        return False

    with RawServer(whole) as srv:
        r = device.one(device.run(unix_target, """
from mpota.source import netconn
_add = netconn.ticks_add
def ticks_add(t, delta):
    if not -(1 << 29) <= delta < (1 << 29):
        raise OverflowError("ticks interval overflow")
    return _add(t, delta)
netconn.ticks_add = ticks_add
src = HttpSource({!r}, allow_http=True, read_timeout=10, min_rate=0, retries=0)
report('x', read_all, src, 'f', 60000)
""".format(srv.url("/b/"))))
    assert r["ok"][0] == len(data) - 60000, r
