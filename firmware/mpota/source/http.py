# SPDX-License-Identifier: MIT
"""HttpSource: bundle files over HTTP/1.1, or HTTPS with a pinned CA.

Our own small client, because the agent needs what general clients do not
give together: the body streamed into the caller's buffer with no
allocation per read, the server certificate checked against one pinned CA
and the host name, every length bounded, and a clear reason for every
failure. docs/TRANSPORT.md gives the why of each rule; in short:

- GET, with `Range: bytes=N-` when resuming at N. A 206 must cover exactly
  N to the end of the file. A 200 in answer to a Range is accepted: its
  first N bytes are read and dropped, so resuming works on any server.
  open(name, N, E) asks for bytes N to E - 1 only (a run of chunks,
  update/runs.py): a 206 must cover exactly those; a 200 is handed back
  whole (reader.whole), for the caller to read on or not.
- Content-Length is required and enforced: fewer bytes before the
  connection ends is SourceError('closed'); bytes after it, when seen, are
  'too-large'. Transfer-Encoding (chunked) is refused.
- At most 3 redirects, to the same scheme (never https to http).
- Connecting, and waiting for a response head, are retried with
  exponential backoff and jitter. A body that breaks is not retried here:
  the caller resumes with open(name, offset).
- One idle connection is kept for the next open() (HTTP keep-alive), so a
  bundle of many chunks costs one TLS handshake, not one per chunk.
"""

from . import SourceError
from .httpbody import Body, discard, read_head
from .httpparse import Head, parse_head
from .url import check_name, parse_url, valid_path

from micropython import const


_HEAD_MAX = const(2048)  # status line and headers, together
_MAX_REDIRECTS = const(3)
_DRAIN_MAX = const(4096)  # a refused answer's body up to this is read, to keep the connection
_REDIRECTS = (301, 302, 303, 307, 308)
_RETRY_STATUS = (502, 503, 504)
_RETRY_REASONS = ("connect", "timeout", "closed")


