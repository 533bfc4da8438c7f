# SPDX-License-Identifier: MIT
"""A whole update fits in the heap docs/AGENT.md gives for the unix port:
stored chunks with the agent loaded from its .py sources, deflated chunks
with it as .mpy, and over HTTPS with TLS included; and the limit is real:
half of it is not enough."""

import pytest

from agent import heap_min, kit

# docs/AGENT.md, "Install": swept 4 KB apart at the end of 2026-12-06 in
# two checkouts (the figures move with paths and code layout): stored
# chunks with the agent loaded from its sources succeeded at 120 KB, failed
# from 124 to 132 KB and succeeded from 136 KB on; deflated chunks with the
# agent as .mpy succeeded from 128 KB on. Compiling from sources leaves
# long-lived objects scattered, so below those figures success comes and
# goes. Documented with 8 KB of room. From sources, deflated chunks have no
# smallest heap (AGENT.md says why).
DOCUMENTED = 144 * 1024
DOCUMENTED_MPY = 136 * 1024
# The same over HTTPS from `mpota serve` with its CA pinned: every probe
# from 264 KB on succeeded (a 40 KB TLS context of it), documented with room;
# on 2026-12-07, from 274 KB on (the plan's larger window, the table check's
# one comparison), so 282 KB.
DOCUMENTED_HTTPS = 282 * 1024


@pytest.fixture(scope="module")
def setup(unix_target, tmp_path_factory):
    return heap_min.prepare(tmp_path_factory.mktemp("heap"))


def test_whole_update_fits_in_the_documented_heap(setup):
    dev, snapshot, bundles, script = setup
    assert heap_min.probe(heap_min.targets.UNIX_BINARY, [kit.f.FIRMWARE], script, dev,
                          snapshot, bundles["stored"], DOCUMENTED)


def test_whole_update_of_deflated_chunks_fits_in_the_documented_heap(setup):
    dev, snapshot, bundles, script = setup
    mpy = heap_min.mpy_tree(dev.parent / "mpy")
    assert heap_min.probe(heap_min.targets.UNIX_BINARY, [mpy], script, dev,
                          snapshot, bundles["deflated"], DOCUMENTED_MPY)


def test_half_the_documented_heap_is_not_enough(setup):
    dev, snapshot, bundles, script = setup
    assert not heap_min.probe(heap_min.targets.UNIX_BINARY, [kit.f.FIRMWARE], script, dev,
                              snapshot, bundles["stored"], DOCUMENTED // 2)


def test_whole_update_over_tls_fits_in_the_documented_heap(setup):
    dev, snapshot, bundles, script = setup
    server = heap_min.start_server(dev.parent)
    try:
        assert kit.sim(dev, "set", "ca", server.ca_der).returncode == 0
        assert heap_min.probe(heap_min.targets.UNIX_BINARY, [kit.f.FIRMWARE], script, dev,
                              snapshot, server.url + bundles["stored"].name, DOCUMENTED_HTTPS)
    finally:
        server.stop()
