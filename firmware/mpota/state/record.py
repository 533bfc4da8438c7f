# SPDX-License-Identifier: MIT
"""A record that survives power loss: two copies, the newer valid one wins.

Each copy lives in its own area (sectors of a flash, or a file) and is
framed as:

  offset 0   u32  magic "MPSR"
  offset 4   u8   layout version (1)
  offset 5   u8   kind (what the record holds; a copy of another kind is
                  not valid here)
  offset 6   u16  length L of the whole record, CRC included
  offset 8   u32  sequence number, one more at each save
  offset 12       payload
  offset L-4 u32  CRC-32 of bytes 0 .. L-4

save() always writes the copy that does not hold the newest valid record,
so until the new copy is complete and its CRC matches, load() still finds
the previous one. A cut at any point leaves the old or the new record,
never neither.
"""

import struct

from ..crc32 import crc32 as _crc32
from ..flash import FlashError

from micropython import const



_MAGIC = const(0x4D505352)
_LAYOUT = const(1)
HEADER = const(12)
_CRC = const(4)


class FlashArea:
    """One copy's sectors on a flash region."""

    def __init__(self, region):
        self.region = region

    def read(self, buf):
        self.region.read(0, buf)

    def write(self, buf, n):
        r = self.region
        w = r.write_size
        n = (n + w - 1) // w * w
        if n > r.size:
            raise FlashError("range")
        r.erase_range(0, n)
        page = r.page_size
        for off in range(0, n, page):
            piece = buf[off:min(off + page, n)]
            if len(piece) % w:
                # The record's last bytes, padded to a whole write unit.
                piece = piece + b"\xff" * (w - len(piece) % w)
            r.program(off, piece)


class FileArea:
    """One copy in a file of its own, rewritten whole."""

    def __init__(self, path):
        self.path = path

    def read(self, buf):
        try:
            f = open(self.path, "rb")
        except OSError:
            f = None
        got = 0
        if f is not None:
            try:
                got = f.readinto(buf) or 0
            finally:
                f.close()
        for i in range(got, len(buf)):
            buf[i] = 0

    def write(self, buf, n):
        f = open(self.path, "wb")
        try:
            f.write(memoryview(buf)[:n])
            f.flush()
        finally:
            f.close()


class Store:
    """Two areas holding one record of `kind`, at most `size` bytes."""

    def __init__(self, areas, kind, size):
        self.areas = areas
        self.kind = kind
        self.buf = bytearray(size)
        self.payload = memoryview(self.buf)[HEADER:size - _CRC]
        self.seq = 0
        self.newest = -1
        self.saves = 0

    def _valid(self, i):
        # The sequence number of area i's record, or -1 if it is not valid.
        b = self.buf
        self.areas[i].read(b)
        magic, layout, kind, n, seq = struct.unpack_from(">IBBHI", b, 0)
        if magic != _MAGIC or layout != _LAYOUT or kind != self.kind:
            return -1
        if n < HEADER + _CRC or n > len(b):
            return -1
        (crc,) = struct.unpack_from(">I", b, n - _CRC)
        if _crc32(memoryview(b)[:n - _CRC]) & 0xFFFFFFFF != crc:
            return -1
        return seq

    def load(self):
        """Read both copies; return the payload length of the newest valid
        one (its bytes are then in self.payload), or -1 if neither is."""
        seqs = [self._valid(0), self._valid(1)]
        best = 0 if seqs[0] >= seqs[1] else 1
        if seqs[best] < 0:
            self.newest = -1
            self.seq = 0
            return -1
        if best == 0:
            self._valid(0)
        self.newest = best
        self.seq = seqs[best]
        (n,) = struct.unpack_from(">H", self.buf, 6)
        return n - HEADER - _CRC

    def save(self, length):
        """Write self.payload[:length] as the next record."""
        n = HEADER + length + _CRC
        if n > len(self.buf):
            raise FlashError("range")
        b = self.buf
        seq = self.seq + 1
        struct.pack_into(">IBBHI", b, 0, _MAGIC, _LAYOUT, self.kind, n, seq)
        crc = _crc32(memoryview(b)[:n - _CRC]) & 0xFFFFFFFF
        struct.pack_into(">I", b, n - _CRC, crc)
        target = 1 if self.newest == 0 else 0
        self.areas[target].write(b, n)
        self.newest = target
        self.seq = seq
        self.saves += 1
