# SPDX-License-Identifier: MIT
"""`mpota verify REPO`: check a published repository as a device would,
every file of it: the root rotations from the trusted root, the control
document (control keys, expiry), every plan (its name is its SHA-256,
update keys' threshold) with its bundle (manifest SHA-256 equal to the
plan's, then the full bundle check) and its canary shards (SHA-256, size,
every id in the shard a device would read), every other bundle, and the
revocation list (update keys; never shorter nor older than the lists
given as `older`). The first refusal ends the check with its reason code.
"""

import os
import time

from mpota.bundle import directory
from mpota.bundle import format as F
from mpota.bundle import trust as T
from mpota.bundle.error import BundleError
from mpota.rollout import cohort

from .. import reasons, timefmt
from ..errors import CommandError
from . import repo as Repo
from .common import percent, sha256, state_name
from .revoke import shrunk

def meaning(reason):
    return reasons.meaning(reason)


class Refused(CommandError):
    """The repository fails the check: reason code, and the file."""

    def __init__(self, reason, where):
        self.reason = reason
        self.where = where
        words = meaning(reason)
        super().__init__("refused: {}{}, {}".format(reason, " ({})".format(words) if words else "",
                                                     where))


def _check(fn, where, *args, **kw):
    try:
        return fn(*args, **kw)
    except BundleError as e:
        raise Refused(e.reason, where) from None


def _roots(repo, root):
    """Apply REPO/roots/<N> after root's version, in order, as a device
    does; return the newest root."""
    found = Repo.root_files(repo)
    v = root.version + 1
    while v in found and root.version >= 1:
        root = _check(T.rotate, "roots/{} as the rotation after root version {}".format(v, root.version),
                      root, Repo.read_doc(found[v]))
        v += 1
    return root


def _shard(repo, plan, index, h):
    where = "canary/{}".format(h.hex())
    path = os.path.join(repo, Repo.CANARY, h.hex())
    if not os.path.isfile(path):
        raise Refused("missing-canary", "{} of plan {}".format(where, plan.id))
    with open(path, "rb") as f:
        data = f.read(F.MAX_SHARD + 1)
    if len(data) > F.MAX_SHARD:
        raise Refused("too-large", where)
    if sha256(data) != h:
        raise Refused("hash-mismatch", "{} of plan {}".format(where, plan.id))
    if data and not data.endswith(b"\n"):
        raise Refused("malformed", where)
    ids = data.split(b"\n")[:-1] if data else []
    for line in ids:
        if not 1 <= len(line) <= F.MAX_IDENT or not all(0x21 <= c <= 0x7E for c in line):
            raise Refused("malformed", where)
        # A device reads only the shard its own hash picks.
        if cohort.shard(plan.id, line.decode(), len(plan.canary)) != index:
            raise Refused("malformed", "{}: {} belongs in another shard".format(where, line.decode()))
    return len(ids)


def _bundle(repo, name, root, now, device_class=None):
    path = os.path.join(repo, Repo.BUNDLES, name)
    where = "bundles/{}".format(name)
    try:
        with open(os.path.join(path, "manifest"), "rb") as f:
            doc = f.read(F.MAX_DOC + 1)
    except OSError:
        raise Refused("missing-manifest", where) from None
    if sha256(doc).hex() != name:
        raise Refused("hash-mismatch", "{}/manifest".format(where))
    r = _check(directory.newest_root, where, path, root)
    return _check(directory.verify, where, path, r, now=now, device_class=device_class)


