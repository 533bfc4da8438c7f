# SPDX-License-Identifier: MIT
"""X25519 (RFC 7748) for unwrapping an encrypted bundle's content key.

The `ed25519` C module's constant-time ladder when the runtime has it
(x25519.c; its vectors, differential and valgrind test in tests/), else
this file's Montgomery ladder on Python integers, written from RFC 7748
section 5. The fallback is NOT constant time (Python integers are not):
it runs once per install, on runtimes without the C module (CPython in
the tests, a board without the native module), and docs/SECURITY.md says
what that exposes.

x25519(scalar, u) -> 32 bytes; a small-order u gives 32 zero bytes, which
the caller must refuse (update/sealed.py does).
"""

import sys

from micropython import const

_P = const((1 << 255) - 19)
_A24 = const(121665)
_U_MASK = const((1 << 255) - 1)
BASE = b"\x09" + bytes(31)  # the base point's u


def _ladder(scalar, u):
    from .ed25519_fallback import _inv  # x^(p-2) by an addition chain

    p = _P
    k = bytearray(scalar)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    n = int.from_bytes(bytes(k), "little")
    x1 = int.from_bytes(bytes(u), "little") & _U_MASK
    x2, z2, x3, z3 = 1, 0, x1, 1
    swap = 0
    for t in range(254, -1, -1):
        bit = (n >> t) & 1
        if swap ^ bit:
            x2, x3 = x3, x2
            z2, z3 = z3, z2
        swap = bit
        a = x2 + z2
        aa = a * a % p
        b = x2 - z2
        bb = b * b % p
        e = aa - bb
        c = x3 + z3
        d = x3 - z3
        da = d * a % p
        cb = c * b % p
        x3 = (da + cb) * (da + cb) % p
        z3 = x1 * ((da - cb) * (da - cb) % p) % p
        x2 = aa * bb % p
        z2 = e * (aa + _A24 * e) % p
    if swap:
        x2, z2 = x3, z3
    r = x2 * _inv(z2 % p) % p
    return r.to_bytes(32, "little")


def _pick():
    if sys.implementation.name != "cpython":
        try:
            import ed25519

            f = getattr(ed25519, "x25519", None)
            if f is not None:
                return f, "c"
        except ImportError:
            pass
    return _ladder, "python"


x25519, IMPLEMENTATION = _pick()
