# SPDX-License-Identifier: MIT
"""The last read of a `Connection: close` answer: after the declared body,
the client looks for one byte more (a server sending more than it
declared). A server holding the pinned CA's certificate once made that
look last for hours: it sent the body, then the header of a further TLS
record and a byte of it now and then, each inside the socket timeout, and
MicroPython's TLS layer returns nothing before a whole record is in. The
look now runs under one polled read_timeout, like the response head.

Bounded by counts, as tests/test_transport_stalls.py is by its half-second
limits: the server trickles a 60-odd-byte record a byte every 0.3 s (about
20 s) and counts what it got to send before the client hung up."""

import socket
import ssl
import threading

import pytest

from mpota_host import devca
from net import device
from net.rawserver import response

BODY = b"y" * 20
FAST = "connect_timeout=0.5, read_timeout=0.5, min_rate=128, retries=0"
_GAP = 0.3
_JOIN = 60  # seconds: only stops a hung test


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return devca.ensure(str(tmp_path_factory.mktemp("probe-ca")))[0]


class _TrickleAfterBody:
    """A TLS server (the pinned CA's certificate) that answers the first
    request with a whole `Connection: close` response at once, then
    trickles one more TLS record after it. .sent/.total: record bytes."""

    def __init__(self, certs):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certs.cert, certs.key)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.sent = self.total = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.ctx.wrap_bio(inc, out, server_side=True)
        request = b""
        try:
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
            tls.write(response(200, [("Content-Length", len(BODY)), ("Connection", "close")], BODY))
            conn.sendall(out.read())
            tls.write(b"z" * 40)
            record = out.read()
            self.total = len(record)
            for i in range(len(record)):
                if self.stop.wait(_GAP):
                    return
                conn.sendall(record[i:i + 1])
                self.sent += 1
        except OSError:
            return  # the client hung up: what the count is for
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(_JOIN)


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_a_tls_record_trickled_after_a_close_delimited_body_does_not_hold_the_device(
        unix_target, certs, runtime):
    srv = _TrickleAfterBody(certs)
    code = ("src = HttpSource('https://localhost:{}/b/', ca=ca({!r}), {})\n"
            "report('x', read_all, src, 'f')\n".format(srv.port, certs.ca_pem, FAST))
    try:
        if runtime == "cpython":
            r = device.one(device.run_cpython(code, timeout=_JOIN))
        else:
            r = device.one(device.run(unix_target, code, timeout=_JOIN))
        # The client has finished; let the server see it gone.
        srv.thread.join(_JOIN)
    finally:
        srv.close()
    # The body is whole; what came after it was not there in time and is
    # not taken for more body.
    assert "ok" in r and r["ok"][0] == len(BODY), r
    # The client hung up long before the record was whole.
    assert srv.total > 40 and srv.sent < srv.total // 2, (srv.sent, srv.total)
