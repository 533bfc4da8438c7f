# SPDX-License-Identifier: MIT
"""One TCP connection over CircuitPython's `socketpool`, inside
`ssl.SSLContext` with a pinned CA, for HttpSource: netconn's counterpart
on boards that reach the network through `wifi` rather than `socket`.

HttpSource, its parser (httpparse) and its body reader (httpbody) are the
same on both; this file gives them the connection they expect: send(),
read_some() against one deadline, blocking(), state(), close(), and a
`stream` whose readinto(buf, n) fills n bytes (fewer only at the end of
the stream) and raises OSError on a timeout.

CircuitPython differs from MicroPython here, and this file hides it:
- no poll(): a step's deadline is kept by setting the socket's timeout to
  what is left of it before each receive and send;
- recv_into(buf, n) returns some bytes, so filling n loops; a timeout is
  OSError(116) on the espressif port (lwIP's ETIMEDOUT, not
  errno.ETIMEDOUT), passed on as errno.ETIMEDOUT;
- SSLSocket.connect() makes the TCP connection and runs the whole TLS
  handshake in one call: the handshake is bounded per receive by
  connect_timeout, not as a whole (netconn bounds it as a whole);
- load_verify_locations() takes one PEM certificate as str: a DER CA is
  converted, and only one CA can be pinned.
The radio must have joined a network: CircuitPython does that at start-up
from CIRCUITPY_WIFI_SSID and CIRCUITPY_WIFI_PASSWORD in settings.toml;
connect() tries once more with them if it has not.
"""

import errno

from . import SourceError
from .netconn import EXTRA, GONE, IDLE, ticks_add, ticks_diff, ticks_ms

from micropython import const

_LWIP_ETIMEDOUT = const(116)
_MIN_WAIT_MS = const(2)  # settimeout(0) would mean non-blocking
_MAX_WAIT_MS = const(1 << 28)

_pool = []  # type: list


def use(pool):
    """Use the application's SocketPool (CircuitPython allows one per
    radio) rather than make one."""
    _pool[:] = [pool]


def pool():
    if not _pool:
        import os

        import socketpool
        import wifi

        radio = wifi.radio
        if not radio.connected:
            ssid = os.getenv("CIRCUITPY_WIFI_SSID")
            if not ssid:
                raise SourceError("connect")
            try:
                radio.connect(ssid, os.getenv("CIRCUITPY_WIFI_PASSWORD") or "")
            except (OSError, RuntimeError):  # ConnectionError is an OSError
                raise SourceError("connect")
        _pool.append(socketpool.SocketPool(radio))
    return _pool[0]


def _pem(ca):
    # CircuitPython parses cadata as PEM text only.
    import binascii

    if b"-----BEGIN CERTIFICATE-----" in ca:
        text = bytes(ca).decode()
        end = text.find("-----END CERTIFICATE-----")
        body = text[text.find("-----BEGIN CERTIFICATE-----") + 27:end]
        if end < 0 or not body.strip():
            raise ValueError("ca")
        binascii.a2b_base64("".join(body.split()))  # ValueError if not base64
        return text
    if len(ca) < 64 or ca[0] != 0x30:  # a DER certificate is one SEQUENCE
        raise ValueError("ca")
    lines = ["-----BEGIN CERTIFICATE-----"]
    for i in range(0, len(ca), 48):
        lines.append(binascii.b2a_base64(ca[i:i + 48]).decode().strip())
    lines.append("-----END CERTIFICATE-----\n")
    return "\n".join(lines)


def tls_context(ca):
    """A client context that trusts `ca` (DER or PEM bytes, one
    certificate) and nothing else. The host name is checked because
    connect() always passes server_hostname."""
    import ssl

    ctx = ssl.SSLContext()
    ctx.load_verify_locations(cadata=_pem(ca))
    return ctx


def _timed_out(e):
    code = e.errno if hasattr(e, "errno") else (e.args[0] if e.args else None)
    return code in (_LWIP_ETIMEDOUT, errno.ETIMEDOUT, errno.EAGAIN)


