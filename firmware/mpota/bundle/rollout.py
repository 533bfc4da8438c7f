# SPDX-License-Identifier: MIT
"""Bounded parsers of the staged-rollout documents: plan, control and
revocation list (docs/ROLLOUT.md). Framing and field rules are those of
format.py; whether a document is trusted is decided in trust.py."""

from . import format as F
from .error import BundleError

# Per tag: tag, min length, max length, min count, max count.
_PLAN_SPEC = bytes((
    F.T_PLAN_ID, 1, F.MAX_IDENT, 1, 1,
    F.T_PLAN_ISSUED, 8, 8, 1, 1,
    F.T_PLAN_MANIFEST, F.HASH_SIZE, F.HASH_SIZE, 1, 1,
    F.T_PLAN_CLASS, 1, F.MAX_IDENT, 1, 1,
    F.T_PLAN_HW_REV, 1, F.MAX_HW_REV, 0, F.MAX_HW_REVS,
    F.T_PLAN_CANARY, F.HASH_SIZE, F.HASH_SIZE, 0, F.MAX_CANARY_SHARDS,
    F.T_PLAN_WAVE, F.WAVE_SIZE, F.WAVE_SIZE, 1, F.MAX_WAVES,
    F.T_PLAN_MAX, 2, 2, 1, 1,
))
_CONTROL_SPEC = bytes((
    F.T_CTL_VERSION, 4, 4, 1, 1,
    F.T_CTL_ISSUED, 8, 8, 1, 1,
    F.T_CTL_EXPIRES, 8, 8, 1, 1,
    F.T_CTL_ENTRY, F.CTL_ENTRY_SIZE, F.CTL_ENTRY_SIZE, 0, F.MAX_CTL_ENTRIES,
))
_REVOKED_SPEC = bytes((
    F.T_REV_VERSION, 4, 4, 1, 1,
    F.T_REV_ISSUED, 8, 8, 1, 1,
    F.T_REV_IMAGE, F.REVOKED_PREFIX, F.REVOKED_PREFIX, 0, F.MAX_REVOKED,
))


class Plan:
    """A rollout plan: which bundle, for which devices, in which waves."""

    def __init__(self):
        self.id = ""
        self.issued = 0
        self.manifest_sha = b""
        self.device_class = ""
        self.hw_revs = ()  # type: tuple
        self.canary = ()  # type: tuple  # SHA-256 of each canary shard
        self.waves = ()  # type: tuple  # (share in basis points, earliest opening time)
        self.max_bp = 0
        self.sha = b""  # SHA-256 of the whole plan file (set by trust.verify_plan)


def plan(doc, signed):
    p = Plan()
    hw = []
    canary = []
    waves = []
    for tag, pos, n in F.walk(doc, signed, _PLAN_SPEC):
        if tag == F.T_PLAN_ID:
            p.id = F.text(doc, pos, n, 0x21)
        elif tag == F.T_PLAN_ISSUED:
            p.issued = F.uint(doc, pos, n)
        elif tag == F.T_PLAN_MANIFEST:
            p.manifest_sha = bytes(doc[pos:pos + n])
        elif tag == F.T_PLAN_CLASS:
            p.device_class = F.text(doc, pos, n, 0x21)
        elif tag == F.T_PLAN_HW_REV:
            hw.append(F.text(doc, pos, n, 0x21))
        elif tag == F.T_PLAN_CANARY:
            canary.append(bytes(doc[pos:pos + n]))
        elif tag == F.T_PLAN_WAVE:
            waves.append((F.uint(doc, pos, 2), F.uint(doc, pos + 2, 8)))
        else:
            p.max_bp = F.uint(doc, pos, n)
    if not 1 <= p.max_bp <= F.BASIS:
        raise BundleError("malformed")
    last_bp = last_at = 0
    for bp, at in waves:
        # In order, and never above the ceiling the same signers set.
        if bp < last_bp or at < last_at or bp > p.max_bp:
            raise BundleError("malformed")
        last_bp, last_at = bp, at
    p.hw_revs = tuple(hw)
    p.canary = tuple(canary)
    p.waves = tuple(waves)
    return p


class Entry:
    """One rollout in a control document."""

    def __init__(self, plan_sha, state, cap_bp, poll_s):
        self.plan_sha = plan_sha
        self.state = state
        self.cap_bp = cap_bp
        self.poll_s = poll_s


class Control:
    def __init__(self):
        self.version = 0
        self.issued = 0
        self.expires = 0
        self.entries = ()  # type: tuple


def control(doc, signed):
    c = Control()
    entries = []
    for tag, pos, n in F.walk(doc, signed, _CONTROL_SPEC):
        if tag == F.T_CTL_ENTRY:
            state = doc[pos + 32]
            if state < F.STATE_RUN or state > F.STATE_HALT:
                raise BundleError("malformed")
            entries.append(Entry(bytes(doc[pos:pos + 32]), state,
                                 F.uint(doc, pos + 33, 2), F.uint(doc, pos + 35, 4)))
        else:
            v = F.uint(doc, pos, n)
            if tag == F.T_CTL_VERSION:
                c.version = v
            elif tag == F.T_CTL_ISSUED:
                c.issued = v
            else:
                c.expires = v
    if c.version < 1:
        raise BundleError("malformed")
    for e in entries:
        if e.cap_bp > F.BASIS:
            raise BundleError("malformed")
    c.entries = tuple(entries)
    return c


class Revoked:
    def __init__(self):
        self.version = 0
        self.issued = 0
        self.images = ()  # type: tuple  # first REVOKED_PREFIX bytes of each image SHA-256

    def has(self, image_sha):
        """True if the image with this SHA-256 (or prefix) is revoked."""
        k = bytes(image_sha[:F.REVOKED_PREFIX])
        return k in self.images


def revoked(doc, signed):
    r = Revoked()
    images = []
    for tag, pos, n in F.walk(doc, signed, _REVOKED_SPEC):
        if tag == F.T_REV_IMAGE:
            images.append(bytes(doc[pos:pos + n]))
        elif tag == F.T_REV_VERSION:
            r.version = F.uint(doc, pos, n)
        else:
            r.issued = F.uint(doc, pos, n)
    if r.version < 1:
        raise BundleError("malformed")
    r.images = tuple(images)
    return r
