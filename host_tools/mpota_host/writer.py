# SPDX-License-Identifier: MIT
"""Write a bundle directory (docs/FORMAT.md, "Layout"): cut the image into
chunks, compress each where it helps, write them content-addressed, write
the chunk table and the stream file (every chunk's stored bytes in table
order, for devices that fetch runs of chunks in one request), then the
signed manifest last, so a directory without a `manifest` is never
mistaken for a finished bundle."""

import hashlib
import os
import zlib
from dataclasses import dataclass, field as dc_field
from typing import List, Optional

from mpota.bundle import format as F
from mpota.bundle.error import BundleError

from . import document as D
from . import files, outdir
from .errors import CommandError

# The stream file's folder: stream/<table SHA-256 hex> (docs/FORMAT.md,
# "Layout"; the device's name is update/runs.py's).
STREAM = "stream"

CODECS = {"none": F.CODEC_NONE, "deflate": F.CODEC_DEFLATE}
TARGETS = {"firmware": F.TARGET_FIRMWARE, "app": F.TARGET_APP}


@dataclass
class Params:
    device_class: str
    version: int
    security_counter: int
    sequence: int
    product: str = "mpota"
    hw_revs: List[str] = dc_field(default_factory=list)
    target: str = "firmware"
    label: str = ""
    expires: Optional[int] = None
    min_agent: int = 0
    chunk_size: int = 4096
    compress: str = "none"
    window_bits: int = 12
    issued: Optional[int] = None  # Unix seconds; mpota sign gives now (T_ISSUED)
    # Build provenance (docs/FORMAT.md, "Provenance"): "" / None = absent.
    source_rev: str = ""
    build_id: str = ""
    builder: str = ""
    build_time: Optional[int] = None
    sbom_sha256: Optional[bytes] = None
    # Encryption (docs/FORMAT.md, "Encryption"): raw X25519 public keys of
    # the devices or classes that may decrypt; empty: not encrypted.
    encrypt_for: List[bytes] = dc_field(default_factory=list)


U32 = 2**32 - 1
U64 = 2**64 - 1


def check(params):
    """Refuse any parameter the format cannot hold, naming its option."""
    numbers = [("--version", params.version, U32), ("--security-counter", params.security_counter, U32),
               ("--sequence", params.sequence, U32), ("--min-agent-version", params.min_agent, U32)]
    if params.expires is not None:
        numbers.append(("--expires (Unix seconds)", params.expires, U64))
    for opt, value, limit in numbers:
        if not 0 <= value <= limit:
            raise CommandError("{} must be 0 to {}".format(opt, limit))
    idents = [("--product", params.product, F.MAX_IDENT),
              ("--device-class", params.device_class, F.MAX_IDENT)]
    idents += [("--hw-rev", h, F.MAX_HW_REV) for h in params.hw_revs]
    for opt, value, limit in idents:
        if not 1 <= len(value) <= limit or not all(0x21 <= ord(c) <= 0x7E for c in value):
            raise CommandError("{} {!r}: 1 to {} printable ASCII characters, no spaces".format(opt, value, limit))
    for i, h in enumerate(params.hw_revs):
        if h in params.hw_revs[:i]:
            raise CommandError("--hw-rev {} given twice".format(h))
    if len(params.hw_revs) > F.MAX_HW_REVS:
        raise CommandError("--hw-rev: at most {} revisions".format(F.MAX_HW_REVS))
    if len(params.label) > F.MAX_LABEL or not all(0x20 <= ord(c) <= 0x7E for c in params.label):
        raise CommandError("--label: at most {} printable ASCII characters".format(F.MAX_LABEL))
    for opt, value, lowest in (("--source-rev", params.source_rev, 0x21),
                               ("--build-id", params.build_id, 0x21),
                               ("--builder", params.builder, 0x20)):
        if len(value) > F.MAX_PROVENANCE or not all(lowest <= ord(c) <= 0x7E for c in value):
            raise CommandError("{} {!r}: at most {} printable ASCII characters{}".format(
                opt, value, F.MAX_PROVENANCE, ", no spaces" if lowest == 0x21 else ""))
    if params.build_time is not None and not 0 <= params.build_time <= U64:
        raise CommandError("--build-time must be 0 to {}".format(U64))
    cs = params.chunk_size
    if cs & (cs - 1) or not F.MIN_CHUNK_SIZE <= cs <= F.MAX_CHUNK_SIZE:
        raise CommandError("--chunk-size must be a power of two from {} to {}".format(F.MIN_CHUNK_SIZE, F.MAX_CHUNK_SIZE))
    if not F.MIN_WINDOW_BITS <= params.window_bits <= F.MAX_WINDOW_BITS:
        raise CommandError("--window-bits must be {} to {}".format(F.MIN_WINDOW_BITS, F.MAX_WINDOW_BITS))
    if params.compress not in CODECS:
        raise CommandError("--compress must be none or deflate")
    if params.target not in TARGETS:
        raise CommandError("--target must be firmware or app")


