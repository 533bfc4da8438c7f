# SPDX-License-Identifier: MIT
"""A flash behind MicroPython's extended block device protocol.

esp32.Partition and rp2.Flash both take readblocks(block, buf, offset),
writeblocks(block, buf, offset) (programs without erasing) and
ioctl(6, block) (erases one block); ioctl(4) and ioctl(5) give the block
count and size. RP2040 programs whole 256-byte pages (write_size 256);
ESP32 partitions take any length. The drivers split a program at page
boundaries themselves, so only the write unit and the sector are checked
here (a misaligned program on a real chip corrupts it rather than
failing); the Region every caller goes through checks the range.
"""

from . import FlashError, check_geometry

from micropython import const


_IOCTL_BLOCK_COUNT = const(4)
_IOCTL_BLOCK_SIZE = const(5)
_IOCTL_BLOCK_ERASE = const(6)


class BlockFlash:
    def __init__(self, bdev, write_size=1, page_size=None):
        self.bdev = bdev
        bs = bdev.ioctl(_IOCTL_BLOCK_SIZE, 0)
        self.sector_size = bs
        self.size = bdev.ioctl(_IOCTL_BLOCK_COUNT, 0) * bs
        self.page_size = page_size or bs
        self.write_size = write_size
        self.erased = 0xFF
        check_geometry(self.size, bs, self.page_size, write_size)

    def close(self):
        pass

    def read(self, addr, buf):
        bs = self.sector_size
        self.bdev.readblocks(addr // bs, buf, addr % bs)

    def program(self, addr, buf):
        w = self.write_size
        if addr % w or len(buf) % w:
            raise FlashError("align")
        bs = self.sector_size
        self.bdev.writeblocks(addr // bs, buf, addr % bs)

    def program_pages(self, addr, buf):
        # The driver splits at page boundaries itself.
        self.program(addr, buf)

    def blank(self, addr, n):
        return None  # not known without reading

    def erase(self, addr):
        if addr % self.sector_size:
            raise FlashError("align")
        self.bdev.ioctl(_IOCTL_BLOCK_ERASE, addr // self.sector_size)
