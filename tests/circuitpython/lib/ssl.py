# SPDX-License-Identifier: MIT
"""Stand-in for CircuitPython's `ssl` (shared-bindings/ssl,
shared-module/ssl) on the unix port's mbedtls (`_host_tls`, see ../cmod):
the TLS is real, with the certificate chain and host name checked by
mbedtls as on the board.

As strict as CircuitPython:
- `load_verify_locations(cadata=...)` takes one PEM certificate as str
  (bytes is a TypeError; cafile and capath raise NotImplementedError, as
  shared-bindings/ssl/SSLContext.c does: the board has no file CA store);
  only the first certificate of cadata is used;
- without load_verify_locations the context trusts the board's bundle,
  which here knows no test CA, so every test server is refused;
- `wrap_socket(sock, *, server_side=False, server_hostname=None)`: the
  keywords only, a socketpool.Socket only; the host name is checked only
  when server_hostname is given;
- `SSLSocket.connect(address)` connects and runs the whole handshake in
  one call; each receive is bounded by the socket's timeout, not the
  handshake as a whole; a failed handshake is an OSError;
- `recv_into(buffer, bufsize)` and `send`, no read/write/readinto;
  timeouts are OSError(116), non-blocking "no data" OSError(EAGAIN).
"""

import errno
import select

import _host_tls as _t
import socketpool

_LWIP_ETIMEDOUT = 116
_CERT_VERIFY_FAILED = -0x2700  # mbedtls's MBEDTLS_ERR_X509_CERT_VERIFY_FAILED


class SSLContext:
    def __init__(self, *args):
        if len(args) > 1:
            raise TypeError("args")
        self._ca = None  # None: the board's bundle (no test CA in it)
        self._chain = None
        self.check_hostname = True

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        if cafile is not None:
            raise NotImplementedError("cafile")
        if capath is not None:
            raise NotImplementedError("capath")
        if not isinstance(cadata, str):
            raise TypeError("can't convert to str implicitly")
        end = cadata.find("-----END CERTIFICATE-----")
        if end >= 0:
            cadata = cadata[:end + len("-----END CERTIFICATE-----")] + "\n"
        self._ca = cadata

    def set_default_verify_paths(self):
        self._ca = None

    def load_cert_chain(self, certfile, keyfile=None):
        with open(certfile, "rb") as f:
            cert = f.read()
        with open(keyfile or certfile, "rb") as f:
            key = f.read()
        self._chain = (cert, key)

    def wrap_socket(self, sock, *, server_side=False, server_hostname=None):
        if not isinstance(sock, socketpool.Socket) or sock.type != socketpool.SocketPool.SOCK_STREAM:
            raise RuntimeError("Invalid socket for TLS")
        if server_side and server_hostname is not None:
            raise ValueError("Server side context cannot have hostname")
        return SSLSocket(self, sock, server_side, server_hostname)


def create_default_context():
    return SSLContext()


class SSLSocket:
    def __init__(self, ctx, sock, server_side, hostname):
        self._ctx = ctx
        self._sock = sock
        self._server_side = server_side
        self._hostname = hostname
        self._tls = None
        self._poll = None
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def settimeout(self, value):
        self._sock.settimeout(value)

    def setblocking(self, flag):
        self._sock.setblocking(flag)

    def setsockopt(self, level, optname, value):
        self._sock.setsockopt(level, optname, value)

    def connect(self, address):
        self._sock.connect(address)
        c = self._ctx
        hctx = _t.SSLContext(_t.PROTOCOL_TLS_CLIENT)
        if c._ca is None:
            # The board's bundle: public CAs, none of which signed a test
            # server. An empty CA list makes mbedtls refuse every chain.
            hctx.verify_mode = _t.CERT_REQUIRED
        else:
            hctx.verify_mode = _t.CERT_REQUIRED
            try:
                hctx.load_verify_locations(c._ca.encode())
            except (OSError, ValueError):
                self.close()
                raise ValueError("invalid cert")
        raw = self._sock._host()
        t = self._sock._timeout
        raw.settimeout(t if t else None)
        try:
            self._tls = hctx.wrap_socket(raw, server_hostname=self._hostname)
        except (OSError, ValueError) as e:
            self.close()
            code = getattr(e, "errno", None)
            if code in (errno.EAGAIN, errno.ETIMEDOUT):
                raise OSError(_LWIP_ETIMEDOUT)
            raise OSError(_CERT_VERIFY_FAILED if isinstance(e, ValueError) else (code or -1),
                          "Failed SSL handshake")
        raw.setblocking(False)
        self._poll = select.poll()
        self._poll.register(self._tls, select.POLLIN)

    def _wait(self, event, what):
        t = self._sock._timeout
        if t == 0:
            raise OSError(errno.EAGAIN)
        self._poll.modify(self._tls, event)
        if not self._poll.poll(-1 if t is None else int(t * 1000)):
            raise OSError(_LWIP_ETIMEDOUT)

    def recv_into(self, buffer, bufsize=0):
        if self._tls is None:
            raise OSError(errno.ENOTCONN)
        n = len(buffer)
        if 0 < bufsize < n:
            n = bufsize
        while True:
            try:
                data = self._tls.read(n)
            except OSError as e:
                raise OSError(getattr(e, "errno", -1) or -1)
            if data is not None:
                buffer[:len(data)] = data
                return len(data)
            self._wait(select.POLLIN, "read")

    def send(self, bytes):
        if self._tls is None:
            raise OSError(errno.ENOTCONN)
        while True:
            n = self._tls.write(bytes)
            if n is not None:
                return n
            self._wait(select.POLLOUT, "write")

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self._tls is not None:
            try:
                self._tls.close()
            except OSError:
                pass
        self._sock.close()