def connect(host, port, ctx, connect_ms, read_ms):
    """Open a connection to host:port (TLS when ctx is given); every
    address the name resolves to is tried in turn. Raises
    SourceError('connect' | 'timeout' | 'tls')."""
    p = pool()
    try:
        infos = p.getaddrinfo(host, port, 0, p.SOCK_STREAM)
    except OSError:  # SocketPool.gaierror is one
        raise SourceError("connect")
    reason = "connect"
    for info in infos:
        if info[1] not in (0, p.SOCK_STREAM):
            continue
        try:
            s = p.socket(info[0], p.SOCK_STREAM)
        except OSError:
            continue
        s.settimeout(connect_ms / 1000)
        stream = s
        try:
            if ctx is not None:
                stream = ctx.wrap_socket(s, server_hostname=host)
            stream.connect(info[4])
        except (OSError, ValueError, RuntimeError) as e:
            stream.close()
            if _timed_out(e):
                reason = "timeout"
            elif ctx is not None and not _refused(e):
                # The TCP connection stood; the handshake failed (a
                # refused certificate, a wrong host name, no common
                # cipher): mbedtls codes are negative.
                reason = "tls"
                break
            continue
        return Conn(stream, read_ms)
    raise SourceError(reason)


def _refused(e):
    # A TCP-level failure: the server or the route refused or is gone.
    code = e.errno if hasattr(e, "errno") else (e.args[0] if e.args else None)
    return isinstance(code, int) and code > 0 and not isinstance(e, ValueError)


class _Filler:
    """readinto(buf, n) that fills n like MicroPython's stream readinto."""

    def __init__(self, sock):
        self.sock = sock

    def readinto(self, buf, n):
        view = memoryview(buf)
        done = 0
        while done < n:
            try:
                got = self.sock.recv_into(view[done:n], n - done)
            except OSError as e:
                if _timed_out(e):
                    raise OSError(errno.ETIMEDOUT)
                raise
            if not got:
                break
            done += got
        return done

    def close(self):
        self.sock.close()


class Conn:
    """A connected socket or SSLSocket; `key` is set by the owner."""

    def __init__(self, sock, read_ms):
        self.sock = sock
        self.stream = _Filler(sock)
        self.read_ms = read_ms
        self.timeout = read_ms / 1000
        self.probe = bytearray(1)
        self.key = None
        self._blocking = False

    def deadline(self, ms):
        return ticks_add(ticks_ms(), ms if ms < _MAX_WAIT_MS else _MAX_WAIT_MS)

    def _until(self, deadline):
        left = ticks_diff(deadline, ticks_ms())
        if left <= 0:
            raise SourceError("timeout")
        self.sock.settimeout(max(left, _MIN_WAIT_MS) / 1000)
        self._blocking = False

    def send(self, data):
        """Write all of data within read_ms. Raises SourceError."""
        deadline = self.deadline(self.read_ms)
        view = memoryview(data)
        done = 0
        while done < len(view):
            self._until(deadline)
            try:
                done += self.sock.send(view[done:])
            except OSError as e:
                if not _timed_out(e):
                    raise SourceError("closed")

    def read_some(self, buf, n, deadline):
        """Read 1 to n bytes into buf by deadline; 0 at the end of the
        stream. Raises SourceError('timeout' | 'closed')."""
        while True:
            self._until(deadline)
            try:
                return self.sock.recv_into(buf, n)
            except OSError as e:
                if not _timed_out(e):
                    raise SourceError("closed")

    def blocking(self):
        """Reads with the read timeout, for a body."""
        if not self._blocking:
            self.sock.settimeout(self.timeout)
            self._blocking = True

    def readinto(self, buf, n):
        return self.stream.readinto(buf, n)

    def state(self):
        """IDLE if nothing waits and the peer is still there, EXTRA if
        bytes wait, GONE if the peer closed or the connection broke."""
        s = self.sock
        try:
            s.settimeout(0)
            got = s.recv_into(self.probe, 1)
        except OSError as e:
            # Non-blocking: EAGAIN is "nothing yet"; a closed peer is
            # ENOTCONN on the espressif port, not 0.
            code = e.errno if hasattr(e, "errno") else (e.args[0] if e.args else None)
            got = None if code == errno.EAGAIN else 0
        try:
            s.settimeout(self.timeout)
        except OSError:
            return GONE
        self._blocking = True
        if got is None:
            return IDLE
        return EXTRA if got else GONE

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
