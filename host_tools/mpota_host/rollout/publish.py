# SPDX-License-Identifier: MIT
"""`mpota publish`: lay out the repository a static host serves
(docs/ROLLOUT.md). Everything given is checked against the trust root
first, as a device would, and nothing is written if anything is refused.
Then, in an order that never shows a device a file naming one not yet
there: roots, bundles, canary shards, plans, the revocation list, and the
control document last. Each file is written whole (temporary + rename);
a file already holding the same bytes is left alone, so publishing twice
changes nothing.
"""

import os
import shutil
import tempfile
import time

from mpota.bundle import directory
from mpota.bundle import format as F
from mpota.bundle import trust as T
from mpota.bundle.error import BundleError

from .. import files, reasons, streamfile
from ..errors import CommandError
from . import plan as P
from . import repo as Repo
from .common import sha256
from .revoke import shrunk


def _refused(e, where):
    return CommandError(reasons.refused(e.reason, where))


def chain(repo, given):
    """Every root given (path -> bytes) and already in REPO/roots, checked as
    one chain from the lowest version up; return (newest Root, {version:
    bytes} to write)."""
    docs = {}
    for v, path in Repo.root_files(repo).items():
        docs[v] = (path, Repo.read_doc(path))
    new = {}
    for path, doc in given:
        r = Repo.parse(doc, F.DOC_ROOT, F.root, path, "a trust root")
        if r.version in docs and docs[r.version][1] != doc:
            if r.version in new:
                raise CommandError("two --root documents have version {}".format(r.version))
            raise CommandError("{} is root version {}, but {} holds another one".format(
                path, r.version, docs[r.version][0]))
        if docs.get(r.version, (None, None))[1] != doc:
            new[r.version] = doc
        docs[r.version] = (path, doc)
    if not docs:
        raise CommandError("no trust root: give --root ROOT")
    versions = sorted(docs)
    first = versions[0]
    try:
        root = T.load_root(docs[first][1])
    except BundleError as e:
        raise _refused(e, "{} as a trust root".format(docs[first][0]))
    for v in versions[1:]:
        if v != root.version + 1:
            raise CommandError("root version {} is missing between {} and {}".format(
                root.version + 1, root.version, v))
        try:
            root = T.rotate(root, docs[v][1])
        except BundleError as e:
            raise _refused(e, "{} as the rotation after root version {}".format(docs[v][0], root.version))
    return root, new


def _bundle(path, root, now, device_class=None):
    """(manifest SHA-256, Manifest) of a bundle that verifies completely."""
    doc = files.read(os.path.join(path, "manifest"), F.MAX_DOC + 1)
    try:
        r = directory.newest_root(path, root)
        m = directory.verify(path, r, now=now, device_class=device_class)
    except BundleError as e:
        raise _refused(e, "{} as a bundle".format(path))
    streamfile.check(path, m)
    return sha256(doc), m


def _same_bundle(src, dst, root, now):
    """True if dst already holds src's manifest and every file it names,
    intact (a damaged copy is replaced)."""
    try:
        with open(os.path.join(dst, "manifest"), "rb") as f:
            if f.read() != files.read(os.path.join(src, "manifest")):
                return False
        m = directory.verify(dst, directory.newest_root(dst, root), now=now)
    except (OSError, BundleError):
        return False
    # The stream file too (publish writes one where the bundle had none).
    return os.path.isfile(streamfile.path(dst, m)) and not streamfile.problem(dst, m)


def _copy_bundle(src, dst):
    """Copy bundle directory src to dst whole: built beside it, renamed
    into place (hidden entries such as mpota serve's state stay behind).
    A bundle signed without a stream file gets one (streamfile.py)."""
    parent = os.path.dirname(dst)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    old = None
    try:
        shutil.copytree(src, os.path.join(tmp, "b"),
                        ignore=lambda d, names: [n for n in names if n.startswith(".")])
        m = streamfile.manifest(os.path.join(tmp, "b"))
        if not os.path.isfile(streamfile.path(os.path.join(tmp, "b"), m)):
            streamfile.write(os.path.join(tmp, "b"), m)
        if os.path.exists(dst):
            old = tempfile.mkdtemp(prefix=".old-", dir=parent)
            os.rename(dst, os.path.join(old, "b"))
        os.rename(os.path.join(tmp, "b"), dst)
    except OSError as e:
        raise CommandError("cannot copy {} to {}: {}".format(src, dst, e.strerror))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old:
            shutil.rmtree(old, ignore_errors=True)


