# SPDX-License-Identifier: MIT
"""`mpota inspect`: a bundle's manifest in readable form (or JSON).

Parsed with the device's own parser; signatures are listed, not judged
(that is `mpota verify`). The chunk table, when present, is summarised.
Nothing here is signed-checked, so every read is bounded by a fixed
limit and opens only regular files: a bundle folder may be hostile.
"""

import hashlib
import os
import stat

from mpota.bundle import format as F
from mpota.bundle.error import BundleError
from mpota.bundle.table import Entry

from . import document as D
from . import files, reasons
from .errors import CommandError
from . import timefmt

TARGET_NAMES = {F.TARGET_FIRMWARE: "firmware", F.TARGET_APP: "app"}
_CODECS = {F.CODEC_NONE: "none", F.CODEC_DEFLATE: "deflate"}
# The most of a chunk table inspect reads (a 1 GiB image in 4 KB chunks
# has a 19 MB table); a manifest claiming more is not followed.
MAX_TABLE = 32 << 20
_PIECE = 64 * 1024
_PARTS = ("manifest", "table", "chunks", "roots", "stream", "keys")


def read_manifest(bundle):
    return files.read(os.path.join(bundle, "manifest"), F.MAX_DOC + 1)


def check_files(bundle):
    """Refuse a bundle folder holding anything but regular files (after
    symlinks) where its manifest, table, chunks and roots go: reading a
    FIFO waits for a writer, a device may never end. Missing files are
    left to the reader, which names them."""
    if not os.path.isdir(bundle):
        return
    for part in _PARTS:
        path = os.path.join(bundle, part)
        mode = _mode(path)
        if mode is None:
            continue
        if part == "manifest":
            if not stat.S_ISREG(mode):
                raise CommandError("{} is {}".format(path, files.kind(mode)))
            continue
        if not stat.S_ISDIR(mode):
            raise CommandError("{} is not a directory".format(path))
        try:
            names = os.listdir(path)
        except OSError as e:
            raise CommandError("cannot read {}: {}".format(path, e.strerror))
        for name in names:
            mode = _mode(os.path.join(path, name))
            if mode is not None and not stat.S_ISREG(mode):
                raise CommandError("{} is {}".format(os.path.join(path, name), files.kind(mode)))


def _mode(path):
    try:
        return os.stat(path).st_mode
    except OSError:
        return None


def describe(bundle):
    """A dict of everything the bundle's manifest says."""
    check_files(bundle)
    doc = read_manifest(bundle)
    try:
        m = F.manifest(doc, F.frame(doc, F.DOC_MANIFEST))
    except BundleError as e:
        raise CommandError(reasons.refused(e.reason, "{} is not a manifest".format(
            os.path.join(bundle, "manifest"))))
    _, sigs = D.split(doc, F.DOC_MANIFEST)
    info = {
        "format": F.FORMAT_VERSION,
        "product": m.product,
        "device_class": m.device_class,
        "hw_revs": list(m.hw_revs),
        "target": TARGET_NAMES[m.target],
        "version": m.version,
        "label": m.label,
        "security_counter": m.security_counter,
        "sequence": m.sequence,
        "expires": m.expires,
        "min_agent": m.min_agent,
        "image_size": m.image_size,
        "image_sha256": m.image_sha256.hex(),
        "chunk_size": m.chunk_size,
        "chunk_count": m.chunk_count(),
        "table_sha256": m.table_sha256.hex(),
        "window_bits": m.window_bits or None,
        "encryption": _encryption(bundle, m),
        "issued": m.issued or None,
        "provenance": {"source_rev": m.source_rev or None, "build_id": m.build_id or None,
                       "builder": m.builder or None, "build_time": m.build_time or None,
                       "sbom_sha256": m.sbom_sha256.hex() if m.sbom_sha256 else None},
        "manifest_size": len(doc),
        "signatures": [kid.hex() for kid, _ in sigs],
        "table": _table(bundle, m),
    }
    return info


def _encryption(bundle, m):
    # Who can decrypt: the key ids of keys/ (each a recipient's file).
    if not m.suite:
        return None
    folder = os.path.join(bundle, "keys")
    ids = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    return {"suite": "x25519-hkdf-sha256-aes128-cbc", "key_check": m.key_check.hex(),
            "recipients": ids}


