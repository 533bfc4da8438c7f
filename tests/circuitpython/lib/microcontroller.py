# SPDX-License-Identifier: MIT
"""Stand-in for CircuitPython's `microcontroller`: reset(), nvm, cpu.uid.

reset() never returns: it ends the process (status 0) after noting the
reset in CPY_STANDIN_FLASH/resets, so a test sees a reset, and anything
after the call does not run. nvm is a fixed-size ByteArray in a file;
like the real one it cannot grow and takes ints 0..255 and slices of the
same length.
"""

import os
import sys

_DIR = os.getenv("CPY_STANDIN_FLASH") or "."
_NVM_SIZE = 8192


def reset():
    with open(_DIR + "/resets", "a") as f:
        f.write("reset\n")
    sys.exit(0)


def on_next_reset(run_mode):
    pass


class RunMode:
    NORMAL = 0
    SAFE_MODE = 1
    UF2 = 2
    BOOTLOADER = 3


class _ByteArray:
    def __init__(self, path, size):
        self._path = path
        self._size = size

    def __len__(self):
        return self._size

    def _load(self):
        try:
            with open(self._path, "rb") as f:
                b = bytearray(f.read())
        except OSError:
            b = bytearray()
        return b + bytearray(b"\xff" * (self._size - len(b)))

    def __getitem__(self, i):
        b = self._load()
        if isinstance(i, int):
            if not -self._size <= i < self._size:
                raise IndexError("index out of range")
            return b[i]
        return bytearray(b[i])

    def __setitem__(self, i, value):
        b = self._load()
        if isinstance(i, int):
            if not -self._size <= i < self._size:
                raise IndexError("index out of range")
            b[i] = value
        else:
            old = b[i]
            if len(old) != len(value):
                raise ValueError("Slice and value different lengths.")
            b[i] = value
        with open(self._path, "wb") as f:
            f.write(b)


nvm = _ByteArray(_DIR + "/nvm", _NVM_SIZE)


class _Processor:
    """cpu: only uid here, the chip's id (CPY_STANDIN_UID, hex)."""

    def __init__(self):
        import binascii

        self.uid = bytearray(binascii.unhexlify(os.getenv("CPY_STANDIN_UID") or "000000000000"))


cpu = _Processor()
