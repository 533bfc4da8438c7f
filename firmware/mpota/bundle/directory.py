# SPDX-License-Identifier: MIT
"""Verify a bundle directory on a filesystem (docs/FORMAT.md, "Layout").

The reader for `mpota verify` on the host and for tests on the device:
it opens files and feeds trust.py and table.py, which decide. Memory is
fixed: one document buffer, one data buffer, one table entry.
"""

import binascii

from . import format as F
from . import inflate, trust
from .error import BundleError
from .table import Entry, Expect, TableCheck

_BUF = 1024


def _hex(digest):
    return binascii.hexlify(bytes(digest)).decode()


def _open(path, missing):
    try:
        return open(path, "rb")
    except OSError:
        raise BundleError(missing)


def read_doc(path, buf, missing):
    """Read a signed document into buf (MAX_DOC + 1 bytes); return a view."""
    f = _open(path, missing)
    try:
        n = 0
        view = memoryview(buf)
        while n < len(buf):
            got = f.readinto(view[n:])
            if not got:
                break
            n += got
    finally:
        f.close()
    if n > F.MAX_DOC:
        raise BundleError("too-large")
    return view[:n]


def _exists(path):
    try:
        open(path, "rb").close()
        return True
    except OSError:
        return False


def newest_root(bundle, root, buf=None):
    """Apply the rotations in <bundle>/roots/<version> after root's version,
    in order; return the newest root accepted."""
    buf = buf or bytearray(F.MAX_DOC + 1)
    for _ in range(F.MAX_ROTATIONS):
        name = "{}/roots/{}".format(bundle, root.version + 1)
        if root.version < 1 or not _exists(name):
            break
        root = trust.rotate(root, read_doc(name, buf, "missing-root"))
    return root


def _feed(f, checks, buf):
    view = memoryview(buf)
    while True:
        n = f.readinto(buf)
        if not n:
            return
        for c in checks:
            c.update(view[:n])


def verify(bundle, root, progress=None, decrypt=None, **policy):
    """Verify every byte of the bundle in directory `bundle` against `root`.

    policy: the device facts trust.verify_manifest() takes. progress, if
    given, is called as progress(chunks_done, chunk_count) after each chunk.
    An encrypted bundle's chunks are checked as stored (the ciphertext the
    signed table names); with decrypt (a function of the verified
    manifest giving the chunk cipher of a recipient's key) the plaintext
    and the image are checked too. Returns the manifest; raises
    BundleError with the reason otherwise.
    """
    buf = bytearray(F.MAX_DOC + 1)
    doc = read_doc(bundle + "/manifest", buf, "missing-manifest")
    m = trust.verify_manifest(root, doc, **policy)
    doc = buf = None
    cipher = decrypt(m) if decrypt is not None and m.suite else None
    data = bytearray(_BUF)

    table_name = "{}/table/{}".format(bundle, _hex(m.table_sha256))
    tf = _open(table_name, "missing-table")
    try:
        check = TableCheck(m)
        _feed(tf, (check,), data)
        check.finish()
        # An encrypted bundle without its key: the image cannot be seen.
        image = Expect(m.image_size, m.image_sha256, "hash-mismatch") \
            if cipher is not None or not m.suite else None
        e = Entry()
        count = m.chunk_count()
        for i in range(count):
            tf.seek(i * F.ENTRY_SIZE)
            if tf.readinto(e.buf) != F.ENTRY_SIZE:
                raise BundleError("truncated-table")
            e.load(m, i)
            _chunk(bundle, m, e, image, data, cipher)
            if progress:
                progress(i + 1, count)
        if image is not None:
            image.finish()
    finally:
        tf.close()
    return m


def _chunk(bundle, m, e, image, data, cipher):
    name = "{}/chunks/{}".format(bundle, _hex(e.stored_sha))
    stored = Expect(e.stored_len, e.stored_sha, "truncated-chunk")
    f = _open(name, "missing-chunk")
    try:
        if m.suite:
            _feed(f, (stored,), data)
            stored.finish()
            if image is not None:
                f.seek(0)
                _plain(_decrypted(f, e, cipher), m, e, image, data)
            return
        if e.codec == F.CODEC_NONE:
            # The entry was checked: stored bytes and hash are the raw ones.
            _feed(f, (stored, image), data)
            stored.finish()
            return
        # Only bytes whose stored hash matched reach the decompressor.
        _feed(f, (stored,), data)
        stored.finish()
        f.seek(0)
        raw = Expect(e.raw_len, e.raw_sha, "truncated-chunk")
        _feed(inflate.reader(f, m.window_bits), (raw, image), data)
        raw.finish()
    finally:
        f.close()


def _decrypted(f, e, cipher):
    # The chunk's plaintext (stored bytes are at most a chunk: read whole).
    import io

    buf = bytearray(e.stored_len)
    if f.readinto(buf) != e.stored_len:
        raise BundleError("truncated-chunk")
    cipher.begin(e.raw_sha)
    cipher.decrypt(buf)
    if e.codec == F.CODEC_NONE:
        buf = buf[:e.raw_len]  # the rest: the last block's zero padding
    return io.BytesIO(buf)


def _plain(f, m, e, image, data):
    raw = Expect(e.raw_len, e.raw_sha, "truncated-chunk")
    if e.codec != F.CODEC_NONE:
        f = inflate.reader(f, m.window_bits)
    _feed(f, (raw, image), data)
    raw.finish()
