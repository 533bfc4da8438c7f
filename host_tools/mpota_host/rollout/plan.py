# SPDX-License-Identifier: MIT
"""Rollout plans (docs/ROLLOUT.md, "Rollout plan"): build one for a signed
bundle, split its canary list into shards, add signatures, describe it.

A plan names the bundle by the SHA-256 of its `manifest` file as it is
then, signatures included: finish signing the bundle (mpota cosign)
before making its plan, or the plan names bytes that no longer exist.
"""

import os
from dataclasses import dataclass, field
from typing import List, Tuple

from mpota.bundle import format as F
from mpota.bundle import rollout as R
from mpota.rollout import cohort

from .. import document as D
from .. import files, timefmt
from ..errors import CommandError
from . import repo as Repo
from .common import identifier, percent, sha256


@dataclass
class PlanParams:
    id: str
    issued: int
    manifest_sha: bytes
    device_class: str
    max_bp: int
    waves: List[Tuple[int, int]]  # (basis points, opening time)
    hw_revs: List[str] = field(default_factory=list)
    canary: List[bytes] = field(default_factory=list)  # shard hashes, in shard order


def check(p):
    """Refuse what the format cannot hold or a device would call malformed,
    naming the option."""
    identifier(p.id, "--id")
    identifier(p.device_class, "--device-class")
    for h in p.hw_revs:
        identifier(h, "--hw-rev", F.MAX_HW_REV)
    if len(set(p.hw_revs)) != len(p.hw_revs):
        raise CommandError("--hw-rev: a revision is given twice")
    if len(p.hw_revs) > F.MAX_HW_REVS:
        raise CommandError("--hw-rev: at most {} revisions".format(F.MAX_HW_REVS))
    if not 1 <= p.max_bp <= F.BASIS:
        raise CommandError("--max-percent must be above 0 and at most 100")
    if not 1 <= len(p.waves) <= F.MAX_WAVES:
        raise CommandError("--wave: 1 to {} waves".format(F.MAX_WAVES))
    last_bp, last_at = 0, 0
    for bp, at in p.waves:
        if bp > p.max_bp:
            raise CommandError("--wave {}%: above --max-percent {}".format(percent(bp), percent(p.max_bp)))
        if bp < last_bp or at < last_at:
            raise CommandError("--wave {}%@{}: waves must be in order, neither share nor time "
                               "going down".format(percent(bp), timefmt.show(at)))
        if not 0 <= at < 1 << 64:
            raise CommandError("--wave: time out of range")
        last_bp, last_at = bp, at
    if len(p.canary) > F.MAX_CANARY_SHARDS:
        raise CommandError("canary list: at most {} shards".format(F.MAX_CANARY_SHARDS))


def unsigned(p):
    """The plan document for p, without signatures, parsed back by the
    device's parser."""
    check(p)
    f = [D.text(F.T_PLAN_ID, p.id), D.uint(F.T_PLAN_ISSUED, p.issued, 8),
         D.field(F.T_PLAN_MANIFEST, p.manifest_sha), D.text(F.T_PLAN_CLASS, p.device_class)]
    f += [D.text(F.T_PLAN_HW_REV, h) for h in p.hw_revs]
    f += [D.field(F.T_PLAN_CANARY, h) for h in p.canary]
    f += [D.field(F.T_PLAN_WAVE, bp.to_bytes(2, "big") + at.to_bytes(8, "big")) for bp, at in p.waves]
    f.append(D.uint(F.T_PLAN_MAX, p.max_bp, 2))
    return D.unsigned(F.DOC_PLAN, f)


def sign(signed, sigs, signers):
    """The plan document: `signed` with sigs and each signer's signature
    added, parsed back by the device parser before anyone writes it."""
    doc = D.assemble(signed, D.sign(signed, sigs, signers))
    R.plan(doc, F.frame(doc, F.DOC_PLAN))
    return doc


def build(p, signers):
    return sign(unsigned(p), [], signers)


