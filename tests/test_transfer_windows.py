# SPDX-License-Identifier: MIT
"""An image of more chunks than the plan looks ahead (update/plan.py,
1024 chunks): each window is planned in turn, a run is asked for with at
most one request per window, and a run that crosses a window's end is
picked up where it stopped. The agent on the unix port against a real
`mpota serve` over HTTPS; requests counted in the server's log."""

import pytest

from agent import kit
from net.serveproc import Serve

SMALL = 256  # the smallest chunk: many chunks in a small image
COUNT = 1088  # one window of 1024 chunks and 64 more
IMG1 = kit.image(COUNT * SMALL, seed=51)


def _changed(data, chunks):
    out = bytearray(data)
    for c in chunks:
        for i in range(c * SMALL, (c + 1) * SMALL, 5):
            out[i] ^= 0xA5
    return bytes(out)


# Chunks 1000-1040 differ: one run across the end of the first window.
IMG2 = _changed(IMG1, range(1000, 1041))
IMG_NEW = kit.image(COUNT * SMALL, seed=52)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    d = tmp_path_factory.mktemp("windows")
    kit.root(d)
    for name, img, v in (("v1", IMG1, 1), ("v2", IMG2, 2), ("new", IMG_NEW, 3)):
        kit.bundle(d, name, img, version=v, security_counter=1, sequence=v, chunk_size=SMALL)
    return d


_CODE = """
import micropython
from mpota.source.http import HttpSource
from mpota.update.install import Install
dev = device({base!r}, slot_size=294912, table_size=81920)
provision(dev, {root!r}, {v1!r})
with open({ca!r}, "rb") as fh:
    ca = fh.read()
inst = Install(dev, HttpSource({url!r}, ca=ca, backoff=0))
inst.hold = (micropython.heap_lock, micropython.heap_unlock)
emit("install", report(inst.run()))
emit("opens", inst.stream.opens)
"""


def _install(target, tmp_path, tree, server, bundle):
    code = _CODE.format(base=str(tmp_path / "dev"), root=str(tree / "root"), v1=str(tree / "v1"),
                        ca=server.ca_der, url=server.url + bundle + "/")
    r = kit.run(target, code, timeout=300)
    gets = [line for line in server.err if '"GET /{}/'.format(bundle) in line]
    r["stream"] = [line for line in gets if "/stream/" in line]
    r["chunks"] = [line for line in gets if "/chunks/" in line]
    return r


def test_run_across_the_end_of_the_plan_window_is_continued_in_the_next(
        unix_target, tmp_path, tree):
    with Serve(tree, quiet=False) as server:
        r = _install(unix_target, tmp_path, tree, server, "v2")
    rep = r["install"]
    assert rep["outcome"] == "installed"
    assert rep["fetched"] == 41 and rep["copied"] == COUNT - 41
    # 1000-1023 in the first window, 1024-1040 in the second.
    assert len(r["stream"]) == 2 == r["opens"] and r["chunks"] == []


def test_full_update_longer_than_a_window_is_one_request_per_window(unix_target, tmp_path, tree):
    with Serve(tree, quiet=False) as server:
        r = _install(unix_target, tmp_path, tree, server, "new")
    rep = r["install"]
    assert rep["outcome"] == "installed" and rep["fetched"] == COUNT
    assert len(r["stream"]) == 2 == r["opens"] and r["chunks"] == []
