# SPDX-License-Identifier: MIT
"""Which chunks of the next erase units to fetch (docs/AGENT.md, "Install").

Plan looks a window of chunks ahead and marks each one: already in the
slot (reused), the same as the running slot's range (copied), or to
fetch; with a source that takes ranges it hands each chunk's stored
length to runs.Stream, so that a run of chunks to fetch can be asked for
at once. It reads the slot and the running slot and writes nothing:
erasing a dirty unit is left to the install, when it comes to that unit.
An erased range is told by comparing it with erased bytes (no hash).
"""

from ..bundle.table import same
from ..sha256 import sha256

from micropython import const


REUSE = const(0)
COPY = const(1)
FETCH = const(2)
# Chunks planned at once (up to 6 bytes each, no more than the image has):
# at most one request per window, 4 MiB of 4 KB chunks.
_WINDOW = const(1024)
_FF = const(1024)  # erased bytes compared at once


class Plan:
    """What to do with each chunk of a window of erase units, decided by
    reading the slot and the running slot (nothing is written here)."""

    def __init__(self, inst, per):
        self.inst = inst
        self.per = per
        # A window of whole units, no larger than the image needs.
        n = inst.m.chunk_count()
        w = max(per, min(_WINDOW, (n + per - 1) // per * per) // per * per)
        self.kind = bytearray(w)
        self.dirty = bytearray(w // per)
        self.u0 = self.u1 = 0
        self.c0 = self.c1 = 0
        # runs.Stream, which keeps each chunk's offset in the stream file.
        self.rec = inst.stream
        if self.rec:
            self.rec.plan(self, w)
        self.ff = None  # made by _blank when first needed
        # The two regions' blank() (a file region, a chip), looked up
        # once rather than as a new bound method at every chunk.
        self.blanks = (getattr(inst.slot, "blank", None), getattr(inst.running, "blank", None))
        # Digests compared in C where a memoryview compares by content
        # (MicroPython 1.20 and later, CPython); else byte by byte.
        self.quick = memoryview(bytearray(b"ab")) == b"ab" and not memoryview(bytearray(b"ab")) == b"ac"

    def _same(self, view, digest):
        return view == digest if self.quick else same(view, digest)

    def window(self, u, units, n):
        """Plan units u.. (as many as the window holds)."""
        inst = self.inst
        per = self.per
        c0 = u * per
        rec = self.rec
        if rec:
            rec.start(c0, u == self.u1)
        u1 = min(units, u + len(self.dirty))
        c1 = min(n, u1 * per)
        cs = inst.m.chunk_size
        kind = self.kind
        for uu in range(u, u1):
            a = uu * per
            b = min(a + per, n)
            dirty = False
            for c in range(a, b):
                e = inst._load(c)
                if rec:
                    rec.put(c - c0, e.stored_len)
                d = self._digest(inst.slot, c * cs, e.raw_len)
                if self._same(e.raw_sha, d):
                    kind[c - c0] = REUSE
                    continue
                if not dirty and d is not inst.blank_full and d is not inst.blank_last:
                    # Neither the chunk nor known erased: erased after all?
                    blank = inst.blank_full if e.raw_len == cs else inst.blank_last
                    dirty = not same(d, blank)
                # The entry is at hand: the running slot's range now.
                kind[c - c0] = COPY if self._running(c, e) else FETCH
            self.dirty[uu - u] = 1 if dirty else 0
            if dirty:
                # The unit is erased whole: chunks already in it are not.
                for c in range(a, b):
                    if kind[c - c0] == REUSE:
                        kind[c - c0] = COPY if self._running(c, inst._load(c)) else FETCH
        if rec:
            rec.put(c1 - c0, 0)
        self.u0, self.u1, self.c0, self.c1 = u, u1, c0, c1

    def _running(self, c, e):
        inst = self.inst
        return self._same(e.raw_sha, self._digest(inst.running, c * inst.m.chunk_size, e.raw_len))

    def _digest(self, region, addr, n):
        # SHA-256 of region[addr:addr + n]; of an erased range, known.
        inst = self.inst
        if self._blank(region, addr, n):
            return inst.blank_full if n == inst.m.chunk_size else inst.blank_last
        h = sha256()
        inst.pump.scan(region, addr, n, h)
        return h.digest()

    def _blank(self, region, addr, n):
        # Few locals: a call of a function with a large frame allocates
        # its state on the heap (MicroPython), and this runs twice a chunk.
        inst = self.inst
        if region is inst.slot:
            blank = self.blanks[0]
        elif region is inst.running:
            blank = self.blanks[1]
        else:
            blank = getattr(region, "blank", None)
        if blank is not None:
            # A file region: past its end; a chip: read or known erased
            # by its model (None: not known, compared here).
            b = blank(addr, n)
            if b is not None:
                return b
        return self._compare(region, addr, n)

    def _compare(self, region, addr, n):
        # True if region[addr:addr + n] reads as erased bytes.
        p = self.inst.pump
        if self.ff is None:
            # Erased bytes as views the sizes of the pump's: a blank range
            # is told by comparing (no hash).
            k = min(p.size, _FF)
            ff = bytearray(k)
            for i in range(k):
                ff[i] = 0xFF
            ffv = memoryview(ff)
            self.ff = [ffv[:len(v)] for v in p.ladder if len(v) <= k]
        top = len(self.ff) - 1
        while n:
            k = min(p._piece(n, addr), top)
            v = p.ladder[k]
            region.read(addr, v)
            if v != self.ff[k]:
                return False
            addr += len(v)
            n -= len(v)
        return True
