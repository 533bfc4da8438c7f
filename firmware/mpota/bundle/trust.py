# SPDX-License-Identifier: MIT
"""Trust decisions for signed documents: the one place that says yes or no.

No I/O: readers hand in document bytes and facts about the device, and get
back parsed, trusted objects or a BundleError. Signatures are checked over
the exact stored bytes before any field is parsed. Time is a parameter.
"""

from .. import crypto
from . import format as F
from .error import BundleError


def _signed_by(keys, ids, threshold, doc, signed):
    # Count distinct listed keys with a valid signature over doc[:signed];
    # return the bitmask of the keys counted once `threshold` is reached.
    # Unknown key ids are skipped; one key counts once however often it signs.
    if threshold < 1:
        raise BundleError("below-threshold")
    body = memoryview(doc)[:signed]
    counted = 0
    good = 0
    bad = unknown = False
    pos = signed + 1
    for _ in range(doc[signed]):
        k = _find(ids, doc, pos)
        if k < 0:
            unknown = True
        elif not counted & (1 << k):
            sig = doc[pos + F.KEY_ID_SIZE:pos + F.KEY_ID_SIZE + F.SIG_SIZE]
            if crypto.verify(keys[k], sig, body):
                counted |= 1 << k
                good += 1
                if good >= threshold:
                    return counted
            else:
                bad = True
        pos += F.SIG_ENTRY_SIZE
    if bad:
        raise BundleError("bad-signature")
    if unknown and not good:
        # Nothing but keys this root does not list (or has revoked).
        raise BundleError("unknown-key")
    raise BundleError("below-threshold")


def _find(ids, doc, pos):
    for k in range(len(ids)):
        kid = ids[k]
        i = 0
        while i < F.KEY_ID_SIZE and kid[i] == doc[pos + i]:
            i += 1
        if i == F.KEY_ID_SIZE:
            return k
    return -1


def key_root(public_key):
    """Trust a single update key (a `.pub` given to `mpota verify`).

    It has no root keys, so no root rotation can ever be accepted from it.
    """
    if len(public_key) != F.KEY_SIZE:
        raise BundleError("malformed")
    return F.Root(0, (), 1, (bytes(public_key),), 1)


def load_root(doc):
    """The provisioned root: trusted as given, but it must carry a threshold
    of signatures by its own root keys, as every later root must."""
    signed = F.frame(doc, F.DOC_ROOT)
    r = F.root(doc, signed)
    _signed_by(r.root_keys, r.root_ids, r.root_threshold, doc, signed)
    return r


def rotate(current, doc):
    """Accept root version current.version + 1: signed by a threshold of the
    current root keys and by a threshold of its own. Revocation is leaving
    a key out of the new root."""
    signed = F.frame(doc, F.DOC_ROOT)
    # The current keys vouch for the bytes before any field is parsed.
    _signed_by(current.root_keys, current.root_ids, current.root_threshold,
               doc, signed)
    r = F.root(doc, signed)
    if r.version != current.version + 1:
        raise BundleError("wrong-root-version")
    _signed_by(r.root_keys, r.root_ids, r.root_threshold, doc, signed)
    return r


def verify_manifest(root, doc, now=None, product=None, device_class=None,
                    hw_rev=None, target=None, agent_version=None,
                    min_security_counter=None, last_sequence=None):
    """Return the manifest in doc if a threshold of root's update keys signed
    it and it fits every fact given about the device (None = not checked).

    now: Unix seconds; an expiry at or before now refuses.
    min_security_counter: the stored anti-rollback floor.
    last_sequence: the last accepted sequence number (equal is allowed, so
    an interrupted install of the same manifest can resume).
    """
    signed = F.frame(doc, F.DOC_MANIFEST)
    counted = _signed_by(root.update_keys, root.update_ids,
                         root.update_threshold, doc, signed)
    m = F.manifest(doc, signed)
    m.signers = tuple(root.update_ids[k] for k in range(len(root.update_ids))
                      if counted & (1 << k))
    if now is not None:
        if root.expires is not None and now >= root.expires:
            raise BundleError("root-expired")
        if m.expires is not None and now >= m.expires:
            raise BundleError("expired")
    if product is not None and m.product != product:
        raise BundleError("wrong-product")
    if device_class is not None and m.device_class != device_class:
        raise BundleError("wrong-device-class")
    if hw_rev is not None and m.hw_revs and hw_rev not in m.hw_revs:
        raise BundleError("wrong-hw-rev")
    if target is not None and m.target != target:
        raise BundleError("wrong-target")
    if agent_version is not None and agent_version < m.min_agent:
        raise BundleError("agent-too-old")
    if min_security_counter is not None and m.security_counter < min_security_counter:
        raise BundleError("rollback")
    if last_sequence is not None and m.sequence < last_sequence:
        raise BundleError("replay")
    return m


# Staged rollouts (docs/ROLLOUT.md) -------------------------------------------


def _digest(doc):
    from ..sha256 import sha256

    h = sha256()
    h.update(doc)
    return h.digest()


def verify_plan(root, doc, plan_sha=None):
    """The rollout plan in doc if a threshold of update keys signed it.
    plan_sha: the SHA-256 a control entry names; the file must match it
    before anything else is looked at (content addressing)."""
    digest = _digest(doc)
    if plan_sha is not None and digest != bytes(plan_sha):
        raise BundleError("hash-mismatch")
    signed = F.frame(doc, F.DOC_PLAN)
    _signed_by(root.update_keys, root.update_ids, root.update_threshold, doc, signed)
    from . import rollout as R

    p = R.plan(doc, signed)
    p.sha = digest
    return p


def verify_control(root, doc, now=None, last_version=0):
    """The control document in doc if a threshold of the root's control
    keys signed it, its version is not below last_version (equal: the same
    document read again) and it has not expired at now (the control
    clock, see rollout.clock; None: not judged)."""
    if not root.control_keys:
        raise BundleError("no-control-role")
    signed = F.frame(doc, F.DOC_CONTROL)
    _signed_by(root.control_keys, root.control_ids, root.control_threshold, doc, signed)
    from . import rollout as R

    c = R.control(doc, signed)
    if c.version < last_version:
        raise BundleError("control-replay")
    if now is not None and now >= c.expires:
        raise BundleError("control-expired")
    return c


def verify_revoked(root, doc, last_version=0):
    """The revocation list in doc if a threshold of update keys signed it
    and it is not older than the newest one accepted (last_version)."""
    signed = F.frame(doc, F.DOC_REVOKED)
    _signed_by(root.update_keys, root.update_ids, root.update_threshold, doc, signed)
    from . import rollout as R

    r = R.revoked(doc, signed)
    if r.version < last_version:
        raise BundleError("revocation-replay")
    return r
