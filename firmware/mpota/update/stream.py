# SPDX-License-Identifier: MIT
"""A region's bytes as a stream a decompressor can pull from.

MicroPython's deflate.DeflateIO reads its input one byte at a time through
the stream protocol; an io.IOBase subclass provides that protocol to
Python code. A small cache keeps it to one flash read per 64 bytes.
Imported only for deflate chunks (boards without deflate never need it).
"""

import io

from micropython import const


_CACHE = const(64)


# deflate.DeflateIO needs the stream protocol of io.IOBase; CircuitPython
# (whose zlib path reads with readinto() only) often lacks IOBase.
_Base = getattr(io, "IOBase", object)


class RegionStream(_Base):  # type: ignore[misc,valid-type]
    def __init__(self, region, addr, n):
        self.region = region
        self.pos = addr
        self.end = addr + n
        self.cache = bytearray(_CACHE)
        self.at = 0
        self.fill = 0

    def readinto(self, buf):
        n = min(len(buf), self.end - self.pos)
        if n <= 0:
            return 0
        for i in range(n):
            if self.at == self.fill:
                self._refill()
            buf[i] = self.cache[self.at]
            self.at += 1
            self.pos += 1
        return n

    def _refill(self):
        # Read whole cache lines while the region has room for them; the
        # bytes past the end of the stream are never handed out.
        room = self.region.size - self.pos
        if room >= _CACHE:
            self.region.read(self.pos, self.cache)
            self.fill = _CACHE
        else:
            one = memoryview(self.cache)[:1]
            self.region.read(self.pos, one)
            self.fill = 1
        self.at = 0

    def read(self, n=-1):
        # CPython's zlib path (bundle.inflate) reads with read().
        if n < 0:
            n = self.end - self.pos
        b = bytearray(max(0, min(n, self.end - self.pos)))
        return bytes(b[:self.readinto(b)])

    def close(self):
        pass