def _table(bundle, m):
    path = os.path.join(bundle, "table", m.table_sha256.hex())
    if not os.path.lexists(path):
        return {"present": False}
    want = m.table_size()
    if want > MAX_TABLE:
        # The manifest is not checked here: its claim is not followed.
        return {"present": True, "read": False, "claimed": want}
    stats = {"present": True, "read": True, "hash_ok": False, "stored_bytes": 0,
             "codecs": {}, "problems": 0}
    h = hashlib.sha256()
    got = 0
    rest = b""
    e = Entry()
    i = 0
    try:
        with files.open_regular(path) as f:
            # One byte past the claim at most: enough to see a longer file.
            while got <= want:
                piece = f.read(min(_PIECE, want + 1 - got))
                if not piece:
                    break
                got += len(piece)
                h.update(piece)
                rest += piece
                whole = len(rest) // F.ENTRY_SIZE * F.ENTRY_SIZE
                for k in range(0, whole, F.ENTRY_SIZE):
                    if i < m.chunk_count():
                        _entry(stats, e, m, i, rest[k:k + F.ENTRY_SIZE])
                    i += 1
                rest = rest[whole:]
    except OSError as err:
        raise CommandError("cannot read {}: {}".format(path, err.strerror))
    stats["hash_ok"] = got == want and h.digest() == m.table_sha256
    return stats


def _entry(stats, e, m, i, data):
    e.buf[:] = data
    try:
        e.load(m, i)
    except BundleError:
        stats["problems"] += 1
        return
    stats["stored_bytes"] += e.stored_len
    name = _CODECS[e.codec]
    stats["codecs"][name] = stats["codecs"].get(name, 0) + 1


def text(info):
    """The readable form of describe()'s dict."""
    lines = []

    def row(name, value):
        lines.append("{:<17} {}".format(name, value))

    row("format", info["format"])
    row("product", info["product"])
    row("device class", info["device_class"])
    row("hw revisions", ", ".join(info["hw_revs"]) or "any")
    row("target", info["target"])
    row("version", "{}{}".format(info["version"], " ({})".format(info["label"]) if info["label"] else ""))
    row("security counter", info["security_counter"])
    row("sequence", info["sequence"])
    row("expires", timefmt.show(info["expires"]))
    row("min agent", info["min_agent"])
    row("image", "{} bytes, sha256 {}".format(info["image_size"], info["image_sha256"]))
    row("chunks", "{} of {} bytes".format(info["chunk_count"], info["chunk_size"]))
    row("chunk table", "sha256 {}".format(info["table_sha256"]))
    if info["window_bits"]:
        row("deflate window", "{} bits".format(info["window_bits"]))
    enc = info["encryption"]
    if enc:
        row("encrypted", "{} for {} key{}: {}".format(enc["suite"], len(enc["recipients"]),
                                                       "" if len(enc["recipients"]) == 1 else "s",
                                                       ", ".join(enc["recipients"]) or "-"))
    if info["issued"]:
        row("issued", timefmt.show(info["issued"]))
    p = info["provenance"]
    if any(v is not None for v in p.values()):
        row("source revision", p["source_rev"] or "-")
        row("build", "{} by {} at {}".format(p["build_id"] or "-", p["builder"] or "-",
                                              timefmt.show(p["build_time"]) if p["build_time"] else "-"))
        row("sbom", "sha256 {}".format(p["sbom_sha256"]) if p["sbom_sha256"] else "-")
    else:
        row("provenance", "none signed")
    t = info["table"]
    if t["present"] and not t["read"]:
        row("stored", "chunk table not read: the unchecked manifest claims {} bytes, "
                      "over inspect's {}".format(t["claimed"], MAX_TABLE))
    elif t["present"]:
        codecs = ", ".join("{} {}".format(n, c) for c, n in sorted(t["codecs"].items()))
        row("stored", "{} bytes ({}){}{}".format(
            t["stored_bytes"], codecs or "no chunks",
            "" if t["hash_ok"] else ", TABLE HASH DOES NOT MATCH",
            ", {} bad entries".format(t["problems"]) if t["problems"] else ""))
    else:
        row("stored", "chunk table missing")
    row("signatures", "{}: {}".format(len(info["signatures"]), ", ".join(info["signatures"]) or "none"))
    row("verified", "no (use mpota verify)")
    return "\n".join(lines)
