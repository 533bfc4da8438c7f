# SPDX-License-Identifier: MIT
"""The revocation list (docs/ROLLOUT.md, "Revocation list"): offline,
signed by the update keys, append-only. `mpota revoke` writes version
N + 1 with every entry of N and one more; nothing here ever drops one.
"""

import os
import re
import time

from mpota.bundle import format as F
from mpota.bundle import rollout as R
from mpota.bundle import trust as T
from mpota.bundle.error import BundleError

from .. import document as D
from .. import files, keys, reasons
from ..errors import CommandError
from . import repo as Repo

_HEX = re.compile(r"^[0-9a-fA-F]+$")


def image_prefix(ref):
    """The 16-byte prefix a revocation names, from a bundle directory (its
    image's SHA-256) or an image SHA-256 in hex (32 digits or more)."""
    manifest = os.path.join(ref, "manifest")
    if os.path.isdir(ref):
        doc = files.read(manifest, F.MAX_DOC + 1)
        m = Repo.parse(doc, F.DOC_MANIFEST, F.manifest, manifest, "a manifest")
        return bytes(m.image_sha256[:F.REVOKED_PREFIX])
    if _HEX.match(ref) and len(ref) % 2 == 0 and 2 * F.REVOKED_PREFIX <= len(ref) <= 64:
        return bytes.fromhex(ref)[:F.REVOKED_PREFIX]
    raise CommandError("{}: neither a bundle directory nor an image SHA-256 in hex "
                       "(at least {} digits)".format(ref, 2 * F.REVOKED_PREFIX))


def full_message():
    return ("the revocation list is full ({} images): raise the security counter instead "
            "(mpota sign --security-counter N+1), which revokes every older image at once"
            .format(F.MAX_REVOKED))


def unsigned(version, issued, images):
    if len(images) > F.MAX_REVOKED:
        raise CommandError(full_message())
    f = [D.uint(F.T_REV_VERSION, version, 4), D.uint(F.T_REV_ISSUED, issued, 8)]
    f += [D.field(F.T_REV_IMAGE, i) for i in images]
    return D.unsigned(F.DOC_REVOKED, f)


def shrunk(old, new):
    """Why `new` may not follow `old` (both parsed lists), or None: a lower
    version, or an entry of old missing from new."""
    if new.version < old.version:
        return "revocation-replay"
    if set(bytes(i) for i in old.images) - set(bytes(i) for i in new.images):
        return "revocation-shrunk"
    return None


def check_signers(root, signers):
    for s in signers:
        if s.public not in root.update_keys:
            raise CommandError("{} (key id {}) is not an update key of root version {}".format(
                s.describe, keys.key_id_hex(s.public), root.version))


def revoke(repo, ref, signers, now=None, trust=None):
    """Add the image `ref` names to REPO/revoked; return (doc, Revoked)."""
    if not signers:
        raise CommandError("no signing key: give -k KEY (update keys)")
    prefix = image_prefix(ref)
    root = trust if trust is not None else Repo.newest_root(repo)
    if root is not None:
        check_signers(root, signers)
    now = int(time.time()) if now is None else now
    with Repo.locked(repo):
        current, old = Repo.read_revoked(repo)
        if old is not None:
            _check_current(repo, current, trust)
        images = [bytes(i) for i in old.images] if old else []
        if prefix in images:
            raise CommandError("image {} is already revoked (revocation list version {})".format(
                prefix.hex(), old.version))
        if len(images) >= F.MAX_REVOKED:
            raise CommandError(full_message())
        images.append(prefix)
        signed = unsigned(old.version + 1 if old else 1, now, images)
        doc = D.assemble(signed, D.sign(signed, [], signers))
        new = R.revoked(doc, F.frame(doc, F.DOC_REVOKED))
        if old is not None and shrunk(old, new):
            raise CommandError("internal: the new revocation list would lose an entry")
        if root is not None:
            try:
                T.verify_revoked(root, doc, last_version=old.version if old else 0)
            except BundleError as e:
                raise CommandError(reasons.refused(e.reason, "the revocation list just signed"))
        Repo.put(os.path.join(repo, Repo.REVOKED), doc)
    return doc, new


def _check_current(repo, doc, trust):
    # The new list carries every entry of the current one forward under the
    # update keys: refuse to build on one they did not sign, or anyone who
    # can write the directory could have an entry dropped (an image
    # un-revoked) by the next signature.
    roots = Repo.roots_to_check(repo, trust)
    if not roots:
        return
    reason = Repo.refusal(roots, lambda root: T.verify_revoked(root, doc))
    if reason is None:
        return
    raise CommandError("{}: not signed by the update keys of any root here ({}): refusing to sign "
                       "on top of it; put back the revocation list last written by `mpota "
                       "revoke`".format(os.path.join(repo, Repo.REVOKED), reason))
