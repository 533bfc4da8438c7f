# SPDX-License-Identifier: MIT
"""Chunks fetched in runs (docs/TRANSPORT.md, "Runs of chunks").

A bundle may publish stream/<table hash>: every chunk's stored bytes in
table order (docs/FORMAT.md, "Layout"). Plan looks a window of chunks
ahead and marks each one: already in the slot (reused), the same as the
running slot's range (copied), or to fetch, with its offset in that file.
Stream then asks for each run of consecutive chunks to fetch with one
request (an HTTP Range over the run) and hands the same reader to every
chunk of the run in turn; each chunk is still checked against the signed
table on its own, exactly as a chunk file is (transfer.py).

A drop mid-run reopens at the exact byte. A server that answers a Range
with the whole file is read on while that is cheap (_SKIP bytes to
drop), else the chunk files are used; so they are when the stream file
is missing (an older bundle) or refused.
"""

from ..bundle import format as F
from ..bundle.table import same
from ..sha256 import sha256
from ..source import SourceError

from micropython import const


REUSE = const(0)
COPY = const(1)
FETCH = const(2)
_WINDOW = const(256)  # chunks planned at once: at most one request per window
_SKIP = const(16384)  # bytes read and dropped rather than asking again


def name(table_sha_hex):
    """The stream file's path in a bundle."""
    return "stream/" + table_sha_hex


class Plan:
    """What to do with each chunk of a window of erase units, decided by
    reading the slot and the running slot (nothing is written here)."""

    def __init__(self, inst, per):
        self.inst = inst
        self.per = per
        w = max(per, _WINDOW // per * per)
        self.kind = bytearray(w)
        self.offs = bytearray(4 * (w + 1))
        self.dirty = bytearray(w // per)
        self.u0 = self.u1 = 0
        self.c0 = self.c1 = 0
        self.next_off = -1  # stream offset of chunk c1

    def window(self, u, units, n):
        """Plan units u.. (as many as the window holds)."""
        inst = self.inst
        per = self.per
        c0 = u * per
        if self.next_off < 0 or u != self.u1:
            self.next_off = self._offset(c0)
        off = self.next_off
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
                self._put(c - c0, off)
                off += e.stored_len
                h = sha256()
                inst.pump.scan(inst.slot, c * cs, e.raw_len, h)
                d = h.digest()
                if same(d, e.raw_sha):
                    kind[c - c0] = REUSE
                else:
                    kind[c - c0] = FETCH
                    blank = inst.blank_full if e.raw_len == cs else inst.blank_last
                    dirty = dirty or not same(d, blank)
            self.dirty[uu - u] = 1 if dirty else 0
            for c in range(a, b):
                if dirty or kind[c - c0] != REUSE:
                    kind[c - c0] = COPY if self._running(c) else FETCH
        self._put(c1 - c0, off)
        self.u0, self.u1, self.c0, self.c1 = u, u1, c0, c1
        self.next_off = off

    def _running(self, c):
        inst = self.inst
        e = inst._load(c)
        h = sha256()
        inst.pump.scan(inst.running, c * inst.m.chunk_size, e.raw_len, h)
        return same(h.digest(), e.raw_sha)

    def _offset(self, c):
        # The stream offset of chunk c: the stored lengths before it.
        off = 0
        for i in range(c):
            off += self.inst._load(i).stored_len
        return off

    def _put(self, i, v):
        b = self.offs
        i *= 4
        b[i] = v >> 24
        b[i + 1] = (v >> 16) & 0xFF
        b[i + 2] = (v >> 8) & 0xFF
        b[i + 3] = v & 0xFF

    def offset(self, c):
        return F.uint(self.offs, 4 * (c - self.c0), 4)

    def run_end(self, c):
        """The stream offset where the run of chunks to fetch from c ends
        (at the window's end at the latest)."""
        kind = self.kind
        i = c - self.c0
        last = self.c1 - self.c0
        while i < last and kind[i] == FETCH:
            i += 1
        return F.uint(self.offs, 4 * i, 4)


class Stream:
    """One open response over the stream file, shared by a run's chunks."""

    def __init__(self, src, path, total, pump):
        self.src = src
        self.path = path
        self.total = total
        self.pump = pump
        # Only a source whose open() takes an end (HttpSource) serves
        # runs: a request costs a round trip there, and a run asked for is
        # exactly what comes. Any other reads chunk files.
        self.on = total > 0 and getattr(src, "ranges", False)
        self.r = None
        self.at = 0  # stream offset of the reader's next byte
        self.end = 0  # where its answer ends
        self.off = 0  # the current chunk's offset and its run's end
        self.stop = 0
        self.opens = 0  # requests made (tests and benchmarks count them)

    def chunk(self, off, stop):
        self.off = off
        self.stop = stop

    def reader(self, done):
        """The reader positioned at byte `done` of the current chunk, or
        None: use the chunk's own file."""
        want = self.off + done
        r = self.r
        if r is not None:
            if self.at == want:
                return r
            if self.at < want and self.stop <= self.end and want - self.at <= _SKIP:
                # A few bytes on in the answer at hand (the whole file,
                # from a server that ignored a Range): read on.
                self._drop(want - self.at)
                return r
            self.close()
        if not self.on:
            return None
        self.opens += 1
        try:
            if want == 0 and self.stop == self.total:
                r = self.src.open(self.path)
            else:
                r = self.src.open(self.path, want, self.stop)
        except SourceError as e:
            if e.reason not in ("not-found", "http-status", "bad-response"):
                raise
            # An older bundle, or a server that will not serve the run.
            self.on = False
            return None
        self.r = r
        self.at = want
        self.end = self.stop
        if getattr(r, "whole", False):
            # The server ignored the Range: the whole file comes.
            self.at = 0
            self.end = self.total
            if want > _SKIP:
                self.close()
                self.on = False
                return None
            self._drop(want)
        return r

    def _drop(self, k):
        p = self.pump
        try:
            while k:
                v = p.ladder[p._piece(k, 0)]
                got = self.r.readinto(v)
                if not got:
                    raise SourceError("closed")
                self.at += got
                k -= got
        except SourceError:
            self.close()
            raise

    def advance(self, n):
        """The current chunk's n bytes are in."""
        self.at = self.off + n
        if self.at >= self.end:
            self.close()

    def fail(self):
        """The reader ended early: the stream file is short; chunk files
        from now on."""
        self.close()
        self.on = False

    def close(self):
        r = self.r
        self.r = None
        if r is not None:
            r.close()