def cosign(path, signers):
    """Add signatures to the plan file `path`; return the new document."""
    doc, _, _ = Repo.read_plan(path)
    signed, sigs = D.split(doc, F.DOC_PLAN)
    doc = sign(signed, sigs, signers)
    files.write(path, doc)
    return doc


def read_canary(path):
    """The device ids in a canary file: one per line, blank lines and
    lines starting with # skipped, each id once."""
    text = files.read(path)
    try:
        lines = text.decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise CommandError("{}: device ids are printable ASCII".format(path))
    ids = []
    seen = set()
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        identifier(line, "{} line {}:".format(path, n))
        if line not in seen:
            seen.add(line)
            ids.append(line)
    if not ids:
        raise CommandError("{}: no device ids".format(path))
    return ids


def shard(plan_id, ids):
    """Split ids into the fewest shards (at most MAX_CANARY_SHARDS) of at
    most MAX_SHARD bytes each, each id in the shard the device computes
    (cohort.shard); return the shards' contents in shard order."""
    total = sum(len(i) + 1 for i in ids)
    count = max(1, -(-total // F.MAX_SHARD))
    while count <= F.MAX_CANARY_SHARDS:
        parts = [[] for _ in range(count)]
        for i in ids:
            parts[cohort.shard(plan_id, i, count)].append(i)
        shards = ["".join(x + "\n" for x in sorted(part)).encode() for part in parts]
        if all(len(s) <= F.MAX_SHARD for s in shards):
            return shards
        count += 1
    raise CommandError("canary list of {} ids ({} bytes) does not fit {} shards of {} bytes".format(
        len(ids), total, F.MAX_CANARY_SHARDS, F.MAX_SHARD))


def write_shards(folder, shards):
    """Write each shard as <folder>/<sha256 hex>; return their hashes."""
    out = []
    for s in shards:
        h = sha256(s)
        Repo.put(os.path.join(folder, h.hex()), s)
        out.append(h)
    return out


def canary_folder(plan_path):
    """Where `rollout create` puts a plan's canary shards and `publish`
    looks for them: canary/ beside the plan file."""
    return os.path.join(os.path.dirname(os.path.abspath(plan_path)), Repo.CANARY)


def open_share(p, at):
    """Basis points of the last wave open at time `at` (0: none yet)."""
    share = 0
    for bp, opens in p.waves:
        if opens <= at:
            share = bp
    return share


def describe(sha, doc, p):
    """What `rollout show` and `rollout list` print, as a dict."""
    signed, sigs = D.split(doc, F.DOC_PLAN)
    return {"plan": sha.hex(), "id": p.id, "issued": timefmt.show(p.issued),
            "manifest": bytes(p.manifest_sha).hex(), "device_class": p.device_class,
            "hw_revs": list(p.hw_revs), "canary_shards": [bytes(h).hex() for h in p.canary],
            "waves": [{"percent": percent(bp), "basis_points": bp, "opens": timefmt.show(at)}
                      for bp, at in p.waves],
            "max_percent": percent(p.max_bp), "max_basis_points": p.max_bp,
            "signatures": [kid.hex() for kid, _ in sigs]}


def text(info):
    waves = ", ".join("{}% from {}".format(w["percent"], w["opens"]) for w in info["waves"])
    lines = ["plan {} ({})".format(info["id"], info["plan"]),
             "bundle manifest {}".format(info["manifest"]),
             "devices: class {}{}{}".format(
                 info["device_class"],
                 ", hardware {}".format(", ".join(info["hw_revs"])) if info["hw_revs"] else "",
                 ", {} canary shard{}".format(len(info["canary_shards"]),
                                              "" if len(info["canary_shards"]) == 1 else "s")
                 if info["canary_shards"] else ""),
             "waves: {}; ceiling {}%".format(waves, info["max_percent"]),
             "issued {}, signatures: {}".format(info["issued"], ", ".join(info["signatures"]) or "none")]
    return "\n".join(lines)
