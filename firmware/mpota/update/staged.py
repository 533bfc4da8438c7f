# SPDX-License-Identifier: MIT
"""A deflated chunk: its stored bytes staged in the scratch area and
checked, then inflated into the slot and checked again (only bytes whose
stored hash matched reach the decompressor). Imported only for bundles
with deflated chunks."""

from ..bundle import inflate
from ..bundle.error import BundleError
from ..bundle.table import Expect
from ..errors import AgentError
from .stream import RegionStream


def deflated(t, name, region, off, e, c, m, run=None):
    """Chunk e (number c of manifest m), fetched through transfer t into
    region at off."""
    area = t.dev.chunks
    stride = (m.chunk_size + area.sector_size - 1) // area.sector_size * area.sector_size
    places = area.size // stride
    if not places:
        raise AgentError("no-room")
    # Rotate through the scratch area to spread its erases.
    at = (c % places) * stride
    area.erase_range(at, e.stored_len)
    stored = Expect(e.stored_len, e.stored_sha, "truncated-chunk")
    t.download(name, e.stored_len, stored, area, at, "missing-chunk",
               "truncated-chunk", t.hold, run)
    stored.finish()
    # Only bytes whose stored hash matched reach the decompressor.
    stream = RegionStream(area, at, e.stored_len)
    raw = Expect(e.raw_len, e.raw_sha, "truncated-chunk")
    p = t.pump
    p.start(region, off, e.raw_len, raw)
    p.hold = t.hold
    t.room(False)
    rd = None
    try:
        rd = inflate.reader(stream, m.window_bits, e.stored_len)
        if not p.run(rd, prime=True):
            raise BundleError("truncated-chunk")
        if p.extra(rd):
            raise BundleError("too-large")
    finally:
        rd = None
        t.room(True)
    raw.finish()
