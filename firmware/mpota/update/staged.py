# SPDX-License-Identifier: MIT
"""A chunk that cannot go straight into the slot, deflated or encrypted:
its stored bytes staged in the scratch area and checked against the
signed table, then decrypted (sealed.py) and/or inflated into the slot and
checked again. Only bytes whose stored hash matched reach the cipher or
the decompressor. Imported only for bundles with such chunks."""

from ..bundle import format as F
from ..bundle import inflate
from ..bundle.error import BundleError
from ..bundle.table import Expect
from ..errors import AgentError
from .stream import RegionStream


def staged(t, name, region, off, e, c, m, run=None):
    """Chunk e (number c of manifest m), fetched through transfer t into
    region at off."""
    area = t.dev.chunks
    # Stored bytes never exceed the chunk size (FORMAT.md, "Chunk table").
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
    if t.cipher is not None:
        from .sealed import SealedStream

        stream = SealedStream(area, at, e.stored_len, t.cipher, e.raw_sha)
    else:
        stream = RegionStream(area, at, e.stored_len)
    raw = Expect(e.raw_len, e.raw_sha, "truncated-chunk")
    p = t.pump
    p.start(region, off, e.raw_len, raw)
    p.hold = t.hold
    if e.codec == F.CODEC_NONE:
        # Encrypted, not deflated: the plaintext's first raw_len bytes
        # (the rest is the zero padding of the last block).
        if not p.run(stream):
            raise BundleError("truncated-chunk")
        raw.finish()
        return
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
