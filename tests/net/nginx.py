# SPDX-License-Identifier: MIT
"""Stock nginx (Debian's package) serving a directory over TLS on a free
loopback port, with a configuration written in a temporary prefix: the
static host of a published rollout repository (docs/ROLLOUT.md).

    with Nginx(repo_dir, tmp_path / "nginx") as web:
        web.url, web.ca_pem, web.get("/control") -> (status, headers, body)

The certificate comes from the project's development CA (devca), so a
device or a test pins web.ca_pem / web.ca_der as it pins mpota serve's.
"""

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

from mpota_host import devca

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
_TRIES = 5  # fresh ports to try if another process takes ours first
_READY_PROBES = 300  # connection attempts, 0.05 s apart, before giving up


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONF = """\
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    default_type application/octet-stream;
    sendfile on;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost 127.0.0.1;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root};
        location = /control {{ expires 60s; }}
        location / {{ expires max; }}
    }}
}}
"""


class Nginx:
    """nginx serving `root` at https://127.0.0.1:<port>/; stop() ends it."""

    def __init__(self, root, prefix):
        self.root = Path(root).resolve()
        self.prefix = Path(prefix).resolve()
        self.proc = None
        self.port = None
        self.url = None

    def start(self):
        (self.prefix / "tmp").mkdir(parents=True, exist_ok=True)
        tls, _ = devca.ensure(str(self.prefix / "ca"), ("127.0.0.1", "localhost"))
        self.ca_pem, self.ca_der = tls.ca_pem, tls.ca_der
        for _ in range(_TRIES):
            self.port = _free_port()
            conf = self.prefix / "nginx.conf"
            conf.write_text(CONF.format(
                user="user root;\n" if os.geteuid() == 0 else "", prefix=self.prefix,
                port=self.port, cert=tls.cert, key=tls.key, root=self.root))
            self.proc = subprocess.Popen(
                [NGINX, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"),
                 "-c", str(conf), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._ready():
                self.url = "https://127.0.0.1:{}/".format(self.port)
                return self
            self.proc.wait()
        raise RuntimeError("nginx did not start: {}".format(self.errors()))

    def _ready(self):
        for _ in range(_READY_PROBES):
            if self.proc.poll() is not None:
                return False  # e.g. the port was taken meanwhile
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def errors(self):
        try:
            return (self.prefix / "error.log").read_text()[-2000:]
        except OSError:
            return ""

    def context(self):
        return ssl.create_default_context(cafile=self.ca_pem)

    def get(self, path, headers=None):
        """(status, headers dict, body) of GET path over TLS, CA pinned."""
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context(), timeout=30)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
