# SPDX-License-Identifier: MIT
"""CRC-32 (IEEE) as binascii.crc32(data, crc=0) computes it, continuing
from an earlier value the same way: binascii's own where it has one, else
bit by bit in Python, for boards whose binascii has none (MicroPython
without deflate, CircuitPython without zlib). Slow, but it only covers
state records (a few hundred bytes) and the frames of `mpota device`."""

import binascii


def _crc32_sw(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


crc32 = getattr(binascii, "crc32", None) or _crc32_sw
