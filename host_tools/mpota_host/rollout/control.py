# SPDX-License-Identifier: MIT
"""The control document (docs/ROLLOUT.md, "Control document"): the one
rollout file signed by an online key. Each change writes a new document
with version + 1, issued now, expiring after `lifetime` (24 h).

Library API (the fleet service calls these; the CLI does too):

    signer = load_signer("control.key")          # or "pkcs11:token=...;object=..."
    written = update("/srv/repo", "fw-1.2", "pause", signer)
    written = update("/srv/repo", "fw-1.2", "cap", signer, cap_bp=500)
    written = update("/srv/repo", None, "renew", signer)   # re-sign, same entries
    written.version, written.expires, written.entries, written.doc

update(repo, plan_ref, action, signers, cap_bp=None, poll_s=None, now=None,
       expires=None, lifetime=DAY, trust=None, force=False) -> Written
  repo      a published repository (mpota publish); the plan must be in it
  plan_ref  plan id, SHA-256 hex (8+ digits) or plan file; None for renew
  action    run | pause | resume | halt | cap | drop | renew
  signers   one signer or a list (load_signer); with the control threshold
  cap_bp    the cap in basis points (cap, and run: default the ceiling)
  poll_s    the poll hint in seconds (run: default POLL_DEFAULT; else kept)
  trust     a parsed Root to check the signers against (default: the
            newest REPO/roots/<N>, if any)
Raises CommandError (one line) for anything refused: a cap above the
plan's ceiling, resuming or re-running a halted plan, an unknown plan.

transition() is the whole decision, a pure function tested as a table.
"""

import os
import time
from dataclasses import dataclass
from typing import List, Tuple

from mpota.bundle import format as F
from mpota.bundle import rollout as R
from mpota.bundle import trust as T
from mpota.bundle.error import BundleError

from .. import document as D
from .. import keys, reasons, signer as signing, timefmt
from ..errors import CommandError
from . import repo as Repo
from .common import percent, state_name
from .plan import open_share

DAY = 86400
POLL_DEFAULT = 3600
ACTIONS = ("run", "pause", "resume", "halt", "cap", "drop", "renew")
NAMES = {"run": F.STATE_RUN, "pause": F.STATE_PAUSE, "halt": F.STATE_HALT}


def load_signer(key_spec, passphrase_env=None, pin_env=None, pkcs11_module=None):
    """A signer for a key file or a `pkcs11:` URI (as -k takes them)."""
    return signing.open_signer(key_spec, passphrase_env=passphrase_env, pin_env=pin_env,
                               pkcs11_module=pkcs11_module)


def halted_message(name):
    return ("plan {} is halted, and a halt is final: release again with a new plan "
            "(new id), signed offline".format(name))


def transition(current, action, ceiling, cap_bp=None, poll_s=None, name="", force=False):
    """The entry after `action`, from the entry now (None: the plan is not
    in the control document). Entries are (state, cap_bp, poll_s); returns
    the new one, or None for an entry removed. Refusals raise CommandError.

    Halt is final: nothing but halt (or a forced drop) follows it. No cap
    is ever above the plan's ceiling."""
    if cap_bp is not None and cap_bp > ceiling:
        raise CommandError("cap {}% is above the ceiling of plan {} ({}%): a cap can only "
                           "shrink a rollout".format(percent(cap_bp), name, percent(ceiling)))
    state = current[0] if current else None
    if state == F.STATE_HALT and action != "halt" and not (action == "drop" and force):
        if action == "drop":
            raise CommandError("plan {} is halted: its entry stays so devices and this tool keep "
                               "refusing it (--force drops it anyway)".format(name))
        raise CommandError(halted_message(name))
    if action == "run":
        if current:
            raise CommandError("plan {} is already in the control document ({}): use resume or "
                               "cap".format(name, state_name(state)))
        return (F.STATE_RUN, ceiling if cap_bp is None else cap_bp,
                POLL_DEFAULT if poll_s is None else poll_s)
    if action == "halt":
        cap, poll = (min(current[1], ceiling), current[2]) if current else (0, POLL_DEFAULT)
        return (F.STATE_HALT, cap, poll if poll_s is None else poll_s)
    if not current:
        raise CommandError("plan {} is not in the control document: add it with "
                           "`mpota control run`".format(name))
    if action == "drop":
        return None
    new_poll = current[2] if poll_s is None else poll_s
    # An entry written elsewhere may hold a cap above the ceiling: what
    # this writes never does.
    kept = min(current[1], ceiling)
    if action == "pause":
        return (F.STATE_PAUSE, kept, new_poll)
    if action == "resume":
        return (F.STATE_RUN, kept, new_poll)
    if action == "cap":
        if cap_bp is None:
            raise CommandError("cap needs --percent")
        return (state, cap_bp, new_poll)
    raise CommandError("unknown control action {!r}".format(action))