class HttpSource:
    """Files of the bundle at base_url.

    ca: the pinned CA certificate (DER or PEM bytes), required for https.
    allow_http: plain http is refused (SourceError('tls')) unless True.
    connect_timeout: seconds for the TCP connect, and for the whole TLS
      handshake.
    read_timeout: seconds for sending a whole request and for receiving a
      whole response head; seconds any read of a body may wait for data.
    retries, backoff, max_backoff: retries after a connect failure, a
      timeout, a connection closed before the head, or a 502/503/504;
      waits backoff * 2**i seconds (at most max_backoff), half of it random.
    min_rate: bytes per second a body must average over each read_timeout
      window (0: no floor), so a server trickling bytes cannot hold the
      agent for ever; bytes skipped or drained before a body are held to
      it as a whole.
    """

    # open() takes an end: a bounded Range (update/runs.py).
    ranges = True

    def __init__(self, base_url, ca=None, allow_http=False, connect_timeout=10,
                 read_timeout=10, retries=3, backoff=0.5, max_backoff=8,
                 min_rate=128, keep_alive=True):
        url = parse_url(base_url)
        if url is None or "?" in url[3]:
            raise ValueError("base_url")
        self._scheme, self._host, self._port, path = url
        self._path = path if path.endswith("/") else path + "/"
        self._net = _stack()
        if self._scheme == "http":
            if not allow_http:
                raise SourceError("tls")
            self._ctx = None
        else:
            if not ca:
                raise ValueError("ca")
            if isinstance(ca, str):
                ca = ca.encode()
            try:
                self._ctx = self._net.tls_context(bytes(ca))
            except ImportError:
                raise SourceError("tls")  # a board without TLS
            except (OSError, ValueError):
                raise ValueError("ca")
        self._connect_ms = int(connect_timeout * 1000)
        self._read_ms = int(read_timeout * 1000)
        self._retries = retries
        self._backoff_ms = int(backoff * 1000)
        self._max_backoff_ms = int(max_backoff * 1000)
        self._win_min = min_rate * self._read_ms // 1000
        self._keep_alive = keep_alive
        self._head = bytearray(_HEAD_MAX)
        self._small = bytearray(4)
        self._h = Head()
        self._idle = None
        self._post_headers = ""
        self._end = 0

    def open(self, name, offset=0, end=0):
        """A reader of the file `name` from byte `offset` on; with end,
        of bytes offset to end - 1 only (Range: bytes=offset-(end-1)).
        A server that ignores that Range answers with the whole file: the
        reader's .whole is then True and it starts at byte 0."""
        check_name(name)
        if offset < 0 or (end and end <= offset):
            raise ValueError("offset")
        host, port, path = self._host, self._port, self._path + name
        self._end = end
        try:
            for _ in range(_MAX_REDIRECTS + 1):
                conn = self._fetch(host, port, path, offset)
                if self._h.status not in _REDIRECTS:
                    return self._answer(conn, offset, end)
                host, port, path = self._follow(conn, host, port, path)
        finally:
            self._end = 0
        raise SourceError("http-status")  # too many redirects

    def post(self, target, data, headers="", reply=None):
        """POST the JSON `data` (bytes) to the absolute path `target` on the
        server, e.g. '/.mpota/status' of `mpota serve`; return the status
        code. Best effort, for reports: no redirects, no retries.
        headers: more header lines, each ending in CRLF (the caller's own
        text, never from the network). reply: a buffer for a short answer
        body: then (status, bytes of it read) is returned; a longer body is
        not read (0)."""
        if not valid_path(target) or "\n" in headers.replace("\r\n", ""):
            raise ValueError("target")
        self._post_headers = headers
        try:
            conn = self._exchange(self._host, self._port, target, 0, True, data)
        finally:
            self._post_headers = ""
        status = self._h.status
        if reply is None:
            self._drain(conn)
            return status
        n = self._h.length
        if not 0 < n <= len(reply):
            self._drain(conn)
            return status, 0
        body = self._body(conn, n)
        view = memoryview(reply)
        got = 0
        while got < n:
            k = body.readinto(view[got:n])
            if not k:
                break
            got += k
        if got == n:
            body.readinto(self._small)  # 0: the end; the connection is kept
        return status, got

    def close(self):
        """Close the idle connection, if any."""
        if self._idle is not None:
            self._idle.close()
            self._idle = None

    def keep(self, conn):
        # A reader hands back a connection whose response ended cleanly.
        if self._keep_alive and self._idle is None:
            self._idle = conn
        else:
            conn.close()

    # One response

    def _answer(self, conn, offset, end=0):
        h = self._h
        st = h.status
        if st == 200:
            if h.length < 0 or h.length < offset:
                raise _failed(conn, "bad-response")
            if end:
                b = self._body(conn, h.length)
                b.whole = True  # the caller decides whether to read on
                return b
            if offset:
                try:
                    discard(conn, self._head, offset, self._read_ms, self._win_min)
                except SourceError:
                    conn.close()
                    raise
            return self._body(conn, h.length - offset)
        if st == 206 and end:
            if (not h.ranged or h.length < 0 or h.first != offset or h.last != end - 1
                    or h.total < end or h.length != end - offset):
                raise _failed(conn, "bad-response")
            return self._body(conn, h.length)
        if st == 206:
            if (not offset or not h.ranged or h.length < 0 or h.first != offset
                    or h.total < 0 or h.last != h.total - 1
                    or h.length != h.last - h.first + 1):
                raise _failed(conn, "bad-response")
            return self._body(conn, h.length)
        self._drain(conn)
        if st == 416 and offset and h.ranged and h.first < 0 and h.total == offset:
            return self._body(None, 0)  # resumed exactly at the end
        raise SourceError("not-found" if st in (404, 410) else "http-status")

    def _body(self, conn, length):
        return Body(self, conn, length, self._h.close, self._read_ms, self._win_min, self._small)

    def _drain(self, conn):
        # Read a small refused body to keep the connection; else close it.
        h = self._h
        n = h.length
        if h.close or not 0 <= n <= _DRAIN_MAX:
            conn.close()
            return
        try:
            discard(conn, self._head, n, self._read_ms, self._win_min)
        except SourceError:
            conn.close()
            return
        self.keep(conn)

    def _follow(self, conn, host, port, path):
        h = self._h
        if not h.loc_end:
            raise _failed(conn, "bad-response")
        loc = bytes(self._head[h.loc_start:h.loc_end]).decode()
        self._drain(conn)
        cut = loc.find("#")
        if cut >= 0:
            loc = loc[:cut]
        if loc.startswith("//"):
            loc = self._scheme + ":" + loc
        if loc.startswith("http://") or loc.startswith("https://"):
            url = parse_url(loc)
            if url is None:
                raise SourceError("bad-response")
            if url[0] != self._scheme:
                # Never from https down to http; nor up: the CA pinned for
                # https was not asked for by a plain-http configuration.
                raise SourceError("tls" if self._scheme == "https" else "bad-response")
            return url[1], url[2], url[3]
        colon = loc.find(":")
        if colon >= 0 and not 0 <= loc.find("/") < colon:
            raise SourceError("bad-response")  # a scheme we do not speak
        if not loc.startswith("/"):
            loc = path[:path.rfind("/") + 1] + loc
        if not valid_path(loc):
            raise SourceError("bad-response")
        return host, port, loc

    # One request, with retries

    def _fetch(self, host, port, path, offset):
        attempt = 0
        while True:
            try:
                conn = self._exchange(host, port, path, offset, True)
            except SourceError as e:
                if e.reason not in _RETRY_REASONS or attempt >= self._retries:
                    raise
            else:
                if self._h.status not in _RETRY_STATUS or attempt >= self._retries:
                    return conn
                self._drain(conn)
            self._pause(attempt)
            attempt += 1

    def _pause(self, attempt):
        import time

        ms = self._backoff_ms << attempt if attempt < 16 else self._max_backoff_ms
        if ms > self._max_backoff_ms:
            ms = self._max_backoff_ms
        half = ms // 2
        try:
            import random

            # Jitter keeps a fleet that failed together from retrying together.
            ms = half + random.getrandbits(16) % (half + 1)
        except ImportError:
            pass
        if hasattr(time, "sleep_ms"):
            time.sleep_ms(ms)
        else:
            time.sleep(ms / 1000)

    def _exchange(self, host, port, path, offset, may_reuse, data=None):
        conn = self._idle
        self._idle = None
        if conn is not None and (not may_reuse or conn.key != (host, port)):
            conn.close()
            conn = None
        reused = conn is not None
        if conn is None:
            conn = self._net.connect(host, port, self._ctx, self._connect_ms, self._read_ms)
            conn.key = (host, port)
        try:
            conn.send(self._request(host, port, path, offset, data))
            if data:
                conn.send(data)
            n = read_head(conn, self._head, self._small, self._read_ms)
            reason = parse_head(self._head, n, self._h)
            if reason:
                raise SourceError(reason)
        except SourceError as e:
            conn.close()
            if reused and e.reason in ("closed", "bad-response"):
                # The server may have dropped the idle connection, or left
                # bytes on it: one more try on a new connection.
                return self._exchange(host, port, path, offset, False, data)
            raise
        return conn

    def _request(self, host, port, path, offset, data):
        if ":" in host:
            host = "[" + host + "]"
        if port != (443 if self._scheme == "https" else 80):
            host = "{}:{}".format(host, port)
        if data is not None:
            extra = "Content-Type: application/json\r\nContent-Length: {}\r\n{}".format(
                len(data), self._post_headers)
        else:
            extra = "Range: bytes={}-\r\n".format(offset) if offset else ""
            if self._end:
                extra = "Range: bytes={}-{}\r\n".format(offset, self._end - 1)
        if not self._keep_alive:
            extra += "Connection: close\r\n"
        return "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: mpota\r\nAccept-Encoding: identity\r\n{}\r\n".format(
            "GET" if data is None else "POST", path, host, extra).encode()


def _stack():
    """The connection module of this runtime: netconn over `socket`
    (MicroPython, CPython) or poolconn over `socketpool` (CircuitPython).
    A board with neither cannot reach a server: SourceError('connect')."""
    try:
        # By name: each board's stubs describe one of the two.
        __import__("socket")
    except ImportError:
        try:
            __import__("socketpool")
        except ImportError:
            raise SourceError("connect")
        from . import poolconn

        return poolconn
    from . import netconn

    return netconn


def _failed(conn, reason):
    conn.close()
    return SourceError(reason)
