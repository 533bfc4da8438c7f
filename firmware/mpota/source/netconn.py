# SPDX-License-Identifier: MIT
"""One TCP connection, optionally inside TLS with a pinned CA, for HttpSource.

A response is read in two modes. Until its body starts (the TLS handshake,
the request, the head, bytes skipped or drained) the socket does not block
and every step waits with poll() against one deadline, so a peer that
trickles bytes just inside a socket timeout cannot stretch it: a socket
timeout bounds each receive, not the step, and MicroPython's TLS layer
waits for a whole record (up to 16 KB) behind one read. The body is then
read blocking, with the read timeout on the socket: MicroPython's
`readinto(buf, n)` fills exactly n bytes without allocating, which the
agent's heap-locked chunk loop needs, and Body holds the data to a rate
floor between reads.

The two runtimes differ in what a socket offers, so this file hides them:
MicroPython sockets and TLS streams have `readinto(buf, n)`; CPython
sockets have `recv_into`, which may return fewer, so a small wrapper
loops. Either way `readinto(buf, n)` returns n bytes, fewer only at end of
stream or when a non-blocking socket has no more for now (None if none),
and raises OSError on a timeout or a broken connection.
"""

from . import SourceError

from micropython import const


try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:  # CPython, CircuitPython
    import time as _time

    def ticks_ms():
        # monotonic_ns: CircuitPython's float monotonic() loses its
        # milliseconds after some hours up.
        return _time.monotonic_ns() // 1000000

    def ticks_add(t, delta):
        return t + delta

    def ticks_diff(a, b):
        return a - b


try:
    _Timeout = TimeoutError  # CPython raises this, errno unset
except NameError:  # MicroPython reports timeouts by errno only

    class _Timeout(Exception):
        pass


# The longest deadline asked of ticks_add: a 32-bit port's ticks wrap at
# 2**30 ms and ticks_add refuses a delta of 2**29 or more (about 6 days).
_MAX_WAIT_MS = const(1 << 28)

IDLE = const(0)
EXTRA = const(1)
GONE = const(2)


def timed_out(exc):
    """Whether an exception from a socket call means "no data in time"."""
    import errno

    return isinstance(exc, _Timeout) or getattr(exc, "errno", None) in (errno.ETIMEDOUT, errno.EAGAIN)


def tls_context(ca):
    """A client context that trusts `ca` (DER or PEM bytes) and nothing else,
    requires a valid server certificate, and checks the host name."""
    import gc

    # The context is the largest single piece of the update (about 40 KB
    # on MicroPython's mbed TLS): collect first, so that it finds a run.
    gc.collect()
    try:
        import tls  # MicroPython 1.22 and later
    except ImportError:
        tls = None
    if tls is not None:
        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = tls.CERT_REQUIRED
        # tls takes cadata positionally; PEM or DER both parse.
        ctx.load_verify_locations(ca)
        return ctx
    import ssl  # CPython, or micropython-lib's wrapper around tls

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if hasattr(ctx, "check_hostname"):
        ctx.check_hostname = True
    if b"-----BEGIN" in ca:
        ca = ca.decode()  # CPython reads PEM from str, DER from bytes
    ctx.load_verify_locations(cadata=ca)
    return ctx


