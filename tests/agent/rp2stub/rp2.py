# SPDX-License-Identifier: MIT
# A stand-in for MicroPython's `rp2` module, for the raw flash region tests
# on the unix port: rp2.Flash on top of the NOR flash model, with the
# RP2040 driver's rules as ports/rp2/rp2_flash.c has them: start and len
# count from the start of the storage area, must be multiples of the 4 KB
# sector and stay inside it (else ValueError); writeblocks without an
# offset erases the sectors first; programs are whole 256-byte pages.
#
# configure(path, storage) makes (or reopens) the chip; close() releases
# it, as a power cut does.

from mpota.flash.nor import NorFile

_SECTOR = 4096
_PAGE = 256
_CHIP = []


def configure(path, storage=1 << 20):
    close()
    _CHIP.append(NorFile(path, storage, _SECTOR, _PAGE, _PAGE))


def close():
    while _CHIP:
        _CHIP.pop().close()


def chip():
    return _CHIP[0]


class Flash:
    def __init__(self, start=-1, len=-1):
        storage = chip().size
        if start == -1:
            start = 0
        elif not (0 <= start < storage and start % _SECTOR == 0):
            raise ValueError()
        if len == -1:
            len = storage - start
        elif not (0 < len and start + len <= storage and len % _SECTOR == 0):
            raise ValueError()
        self.base = start
        self.size = len

    def readblocks(self, block, buf, offset=0):
        chip().read(self.base + block * _SECTOR + offset, buf)

    def writeblocks(self, block, buf, offset=None):
        addr = self.base + block * _SECTOR
        if offset is None:
            for s in range(0, len(buf), _SECTOR):
                chip().erase(addr + s)
            offset = 0
        addr += offset
        mv = memoryview(buf)
        for p in range(0, len(buf), _PAGE):
            chip().program(addr + p, mv[p:p + _PAGE])

    def ioctl(self, op, arg):
        if op == 4:
            return self.size // _SECTOR
        if op == 5:
            return _SECTOR
        if op == 6:
            chip().erase(self.base + arg * _SECTOR)
            return 0
        return None
