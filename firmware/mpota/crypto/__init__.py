# SPDX-License-Identifier: MIT
"""Ed25519 verification and SHA-512 for mpota: one API, two implementations.

Uses the `ed25519` C module (built into the firmware or loaded as a native
.mpy) when the runtime has it, else the pure-Python fallback. Both give the
verdicts of libsodium's crypto_sign_verify_detached (see docs/).

Exposes:
  verify(public_key, signature, message) -> bool
  sha512(data=b'') -> object with update() and digest()
  IMPLEMENTATION: 'c' or 'python'
  SHA512_SOURCE: 'c', 'hashlib' or 'adafruit_hashlib'
"""

import sys


def _c_module():
    # On CPython an unrelated PyPI package may be called `ed25519`.
    if sys.implementation.name == "cpython":
        return None
    try:
        import ed25519
    except ImportError:
        return None
    if not (hasattr(ed25519, "verify") and hasattr(ed25519, "sha512")):
        return None
    return ed25519


_c = _c_module()
if _c is not None:
    verify = _c.verify
    sha512 = _c.sha512
    IMPLEMENTATION = "c"
    SHA512_SOURCE = "c"
else:
    from .ed25519_fallback import verify
    from .sha512_source import sha512, SOURCE as SHA512_SOURCE

    IMPLEMENTATION = "python"
del _c