def _shard(plan_path, repo, h):
    """The bytes of canary shard h, from canary/ beside the plan or in REPO."""
    for folder in (P.canary_folder(plan_path), os.path.join(repo, Repo.CANARY)):
        path = os.path.join(folder, h.hex())
        if os.path.exists(path):
            data = files.read(path, F.MAX_SHARD + 1)
            if sha256(data) != h:
                raise CommandError(reasons.refused("hash-mismatch", "{} as canary shard {}".format(
                    path, h.hex())))
            return data
    raise CommandError("canary shard {} of {} is neither in {} nor in the repository".format(
        h.hex(), plan_path, P.canary_folder(plan_path)))


def _put_new(path, data, counts):
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                counts["unchanged"] += 1
                return
    except OSError:
        pass
    Repo.put(path, data)
    counts["written"] += 1


def publish(repo, roots=(), bundles=(), plans=(), revoked=None, control=None, now=None):
    """Lay out REPO (see the module's doc). roots: root files; bundles:
    bundle directories; plans: plan files (canary shards beside them in
    canary/); revoked, control: document files. Returns counts."""
    now = int(time.time()) if now is None else now
    try:
        os.makedirs(repo, exist_ok=True)
    except OSError as e:
        raise CommandError("cannot create {}: {}".format(repo, e.strerror))
    root, new_roots = chain(repo, [(p, Repo.read_doc(p)) for p in roots])
    # Check everything before writing anything.
    found = {}
    for b in bundles:
        sha, m = _bundle(b, root, now)
        found[sha] = (b, m)
    planned = []
    for path in plans:
        doc, sha, p = Repo.read_plan(path)
        try:
            T.verify_plan(root, doc, sha)
        except BundleError as e:
            raise _refused(e, "{} as a rollout plan{}".format(
                path, " (add signatures with mpota rollout cosign)" if e.reason == "below-threshold" else ""))
        ms = bytes(p.manifest_sha)
        target = os.path.join(repo, Repo.BUNDLES, ms.hex())
        if ms in found:
            if found[ms][1].device_class != p.device_class:
                raise _refused(BundleError("wrong-device-class"), "{}: the bundle of {}".format(
                    found[ms][0], path))
        elif os.path.exists(os.path.join(target, "manifest")):
            _bundle(target, root, now, p.device_class)
        else:
            raise CommandError("{} releases the bundle whose manifest has SHA-256 {}, which is "
                               "neither given (--bundle) nor published; was the bundle signed "
                               "again after the plan was made?".format(path, ms.hex()))
        shards = [(h, _shard(path, repo, bytes(h))) for h in p.canary]
        planned.append((sha, doc, shards))
    rev_doc = _revoked(repo, root, revoked)
    ctl_doc = _control(repo, root, control, now)

    counts = {"written": 0, "unchanged": 0}
    for v in sorted(new_roots):
        _put_new(os.path.join(repo, Repo.ROOTS, str(v)), new_roots[v], counts)
    for sha, (src, _) in found.items():
        dst = os.path.join(repo, Repo.BUNDLES, sha.hex())
        if _same_bundle(src, dst, root, now):
            counts["unchanged"] += 1
        else:
            _copy_bundle(src, dst)
            counts["written"] += 1
    for sha, doc, shards in planned:
        for h, data in shards:
            _put_new(os.path.join(repo, Repo.CANARY, bytes(h).hex()), data, counts)
        _put_new(os.path.join(repo, Repo.PLANS, sha.hex()), doc, counts)
    if rev_doc is not None:
        _put_new(os.path.join(repo, Repo.REVOKED), rev_doc, counts)
    if ctl_doc is not None:
        _put_new(os.path.join(repo, Repo.CONTROL), ctl_doc, counts)
    counts.update(root_version=root.version, bundles=len(found), plans=len(planned))
    return counts


def _revoked(repo, root, path):
    if path is None:
        return None
    doc = Repo.read_doc(path)
    _, old = Repo.read_revoked(repo)
    try:
        new = T.verify_revoked(root, doc, last_version=old.version if old else 0)
    except BundleError as e:
        raise _refused(e, "{} as the revocation list".format(path))
    why = shrunk(old, new) if old else None
    if why:
        raise CommandError(reasons.refused(why, "{} drops an entry of the published list "
                                               "(append-only)".format(path)))
    return doc


def _control(repo, root, path, now):
    if path is None:
        return None
    doc = Repo.read_doc(path)
    _, old = Repo.read_control(repo)
    try:
        T.verify_control(root, doc, now=now, last_version=old.version if old else 0)
    except BundleError as e:
        raise _refused(e, "{} as the control document".format(path))
    return doc
