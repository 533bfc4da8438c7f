# SPDX-License-Identifier: MIT
"""Picks the SHA-512 used by the pure-Python Ed25519 fallback.

CPython and some ports have hashlib.sha512; CircuitPython and most
MicroPython boards do not, and there it comes from adafruit_hashlib.
Importing this module raises ImportError when neither exists, so a board
without SHA-512 fails at import instead of at its first update.
"""


def _hashlib_sha512():
    try:
        import hashlib
    except ImportError:
        return None
    return getattr(hashlib, "sha512", None)


def _adafruit_sha512():
    try:
        import adafruit_hashlib
    except ImportError:
        return None
    return getattr(adafruit_hashlib, "sha512", None)


class _Wrapped:
    """adafruit_hashlib's sha512 with the C module's argument checks.

    adafruit_hashlib turns an int n into n zero bytes and encodes str; the C
    module accepts only buffers, so do the same here.
    """

    def __init__(self, data=b""):
        self._h = _ctor()
        self._h.update(memoryview(data))

    def update(self, data):
        self._h.update(memoryview(data))

    def digest(self):
        return self._h.digest()


_ctor = _hashlib_sha512()
if _ctor is not None:
    sha512 = _ctor
    SOURCE = "hashlib"
else:
    _ctor = _adafruit_sha512()
    if _ctor is None:
        raise ImportError("no SHA-512: need hashlib.sha512 or adafruit_hashlib")
    sha512 = _Wrapped
    SOURCE = "adafruit_hashlib"