def check_key_count(count):
    if not count:
        raise CommandError("no signing key: give -k KEY")
    if count > F.MAX_SIGS:
        raise CommandError("at most {} signing keys (-k)".format(F.MAX_SIGS))


def check_output(out, force):
    """Refuse an output directory that must not be written (outdir.check)."""
    outdir.check(out, force)


def check_image(image, target):
    """Refuse an image file that cannot be what the user meant to sign."""
    head = files.read(image, 512)
    if not head:
        raise CommandError("{} is empty: nothing to sign".format(image))
    if not os.path.isfile(image):
        raise CommandError("{} is not a regular file: its size must be known".format(image))
    if target == "app" and head[257:262] != b"ustar":
        # docs/FORMAT.md "App image": a ustar archive, magic at offset 257.
        raise CommandError("{} is not a tar archive of the app (give the app's directory)".format(image))


def read_root(path):
    """The root document in file `path`, refused by name if it is not one."""
    doc = files.read(path, F.MAX_DOC + 1)
    try:
        root_version(doc)
    except BundleError as e:
        raise CommandError("{} is not a root document: {}".format(path, e.reason)) from None
    return doc


def root_version(doc):
    return F.root(doc, F.frame(doc, F.DOC_ROOT)).version


def manifest_fields(params, image_size, image_sha, table_sha, sealer=None):
    """The manifest's fields in the order the format requires."""
    f = [D.text(F.T_PRODUCT, params.product), D.text(F.T_DEVICE_CLASS, params.device_class)]
    f += [D.text(F.T_HW_REV, h) for h in params.hw_revs]
    f.append(D.uint(F.T_TARGET, TARGETS[params.target], 1))
    f.append(D.uint(F.T_VERSION, params.version, 4))
    if params.label:
        f.append(D.text(F.T_LABEL, params.label))
    f.append(D.uint(F.T_SECURITY_COUNTER, params.security_counter, 4))
    f.append(D.uint(F.T_SEQUENCE, params.sequence, 4))
    if params.expires is not None:
        f.append(D.uint(F.T_EXPIRES, params.expires, 8))
    if params.min_agent:
        f.append(D.uint(F.T_MIN_AGENT, params.min_agent, 4))
    f.append(D.uint(F.T_IMAGE_SIZE, image_size, 4))
    f.append(D.field(F.T_IMAGE_SHA256, image_sha))
    f.append(D.uint(F.T_CHUNK_SIZE, params.chunk_size, 4))
    f.append(D.field(F.T_TABLE_SHA256, table_sha))
    if params.compress == "deflate":
        f.append(D.uint(F.T_WINDOW_BITS, params.window_bits, 1))
    if sealer is not None:
        f.append(D.field(F.T_ENCRYPTION, sealer.field()))
    if params.issued is not None:
        f.append(D.uint(F.T_ISSUED, params.issued, 8))
    if params.source_rev:
        f.append(D.text(F.T_SOURCE_REV, params.source_rev))
    if params.build_id:
        f.append(D.text(F.T_BUILD_ID, params.build_id))
    if params.builder:
        f.append(D.text(F.T_BUILDER, params.builder))
    if params.build_time is not None:
        f.append(D.uint(F.T_BUILD_TIME, params.build_time, 8))
    if params.sbom_sha256 is not None:
        f.append(D.field(F.T_SBOM_SHA256, params.sbom_sha256))
    return f


def _compress(raw, window_bits):
    c = zlib.compressobj(9, zlib.DEFLATED, -window_bits, 9)
    return c.compress(raw) + c.flush()


def entry(codec, stored, stored_sha, raw_sha):
    return (bytes((codec, 0, 0, 0)) + len(stored).to_bytes(4, "big")
            + stored_sha + raw_sha)


def _put(path, data):
    # Content-addressed: an existing file of that name already holds data.
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)


