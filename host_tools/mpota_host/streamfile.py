# SPDX-License-Identifier: MIT
"""The bundle's stream file, stream/<table SHA-256 hex>: every chunk's
stored bytes in table order (docs/FORMAT.md, "Layout"). It is not signed:
a device checks each chunk it reads from it against the signed table, as
it checks chunk files. Here: check one against a verified bundle's table
(`mpota verify`, `mpota publish`), and write one from the chunk files (a
bundle signed before stream files existed)."""

import hashlib
import os

from mpota.bundle import format as F

from .errors import CommandError
from .writer import STREAM

_READ = 1 << 16


def path(bundle, m):
    return os.path.join(bundle, STREAM, bytes(m.table_sha256).hex())


def _entries(bundle, m):
    # (stored length, stored SHA-256) of each chunk, from the table that
    # directory.verify() has checked against the manifest.
    with open(os.path.join(bundle, "table", bytes(m.table_sha256).hex()), "rb") as f:
        table = f.read(m.table_size())
    for i in range(m.chunk_count()):
        e = table[i * F.ENTRY_SIZE:(i + 1) * F.ENTRY_SIZE]
        yield (F.uint(e, F.E_STORED_LEN, 4),
               bytes(e[F.E_STORED_SHA:F.E_STORED_SHA + F.HASH_SIZE]))


def problem(bundle, m):
    """None if the bundle's stream file is absent or holds exactly the
    stored chunks in table order; else what is wrong with it."""
    p = path(bundle, m)
    if not os.path.lexists(p):
        return None
    if not os.path.isfile(p):
        return "{} is not a regular file".format(p)
    try:
        with open(p, "rb") as f:
            for i, (n, want) in enumerate(_entries(bundle, m)):
                h = hashlib.sha256()
                left = n
                while left:
                    b = f.read(min(left, _READ))
                    if not b:
                        return "{} ends inside chunk {}".format(p, i)
                    h.update(b)
                    left -= len(b)
                if h.digest() != want:
                    return "{}: chunk {} does not match the chunk table".format(p, i)
            if f.read(1):
                return "{} holds bytes after the last chunk".format(p)
    except OSError as e:
        return "cannot read {}: {}".format(p, e.strerror)
    return None


def check(bundle, m):
    """Refuse a stream file that is present but wrong (one CommandError):
    a device would refuse the chunks it reads from it."""
    why = problem(bundle, m)
    if why:
        raise CommandError("{} (the stream file is not signed; sign the bundle again, "
                           "or remove {})".format(why, os.path.join(bundle, STREAM)))


def manifest(bundle):
    """The manifest of a bundle already verified (its fields only)."""
    with open(os.path.join(bundle, "manifest"), "rb") as f:
        doc = f.read(F.MAX_DOC + 1)
    return F.manifest(doc, F.frame(doc, F.DOC_MANIFEST))


def write(bundle, m=None):
    """Write the stream file from the bundle's chunk files (all verified)."""
    m = m or manifest(bundle)
    os.makedirs(os.path.join(bundle, STREAM), exist_ok=True)
    p = path(bundle, m)
    tmp = p + ".partial"
    with open(tmp, "wb") as out:
        for n, sha in _entries(bundle, m):
            with open(os.path.join(bundle, "chunks", sha.hex()), "rb") as f:
                out.write(f.read(n))
    os.rename(tmp, p)
