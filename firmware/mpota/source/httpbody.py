# SPDX-License-Identifier: MIT
"""Reading one HTTP response off a connection: its head, then its body.

Reads go straight into the caller's buffer with the stream's
readinto(buf, n), which fills exactly n bytes: no copy, and no allocation
in Body.readinto (the agent's chunk loop runs with the heap locked).
"""

from . import SourceError, netconn


def read_head(conn, b, small, read_ms):
    """Read a response head into b and return its length; it ends in
    CR LF CR LF. The whole head must come within read_ms."""
    # Not one byte further than the empty line, so b never holds body
    # bytes: while the last k bytes read match the first k of CR LF CR LF,
    # the head cannot end within the next 4 - k bytes, so asking for at
    # most that many cannot overshoot.
    deadline = conn.deadline(read_ms)
    n = 0
    k = 0
    while k < 4:
        want = 4 - k
        if n + want > len(b):
            raise SourceError("too-large")
        got = conn.read_some(small, want, deadline)
        if not got:
            raise SourceError("closed")
        for i in range(got):
            c = small[i]
            b[n] = c
            n += 1
            if c == (13 if k % 2 == 0 else 10):
                k += 1
            elif c == 10:
                raise SourceError("bad-response")  # a bare LF ends no line here
            else:
                k = 1 if c == 13 else 0
    return n


def discard(conn, buf, count, read_ms, win_min):
    """Read and drop `count` bytes, using buf, held to the body's rate
    floor as a whole: win_min bytes per read_ms, and read_ms at least."""
    deadline = conn.deadline(read_ms * (1 + (count // win_min if win_min > 0 else count)))
    while count:
        n = count if count < len(buf) else len(buf)
        got = conn.read_some(buf, n, deadline)
        if not got:
            raise SourceError("closed")
        count -= got


class Body:
    """Reader of one response body: exactly `left` bytes (Content-Length).

    A body that arrives at less than `win_min` bytes per read_ms window is
    refused as 'timeout' at the next read. When it ends, the connection
    goes back to `owner.keep()` if it can carry another request."""

    whole = False  # HttpSource.open: a Range answered with the whole file

    def __init__(self, owner, conn, left, close_after, read_ms, win_min, small):
        self._owner = owner
        self._conn = conn
        self.length = left  # as declared (Content-Length)
        self._left = left
        self._close_after = close_after
        self._read_ms = read_ms
        self._win_min = win_min
        self._small = small
        self._win_start = netconn.ticks_ms()
        self._win_bytes = 0
        if conn is not None:
            conn.blocking()

    def readinto(self, buf):
        left = self._left
        if left == 0:
            if self._conn is not None:
                self._finish()
            return 0
        conn = self._conn
        if conn is None:
            raise SourceError("closed")  # it failed before, or was closed
        n = len(buf)
        if n == 0:
            raise ValueError("buf")  # 0 would read as the end of the file
        if n > left:
            n = left
        now = netconn.ticks_ms()
        spent = netconn.ticks_diff(now, self._win_start)
        if spent >= self._read_ms:
            # One read can outlast a window (a trickle just quick enough
            # for the socket's timeout): the floor is per window spent.
            if self._win_bytes < self._win_min * (spent // self._read_ms):
                raise self._fail("timeout")
            self._win_start = now
            self._win_bytes = 0
        try:
            got = conn.stream.readinto(buf, n)
        except OSError as e:
            raise self._fail(netconn.lost(e))
        if got != n:
            raise self._fail("closed")  # the stream ended before Content-Length
        self._left = left - n
        self._win_bytes += n
        return n

    def _finish(self):
        # All declared bytes are in. Bytes after them mean the server sent
        # more than it declared: refuse rather than pass over it silently.
        conn = self._conn
        self._conn = None
        if self._close_after:
            # Polled, within one read_timeout like the head: a blocking
            # read here would wait for a whole TLS record (up to 16 KB)
            # however slowly the peer sends it, and no rate floor follows.
            try:
                extra = conn.read_some(self._small, 1, conn.deadline(self._read_ms))
            except SourceError:
                extra = 0  # nothing in time, a reset, or TLS ending without close_notify
            conn.close()
            if extra:
                raise SourceError("too-large")
            return
        state = conn.state()
        if state == netconn.IDLE:
            self._owner.keep(conn)
            return
        conn.close()
        if state == netconn.EXTRA:
            raise SourceError("too-large")

    def _fail(self, reason):
        self._conn.close()
        self._conn = None
        return SourceError(reason)

    def close(self):
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        if self._left == 0 and not self._close_after and conn.state() == netconn.IDLE:
            self._owner.keep(conn)
        else:
            conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
