# SPDX-License-Identifier: MIT
"""Stand-in for CircuitPython's `socketpool` (shared-bindings/socketpool),
on the unix port's own sockets (`_host_socket`, see ../cmod).

As strict as the espressif port where it matters to a client:
- `recv_into(buffer, bufsize)` takes no keywords and returns some bytes
  (at most bufsize), 0 at the end of the stream in blocking mode;
- a timeout raises OSError(116): the espressif port raises lwIP's
  ETIMEDOUT, which is not `errno.ETIMEDOUT` (110) of CircuitPython's own
  errno module;
- non-blocking (`settimeout(0)`): no data is OSError(EAGAIN), and a peer
  that closed is OSError(ENOTCONN), not 0;
- `getaddrinfo` failures are `SocketPool.gaierror`; addresses are
  (host, port) tuples.
"""

import errno

import _host_socket as _s

# lwIP's ETIMEDOUT on the espressif port (not errno.ETIMEDOUT).
_LWIP_ETIMEDOUT = 116


class _Made:
    # Sockets come from SocketPool.socket() and accept() only (the real
    # Socket cannot be made directly): its constructor lives here.
    def __init__(self, pool, raw, family, type, proto):
        self._pool = pool
        self._s = raw
        self.family = family
        self.type = type
        self.proto = proto
        self._timeout = None  # None: block for ever; 0: non-blocking
        self._closed = False


def _socket(pool, raw, family, type, proto):
    return Socket(pool, raw, family, type, proto)


class Socket(_Made):

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _live(self):
        if self._closed:
            raise OSError(errno.EBADF)
        return self._s

    def settimeout(self, value):
        if value is not None and value < 0:
            raise ValueError("timeout")
        self._timeout = value
        s = self._live()
        if value is None:
            s.setblocking(True)
        elif value == 0:
            s.setblocking(False)
        else:
            s.settimeout(value)

    def setblocking(self, flag):
        self.settimeout(None if flag else 0)

    def setsockopt(self, level, optname, value):
        self._live().setsockopt(level, optname, value)

    def connect(self, address):
        host, port = address
        ai = _s.getaddrinfo(host, port, 0, _s.SOCK_STREAM)
        try:
            self._live().connect(ai[0][4])
        except OSError as e:
            raise self._map(e)

    def bind(self, address):
        ai = _s.getaddrinfo(address[0], address[1], 0, _s.SOCK_STREAM)
        self._live().bind(ai[0][4])

    def listen(self, backlog):
        self._live().listen(backlog)

    def accept(self):
        raw, addr = self._live().accept()
        other = _socket(self._pool, raw, self.family, self.type, self.proto)
        a = _s.sockaddr(addr)
        return other, (_ntoa(a[1]), a[2])

    def _map(self, e):
        code = e.errno if hasattr(e, "errno") else e.args[0]
        if code in (errno.EAGAIN, errno.ETIMEDOUT, errno.EINPROGRESS) and self._timeout:
            return OSError(_LWIP_ETIMEDOUT)
        return e

    def recv_into(self, buffer, bufsize=0):
        n = len(buffer)
        if 0 < bufsize < n:
            n = bufsize
        s = self._live()
        try:
            data = s.recv(n)
        except OSError as e:
            raise self._map(e)
        if not data and self._timeout == 0:
            raise OSError(errno.ENOTCONN)
        buffer[:len(data)] = data
        return len(data)

    def send(self, bytes):
        s = self._live()
        try:
            n = s.send(bytes)
        except OSError as e:
            raise self._map(e)
        if n is None:
            raise OSError(errno.EAGAIN)
        return n

    def sendall(self, bytes):
        view = memoryview(bytes)
        while view:
            view = view[self.send(view):]

    def close(self):
        if not self._closed:
            self._closed = True
            self._s.close()

    # For the ssl stand-in: the host socket under this one.
    def _host(self):
        return self._live()


class SocketPool:
    AF_INET = _s.AF_INET
    AF_INET6 = _s.AF_INET6
    SOCK_STREAM = _s.SOCK_STREAM
    SOCK_DGRAM = _s.SOCK_DGRAM
    SOCK_RAW = _s.SOCK_RAW
    EAI_NONAME = -2
    SOL_SOCKET = _s.SOL_SOCKET
    SO_REUSEADDR = _s.SO_REUSEADDR
    TCP_NODELAY = 1
    IPPROTO_IP = 0
    IPPROTO_ICMP = 1
    IPPROTO_TCP = 6
    IPPROTO_UDP = 17
    IPPROTO_IPV6 = 41
    IPPROTO_RAW = 255
    IP_MULTICAST_TTL = 5

    class gaierror(OSError):
        pass

    def __init__(self, radio):
        if not getattr(radio, "_standin_radio", False):
            raise TypeError("radio")
        self._radio = radio

    def socket(self, family=_s.AF_INET, type=_s.SOCK_STREAM, proto=0):
        if not self._radio.connected:
            raise OSError(errno.ENETUNREACH) if hasattr(errno, "ENETUNREACH") else OSError(101)
        return _socket(self, _s._host_socket(family, type), family, type, proto)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        try:
            found = _s.getaddrinfo(host, port, family, type or _s.SOCK_STREAM)
        except OSError:
            raise SocketPool.gaierror(SocketPool.EAI_NONAME, "Name or service not known")
        out = []
        for f, t, p, _name, addr in found:
            a = _s.sockaddr(addr)
            out.append((f, t, p, "", (_ntoa(a[1]), a[2])))
        return out


def _ntoa(packed):
    if len(packed) == 4:
        return "{}.{}.{}.{}".format(packed[0], packed[1], packed[2], packed[3])
    return _s.inet_ntop(_s.AF_INET6, packed)
