# SPDX-License-Identifier: MIT
"""Move bytes from a reader into a flash region without allocating.

One buffer is allocated once, with a ladder of views onto it (1, 2, 4, ...
bytes, all from its start). Every transfer is cut into power-of-two pieces
aligned to their own size, so every read and hash update gets a
ready-made view; a piece larger than the region's page is programmed
page by page, through views made once per page size (a piece aligned to
its size never starts inside a page), or in one call where the chip
programs whole pages at once (program_pages): the steady state of the loop
allocates nothing, and reads and hashes go a buffer at a time however
small the page. A reader that returns less than asked (a short
read) is handled correctly, at the cost of one view. Bytes that do not
fill a whole write unit (at the end of a stream) are gathered one at a
time into a pad buffer filled with erased bytes.

State survives a failure of the reader: after a SourceError the caller
opens the file again at offset `done` and calls run() again.
"""

from ..sha256 import sha256


class RegionReader:
    """A reader over a region's bytes from addr on (the running slot, for a
    chunk copied locally)."""

    def __init__(self, region, addr):
        self.region = region
        self.pos = addr

    def readinto(self, buf):
        n = len(buf)
        self.region.read(self.pos, buf)
        self.pos += n
        return n

    def close(self):
        pass


class Pump:
    def __init__(self, size, pad_size):
        self.buf = bytearray(size)
        mv = memoryview(self.buf)
        ladder = []
        k = 1
        while k <= size:
            ladder.append(mv[:k])
            k <<= 1
        self.ladder = ladder
        self.top = len(ladder[-1])
        self.size = size
        self.pad = bytearray(pad_size)
        self.padview = memoryview(self.pad)
        self.probe = bytearray(1)
        self.page = 0
        self.pages = None
        # Tests set hold = (micropython.heap_lock, micropython.heap_unlock)
        # to prove the loop allocates nothing.
        self.hold = None
        self._region(None)
        self.start(None, 0, 0, None)

    def _piece(self, left, addr):
        # The ladder index of the largest power of two <= left and <= the
        # buffer that keeps addr aligned to the piece's own size.
        limit = addr & -addr if addr else self.size
        k = len(self.ladder) - 1
        while (1 << k) > left or (1 << k) > limit:
            k -= 1
        return k

    def start(self, region, addr, n, check):
        """Prepare to move n bytes into region at addr, feeding check."""
        if region is not self.region or self.w == 0:
            self._region(region)
        self.addr = addr
        self.n = n
        self.done = 0
        self.fill = 0
        self.check = check
        for i in range(self.w):
            self.pad[i] = 0xFF

    def _region(self, region):
        # What depends on the region only: made again when it changes,
        # not for every chunk.
        self.region = region
        self.w = region.write_size if region else 1
        self.padw = self.padview[:self.w]
        # A chip that programs several pages in one call (flash/__init__.py).
        self.many = getattr(region, "program_pages", None) if region else None
        page = region.page_size if region else 0
        if page != self.page:
            self.page = page
            mv = memoryview(self.buf)
            self.pages = [mv[i:i + page] for i in range(0, self.size, page)] if 0 < page < self.size else None

    def scan(self, region, addr, n, check):
        """Feed region[addr:addr + n] into check (reads only)."""
        ladder = self.ladder
        while n:
            v = ladder[self._piece(n, addr)]
            region.read(addr, v)
            check.update(v)
            addr += len(v)
            n -= len(v)

    def erased_digest(self, n):
        """SHA-256 of n erased bytes: what a blank range hashes to."""
        b = self.buf
        for i in range(len(b)):
            b[i] = 0xFF
        h = sha256()
        while n:
            v = self.ladder[self._piece(n, 0)]
            h.update(v)
            n -= len(v)
        return h.digest()

    def run(self, reader, prime=False):
        """Move bytes until n are done: True, or False if the reader ended
        first. prime: move the first piece before the heap is held (a
        decompressor allocates its window at its first read)."""
        if prime and self.done < self.n and not self._step(reader):
            return False
        hold = self.hold
        if hold:
            hold[0]()
        try:
            while self.done < self.n:
                if not self._step(reader):
                    return False
        finally:
            if hold:
                hold[1]()
        return True

    def _step(self, reader):
        left = self.n - self.done
        w = self.w
        if self.fill or left < w:
            return self._byte(reader)
        a = self.addr
        top = self.top
        if left >= top and not a & (top - 1):
            v = self.ladder[-1]  # the largest piece (the usual case)
        else:
            v = self.ladder[self._piece(left, a)]
        got = reader.readinto(v)
        if not got:
            return False
        if got < len(v):
            return self._short(v, got)
        self.check.update(v)
        self._program(v, got)
        self.addr += got
        self.done += got
        return True

    def _program(self, v, n):
        # v: n bytes from the buffer's start, n a multiple of the page
        # when larger than one (a piece, or the whole units of a short read).
        page = self.page
        if self.pages is None or n <= page:
            self.region.program(self.addr, v)
            return
        a = self.addr
        if self.many is not None and not n % page:
            self.many(a, v)
            return
        pages = self.pages
        for i in range(n // page):
            self.region.program(a + i * page, pages[i])
        rest = n % page
        if rest:
            self.region.program(a + n - rest, pages[n // page][:rest])

    def _byte(self, reader):
        one = self.ladder[0]
        if reader.readinto(one) != 1:
            return False
        self.check.update(one)
        self.pad[self.fill] = one[0]
        self.fill += 1
        self.done += 1
        if self.fill == self.w or self.done == self.n:
            self._flush_pad()
        return True

    def _short(self, v, got):
        # A short read: the whole write units go now, the rest to the pad.
        whole = got - got % self.w
        if whole:
            part = v[:whole]
            self.check.update(part)
            self._program(part, whole)
            self.addr += whole
            self.done += whole
        for i in range(whole, got):
            self.check.update(v[i:i + 1])
            self.pad[self.fill] = v[i]
            self.fill += 1
            self.done += 1
        if self.done == self.n and self.fill:
            self._flush_pad()
        return True

    def _flush_pad(self):
        self.region.program(self.addr, self.padw)
        self.addr += self.w
        self.fill = 0
        for i in range(self.w):
            self.pad[i] = 0xFF

    def extra(self, reader):
        """True if the reader has more bytes than were asked for."""
        return bool(reader.readinto(self.probe))
