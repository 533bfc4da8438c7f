# SPDX-License-Identifier: MIT
"""Read a raw-deflate chunk (codec CODEC_DEFLATE) on either runtime.

MicroPython: the `deflate` module's DeflateIO in RAW mode with the
manifest's window size. CPython (host tools, tests): zlib. Both decode
errors become BundleError("bad-deflate"). Bytes after the end of the
deflate stream are ignored on both.
"""

import sys

from .error import BundleError

_IN = 512


class _Zlib:
    # CPython stand-in for deflate.DeflateIO(stream, deflate.RAW, wbits).
    def __init__(self, stream, wbits):
        import zlib

        self._zlib = zlib
        self._f = stream
        self._d = zlib.decompressobj(-wbits)

    def readinto(self, buf):
        d = self._d
        out = b""
        while not out and not d.eof:
            data = d.unconsumed_tail or self._f.read(_IN)
            if not data:
                return 0
            try:
                out = d.decompress(data, len(buf))
            except self._zlib.error:
                raise BundleError("bad-deflate")
        buf[:len(out)] = out
        return len(out)


class _DeflateIO:
    def __init__(self, stream, wbits):
        import deflate

        self._d = deflate.DeflateIO(stream, deflate.RAW, wbits)

    def readinto(self, buf):
        try:
            return self._d.readinto(buf)
        except OSError:
            # uzlib reports corrupt data as OSError(EINVAL).
            raise BundleError("bad-deflate")


def reader(stream, wbits):
    """A readinto()-able source of the inflated bytes of `stream`."""
    if sys.implementation.name == "cpython":
        return _Zlib(stream, wbits)
    try:
        return _DeflateIO(stream, wbits)
    except ImportError:
        # A firmware built without the deflate module cannot take
        # compressed chunks; the signer can produce codec none instead.
        raise BundleError("unknown-codec")
