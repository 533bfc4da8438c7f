# SPDX-License-Identifier: MIT
"""SHA-256 on every runtime: MicroPython and CPython have hashlib.sha256;
CircuitPython's hashlib has only new(name)."""

import hashlib

# Looked up by name: each runtime's stubs describe only one of the two.
_SHA256 = getattr(hashlib, "sha256", None)


def sha256():
    if _SHA256 is not None:
        return _SHA256()
    return getattr(hashlib, "new")("sha256")
