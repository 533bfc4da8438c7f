# SPDX-License-Identifier: MIT
"""Read a raw-deflate chunk (codec CODEC_DEFLATE) on every runtime.

  MicroPython    the `deflate` module's DeflateIO in RAW mode with the
                 manifest's window size: streamed, nothing allocated per
                 read (the chunk loop runs with the heap locked in tests)
  CircuitPython  `zlib.decompress(data, wbits)`, one call per chunk
                 (oneshot.py; docs/CIRCUITPYTHON.md gives what it
                 allocates)
  CPython        (host tools, tests) zlib.decompressobj

Decode errors become BundleError("bad-deflate") on all three; bytes after
the end of the deflate stream are ignored. Where none exists, available()
is False: offer.manifest() then refuses a bundle with deflated chunks
('unknown-codec') before anything is downloaded, and reader() raises the
same if asked anyway.
"""

import sys

from .error import BundleError

_IN = 512
_kind = []  # type: list  # the decompressor found, looked up once


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


def kind():
    """'deflate', 'zlib' (one-shot, CircuitPython), 'cpython', or None
    where this runtime cannot inflate."""
    if not _kind:
        if sys.implementation.name == "cpython":
            found = "cpython"
        else:
            found = None
            try:
                import deflate  # noqa: F401

                found = "deflate"
            except ImportError:
                try:
                    import zlib

                    if hasattr(zlib, "decompress"):
                        found = "zlib"
                except ImportError:
                    pass
        _kind.append(found)
    return _kind[0]


def available():
    return kind() is not None


def reader(stream, wbits, size=None):
    """A readinto()-able source of the inflated bytes of `stream` (size:
    its length in bytes, which the one-shot path needs)."""
    k = kind()
    if k == "cpython":
        return _Zlib(stream, wbits)
    if k == "deflate":
        return _DeflateIO(stream, wbits)
    if k == "zlib" and size is not None:
        from .oneshot import Whole

        return Whole(stream, wbits, size)
    # A firmware without any decompressor cannot take compressed chunks;
    # the signer can produce codec none instead.
    raise BundleError("unknown-codec")
