# SPDX-License-Identifier: MIT
"""A deflated chunk inflated at once, for CircuitPython, whose zlib has
only decompress(data, wbits): no streaming object. A chunk is one
independent raw-deflate stream of at most chunk_size stored bytes, so the
stored bytes (already checked against their hash) are read whole into a
new buffer and inflated by one call into a new bytearray, which
readinto() then hands out. Per chunk that allocates the stored bytes, the
inflated bytes and the decompressor's state (docs/CIRCUITPYTHON.md).
"""

from .error import BundleError


class Whole:
    def __init__(self, stream, wbits, size):
        import zlib

        data = bytearray(size)
        view = memoryview(data)
        n = 0
        while n < size:
            got = stream.readinto(view[n:])
            if not got:
                break
            n += got
        del view
        try:
            # Positional: CircuitPython's decompress takes no keywords. It
            # takes any buffer (shared-module/zlib: mp_get_buffer_raise);
            # its stubs say bytes, which would cost a copy of the chunk.
            out = zlib.decompress(data if n == size else data[:n], -wbits)  # type: ignore[arg-type]
        except ValueError:
            raise BundleError("bad-deflate")
        self._out = memoryview(out)
        self._at = 0

    def readinto(self, buf):
        out = self._out
        n = min(len(buf), len(out) - self._at)
        if n > 0:
            buf[:n] = out[self._at:self._at + n]
            self._at += n
        return n
