# SPDX-License-Identifier: MIT
# The ed25519 C module (firmware/cmod/ed25519/moded25519.c), built into our
# firmware or loaded as a native .mpy: what the type checks see of it.
from typing import Optional

def verify(public_key: bytes | bytearray | memoryview,
           signature: bytes | bytearray | memoryview,
           message: bytes | bytearray | memoryview) -> bool:
    """False for a bad signature; ValueError unless the key is 32 bytes and
    the signature 64."""

def x25519(scalar: bytes | bytearray | memoryview,
           u: bytes | bytearray | memoryview) -> bytes:
    """RFC 7748's X25519: 32 bytes, all zero for a u of small order;
    ValueError unless both are 32 bytes."""

class sha512:
    def __init__(self, data: Optional[bytes | bytearray | memoryview] = ..., /) -> None: ...
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def digest(self) -> bytes: ...
