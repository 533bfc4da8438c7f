# SPDX-License-Identifier: MIT
"""HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869), for the key
derivations of encrypted bundles (docs/FORMAT.md, "Encryption"). A few
calls per install: written for clarity, not speed."""

from ..sha256 import sha256

from micropython import const

_BLOCK = const(64)


def hmac_sha256(key, data):
    if len(key) > _BLOCK:
        h = sha256()
        h.update(key)
        key = h.digest()
    k = bytearray(_BLOCK)
    k[:len(key)] = key
    inner = sha256()
    inner.update(bytes(b ^ 0x36 for b in k))
    inner.update(data)
    outer = sha256()
    outer.update(bytes(b ^ 0x5C for b in k))
    outer.update(inner.digest())
    return outer.digest()


def hkdf(ikm, salt, info, n):
    """n bytes (at most 255 * 32) of HKDF-SHA256."""
    prk = hmac_sha256(salt or bytes(32), ikm)
    out = b""
    t = b""
    i = 1
    while len(out) < n:
        t = hmac_sha256(prk, t + info + bytes((i,)))
        out += t
        i += 1
    return out[:n]
