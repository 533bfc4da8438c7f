# SPDX-License-Identifier: MIT
"""Windows onto a flash, and a plain file that behaves like one.

A Region is the part of a chip that holds one thing (a slot, a copy of the
state, the scratch area): addresses start at 0 and are checked against its
size, so no caller can write outside what it owns.
"""

from . import FlashError, check_range


class Region:
    def __init__(self, flash, base, size):
        s = flash.sector_size
        if base % s or size % s or base < 0 or base + size > flash.size:
            raise FlashError("align")
        self.flash = flash
        self.base = base
        self.size = size
        self.sector_size = s
        self.page_size = flash.page_size
        self.write_size = flash.write_size
        self.erased = flash.erased

    def _check(self, addr, n):
        check_range(self.size, addr, n)

    def read(self, addr, buf):
        self._check(addr, len(buf))
        self.flash.read(self.base + addr, buf)

    def program(self, addr, buf):
        self._check(addr, len(buf))
        self.flash.program(self.base + addr, buf)

    def program_pages(self, addr, buf):
        self._check(addr, len(buf))
        self.flash.program_pages(self.base + addr, buf)

    def blank(self, addr, n):
        self._check(addr, n)
        return self.flash.blank(self.base + addr, n)

    def erase(self, addr):
        self._check(addr, self.sector_size)
        self.flash.erase(self.base + addr)

    def erase_range(self, addr, n):
        """Erase the sectors covering [addr, addr + n), addr sector-aligned."""
        end = addr + n
        while addr < end:
            self.erase(addr)
            addr += self.sector_size


class FileRegion:
    """A file used as a region: writes overwrite, so erase does nothing.

    For boards with a filesystem (the application-bundle slot and its
    scratch area). Reads past the end of the file see erased bytes.
    """

    def __init__(self, path, size, sector_size=4096, page_size=4096, write_size=1):
        self.path = path
        self.size = size
        self.sector_size = sector_size
        self.page_size = page_size
        self.write_size = write_size
        self.erased = 0xFF
        self._f = None

    def _file(self):
        if self._f is None:
            try:
                self._f = open(self.path, "r+b")
            except OSError:
                self._f = open(self.path, "w+b")
        return self._f

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None

    def _check(self, addr, n):
        check_range(self.size, addr, n)

    def read(self, addr, buf):
        self._check(addr, len(buf))
        f = self._file()
        f.seek(addr)
        got = f.readinto(buf) or 0
        for i in range(got, len(buf)):
            buf[i] = 0xFF

    def program(self, addr, buf):
        self._check(addr, len(buf))
        f = self._file()
        end = f.seek(0, 2)  # the size (mpremote's mounted files have no tell())
        if end < addr:
            # Fill a gap with erased bytes rather than leave it undefined.
            for _ in range(addr - end):
                f.write(b"\xff")
        f.seek(addr)
        f.write(buf)

    def sync(self):
        """Make what was written survive a power cut (on the unix port a
        flush is an fsync, ~2 ms: once per progress record, not per write)."""
        if self._f is not None:
            self._f.flush()

    def erase(self, addr):
        self._check(addr, self.sector_size)

    def blank(self, addr, n):
        """True if [addr, addr + n) lies past the file's end (reads as
        erased); False means only that it may hold data."""
        self._check(addr, n)
        return addr >= self._file().seek(0, 2)

    def erase_range(self, addr, n):
        self._check(addr, n)
