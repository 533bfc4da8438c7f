"""Streaming checks of bundle data: the chunk table, chunks and the image.

Data arrives in pieces of any size (from a socket, a file or flash) and is
never held whole: each check keeps a running SHA-256 and a byte budget.
Entries of the chunk table are read one at a time into a fixed buffer.
"""

import hashlib

from . import format as F
from .error import BundleError


def same(a, b):
    """Equal digests; works across bytes, bytearray and memoryview alike
    (MicroPython does not compare a memoryview with bytes by content)."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


class Expect:
    """Bytes fed in pieces must total `size` and hash to `sha256`."""

    def __init__(self, size, sha256, short_reason):
        self.left = size
        self.want = sha256
        self.short = short_reason
        self.h = hashlib.sha256()

    def update(self, data):
        n = len(data)
        if n > self.left:
            # More than declared: refuse before hashing a byte of it.
            raise BundleError("too-large")
        self.left -= n
        self.h.update(data)

    def finish(self):
        if self.left:
            raise BundleError(self.short)
        if not same(self.h.digest(), self.want):
            raise BundleError("hash-mismatch")


class Entry:
    """One chunk table entry, parsed from its own fixed 72-byte buffer.

    Fill `buf` (e.g. `f.readinto(entry.buf)` after seeking to
    i * ENTRY_SIZE), then call load(m, i). Loading allocates nothing.
    """

    def __init__(self):
        self.buf = bytearray(F.ENTRY_SIZE)
        mv = memoryview(self.buf)
        self.stored_sha = mv[F.E_STORED_SHA:F.E_STORED_SHA + F.HASH_SIZE]
        self.raw_sha = mv[F.E_RAW_SHA:F.E_RAW_SHA + F.HASH_SIZE]
        self.index = -1
        self.codec = 0
        self.stored_len = 0
        self.raw_len = 0

    def problem(self, m, i):
        """The reason entry i in buf is unacceptable for m, or None."""
        b = self.buf
        if not 0 <= i < m.chunk_count():
            return "malformed"
        raw = m.chunk_len(i)
        stored = F.uint(b, F.E_STORED_LEN, 4)
        codec = b[F.E_CODEC]
        if b[1] or b[2] or b[3]:
            return "malformed"
        if codec == F.CODEC_NONE:
            # Stored as is: the two lengths and the two hashes must agree.
            if stored != raw or not same(self.stored_sha, self.raw_sha):
                return "malformed"
        elif codec == F.CODEC_DEFLATE:
            if not m.window_bits or stored < 1 or stored > raw:
                return "malformed"
        else:
            return "unknown-codec"
        self.index = i
        self.codec = codec
        self.stored_len = stored
        self.raw_len = raw
        return None

    def load(self, m, i):
        reason = self.problem(m, i)
        if reason:
            raise BundleError(reason)


class TableCheck:
    """The chunk table, fed in pieces: its length and SHA-256 must match
    the manifest and every entry must be valid. `stored_total` is the sum
    of stored chunk lengths (what a full download costs)."""

    def __init__(self, m):
        self.m = m
        self.expect = Expect(m.table_size(), m.table_sha256, "truncated-table")
        self.entry = Entry()
        self.fill = 0
        self.index = 0
        self.stored_total = 0
        self.first_problem = None

    def update(self, data):
        self.expect.update(data)
        e = self.entry
        src = memoryview(data)
        pos = 0
        n = len(data)
        while pos < n:
            take = min(F.ENTRY_SIZE - self.fill, n - pos)
            e.buf[self.fill:self.fill + take] = src[pos:pos + take]
            self.fill += take
            pos += take
            if self.fill == F.ENTRY_SIZE:
                reason = e.problem(self.m, self.index)
                if reason and not self.first_problem:
                    self.first_problem = reason
                self.stored_total += e.stored_len
                self.index += 1
                self.fill = 0

    def finish(self):
        # The hash is judged first: a bad entry in a table that is not the
        # signed one is a mismatch, not a malformed table.
        self.expect.finish()
        if self.first_problem:
            raise BundleError(self.first_problem)
        return self.stored_total
