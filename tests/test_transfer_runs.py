# SPDX-License-Identifier: MIT
"""Runs of chunks in one request (docs/TRANSPORT.md, "Runs of chunks"):
the agent on the unix port against a real `mpota serve` over HTTPS, its
--fault modes standing in for a broken link and for servers that ignore
Range, drop the stream file or corrupt it. Counted: requests per file
(the server's log), chunks fetched and copied (the install's report)."""

import shutil

import pytest

from agent import kit
from bundles import factory as f
from mpota_host import streamfile
from mpota_host.rollout import publish
from net.serveproc import Serve

IMG1 = kit.image(64 * kit.CHUNK, seed=41)
# Chunks 3-5, 20 and 30-33 differ from v1: three runs, eight chunks.
IMG2 = kit.changed(IMG1, [3, 4, 5, 20, 30, 31, 32, 33])
# Chunks 2 and 60: a second run 57 KB into the stream file.
IMG3 = kit.changed(IMG1, [2, 60], seed=3)
IMG_NEW = kit.image(64 * kit.CHUNK, seed=42)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    kit.root(d)
    kit.bundle(d, "v1", IMG1, version=1, security_counter=1, sequence=1)
    kit.bundle(d, "v2", IMG2, version=2, security_counter=2, sequence=2)
    kit.bundle(d, "v3", IMG3, version=3, security_counter=2, sequence=3)
    kit.bundle(d, "new", IMG_NEW, version=4, security_counter=2, sequence=4)
    kit.bundle(d, "newz", IMG_NEW, version=4, security_counter=2, sequence=4,
               compress="deflate", window_bits=10)
    # An older bundle: signed before stream files existed.
    shutil.copytree(d / "v2", d / "old")
    shutil.rmtree(d / "old" / "stream")
    return d


_CODE = """
import micropython
from mpota.source import SourceError
from mpota.source.http import HttpSource
from mpota.bundle.error import BundleError
from mpota.update.install import Install
dev = device({base!r}, slot_size=65536)
provision(dev, {root!r}, {v1!r})
with open({ca!r}, "rb") as fh:
    ca = fh.read()
src = HttpSource({url!r}, ca=ca, backoff=0)
inst = Install(dev, src)
if {lock!r}:
    inst.hold = (micropython.heap_lock, micropython.heap_unlock)
try:
    emit("install", report(inst.run()))
except (BundleError, SourceError) as e:
    emit("install", {{"refused": e.reason}})
emit("opens", inst.stream.opens)
emit("state", state(dev))
"""


def _install(target, tmp_path, tree, server, bundle, lock=False):
    code = _CODE.format(base=str(tmp_path / "dev"), root=str(tree / "root"), v1=str(tree / "v1"),
                        ca=server.ca_der, url=server.url + bundle + "/", lock=lock)
    r = kit.run(target, code)
    gets = [line for line in server.err if '"GET /{}/'.format(bundle) in line]
    r["stream"] = [line for line in gets if "/stream/" in line]
    r["chunks"] = [line for line in gets if "/chunks/" in line]
    return r


def _status(lines, code):
    return sum('" {} '.format(code) in line for line in lines)


def test_delta_fetches_each_run_of_changed_chunks_with_one_request(unix_target, tmp_path, tree):
    with Serve(tree, quiet=False) as server:
        r = _install(unix_target, tmp_path, tree, server, "v2")
    rep = r["install"]
    assert rep["outcome"] == "installed"
    assert rep["fetched"] == 8 and rep["copied"] == 56 and rep["bytes"] == 8 * kit.CHUNK
    # Three runs (3-5, 20, 30-33): three bounded Range requests, no chunk file.
    assert len(r["stream"]) == 3 == _status(r["stream"], 206) == r["opens"]
    assert r["chunks"] == []


def test_full_update_is_one_request_and_its_loop_allocates_nothing(unix_target, tmp_path, tree):
    with Serve(tree, quiet=False) as server:
        r = _install(unix_target, tmp_path, tree, server, "new", lock=True)
    assert r["install"]["outcome"] == "installed" and r["install"]["fetched"] == 64
    assert len(r["stream"]) == 1 == _status(r["stream"], 200) and r["chunks"] == []


