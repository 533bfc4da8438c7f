# SPDX-License-Identifier: MIT
"""Rollout documents for the tests, built field by field from
docs/ROLLOUT.md (not through the `mpota rollout` writer, so the device
parser is checked against the spec), and a repository laid out as
`mpota publish` lays it out."""

import hashlib
import shutil
import time
from pathlib import Path

from bundles import factory as f
from mpota.bundle import format as F
from mpota_host import document as D

R, A, B, C, C2, X = f.keys("ro-root", "ro-update", "ro-update-b", "ro-control",
                           "ro-control-2", "ro-stranger")
NOW = int(time.time())
DAY = 86400


def sign(doc_type, fields, signers):
    signed = D.unsigned(doc_type, fields)
    return D.assemble(signed, [(k.id, k.sign(signed)) for k in signers])


def sha(data):
    return hashlib.sha256(data).digest()


def root(version=1, control=(C,), control_threshold=1, update=(A,), issued=None,
         signers=None, expires=None, root_key=R):
    signers = (root_key,) if signers is None else signers
    fields = [D.uint(F.T_ROOT_VERSION, version, 4), D.field(F.T_ROOT_KEY, root_key.public),
              D.uint(F.T_ROOT_THRESHOLD, 1, 1)]
    fields += [D.field(F.T_UPDATE_KEY, k.public) for k in update]
    fields.append(D.uint(F.T_UPDATE_THRESHOLD, 1, 1))
    if expires is not None:
        fields.append(D.uint(F.T_ROOT_EXPIRES, expires, 8))
    if issued is not None:
        fields.append(D.uint(F.T_ROOT_ISSUED, issued, 8))
    fields += [D.field(F.T_CONTROL_KEY, k.public) for k in control]
    if control:
        fields.append(D.uint(F.T_CONTROL_THRESHOLD, control_threshold, 1))
    return sign(F.DOC_ROOT, fields, signers)


def plan(manifest_sha, plan_id="p1", device_class="esp32", waves=((10000, 0),),
         max_bp=10000, hw_revs=(), canary=(), issued=None, signers=(A,)):
    fields = [D.text(F.T_PLAN_ID, plan_id),
              D.uint(F.T_PLAN_ISSUED, NOW - DAY if issued is None else issued, 8),
              D.field(F.T_PLAN_MANIFEST, manifest_sha),
              D.text(F.T_PLAN_CLASS, device_class)]
    fields += [D.text(F.T_PLAN_HW_REV, h) for h in hw_revs]
    fields += [D.field(F.T_PLAN_CANARY, c) for c in canary]
    fields += [D.field(F.T_PLAN_WAVE, bp.to_bytes(2, "big") + at.to_bytes(8, "big"))
               for bp, at in waves]
    fields.append(D.uint(F.T_PLAN_MAX, max_bp, 2))
    return sign(F.DOC_PLAN, fields, signers)


def control(entries, version=1, issued=None, expires=None, signers=(C,)):
    """entries: (plan document or plan sha, state, cap_bp, poll_s)."""
    issued = NOW - 60 if issued is None else issued
    fields = [D.uint(F.T_CTL_VERSION, version, 4), D.uint(F.T_CTL_ISSUED, issued, 8),
              D.uint(F.T_CTL_EXPIRES, issued + DAY if expires is None else expires, 8)]
    for p, state, cap, poll in entries:
        h = p if len(p) == 32 else sha(p)
        fields.append(D.field(F.T_CTL_ENTRY, h + bytes((state,)) + cap.to_bytes(2, "big")
                              + poll.to_bytes(4, "big")))
    return sign(F.DOC_CONTROL, fields, signers)


def revoked(image_shas, version=1, issued=None, signers=(A,)):
    fields = [D.uint(F.T_REV_VERSION, version, 4),
              D.uint(F.T_REV_ISSUED, NOW - DAY if issued is None else issued, 8)]
    fields += [D.field(F.T_REV_IMAGE, s[:F.REVOKED_PREFIX]) for s in image_shas]
    return sign(F.DOC_REVOKED, fields, signers)


def shard(ids):
    return "".join(i + "\n" for i in ids).encode()


class Repo:
    """A published repository directory (docs/ROLLOUT.md)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def bundle(self, bundle_dir):
        """Copy a bundle in under its manifest's hash; return that hash."""
        m = (Path(bundle_dir) / "manifest").read_bytes()
        h = sha(m)
        dest = self.path / "bundles" / h.hex()
        if not dest.exists():
            shutil.copytree(bundle_dir, dest)
        return h

    def plan(self, doc):
        self._put("plans/" + sha(doc).hex(), doc)
        return doc

    def shard(self, data):
        self._put("canary/" + sha(data).hex(), data)
        return sha(data)

    def control(self, doc):
        self._put("control", doc)

    def revoked(self, doc):
        self._put("revoked", doc)

    def root(self, version, doc):
        self._put("roots/{}".format(version), doc)

    def _put(self, name, data):
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