def connect(host, port, ctx, connect_ms, read_ms):
    """Open a connection to host:port (TLS when ctx is given).

    Every address the name resolves to is tried in turn. connect_ms bounds
    the TCP connect and, as one deadline, the TLS handshake (on MicroPython
    it runs within the first send()); read_ms every later step.
    Raises SourceError('connect' | 'timeout' | 'tls')."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except OSError:
        raise SourceError("connect")
    reason = "connect"
    raw = None
    for info in infos:
        if info[1] not in (0, socket.SOCK_STREAM):
            continue
        s = socket.socket(info[0], socket.SOCK_STREAM)
        try:
            s.settimeout(connect_ms / 1000)
            s.connect(info[4])
        except OSError as e:
            s.close()
            reason = "timeout" if timed_out(e) else "connect"
            continue
        raw = s
        break
    if raw is None:
        raise SourceError(reason)
    stream = raw
    shaking = False
    if ctx is not None:
        # MicroPython's blocking handshake has no deadline (each receive
        # gets the socket timeout): make it progress in send(), polled.
        # CPython's has one (the socket timeout covers the whole call).
        shaking = hasattr(raw, "readinto")
        try:
            if shaking:
                stream = ctx.wrap_socket(raw, server_hostname=host, do_handshake_on_connect=False)
            else:
                stream = ctx.wrap_socket(raw, server_hostname=host)
        except (OSError, ValueError) as e:
            # A refused certificate is a ValueError on MicroPython and an
            # ssl.SSLError (an OSError) on CPython; mbedtls codes are < 0.
            raw.close()
            raise SourceError("timeout" if timed_out(e) else "tls")
    return Conn(raw, stream, read_ms, connect_ms if shaking else 0)


class Conn:
    """A connected stream. `key` is set by the owner for reuse."""

    def __init__(self, raw, stream, read_ms, handshake_ms=0):
        self.raw = raw
        self.read_ms = read_ms
        # Made once: state() runs at the end of every body, where the agent
        # may hold the heap locked, and a float is an allocation.
        self.timeout = read_ms / 1000
        self.probe = bytearray(1)
        self.key = None
        # A TLS handshake still to run in the first send(), within this.
        self.handshake_ms = handshake_ms
        if hasattr(stream, "readinto"):
            # MicroPython: readinto(buf, n) fills n; the TLS stream has no
            # settimeout, the socket under it carries the timeout.
            self.stream = stream
            self.timer = raw
        else:
            # CPython: wrap_socket detached `raw`; the SSLSocket owns the fd.
            self.stream = _Filler(stream)
            self.timer = stream
        # MicroPython polls the TLS stream (it knows what it has buffered
        # and which way its handshake waits); CPython the socket.
        import select

        self._select = select
        self._poll = select.poll()
        self._pollee = stream
        self._poll.register(stream, select.POLLIN)
        self.timer.settimeout(0)
        self._blocking = False

    # Polled steps: one deadline each, whatever the peer's pace.

    def deadline(self, ms):
        return ticks_add(ticks_ms(), ms if ms < _MAX_WAIT_MS else _MAX_WAIT_MS)

    def send(self, data):
        """Write all of data within read_ms. On a connection whose TLS
        handshake has not run (MicroPython), it runs first, and the
        handshake and this data share one connect_timeout; any failure
        there is 'tls'. Raises SourceError."""
        self._nonblocking()
        shaking = self.handshake_ms > 0
        deadline = self.deadline(self.handshake_ms if shaking else self.read_ms)
        view = memoryview(data)
        done = 0
        while done < len(view):
            try:
                got = self.stream.write(view[done:])
            except (OSError, ValueError) as e:
                # During the handshake: a certificate refused (ValueError on
                # MicroPython), an mbedtls error, or the peer gone.
                raise SourceError("tls" if shaking else lost(e))
            if got:
                done += got
            else:
                self._wait(self._select.POLLOUT, deadline)
        self.handshake_ms = 0

    def read_some(self, buf, n, deadline):
        """Read 1 to n bytes into buf by deadline; 0 at the end of the
        stream. Raises SourceError('timeout' | 'closed')."""
        self._nonblocking()
        while True:
            try:
                got = self.stream.readinto(buf, n)
            except OSError as e:
                raise SourceError(lost(e))
            if got is not None:
                return got
            self._wait(self._select.POLLIN, deadline)

    def _wait(self, event, deadline):
        left = ticks_diff(deadline, ticks_ms())
        if left <= 0:
            raise SourceError("timeout")
        self._poll.modify(self._pollee, event)
        self._poll.poll(left)

    def _nonblocking(self):
        if self._blocking:
            self.timer.settimeout(0)
            self._blocking = False

    def blocking(self):
        """Blocking reads with the read timeout, for a body (see the top)."""
        if not self._blocking:
            self.timer.settimeout(self.timeout)
            self._blocking = True

    def readinto(self, buf, n):
        return self.stream.readinto(buf, n)

    def state(self):
        """IDLE if nothing waits to be read and the peer is still there (the
        connection can carry another request), EXTRA if bytes are waiting,
        GONE if the peer closed or the connection broke."""
        self.timer.settimeout(0)
        try:
            got = self.stream.readinto(self.probe, 1)
        except OSError:
            got = 0
        try:
            self.timer.settimeout(self.timeout)
        except OSError:
            return GONE
        self._blocking = True
        if got is None:  # it would block: nothing is waiting
            return IDLE
        return EXTRA if got else GONE

    def close(self):
        # Closing the TLS stream closes the socket under it too.
        try:
            self.stream.close()
        except OSError:
            pass
        if self.stream is not self.raw:
            self.raw.close()


def lost(exc):
    """The reason code of an OSError from a read or write."""
    return "timeout" if timed_out(exc) else "closed"


class _Filler:
    """CPython sockets: readinto(buf, n) that fills n like MicroPython's."""

    def __init__(self, sock):
        import ssl

        self.sock = sock
        self.would_block = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)

    def readinto(self, buf, n):
        view = memoryview(buf)
        done = 0
        while done < n:
            try:
                got = self.sock.recv_into(view[done:n], n - done)
            except self.would_block:
                if done:
                    return done
                return None
            if got == 0:
                break
            done += got
        return done

    def write(self, data):
        """Like MicroPython's: the bytes sent, None if none could be now."""
        try:
            return self.sock.send(data)
        except self.would_block:
            return None

    def close(self):
        self.sock.close()