@dataclass
class Written:
    path: str
    doc: bytes
    version: int
    issued: int
    expires: int
    entries: List[Tuple[bytes, int, int, int]]  # (plan sha, state, cap_bp, poll_s)


def unsigned(version, issued, expires, entries):
    if not 1 <= version < 1 << 32:
        raise CommandError("control version {} is out of range".format(version))
    if expires <= issued:
        raise CommandError("the control document would expire before it is issued")
    if len(entries) > F.MAX_CTL_ENTRIES:
        raise CommandError("the control document holds at most {} plans: drop a finished one "
                           "(mpota control drop)".format(F.MAX_CTL_ENTRIES))
    f = [D.uint(F.T_CTL_VERSION, version, 4), D.uint(F.T_CTL_ISSUED, issued, 8),
         D.uint(F.T_CTL_EXPIRES, expires, 8)]
    for sha, state, cap, poll in entries:
        if not 0 <= poll < 1 << 32:
            raise CommandError("poll hint {} s is out of range".format(poll))
        f.append(D.field(F.T_CTL_ENTRY, bytes(sha) + bytes((state,)) + cap.to_bytes(2, "big")
                         + poll.to_bytes(4, "big")))
    return D.unsigned(F.DOC_CONTROL, f)


def _signers(signers):
    return list(signers) if isinstance(signers, (list, tuple)) else [signers]


def check_signers(root, signers, version_note=""):
    """Refuse signers a device would not count under `root`'s control role."""
    control_keys = tuple(getattr(root, "control_keys", ()) or ())
    if not control_keys:
        raise CommandError("root version {} has no control keys (no-control-role): rotate the root "
                           "with --control-key".format(root.version))
    for s in signers:
        if s.public not in control_keys:
            raise CommandError("{} (key id {}) is not a control key of root version {}".format(
                s.describe, keys.key_id_hex(s.public), root.version))
    if len(signers) < root.control_threshold:
        raise CommandError("root version {} needs {} control signatures, {} key{} given".format(
            root.version, root.control_threshold, len(signers), "" if len(signers) == 1 else "s"))


def entries_of(ctl):
    return [(bytes(e.plan_sha), e.state, e.cap_bp, e.poll_s) for e in (ctl.entries if ctl else ())]


def update(repo, plan_ref, action, signers, cap_bp=None, poll_s=None, now=None, expires=None,
           lifetime=DAY, trust=None, force=False):
    """Write REPO/control with `action` applied (see the module's doc)."""
    if action not in ACTIONS:
        raise CommandError("unknown control action {!r}".format(action))
    signers = _signers(signers)
    if not signers:
        raise CommandError("no control key: give -k KEY")
    now = int(time.time()) if now is None else now
    expires = now + lifetime if expires is None else expires
    if expires <= now:
        raise CommandError("--expires {} is not after now".format(timefmt.show(expires)))
    root = trust if trust is not None else Repo.newest_root(repo)
    if root is not None:
        check_signers(root, signers)
    floor, what = Repo.time_floor(repo)
    if floor >= expires:
        # Devices that accepted it judge time by it: this document would
        # reach them expired.
        raise CommandError("{} was issued at {}, after this control document expires ({}): "
                           "check the signing host's clock, or give a later --expires".format(
                               what, timefmt.show(floor), timefmt.show(expires)))
    with Repo.locked(repo):
        current, ctl = Repo.read_control(repo)
        if ctl is not None:
            _check_current(repo, current, trust)
        entries = entries_of(ctl)
        if action != "renew":
            entries = _apply(repo, entries, plan_ref, action, cap_bp, poll_s, force)
        version = ctl.version + 1 if ctl else 1
        signed = unsigned(version, now, expires, entries)
        doc = D.assemble(signed, D.sign(signed, [], signers))
        # What a device reads: the device's parser, and with the root
        # known, the device's whole check.
        R.control(doc, F.frame(doc, F.DOC_CONTROL))
        if root is not None:
            try:
                T.verify_control(root, doc, now=now)
            except BundleError as e:
                raise CommandError(reasons.refused(e.reason, "the control document just signed"))
        path = os.path.join(repo, Repo.CONTROL)
        Repo.put(path, doc)
    return Written(path, doc, version, now, expires, entries)


