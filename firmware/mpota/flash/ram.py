# SPDX-License-Identifier: MIT
"""A flash chip in RAM that the firmware leaves alone.

For a board whose only persistent storage the agent can reach is memory
outside the GC heap: the emulated Cortex-M3 board (mps2-an385), whose
firmware lives in its first 4 MB RAM bank and never touches the second,
at 0x20000000. That RAM keeps its contents over a soft reset
(machine.soft_reset) but not over a power cycle, so the board stands for a
flash chip only between resets of the emulator.

The chip keeps the NOR rules of nor.py (erase whole aligned sectors to
0xFF, program only clears bits, in write_size units, never across a page),
so the agent's state store and install meet the same constraints as on a
real chip. Memory a fresh emulator hands out reads 0x00, not erased:
`mpota device provision` erases the whole chip first.
"""

from . import FlashError, check_erase, check_geometry, check_pages, check_program, check_range

from micropython import const


_ERASED = const(0xFF)


class RamFlash:
    def __init__(self, mem, size, sector_size=4096, page_size=256, write_size=1):
        """mem: the chip's address (an int, mapped with uctypes) or a
        buffer (a bytearray, for tests on any runtime)."""
        check_geometry(size, sector_size, page_size, write_size)
        if isinstance(mem, int):
            # By name: uctypes is MicroPython's, and only a MicroPython
            # board has RAM to spare at a fixed address (CircuitPython and
            # its stubs have no uctypes).
            mem = __import__("uctypes").bytearray_at(mem, size)
        if len(mem) < size:
            raise FlashError("range")
        self.mem = memoryview(mem)
        self.size = size
        self.sector_size = sector_size
        self.page_size = page_size
        self.write_size = write_size
        self.erased = _ERASED
        self._ff = b"\xff" * page_size
        self._ffv = memoryview(self._ff)
        self._ffs = None
        # Per sector, the offset from which its bytes are known erased
        # (erased by this object, nothing programmed there since): a
        # program there needs no check, blank() no comparison. Knowledge
        # starts empty (the RAM outlives the object: a soft reset).
        self._clean = [sector_size] * (size // sector_size)

    def close(self):
        pass

    def read(self, addr, buf):
        n = len(buf)
        check_range(self.size, addr, n)
        buf[:] = self.mem[addr:addr + n]

    def program(self, addr, buf):
        n = len(buf)
        check_program(self, addr, n)
        m = self.mem
        dst = m[addr:addr + n]
        s = self.sector_size
        i = addr // s
        if addr - i * s < self._clean[i]:
            # Onto erased bytes (the usual case) any bits may be cleared:
            # one comparison (a memoryview compares by content) instead
            # of a loop.
            if not dst == (self._ffv if n == self.page_size else self._ffv[:n]):
                for j in range(n):
                    if buf[j] & ~dst[j] & 0xFF:
                        raise FlashError("not-erased")
        dst[:] = buf
        self._mark(addr, n)

    def program_pages(self, addr, buf):
        """Whole pages from a page boundary, as program() page by page:
        the bytes under them checked (where not known erased) a sector at
        a time, one copy."""
        n = len(buf)
        ps = self.page_size
        check_pages(self, addr, n)
        m = self.mem
        s = self.sector_size
        i = addr // s
        top = addr + n - i * s
        clean = self._clean
        if top <= s and addr - i * s >= clean[i]:
            # Within one sector, on bytes known erased (the usual case):
            # no check, and the mark moves up to the end.
            clean[i] = top
        else:
            if not self.blank(addr, n):
                for j in range(n):
                    if buf[j] & ~m[addr + j] & 0xFF:
                        raise FlashError("not-erased")
            self._mark(addr, n)
        # Through a view: storing into a slice of the memoryview itself
        # copies byte by byte on MicroPython.
        m[addr:addr + n][:] = buf

    def _mark(self, addr, n):
        # Bytes up to addr + n may be programmed now.
        s = self.sector_size
        clean = self._clean
        end = addr + n
        while addr < end:
            i = addr // s
            top = end - i * s
            if top > s:
                top = s
            if clean[i] < top:
                clean[i] = top
            addr = (i + 1) * s

    def blank(self, addr, n):
        """True if the n bytes at addr are all erased: known, or compared
        a sector at a time."""
        check_range(self.size, addr, n)
        s = self.sector_size
        clean = self._clean
        m = self.mem
        ff = None
        while n:
            i = addr // s
            off = addr - i * s
            k = s - off
            if k > n:
                k = n
            j = clean[i] - off  # bytes below the known-erased part
            if j > 0:
                if j > k:
                    j = k
                if ff is None:
                    ff = self._sector()
                if not m[addr:addr + j] == (ff if j == s else ff[:j]):
                    return False
            addr += k
            n -= k
        return True

    def _sector(self):
        if self._ffs is None:
            # A sector of erased bytes, made when first needed: one copy
            # per erase rather than one per page (each a slice to collect).
            self._ffs = memoryview(b"\xff" * self.sector_size)
        return self._ffs

    def erase(self, addr):
        s = self.sector_size
        check_erase(self, addr)
        self.mem[addr:addr + s][:] = self._sector()
        self._clean[addr // s] = 0

    def erase_all(self):
        """Erase every sector: a fresh chip, as provisioning wants it."""
        for a in range(0, self.size, self.sector_size):
            self.erase(a)
