# SPDX-License-Identifier: MIT
"""`mpota inspect`: a bundle's manifest in readable form (or JSON).

Parsed with the device's own parser; signatures are listed, not judged
(that is `mpota verify`). The chunk table, when present, is summarised.
"""

import hashlib
import os

from mpota.bundle import format as F
from mpota.bundle.error import BundleError
from mpota.bundle.table import Entry

from . import document as D
from . import files, reasons
from .errors import CommandError
from . import timefmt

TARGET_NAMES = {F.TARGET_FIRMWARE: "firmware", F.TARGET_APP: "app"}
_CODECS = {F.CODEC_NONE: "none", F.CODEC_DEFLATE: "deflate"}


def read_manifest(bundle):
    return files.read(os.path.join(bundle, "manifest"), F.MAX_DOC + 1)


def describe(bundle):
    """A dict of everything the bundle's manifest says."""
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
        "manifest_size": len(doc),
        "signatures": [kid.hex() for kid, _ in sigs],
        "table": _table(bundle, m),
    }
    return info


def _table(bundle, m):
    path = os.path.join(bundle, "table", m.table_sha256.hex())
    try:
        with open(path, "rb") as f:
            data = f.read(m.table_size() + 1)
    except OSError:
        return {"present": False}
    stats = {"present": True, "hash_ok": hashlib.sha256(data).digest() == m.table_sha256
             and len(data) == m.table_size(), "stored_bytes": 0,
             "codecs": {}, "problems": 0}
    e = Entry()
    for i in range(min(len(data) // F.ENTRY_SIZE, m.chunk_count())):
        e.buf[:] = data[i * F.ENTRY_SIZE:(i + 1) * F.ENTRY_SIZE]
        try:
            e.load(m, i)
        except BundleError:
            stats["problems"] += 1
            continue
        stats["stored_bytes"] += e.stored_len
        name = _CODECS[e.codec]
        stats["codecs"][name] = stats["codecs"].get(name, 0) + 1
    return stats


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
    t = info["table"]
    if t["present"]:
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
