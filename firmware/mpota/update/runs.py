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

from ..source import SourceError

from micropython import const


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