def check(repo, root, now=None, older_revoked=()):
    """Check the repository at `repo` from the trusted Root `root`; return
    a report (dict) or raise Refused. older_revoked: (path, bytes) of
    revocation lists published before."""
    now = int(time.time()) if now is None else now
    if not Repo.is_repository(repo):
        raise CommandError("{} is not a published repository (no control, no plans/)".format(repo))
    root = _roots(repo, root)

    rev = None
    rev_path = os.path.join(repo, Repo.REVOKED)
    if os.path.exists(rev_path):
        rev = _check(T.verify_revoked, "revoked", root, Repo.read_doc(rev_path))
        for path, doc in older_revoked:
            old = _check(T.verify_revoked, "{} as an older revocation list".format(path), root, doc)
            why = shrunk(old, rev)
            if why:
                raise Refused(why, "revoked, against {} (version {})".format(path, old.version))
    elif older_revoked:
        raise Refused("revocation-shrunk", "revoked is missing, and {} was published".format(
            older_revoked[0][0]))

    ctl = None
    ctl_path = os.path.join(repo, Repo.CONTROL)
    if os.path.exists(ctl_path):
        # Expiry is judged below, once the time floor is known.
        ctl = _check(T.verify_control, "control", root, Repo.read_doc(ctl_path))
    # The time floor a device reaches by accepting what is here: the issue
    # times of the offline-signed documents (docs/ROLLOUT.md, "Time").
    floor = max(root.issued, rev.issued if rev else 0)
    states = {bytes(e.plan_sha): e for e in (ctl.entries if ctl else ())}

    plans = []
    shards = 0
    used = set()
    folder = os.path.join(repo, Repo.PLANS)
    names = sorted(n for n in os.listdir(folder) if not n.startswith(".")) if os.path.isdir(folder) else []
    if names and ctl is None:
        raise Refused("missing-control", "control")
    for name in names:
        where = "plans/{}".format(name)
        doc = Repo.read_doc(os.path.join(folder, name))
        sha = sha256(doc)
        if sha.hex() != name:
            raise Refused("hash-mismatch", where)
        p = _check(T.verify_plan, where, root, doc, sha)
        ms = bytes(p.manifest_sha).hex()
        m = _bundle(repo, ms, root, now, p.device_class)
        used.add(ms)
        floor = max(floor, p.issued, m.issued)
        if m.hw_revs and any(h not in m.hw_revs for h in p.hw_revs):
            raise Refused("wrong-hw-rev", "bundles/{} for plan {}".format(ms, p.id))
        for i, h in enumerate(p.canary):
            shards += 1
            _shard(repo, p, i, bytes(h))
        e = states.get(sha)
        if e is not None and e.state == F.STATE_RUN and rev is not None and rev.has(m.image_sha256):
            raise Refused("revoked", "{} (plan {}) runs, and its image is revoked".format(where, p.id))
        share = max(0, cohort.open_share(p, now)[0])
        plans.append({"plan": name, "id": p.id, "bundle": ms, "version": m.version,
                      "device_class": p.device_class,
                      "state": state_name(e.state) if e else None,
                      "open_percent": percent(min(share, p.max_bp, e.cap_bp))
                      if e and e.state == F.STATE_RUN else "0",
                      "max_percent": percent(p.max_bp)})
    for e in (ctl.entries if ctl else ()):
        # A device never reads the plan of a halted entry.
        if e.state != F.STATE_HALT and bytes(e.plan_sha).hex() not in names:
            raise Refused("missing-plan", "plans/{} named by control".format(bytes(e.plan_sha).hex()))
    bundles_dir = os.path.join(repo, Repo.BUNDLES)
    others = sorted(n for n in os.listdir(bundles_dir) if not n.startswith(".")) \
        if os.path.isdir(bundles_dir) else []
    for name in others:
        if name not in used:
            _bundle(repo, name, root, now)
    if ctl is not None and max(now, floor) >= ctl.expires:
        # A device that accepted a plan, manifest, root or revocation list
        # issued after this expiry believes no clock below that time.
        raise Refused("control-expired", "control{}".format(
            "" if now >= ctl.expires else ", at the time floor {} (an offline-signed document is "
            "issued after it expires: check the signing host's clock)".format(timefmt.show(floor))))
    return {"valid": True, "repository": repo, "root_version": root.version,
            "time_floor": timefmt.show(floor) if floor else None,
            "control": None if ctl is None else {
                "version": ctl.version, "issued": timefmt.show(ctl.issued),
                "expires": timefmt.show(ctl.expires), "entries": len(ctl.entries)},
            "plans": plans, "bundles": len(others), "canary_shards": shards,
            "revoked": None if rev is None else {"version": rev.version, "images": len(rev.images)}}


def text(info):
    ctl = info["control"]
    rev = info["revoked"]
    return "OK {}: root version {}, {}, {} plan{}, {} bundle{}, {} canary shard{}, {}".format(
        info["repository"], info["root_version"],
        "control version {} (expires {})".format(ctl["version"], ctl["expires"]) if ctl else "no control",
        len(info["plans"]), "" if len(info["plans"]) == 1 else "s",
        info["bundles"], "" if info["bundles"] == 1 else "s",
        info["canary_shards"], "" if info["canary_shards"] == 1 else "s",
        "revocation list version {} ({} images)".format(rev["version"], rev["images"])
        if rev else "no revocation list")
