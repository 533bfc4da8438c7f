# SPDX-License-Identifier: MIT
"""A tiny HTTP server that misbehaves on purpose (the one fake of these
tests: a hostile or broken server is the edge being tested).

Each request is handed to a script, script(server, conn, head, n), where
head is the request head as text and n counts requests from 1. The script
writes whatever bytes it likes on conn and returns True to keep the
connection for another request. The server records every request head and
counts connections.
"""

import socket
import ssl
import threading


def response(status, headers=(), body=b"", reason="X"):
    """Raw bytes of a response: nothing added that was not asked for."""
    head = "HTTP/1.1 {} {}\r\n".format(status, reason)
    for name, value in headers:
        head += "{}: {}\r\n".format(name, value)
    return head.encode() + b"\r\n" + body


def ok(body, extra=()):
    return response(200, [("Content-Length", len(body))] + list(extra), body)


class RawServer:
    def __init__(self, script, tls=None):
        """tls: (cert_file, key_file) to speak TLS."""
        self.script = script
        self.requests = []
        self.connections = 0
        self.lock = threading.Lock()
        self.ctx = None
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*tls)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.closing = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path="/", host="127.0.0.1"):
        return "{}://{}:{}{}".format("https" if self.ctx else "http", host, self.port, path)

    def _accept(self):
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(20)
            if self.ctx:
                conn = self.ctx.wrap_socket(conn, server_side=True)
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                with self.lock:
                    self.requests.append(head.decode())
                    n = len(self.requests)
                if not self.script(self, conn, head.decode(), n):
                    return
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def close(self):
        self.closing.set()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