def _chunk(src, i, size, params, out, image_h, stream, sealer):
    # Read, hash, maybe compress and store chunk i (and append it to the
    # stream file); return its table entry.
    try:
        raw = src.read(params.chunk_size)
    except OSError as e:
        raise CommandError("cannot read {}: {}".format(src.name, e.strerror)) from None
    if len(raw) != min(params.chunk_size, size - i * params.chunk_size):
        raise CommandError("the image changed while it was read")
    image_h.update(raw)
    raw_sha = hashlib.sha256(raw).digest()
    codec, stored, stored_sha = F.CODEC_NONE, raw, raw_sha
    if params.compress == "deflate":
        packed = _compress(raw, params.window_bits)
        if len(packed) < len(raw):
            codec, stored = F.CODEC_DEFLATE, packed
            stored_sha = hashlib.sha256(packed).digest()
    if sealer is not None:
        stored = sealer.chunk(stored, raw_sha)
        stored_sha = hashlib.sha256(stored).digest()
    _put(os.path.join(out, "chunks", stored_sha.hex()), stored)
    stream.write(stored)
    return entry(codec, stored, stored_sha, raw_sha)


def _open_image(image):
    try:
        size = os.path.getsize(image)
        if size > F.MAX_IMAGE_SIZE:
            raise CommandError("{} is {} bytes, the format allows {}".format(image, size, F.MAX_IMAGE_SIZE))
        return size, open(image, "rb")
    except OSError as e:
        raise CommandError("cannot read {}: {}".format(image, e.strerror)) from None


def _write_chunks(src, size, params, out, progress, sealer=None):
    """Write every chunk, the table and the stream file into `out`; return
    (image SHA-256, table SHA-256)."""
    os.mkdir(os.path.join(out, "chunks"))
    os.mkdir(os.path.join(out, "table"))
    os.mkdir(os.path.join(out, STREAM))
    count = (size + params.chunk_size - 1) // params.chunk_size
    image_h, table_h = hashlib.sha256(), hashlib.sha256()
    partial = os.path.join(out, "table", "partial")
    spartial = os.path.join(out, STREAM, "partial")
    with open(partial, "wb") as table, open(spartial, "wb") as stream:
        for i in range(count):
            e = _chunk(src, i, size, params, out, image_h, stream, sealer)
            table.write(e)
            table_h.update(e)
            if progress:
                progress(i + 1, count)
    os.rename(partial, os.path.join(out, "table", table_h.hexdigest()))
    os.rename(spartial, os.path.join(out, STREAM, table_h.hexdigest()))
    return image_h.digest(), table_h.digest()


def write_bundle(image, out, params, signers, force=False, roots=(), progress=None):
    """Write the bundle of the file `image` into directory `out`.

    Everything is checked before anything is written, and the bundle is
    built beside `out` and swapped in when complete (outdir.staged): on any
    failure `out` is as it was. With force, a bundle already in `out` is
    replaced. roots: root documents (bytes) to publish under roots/<version>.
    Returns the manifest document as written.
    """
    check(params)
    check_key_count(len(signers))
    versions = {}
    for doc in roots:
        v = root_version(doc)
        if v in versions:
            raise CommandError("two --root documents have version {}".format(v))
        versions[v] = doc
    sealer = None
    if params.encrypt_for:
        from .seal import Sealer

        sealer = Sealer(params.encrypt_for)
        wraps = sealer.wraps()
    size, src = _open_image(image)
    with src, outdir.staged(out, force) as tmp:
        image_sha, table_sha = _write_chunks(src, size, params, tmp, progress, sealer)
        if sealer is not None:
            # The content secret wrapped for each recipient: keys/<id>.
            os.mkdir(os.path.join(tmp, "keys"))
            for name, data in wraps.items():
                with open(os.path.join(tmp, *name.split("/")), "wb") as f:
                    f.write(data)
        for v, doc in versions.items():
            os.makedirs(os.path.join(tmp, "roots"), exist_ok=True)
            with open(os.path.join(tmp, "roots", str(v)), "wb") as f:
                f.write(doc)
        signed = D.unsigned(F.DOC_MANIFEST, manifest_fields(params, size, image_sha, table_sha, sealer))
        doc = D.assemble(signed, D.sign(signed, [], signers))
        # The device parser must accept what we wrote.
        F.manifest(doc, F.frame(doc, F.DOC_MANIFEST))
        # Last, so that a directory without a manifest is never a bundle.
        with open(os.path.join(tmp, "manifest"), "wb") as f:
            f.write(doc)
    return doc


def _put_manifest(out, doc):
    files.write(os.path.join(out, "manifest"), doc)


def cosign(out, signers):
    """Add signatures to the manifest of the bundle in `out`."""
    doc = files.read(os.path.join(out, "manifest"), F.MAX_DOC + 1)
    signed, sigs = D.split(doc, F.DOC_MANIFEST)
    doc = D.assemble(signed, D.sign(signed, sigs, signers))
    _put_manifest(out, doc)
    return doc
