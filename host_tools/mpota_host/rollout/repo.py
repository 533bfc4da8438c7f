# SPDX-License-Identifier: MIT
"""A published repository on disk (docs/ROLLOUT.md, "The repository a
static host serves"): its paths, atomic writes, and reads of the documents
in it, parsed by the device's own parsers (signatures are checked by the
callers that know the root: repocheck, publish, control with --trust).

  roots/<N>  control  revoked  plans/<sha256 hex>  canary/<sha256 hex>
  bundles/<sha256 hex of the manifest>/
"""

import contextlib
import fcntl
import os
import tempfile

from mpota.bundle import format as F
from mpota.bundle import rollout as R
from mpota.bundle.error import BundleError

from .. import files, reasons
from ..errors import CommandError
from .common import sha256

CONTROL = "control"
REVOKED = "revoked"
PLANS = "plans"
CANARY = "canary"
BUNDLES = "bundles"
ROOTS = "roots"


def is_repository(path):
    """A directory that holds a control document or a plans/ folder."""
    return os.path.isfile(os.path.join(path, CONTROL)) or os.path.isdir(os.path.join(path, PLANS))


def put(path, data):
    """Write `path` whole or not at all: a temporary file beside it, flushed
    to disk, then renamed over it (a static host serves the old file or the
    new one, never half of one)."""
    folder = os.path.dirname(path) or "."
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    except OSError as e:
        raise CommandError("cannot write {}: {}".format(path, e.strerror))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        files.discard(tmp)
        raise CommandError("cannot write {}: {}".format(path, e.strerror))


@contextlib.contextmanager
def locked(repo):
    """Hold the repository's writer lock (flock on its directory): two
    writers of the control document on one host take turns, so no version
    is issued twice."""
    try:
        fd = os.open(repo, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise CommandError("cannot open repository {}: {}".format(repo, e.strerror))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def parse(doc, doc_type, parser, path, what):
    """parser(doc, signed) for a framed document, refused by file name."""
    try:
        return parser(doc, F.frame(doc, doc_type))
    except BundleError as e:
        raise CommandError(reasons.refused(e.reason, "{} as {}".format(path, what)))


def read_doc(path):
    return files.read(path, F.MAX_DOC + 1)


def read_plan(path):
    """(bytes, SHA-256, Plan) of a plan file, signatures not checked."""
    doc = read_doc(path)
    return doc, sha256(doc), parse(doc, F.DOC_PLAN, R.plan, path, "a rollout plan")


def plans(repo):
    """[(sha256, bytes, Plan)] of every file in REPO/plans, by name."""
    folder = os.path.join(repo, PLANS)
    if not os.path.isdir(folder):
        return []
    out = []
    for name in sorted(os.listdir(folder)):
        if name.startswith("."):
            continue
        doc, sha, p = read_plan(os.path.join(folder, name))
        out.append((sha, doc, p))
    return out


def find_plan(repo, ref):
    """(sha256, bytes, Plan) of the published plan `ref` names: a plan
    file, its SHA-256 in hex (8 digits or more of it), or its id."""
    if os.path.isfile(ref):
        doc, sha, p = read_plan(ref)
        return sha, doc, p
    every = plans(repo)
    low = ref.lower()
    by_hash = [x for x in every if len(low) >= 8 and x[0].hex().startswith(low)]
    by_id = [x for x in every if x[2].id == ref]
    found = by_hash or by_id
    if not found:
        raise CommandError("no plan {!r} in {}: give a plan id, its hash, or publish it first "
                           "(mpota publish --plan)".format(ref, os.path.join(repo, PLANS)))
    if len(found) > 1:
        raise CommandError("{!r} names {} plans in {}: give the hash ({})".format(
            ref, len(found), repo, ", ".join(x[0].hex()[:16] for x in found)))
    return found[0]


def read_control(repo):
    """(bytes, Control) of REPO/control, or (None, None) if there is none."""
    path = os.path.join(repo, CONTROL)
    if not os.path.exists(path):
        return None, None
    doc = read_doc(path)
    return doc, parse(doc, F.DOC_CONTROL, R.control, path, "a control document")


def read_revoked(repo):
    """(bytes, Revoked) of REPO/revoked, or (None, None)."""
    path = os.path.join(repo, REVOKED)
    if not os.path.exists(path):
        return None, None
    doc = read_doc(path)
    return doc, parse(doc, F.DOC_REVOKED, R.revoked, path, "a revocation list")


def root_files(repo):
    """{version: path} of REPO/roots/<N>."""
    folder = os.path.join(repo, ROOTS)
    out = {}
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.isdigit() and str(int(name)) == name:
                out[int(name)] = os.path.join(folder, name)
    return out


def roots_to_check(repo, trust=None):
    """The roots a document already in REPO is checked against: `trust`
    if given, else every root REPO/roots holds, oldest first (parsed,
    not checked)."""
    if trust is not None:
        return [trust]
    return [parse(read_doc(path), F.DOC_ROOT, F.root, path, "a trust root")
            for _, path in sorted(root_files(repo).items())]


def refusal(roots, verify):
    """None if verify(root) accepts under one of roots, else the reason of
    the last refusal ("unknown-key" if no root was tried)."""
    reason = "unknown-key"
    for root in roots:
        try:
            verify(root)
            return None
        except BundleError as e:
            reason = e.reason
    return reason


def newest_root(repo):
    """The highest-numbered root in REPO/roots, parsed but not checked
    (for early errors such as a key that is not a control key), or None."""
    found = root_files(repo)
    if not found:
        return None
    path = found[max(found)]
    doc = read_doc(path)
    return parse(doc, F.DOC_ROOT, F.root, path, "a trust root")


def time_floor(repo):
    """(time, what) of the newest issue time among the offline-signed
    documents published here (roots, plans, their manifests, the revocation
    list): the time floor a device reaches by accepting them. (0, None) if
    none carries one."""
    best = (0, None)

    def later(best, issued, what):
        # By time only: two documents of one time must not compare names
        # with None (a root without an issue time is 0).
        return (issued, what) if issued > best[0] else best

    found = root_files(repo)
    for v, path in found.items():
        r = parse(read_doc(path), F.DOC_ROOT, F.root, path, "a trust root")
        best = later(best, r.issued, "roots/{}".format(v))
    _, rev = read_revoked(repo)
    if rev is not None:
        best = later(best, rev.issued, REVOKED)
    for sha, _, p in plans(repo):
        best = later(best, p.issued, "plan {}".format(p.id))
        path = os.path.join(repo, BUNDLES, bytes(p.manifest_sha).hex(), "manifest")
        if os.path.isfile(path):
            m = parse(read_doc(path), F.DOC_MANIFEST, F.manifest, path, "a manifest")
            best = later(best, m.issued, "the manifest of plan {}".format(p.id))
    return best
