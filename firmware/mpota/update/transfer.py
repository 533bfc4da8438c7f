# SPDX-License-Identifier: MIT
"""Get one file of the bundle into a region, checked: a download that
resumes where a dropped connection left it, a chunk copied from the
running slot, a deflated chunk staged in scratch and inflated."""

from ..bundle.error import BundleError
from ..bundle.table import Expect
from ..source import SourceError
from . import fetch
from .pump import Pump, RegionReader

from micropython import const


# The decompressor's state besides its window (uzlib's trees and buffers).
_INFLATE_STATE = const(2048)
# What an attempt must bring (or the rest of the file) to count as
# progress and forgive earlier failures.
_PROGRESS = const(1024)


class Transfer:
    def __init__(self, dev, src):
        self.dev = dev
        self.src = src
        self.pump = Pump(dev.buffer, dev.pad)
        # Tests set (micropython.heap_lock, micropython.heap_unlock).
        self.hold = None
        self.reserved = None
        # An encrypted bundle's chunk cipher (sealed.py), set by the install.
        self.cipher = None
        self.bits = dev.inflate_bits
        if self.bits:
            self.room(True)

    def download(self, name, n, check, region, addr, missing, short, hold=None, run=None):
        """Stream file `name` (n bytes) into region at addr through check.
        A dropped transfer is reopened at the first byte not yet received,
        as long as each attempt brings at least _PROGRESS bytes or retries
        remain. run: a runs.Stream positioned for this chunk, whose open
        response is read instead of the file while it serves."""
        p = self.pump
        p.start(region, addr, n, check)
        p.hold = hold
        failures = 0
        while True:
            before = p.done
            r = None
            try:
                if run is not None:
                    r = run.reader(p.done)
                    if r is None:
                        run = None  # the chunk's own file from here on
                if r is None:
                    r = self.src.open(name, p.done)
            except SourceError as e:
                if e.reason == "not-found":
                    raise BundleError(missing)
                err = e
            if r is not None:
                ok = False
                shared = run is not None
                try:
                    if p.run(r):
                        if run is not None:
                            run.advance(n)
                        elif p.extra(r):
                            raise BundleError("too-large")
                        ok = True
                        return
                    if run is None:
                        raise BundleError(short)
                    run.fail()  # a short stream file: not a failure of the chunk
                    run = None
                    continue
                except SourceError as e:
                    err = e
                finally:
                    if not shared:
                        r.close()
                    elif not ok and run is not None:
                        run.close()
            got = p.done - before
            if got and got >= min(_PROGRESS, n - before):
                # Only real progress forgives the failures: a server that
                # sends a few bytes per connection cannot hold the agent
                # for ever.
                failures = 0
            failures += 1
            if failures > self.dev.retries:
                raise err
            fetch.backoff(self.dev, failures)

    def copy(self, src_region, region, off, e):
        """Chunk e from the running slot's same range (delta)."""
        check = Expect(e.raw_len, e.raw_sha, "truncated-chunk")
        p = self.pump
        p.start(region, off, e.raw_len, check)
        p.hold = self.hold
        p.run(RegionReader(src_region, off))
        check.finish()

    def plain(self, name, region, off, e, run=None):
        check = Expect(e.stored_len, e.stored_sha, "truncated-chunk")
        self.download(name, e.stored_len, check, region, off, "missing-chunk",
                      "truncated-chunk", self.hold, run)
        check.finish()

    def staged(self, name, region, off, e, c, m, run=None):
        """Stage the stored bytes in the scratch area, check them, then
        decrypt and/or inflate into region at off and check the result
        (staged.py: compiled only for a bundle that needs it)."""
        from .staged import staged

        staged(self, name, region, off, e, c, m, run)

    def room(self, keep, bits=None):
        """Reserve (keep) or hand over the decompressor's space.

        The decompressor allocates its window (2^window_bits bytes) and
        its state for every chunk. A block that size is reserved early
        and handed over for each chunk, so a heap fragmented meanwhile
        still has the space. Best effort: without it the decompressor may
        still find room."""
        import gc

        if bits:
            self.bits = bits
        size = (1 << self.bits) + _INFLATE_STATE if self.bits else 0
        if keep and self.reserved is not None and len(self.reserved) >= size:
            return
        self.reserved = None
        gc.collect()
        if keep and size:
            try:
                self.reserved = bytearray(size)
            except MemoryError:
                pass

