# SPDX-License-Identifier: MIT
"""`mpota serve` as a process, probed with CPython's own HTTP client: ranges,
lengths, what it refuses to serve, the status endpoint, its certificates,
and a clean stop on SIGINT and SIGTERM."""

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import time

import pytest
from cryptography import x509

from net.serveproc import ROOT, Serve

DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    (root / "b" / "chunks").mkdir(parents=True)
    (root / "b" / "f").write_bytes(DATA)
    (root / "b" / "empty").write_bytes(b"")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret").write_bytes(b"secret")
    (root / "b" / "link").symlink_to(outside / "secret")
    (root / ".hidden").write_bytes(b"hidden")
    return root


@pytest.fixture(scope="module")
def server(tree):
    srv = Serve(tree).start()
    yield srv
    assert srv.stop() == 0


def _client(srv):
    ctx = ssl.create_default_context(cafile=srv.ca_pem)
    return http.client.HTTPSConnection("localhost", srv.port, context=ctx, timeout=10)


def _get(srv, path, headers=None, method="GET", body=None):
    c = _client(srv)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def test_whole_file_has_its_length(server):
    status, headers, body = _get(server, "/b/f")
    assert (status, body) == (200, DATA)
    assert headers["Content-Length"] == str(len(DATA))
    assert headers["Accept-Ranges"] == "bytes"


def test_head_gives_the_length_without_a_body(server):
    status, headers, body = _get(server, "/b/f", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(DATA))


@pytest.mark.parametrize("spec, start, end", [
    ("bytes=100-", 100, len(DATA)),
    ("bytes=100-199", 100, 200),
    ("bytes=0-0", 0, 1),
    ("bytes=-50", len(DATA) - 50, len(DATA)),
    ("bytes=10000-999999", 10000, len(DATA)),
])
def test_single_range_is_a_206_with_content_range(server, spec, start, end):
    status, headers, body = _get(server, "/b/f", {"Range": spec})
    assert status == 206
    assert body == DATA[start:end]
    assert headers["Content-Range"] == "bytes {}-{}/{}".format(start, end - 1, len(DATA))
    assert headers["Content-Length"] == str(end - start)


@pytest.mark.parametrize("spec", ["bytes=10240-", "bytes=99999-", "bytes=-0"])
def test_range_past_the_end_is_416_with_the_size(server, spec):
    status, headers, _ = _get(server, "/b/f", {"Range": spec})
    assert status == 416
    assert headers["Content-Range"] == "bytes */{}".format(len(DATA))


@pytest.mark.parametrize("spec", ["bytes=0-1,5-6", "items=0-5", "bytes=5-1", "bytes=x-"])
def test_range_it_does_not_handle_is_ignored_for_the_whole_file(server, spec):
    status, _, body = _get(server, "/b/f", {"Range": spec})
    assert (status, body) == (200, DATA)


@pytest.mark.parametrize("path", [
    "/", "/b", "/b/", "/b/chunks/",  # directories: no listings
    "/b/../b/f", "/b/./f", "/b//f", "/b/%66", "/%2e%2e/etc/passwd", "/../../etc/passwd",
    "/.hidden", "/.mpota-serve/ca.key", "/.mpota-serve/server.key",  # dot names, the state
    "/b/link",  # a symlink out of DIR
    "/b/nothing", "b/f",
])
def test_nothing_but_plain_files_inside_dir_is_served(server, path):
    status, _, body = _get(server, path)
    assert status == 404, path
    assert b"secret" not in body and b"PRIVATE" not in body


def test_status_reports_are_appended_and_read_back(server):
    for n in range(3):
        status, _, _ = _get(server, "/.mpota/status", {"Content-Type": "application/json"},
                            "POST", json.dumps({"device": "d{}".format(n), "state": "ok"}).encode())
        assert status == 204
    status, headers, body = _get(server, "/.mpota/status")
    assert status == 200
    assert headers["Content-Length"] == str(len(body))
    reports = [json.loads(line) for line in body.decode().splitlines()]
    assert [r["status"]["device"] for r in reports[-3:]] == ["d0", "d1", "d2"]
    assert all(r["client"] == "127.0.0.1" and r["time"] > 0 for r in reports)


@pytest.mark.parametrize("body, status", [
    (b"[1, 2]", 400), (b"not json", 400), (b"\xff\xfe", 400),
    (b'{"a": "' + b"x" * 5000 + b'"}', 413),
])
def test_status_reports_are_bounded_json_objects(server, body, status):
    assert _get(server, "/.mpota/status", method="POST", body=body)[0] == status


