# SPDX-License-Identifier: MIT
"""A NOR flash chip modelled on a file, for the unix port and fault tests.

It keeps the rules a real chip has: erase works on whole aligned sectors
and sets every byte to 0xFF; program only clears bits (setting a 0 back to
1 is refused, as it would silently fail on a chip), in write_size units,
never across a page. Every erase and every page program is one operation;
cut_power_before(n) makes operation n fail with PowerCut, optionally after
tearing it (half the page programmed, or half the sector erased). After a
cut the chip stays dead, like a board without power: reopen the file to
"reboot".
"""

from . import FlashError, check_erase, check_geometry, check_pages, check_program, check_range

from micropython import const


_ERASED = const(0xFF)


class PowerCut(Exception):
    """Power was cut before (or in the middle of) a flash operation."""


class NorFile:
    def __init__(self, path, size, sector_size=4096, page_size=256, write_size=1):
        check_geometry(size, sector_size, page_size, write_size)
        self.size = size
        self.sector_size = sector_size
        self.page_size = page_size
        self.write_size = write_size
        self.erased = _ERASED
        self.ops = 0
        self.erases = 0
        self.programs = 0
        self.cut_at = -1
        self.tear = False
        self.dead = False
        self._old = bytearray(page_size)
        self._ff = bytearray(b"\xff" * page_size)
        # Views of 1, 2, 4, ... bytes: a program onto erased bytes (the
        # usual case) is checked by one comparison, without allocating.
        old, ff = memoryview(self._old), memoryview(self._ff)
        self._views = {}
        k = 1
        while k <= page_size:
            self._views[k] = (old[:k], ff[:k])
            k <<= 1
        # 1 for each page this object erased and nothing programmed since:
        # such a page is known to read 0xFF, so a program onto it needs no
        # read-back to keep the rule (what a chip checks in hardware, the
        # model would otherwise pay a file read per page for).
        self._fresh = bytearray(size // page_size)
        self._f = self._open(path, size)
        # Flushed after each operation only where the file buffers
        # (CPython). On MicroPython's unix port a write reaches the OS at
        # once and a flush is an fsync (~2 ms), which the model needs not:
        # its power cuts are exceptions, its reboots reopen the file.
        self._buffered = hasattr(self._f, "raw")

    def _open(self, path, size):
        try:
            f = open(path, "r+b")
        except OSError:
            # A new chip comes erased.
            f = open(path, "w+b")
            for _ in range(size // self.page_size):
                f.write(self._ff)
            f.flush()
            fresh = self._fresh
            for i in range(len(fresh)):
                fresh[i] = 1
        if f.seek(0, 2) != size:
            f.close()
            raise FlashError("range")
        return f

    def close(self):
        self._f.close()

    def cut_power_before(self, n, tear=False):
        """Fail operation number n (counting from 0 at open); tear: half of
        it happens first. n < 0 disarms."""
        self.cut_at = n
        self.tear = tear

    def _op(self):
        # Count an operation; True if power goes at this one.
        if self.dead:
            raise PowerCut()
        n = self.ops
        self.ops += 1
        if n == self.cut_at:
            self.dead = True
            return True
        return False

    def read(self, addr, buf):
        if self.dead:
            raise PowerCut()
        check_range(self.size, addr, len(buf))
        self._f.seek(addr)
        self._f.readinto(buf)

    def program(self, addr, buf):
        n = len(buf)
        check_program(self, addr, n)
        f = self._f
        page = addr // self.page_size
        if not self._fresh[page]:
            old = self._old
            f.seek(addr)
            f.readinto(old, n)
            if not self._erased(n):
                for i in range(n):
                    if buf[i] & ~old[i] & 0xFF:
                        raise FlashError("not-erased")
        self._fresh[page] = 0
        cut = self._op()
        self.programs += 1
        f.seek(addr)
        if cut:
            if self.tear:
                half = (n // 2) // self.write_size * self.write_size
                f.write(memoryview(buf)[:half])
                f.flush()
            raise PowerCut()
        f.write(buf)
        if self._buffered:
            f.flush()

    def program_pages(self, addr, buf):
        """Whole pages from a page boundary: what program() does page by
        page (each page an operation, checked, cut and torn alike), with
        one write for the pages a cut leaves alone."""
        n = len(buf)
        ps = self.page_size
        check_pages(self, addr, n)
        f = self._f
        first = addr // ps
        pages = n // ps
        fresh = self._fresh
        old = self._old
        for i in range(pages):
            if fresh[first + i]:
                continue
            f.seek(addr + i * ps)
            f.readinto(old)
            if not self._erased(ps):
                o = i * ps
                for j in range(ps):
                    if buf[o + j] & ~old[j] & 0xFF:
                        raise FlashError("not-erased")
        for k in range(pages):
            # Each page its own operation, as program() counts them.
            fresh[first + k] = 0
            cut = self._op()
            self.programs += 1
            if cut:
                # The pages before k are programmed, and half of k if torn.
                keep = k * ps
                if self.tear:
                    keep += (ps // 2) // self.write_size * self.write_size
                f.seek(addr)
                f.write(memoryview(buf)[:keep])
                f.flush()
                raise PowerCut()
        f.seek(addr)
        f.write(buf)
        if self._buffered:
            f.flush()

    def blank(self, addr, n):
        """True if the n bytes at addr are all erased: known for a page
        this object erased and did not program since, read for the rest
        (a page at a time, in power-of-two pieces)."""
        check_range(self.size, addr, n)
        if self.dead:
            raise PowerCut()
        ps = self.page_size
        fresh = self._fresh
        f = self._f
        views = self._views
        while n:
            k = ps - addr % ps
            if k > n:
                k = n
            if not fresh[addr // ps]:
                a, left = addr, k
                while left:
                    p = 1
                    while p * 2 <= left and not a & p:
                        p *= 2
                    old, ff = views[p]
                    f.seek(a)
                    f.readinto(old)
                    if old != ff:
                        return False
                    a += p
                    left -= p
            addr += k
            n -= k
        return True

    def _erased(self, n):
        # True if the n bytes read into _old are all 0xFF (n a power of two).
        v = self._views.get(n)
        return v is not None and v[0] == v[1]

    def erase(self, addr):
        s = self.sector_size
        check_erase(self, addr)
        cut = self._op()
        self.erases += 1
        f = self._f
        f.seek(addr)
        pages = s // self.page_size
        if cut:
            if not self.tear:
                raise PowerCut()
            pages //= 2
        first = addr // self.page_size
        for i in range(pages):
            f.write(self._ff)
            self._fresh[first + i] = 1
        if self._buffered or cut:
            f.flush()
        if cut:
            raise PowerCut()
