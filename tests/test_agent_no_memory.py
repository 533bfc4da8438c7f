# SPDX-License-Identifier: MIT
"""A heap with no room for the update is a refusal with a reason code,
not a MemoryError out of the agent: an HTTPS source whose TLS context
(about 40 KB in one piece) finds no room, and a data buffer larger than
the heap. Nothing is left half-done: the device runs its image, has no
trial, and the same update succeeds once there is room."""

import shutil

import pytest

from agent import heap_min, kit


@pytest.fixture(scope="module")
def setup(unix_target, tmp_path_factory):
    return heap_min.prepare(tmp_path_factory.mktemp("nomem"))


def _status(dev):
    out = kit.sim(dev, "status")
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_tls_context_without_room_is_refused_as_no_memory(setup):
    dev, snapshot, bundles, _ = setup
    shutil.copyfile(snapshot, dev / "flash")
    before = _status(dev)
    server = heap_min.start_server(dev.parent)
    try:
        assert kit.sim(dev, "set", "ca", server.ca_der).returncode == 0
        url = server.url + bundles["stored"].name
        # 160 KB: the agent loads, but not the HTTPS source with its context.
        small = kit.sim(dev, "install", "--source", url, heapsize=160 * 1024)
        assert small.returncode == 1
        assert small.stderr.strip().splitlines()[-1] == "sim: not done: no-memory"
        assert _status(dev) == before
        ok = kit.sim(dev, "install", "--source", url, heapsize=1024 * 1024)
        assert ok.returncode == 0 and "installed version 2" in ok.stdout, ok.stderr
    finally:
        server.stop()


def test_data_buffer_larger_than_the_heap_is_refused_as_no_memory(setup):
    dev, snapshot, bundles, _ = setup
    shutil.copyfile(snapshot, dev / "flash")
    before = _status(dev)
    assert kit.sim(dev, "set", "buffer", str(1 << 20)).returncode == 0
    try:
        big = kit.sim(dev, "install", "--source", bundles["stored"], heapsize=256 * 1024)
        assert big.returncode == 1
        assert big.stderr.strip().splitlines()[-1] == "sim: not done: no-memory"
        assert _status(dev) == before
    finally:
        assert kit.sim(dev, "set", "buffer", "4096").returncode == 0
    ok = kit.sim(dev, "install", "--source", bundles["stored"], heapsize=256 * 1024)
    assert ok.returncode == 0 and "installed version 2" in ok.stdout, ok.stderr