def test_post_elsewhere_is_refused(server):
    assert _get(server, "/b/f", method="POST", body=b"{}")[0] == 405


def test_ca_and_server_certificate_persist_and_follow_the_names(tree, server, tmp_path):
    state = os.path.dirname(server.ca_pem)
    with open(server.ca_pem, "rb") as f:
        ca = f.read()
    with open(os.path.join(state, "server.pem"), "rb") as f:
        cert = f.read()
    with Serve(tree) as again:
        # Restarted: the same CA and the same server certificate.
        assert open(again.ca_pem, "rb").read() == ca
        assert open(os.path.join(state, "server.pem"), "rb").read() == cert
    copy = tmp_path / "state"
    copy.mkdir()
    for f in ("ca.pem", "ca.der", "ca.key"):
        (copy / f).write_bytes(open(os.path.join(state, f), "rb").read())
    with Serve(tree, "--state", str(copy), "--name", "device-lab.local", "--name", "10.0.0.7") as named:
        assert "device-lab.local" in named.url
        new = x509.load_pem_x509_certificate((copy / "server.pem").read_bytes())
    assert (copy / "ca.pem").read_bytes() == ca  # same CA, new server certificate
    san = new.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "device-lab.local" in san.get_values_for_type(x509.DNSName)
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    ca_cert = x509.load_pem_x509_certificate(ca)
    assert new.issuer == ca_cert.subject
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for key in ("ca.key", "server.key"):
        assert os.stat(os.path.join(state, key)).st_mode & 0o777 == 0o600
    assert os.stat(copy / "server.key").st_mode & 0o777 == 0o600


def test_plain_http_mode_serves_without_tls(tree):
    with Serve(tree, "--http") as plain:
        assert plain.url.startswith("http://")
        c = http.client.HTTPConnection("127.0.0.1", plain.port, timeout=10)
        c.request("GET", "/b/f", headers={"Range": "bytes=10-"})
        r = c.getresponse()
        assert (r.status, r.read()) == (206, DATA[10:])
        c.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_the_server_cleanly(tree, sig):
    srv = Serve(tree).start()
    # Hold a keep-alive connection open across the stop.
    c = _client(srv)
    c.request("GET", "/b/f")
    assert c.getresponse().read() == DATA
    assert srv.stop(sig) == 0
    assert "stopped" in "".join(srv.out)
    assert "Traceback" not in "".join(srv.err)
    c.close()


def test_sigterm_landing_while_requests_are_served_still_stops_the_server(tree):
    # A signal that arrives inside a request's processing once made the
    # server log it as a failed request and serve on (about 1 stop in 5).
    import threading

    for _ in range(12):
        srv = Serve(tree, "--http").start()
        done = threading.Event()

        def hammer(srv=srv, done=done):
            while not done.is_set():
                try:
                    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=2)
                    c.request("GET", "/b/f")
                    c.getresponse().read()
                    c.close()
                except (OSError, http.client.HTTPException):
                    # The server going away mid-answer is the point.
                    continue

        t = threading.Thread(target=hammer, daemon=True)
        t.start()
        time.sleep(0.1)
        try:
            assert srv.stop(signal.SIGTERM, timeout=5) == 0
        finally:
            done.set()
            t.join()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "mpota_host.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=30)


def test_help_names_every_option():
    out = _cli("serve", "--help").stdout
    for option in ("--host", "--port", "--http", "--state", "--name", "--fault", "--fault-on",
                   "--fault-times", "--quiet", "DIR"):
        assert option in out
    for mode in ("drop", "stall", "slow", "long", "short", "corrupt", "ignore-range", "endless"):
        assert mode in out


@pytest.mark.parametrize("args, message", [
    (["serve", "/nonexistent-dir"], "is not a directory"),
    (["serve", ".", "--fault", "melt"], "unknown fault"),
    (["serve", ".", "--fault", "drop"], "needs :N"),
    (["serve", ".", "--name", "bad name!", "--port", "0"], "not a host name"),
])
def test_bad_arguments_are_one_line_errors(args, message):
    r = _cli(*args)
    assert r.returncode == 1
    assert r.stderr.startswith("mpota: ") and message in r.stderr
    assert "Traceback" not in r.stderr


def test_stop_is_prompt_while_a_fault_holds_a_connection(tree):
    srv = Serve(tree, "--fault", "stall:100").start()
    c = _client(srv)
    c.request("GET", "/b/f")
    r = c.getresponse()
    assert r.read(100) == DATA[:100]
    # The stall holds the connection for as long as the server runs: a stop
    # that waited for it would never end (the 60 s is only a hang guard).
    assert srv.stop(timeout=60) == 0
    c.close()
