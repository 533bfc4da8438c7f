# SPDX-License-Identifier: MIT
"""The device's HTTPS source against a real `mpota serve`, under the
MicroPython unix build: downloads whole and by Range, the pinned CA and the
host name, plain HTTP only when allowed, keep-alive, and a heap-locked
body loop."""

import hashlib
import os
import shutil

import pytest

from net import device
from net.serveproc import Serve

SIZES = {"empty": 0, "one": 1, "exact": 4096, "blob": 100_000}


def _sha(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A served directory: files of awkward sizes under b/, like a bundle."""
    root = tmp_path_factory.mktemp("served")
    (root / "b" / "chunks").mkdir(parents=True)
    files = {}
    for name, size in SIZES.items():
        data = os.urandom(size)
        (root / "b" / name).write_bytes(data)
        files[name] = data
    chunk = os.urandom(3000)
    (root / "b" / "chunks" / _sha(chunk)).write_bytes(chunk)
    files["chunks/" + _sha(chunk)] = chunk
    return root, files


@pytest.fixture(scope="module")
def server(tree):
    srv = Serve(tree[0], quiet=False).start()
    yield srv
    assert srv.stop() == 0


def _setup(server, **options):
    opts = "".join(", {}={!r}".format(k, v) for k, v in options.items())
    return "src = HttpSource({!r}, ca=ca({!r}){})\n".format(server.url + "b/", server.ca_der, opts)


def test_whole_files_arrive_intact_with_full_reads(unix_target, server, tree):
    _, files = tree
    code = _setup(server)
    for name in files:
        for size in (1, 100, 1024, 4096, 65536):
            code += "report({!r}, read_all, src, {!r}, 0, {})\n".format([name, size], name, size)
    for r in device.run(unix_target, code):
        name, size = r["label"]
        data = files[name]
        assert r["ok"][:2] == [len(data), _sha(data)], r
        # Only the last read of a file may come up short.
        assert r["ok"][2] <= 1, r


def test_resume_at_any_offset_returns_exactly_the_tail(unix_target, server, tree):
    _, files = tree
    data = files["blob"]
    offsets = [1, 2, 1023, 1024, 4097, 65535, len(data) - 1, len(data)]
    code = _setup(server)
    for off in offsets:
        code += "report({}, read_all, src, 'blob', {}, 1000)\n".format(off, off)
    code += "report('past', read_all, src, 'blob', {}, 1000)\n".format(len(data) + 1)
    results = device.run(unix_target, code)
    for r in results[:-1]:
        tail = data[r["label"]:]
        assert r["ok"][:2] == [len(tail), _sha(tail)], r
    # Past the end is not the end of the file: the server's 416 is refused.
    assert results[-1]["error"] == "http-status"


def test_missing_file_is_not_found_and_names_cannot_escape(unix_target, server):
    code = _setup(server)
    code += "report('missing', read_all, src, 'chunks/' + '0' * 64)\n"
    code += "report('dotdot', read_all, src, '../b/blob')\n"
    code += "report('crlf', read_all, src, 'blob\\r\\nX-Evil: 1')\n"
    code += "report('hidden', read_all, src, '.mpota-serve/ca.key')\n"
    missing, dotdot, crlf, hidden = device.run(unix_target, code)
    assert missing["error"] == "not-found"
    assert dotdot["misuse"] == crlf["misuse"] == "name"
    # The client may ask; the server never serves its own state.
    assert hidden["error"] == "not-found"


def test_keep_alive_carries_many_files_over_one_connection(unix_target, server, tree):
    _, files = tree
    before = len(server.err)
    code = _setup(server)
    for name in files:
        code += "report({!r}, read_all, src, {!r})\n".format(name, name)
    code += "report('missing', read_all, src, 'nothing-here')\n"
    code += "report('again', read_all, src, 'blob', 5)\n"
    results = device.run(unix_target, code)
    assert all("ok" in r for r in results if r["label"] != "missing")
    log = [line for line in server.err[before:] if '"GET /b/' in line]
    assert len(log) == len(files) + 2
    # The log names the client's address and port: one port, one connection.
    assert len({line.split()[1] for line in log}) == 1, log


def test_server_certificate_from_another_ca_is_refused(unix_target, server, tree, tmp_path):
    with Serve(tree[0], "--state", str(tmp_path / "other-ca")) as impostor:
        code = "src = HttpSource({!r}, ca=ca({!r}), retries=0)\n".format(impostor.url + "b/", server.ca_der)
        code += "report('impostor', read_all, src, 'one')\n"
        # The same request pinned to the impostor's own CA goes through:
        # what failed above was the CA, not the server.
        code += "src2 = HttpSource({!r}, ca=ca({!r}), retries=0)\n".format(impostor.url + "b/", impostor.ca_pem)
        code += "report('own-ca', read_all, src2, 'one')\n"
        refused, accepted = device.run(unix_target, code)
    assert refused["error"] == "tls"
    assert accepted["ok"][0] == 1


def test_certificate_for_another_host_name_is_refused(unix_target, server, tree, tmp_path):
    # Same CA, but a server certificate made for another name.
    state = tmp_path / "same-ca"
    state.mkdir()
    ca_dir = os.path.dirname(server.ca_der)
    for f in ("ca.pem", "ca.der", "ca.key"):
        shutil.copy(os.path.join(ca_dir, f), state / f)
    with Serve(tree[0], "--state", str(state), "--name", "other.invalid") as wrong:
        code = "src = HttpSource({!r}, ca=ca({!r}), retries=0)\n".format(wrong.url.replace("other.invalid", "localhost") + "b/", server.ca_der)
        code += "report('wrong-name', read_all, src, 'one')\n"
        code += "src = HttpSource({!r}, ca=ca({!r}), retries=0)\n".format(server.url.replace("localhost", "127.0.0.1") + "b/", server.ca_der)
        code += "report('ip', read_all, src, 'one')\n"
        wrong_name, by_address = device.run(unix_target, code)
    assert wrong_name["error"] == "tls"
    # The real server's certificate also names 127.0.0.1.
    assert by_address["ok"][0] == 1


def test_plain_http_is_refused_unless_allowed(unix_target, tree):
    with Serve(tree[0], "--http") as plain:
        url = plain.url + "b/"
        code = "report('refused', HttpSource, {!r})\n".format(url)
        code += "src = HttpSource({!r}, allow_http=True)\n".format(url)
        code += "report('allowed', read_all, src, 'exact')\n"
        refused, allowed = device.run(unix_target, code)
    assert refused["error"] == "tls"
    assert allowed["ok"][0] == SIZES["exact"]


def test_https_without_a_pinned_ca_is_misuse(unix_target, server):
    code = "report('no-ca', HttpSource, {!r})\n".format(server.url)
    code += "report('bad-ca', HttpSource, {!r}, ca=b'not a certificate')\n".format(server.url)
    no_ca, bad_ca = device.run(unix_target, code)
    assert no_ca["misuse"] == bad_ca["misuse"] == "ca"


def test_body_loop_allocates_nothing_with_the_heap_locked(unix_target, server, tree):
    code = _setup(server) + r'''
import micropython
buf = bytearray(512)
r = src.open('blob')
got = r.readinto(buf)
calls = 0
micropython.heap_lock()
try:
    while True:
        n = r.readinto(buf)
        got += n
        if n == 0:
            break
        calls += 1
finally:
    micropython.heap_unlock()
r.close()
print('RESULT ' + json.dumps({'ok': [got, calls]}))
'''
    (r,) = device.run(unix_target, code)
    assert r["ok"] == [SIZES["blob"], -(-SIZES["blob"] // 512) - 1]


def test_download_fits_a_small_heap(unix_target, server, tree):
    # docs/TRANSPORT.md gives the measured minimum; this keeps us near it.
    code = _setup(server) + "report('small-heap', read_all, src, 'blob', 0, 1024)\n"
    (r,) = device.run(unix_target, code, heapsize=120 * 1024)
    assert r["ok"][:2] == [SIZES["blob"], _sha(tree[1]["blob"])]


def test_cpython_runs_the_same_client(server, tree):
    _, files = tree
    code = _setup(server)
    code += "report('whole', read_all, src, 'blob', 0, 4096)\n"
    code += "report('tail', read_all, src, 'blob', 777, 4096)\n"
    code += "report('missing', read_all, src, 'nothing')\n"
    whole, tail, missing = device.run_cpython(code)
    data = files["blob"]
    assert whole["ok"][:2] == [len(data), _sha(data)]
    assert tail["ok"][:2] == [len(data) - 777, _sha(data[777:])]
    assert missing["error"] == "not-found"


def test_status_report_is_logged_and_read_back(unix_target, server):
    code = _setup(server)
    code += "report('post', src.post, '/.mpota/status', b'{\"device\": \"sim-1\", \"version\": 2}')\n"
    code += "report('not-object', src.post, '/.mpota/status', b'[1, 2]')\n"
    code += "report('too-big', src.post, '/.mpota/status', b'{\"x\": \"' + b'a' * 5000 + b'\"}')\n"
    post, not_object, too_big = device.run(unix_target, code)
    assert post["ok"] == 204
    assert not_object["ok"] == 400
    assert too_big["ok"] == 413
    log = os.path.join(os.path.dirname(server.ca_der), "status.log")
    with open(log) as f:
        lines = f.read().splitlines()
    assert '"device": "sim-1"' in lines[-1] and '"client": "127.0.0.1"' in lines[-1]
