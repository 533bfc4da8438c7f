# SPDX-License-Identifier: MIT
"""Chunks fetched in runs (docs/TRANSPORT.md, "Runs of chunks").

A bundle may publish stream/<table hash>: every chunk's stored bytes in
table order (docs/FORMAT.md, "Layout"). Given the plan (plan.py), Stream
asks for each run of consecutive chunks to fetch with one request (an
HTTP Range over the run) and hands the same reader to every chunk of the
run in turn; each chunk is still checked against the signed table on its
own, exactly as a chunk file is (transfer.py). Imported only for a
source that takes ranges (HttpSource).

A drop mid-run reopens at the exact byte. A server that answers a Range
with the whole file is read on while that is cheap (_SKIP bytes to
drop), else the chunk files are used; so they are when the stream file
is missing (an older bundle) or refused.
"""

from ..bundle import format as F
from ..bundle.error import BundleError
from ..source import SourceError

from micropython import const


_FETCH = const(2)  # plan.FETCH

_SKIP = const(16384)  # bytes read and dropped rather than asking again


def name(table_sha_hex):
    """The stream file's path in a bundle."""
    return "stream/" + table_sha_hex


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
        self.offs = bytearray(0)  # made by plan()

    # Offsets of the plan's chunks in the stream file (plan.py calls these)

    def plan(self, plan, w):
        self.p = plan
        self.offs = bytearray(4 * (w + 1))
        self.c1 = -1
        self.next = 0  # the offset of chunk c1
        self.run_from = self.run_to = -1  # the run run_end() found last
        self.run_off = 0

    def start(self, c0, follows):
        """A window from chunk c0; follows: right after the last one."""
        if not follows or self.c1 != c0:
            off = 0
            p = self.p
            for i in range(c0):
                off += p.inst._load(i).stored_len
            self.next = off
        self.c0 = c0
        self.run_from = self.run_to = -1

    def put(self, i, n):
        # Chunk c0 + i starts at the offset so far; n stored bytes follow.
        b = self.offs
        v = self.next
        k = 4 * i
        b[k] = v >> 24
        b[k + 1] = (v >> 16) & 0xFF
        b[k + 2] = (v >> 8) & 0xFF
        b[k + 3] = v & 0xFF
        self.next = v + n
        self.c1 = self.c0 + i + (1 if n else 0)

    def offset(self, c):
        return F.uint(self.offs, 4 * (c - self.c0), 4)

    def run_end(self, c):
        """The stream offset where the run of chunks to fetch from c ends
        (at the plan window's end at the latest)."""
        if self.run_from <= c < self.run_to:
            return self.run_off  # c is in the run found last
        kind = self.p.kind
        i = c - self.c0
        last = self.p.c1 - self.c0
        while i < last and kind[i] == _FETCH:
            i += 1
        self.run_from, self.run_to = c, self.c0 + i
        self.run_off = F.uint(self.offs, 4 * i, 4)
        return self.run_off

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
        whole = getattr(r, "whole", False) or (want == 0 and self.stop == self.total)
        if whole:
            # The whole file comes (asked for, or a Range ignored).
            self.at = 0
            self.end = self.total
        n = getattr(r, "length", -1)
        if n > self.end - self.at:
            # More than the file or the run holds, as a chunk file would.
            self.close()
            raise BundleError("too-large")
        if 0 <= n < self.end - self.at or (whole and want > _SKIP):
            # A shorter file, or a Range ignored far from the start.
            self.close()
            self.on = False
            return None
        if whole:
            self._drop(want)
        return r

    def _drop(self, k):
        p = self.pump
        r = self.r
        try:
            while k and r is not None:
                v = p.ladder[p._piece(k, 0)]
                got = r.readinto(v)
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