def test_deflated_run_is_one_request_and_its_loop_allocates_nothing(unix_target, tmp_path, tree):
    with Serve(tree, quiet=False) as server:
        r = _install(unix_target, tmp_path, tree, server, "newz", lock=True)
    assert r["install"]["outcome"] == "installed" and r["install"]["fetched"] == 64
    assert len(r["stream"]) == 1 and r["chunks"] == []


def test_drop_mid_run_resumes_at_the_byte_it_stopped(unix_target, tmp_path, tree):
    # The first run (chunks 3-5, 3 KB) is cut 1500 bytes in, twice.
    with Serve(tree, "--fault", "drop:1500", "--fault-on", "/stream/", "--fault-times", "2",
               quiet=False) as server:
        r = _install(unix_target, tmp_path, tree, server, "v2")
    rep = r["install"]
    assert rep["outcome"] == "installed" and rep["fetched"] == 8
    assert rep["bytes"] == 8 * kit.CHUNK
    # Three runs and two resumptions, each a Range; no chunk file.
    assert len(r["stream"]) == 5 == _status(r["stream"], 206) and r["chunks"] == []


def test_bundle_without_a_stream_file_is_fetched_chunk_by_chunk(unix_target, tmp_path, tree):
    with Serve(tree, quiet=False) as server:
        r = _install(unix_target, tmp_path, tree, server, "old")
    rep = r["install"]
    assert rep["outcome"] == "installed" and rep["fetched"] == 8
    # One look for the stream file (404), then the chunk files.
    assert len(r["stream"]) == 1 == _status(r["stream"], 404)
    assert len(r["chunks"]) == 8


def test_server_ignoring_range_is_read_on_near_and_left_far(unix_target, tmp_path, tree):
    # v3's runs are chunk 2 (2 KB in) and chunk 60 (60 KB in). A server
    # that answers every Range with the whole file: the first answer is
    # read on past 2 KB; for the second, 57 KB on, the agent asks again,
    # gets the whole file again, and takes chunk 60's own file instead.
    with Serve(tree, "--fault", "ignore-range", "--fault-on", "/stream/", quiet=False) as server:
        r = _install(unix_target, tmp_path, tree, server, "v3")
    rep = r["install"]
    assert rep["outcome"] == "installed" and rep["fetched"] == 2 and rep["copied"] == 62
    assert len(r["stream"]) == 2 == _status(r["stream"], 200)
    assert len(r["chunks"]) == 1 and "/chunks/" in r["chunks"][0]


def test_corrupted_stream_byte_is_refused_and_nothing_is_selected(unix_target, tmp_path, tree):
    # A byte of chunk 4 flipped on the way: its stored hash does not match.
    with Serve(tree, "--fault", "corrupt:{}".format(4 * kit.CHUNK + 10), "--fault-on", "/stream/",
               quiet=False) as server:
        r = _install(unix_target, tmp_path, tree, server, "v2")
    assert r["install"] == {"refused": "hash-mismatch"}
    assert r["state"]["trial"] == 255 and r["state"]["active"] == 0


def test_verify_refuses_a_tampered_stream_file_and_publish_gives_an_older_bundle_one(tmp_path, tree):
    b = tmp_path / "b"
    shutil.copytree(tree / "v2", b)
    ok = f.cli("verify", b, "--trust", tree / "root")
    assert ok.returncode == 0, ok.stderr
    m = streamfile.manifest(str(b))
    path = streamfile.path(str(b), m)
    data = bytearray(open(path, "rb").read())
    assert len(data) == len(IMG2)  # stored as is: the image's bytes, in order
    data[5 * kit.CHUNK] ^= 1
    open(path, "wb").write(bytes(data))
    bad = f.cli("verify", b, "--trust", tree / "root")
    assert bad.returncode == 1 and "chunk 5 does not match the chunk table" in bad.stderr
    # An older bundle gets its stream file when published.
    dst = tmp_path / "repo" / "bundles" / "old"
    publish._copy_bundle(str(tree / "old"), str(dst))
    assert open(streamfile.path(str(dst), m), "rb").read() == IMG2
    assert streamfile.problem(str(dst), m) is None
    assert not (tree / "old" / "stream").exists()  # the source is left as it was