def _check_current(repo, doc, trust):
    # The new document carries the current one's entries (halts included)
    # and version forward under the online key: refuse to build on one that
    # no control key signed, or anyone who can write the directory could
    # have the key sign a lifted halt or a version at the limit.
    roots = Repo.roots_to_check(repo, trust)
    if not roots:
        return
    reason = Repo.refusal([r for r in roots if getattr(r, "control_keys", ())],
                          lambda root: T.verify_control(root, doc))
    if reason is None:
        return
    raise CommandError("{}: not signed by the control keys of any root here ({}): refusing to sign "
                       "its entries; put back the control document last written by `mpota "
                       "control`".format(os.path.join(repo, Repo.CONTROL), reason))


def _apply(repo, entries, plan_ref, action, cap_bp, poll_s, force):
    if plan_ref is None:
        raise CommandError("{} needs a plan".format(action))
    sha, _, plan = Repo.find_plan(repo, plan_ref)
    name = "{} ({})".format(plan.id, sha.hex()[:16])
    if action in ("run", "resume", "cap") and not os.path.isfile(
            os.path.join(repo, Repo.PLANS, sha.hex())):
        raise CommandError("plan {} is not published in {}: mpota publish --plan first".format(name, repo))
    if action in ("run", "resume"):
        _refuse_revoked(repo, plan, name)
    at = [i for i, e in enumerate(entries) if e[0] == sha]
    current = entries[at[0]][1:] if at else None
    if action == "run" and not current:
        _refuse_halted_id(repo, entries, plan)
    new = transition(current, action, plan.max_bp, cap_bp, poll_s, name, force)
    entries = list(entries)
    if at:
        if new is None:
            del entries[at[0]]
        else:
            entries[at[0]] = (sha,) + new
    elif new is not None:
        # Newest first: a device installs the first plan it is in.
        entries.insert(0, (sha,) + new)
    return entries


def _refuse_revoked(repo, plan, name):
    # A device refuses a revoked image ('revoked'): running its plan would
    # only make every selected device fail.
    _, rev = Repo.read_revoked(repo)
    manifest = os.path.join(repo, Repo.BUNDLES, bytes(plan.manifest_sha).hex(), "manifest")
    if rev is None or not os.path.isfile(manifest):
        return
    m = Repo.parse(Repo.read_doc(manifest), F.DOC_MANIFEST, F.manifest, manifest, "a manifest")
    if rev.has(m.image_sha256):
        raise CommandError("the image of plan {} is revoked: devices would refuse it".format(name))


def _refuse_halted_id(repo, entries, plan):
    # The bucket comes from the plan id: a new plan with a halted plan's id
    # would reach the same devices as the plan that was stopped.
    halted = {e[0] for e in entries if e[1] == F.STATE_HALT}
    for sha, _, p in Repo.plans(repo):
        if sha in halted and p.id == plan.id:
            raise CommandError("plan id {} was halted (plan {}): sign the new plan with a new "
                               "id".format(plan.id, sha.hex()[:16]))


def describe(repo, ctl, doc, now=None):
    """What `control show` prints, as a dict."""
    now = int(time.time()) if now is None else now
    names = {sha: p for sha, _, p in Repo.plans(repo)}
    out = []
    for sha, state, cap, poll in entries_of(ctl):
        p = names.get(sha)
        share = None
        if p is not None:
            share = min(open_share(p, now), p.max_bp, cap) if state == F.STATE_RUN else 0
        out.append({"plan": sha.hex(), "id": p.id if p else None, "state": state_name(state),
                    "cap_percent": percent(cap), "cap_basis_points": cap, "poll_seconds": poll,
                    "max_percent": percent(p.max_bp) if p else None,
                    "open_percent": percent(share) if share is not None else None})
    signed, sigs = D.split(doc, F.DOC_CONTROL)
    return {"version": ctl.version, "issued": timefmt.show(ctl.issued),
            "expires": timefmt.show(ctl.expires), "expired": now >= ctl.expires,
            "entries": out, "signatures": [kid.hex() for kid, _ in sigs]}


def text(info):
    lines = ["control version {}, issued {}, expires {}{}".format(
        info["version"], info["issued"], info["expires"], " (EXPIRED)" if info["expired"] else "")]
    for e in info["entries"]:
        lines.append("  {} {:<5} cap {}%{} poll {} s  {}".format(
            e["plan"][:16], e["state"], e["cap_percent"],
            " (ceiling {}%, open now {}%)".format(e["max_percent"], e["open_percent"])
            if e["id"] else "", e["poll_seconds"], e["id"] or "(plan not in plans/)"))
    if not info["entries"]:
        lines.append("  no plans")
    return "\n".join(lines)
