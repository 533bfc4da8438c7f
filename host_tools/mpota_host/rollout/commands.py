# SPDX-License-Identifier: MIT
"""The `mpota rollout`, `control`, `revoke` and `publish` commands, and
`mpota verify REPO` (docs/ROLLOUT.md, "Publish a staged rollout"). Thin
handlers: the work is in plan, control, revoke, publish and repocheck."""

import json
import os

from mpota.bundle import format as F
from mpota.bundle import trust as T
from mpota.bundle.error import BundleError

from .. import auditcmd, files, reasons, timefmt
from .. import signer as signing
from ..errors import CommandError
from . import control as C
from . import plan as P
from . import publish as Pub
from . import repo as Repo
from . import repocheck
from . import revoke as Rev
from .common import basis_points, now, percent, sha256, state_name, when


def _print(info, text, as_json):
    print(json.dumps(info, indent=2) if as_json else text)


def _trusted(path):
    """A root document given as --trust, checked as a device checks its
    provisioned root."""
    doc = Repo.read_doc(path)
    try:
        return T.load_root(doc)
    except BundleError as e:
        raise CommandError(reasons.refused(e.reason, "{} as a trusted root".format(path)))


# rollout

def _wave(text, base):
    share, at, moment = text.partition("@")
    if not at or not moment:
        raise CommandError("--wave {!r}: PERCENT@WHEN, e.g. 5@now, 25@+2d, 100@2027-02-01".format(text))
    return basis_points(share, "--wave"), when(moment, base)


def cmd_create(args):
    manifest = os.path.join(args.bundle, "manifest")
    doc = files.read(manifest, F.MAX_DOC + 1)
    m = Repo.parse(doc, F.DOC_MANIFEST, F.manifest, manifest, "a manifest")
    if args.trust:
        try:
            T.verify_manifest(_trusted(args.trust), doc)
        except BundleError as e:
            raise CommandError(reasons.refused(e.reason, "{} against {}: sign the bundle completely "
                                                          "before its plan".format(manifest, args.trust)))
    device_class = args.device_class or m.device_class
    if device_class != m.device_class:
        raise CommandError("--device-class {}: the bundle is for {}".format(device_class, m.device_class))
    for h in args.hw_rev or ():
        if m.hw_revs and h not in m.hw_revs:
            raise CommandError("--hw-rev {}: the bundle fits only {}".format(h, ", ".join(m.hw_revs)))
    if os.path.exists(args.output) and not args.force:
        raise CommandError("{} exists (use --force to replace it)".format(args.output))
    issued = now()
    waves = [_wave(w, issued) for w in args.wave]
    params = P.PlanParams(id=args.id, issued=issued, manifest_sha=sha256(doc),
                          device_class=device_class, max_bp=basis_points(args.max_percent, "--max-percent"),
                          waves=waves, hw_revs=list(args.hw_rev or ()))
    shards = P.shard(args.id, P.read_canary(args.canary_file)) if args.canary_file else []
    params.canary = [sha256(s) for s in shards]
    P.check(params)
    record = auditcmd.Recorder(args)
    signers = signing.from_options(args)
    plan_doc = P.build(params, signers)
    folder = args.canary_dir or P.canary_folder(args.output)
    P.write_shards(folder, shards)
    files.write(args.output, plan_doc)
    sha = sha256(plan_doc)
    record.note("rollout-create", {"plan": sha.hex(), "id": args.id, "file": args.output,
                                   "for_manifest": params.manifest_sha.hex(), "waves": len(waves)},
                signers)
    info = {"plan": args.output, "sha256": sha.hex(), "id": args.id, "manifest": params.manifest_sha.hex(),
            "waves": len(waves), "canary_shards": [folder + "/" + h.hex() for h in params.canary],
            "signatures": len(signers)}
    _print(info, "wrote {}: plan {} ({}), {} wave{}, ceiling {}%, {} canary shard{}{}, {} signature{}".format(
        args.output, args.id, sha.hex()[:16], len(waves), "" if len(waves) == 1 else "s",
        percent(params.max_bp), len(shards), "" if len(shards) == 1 else "s",
        " in {}".format(folder) if shards else "", len(signers), "" if len(signers) == 1 else "s"),
        args.json)


def cmd_cosign(args):
    record = auditcmd.Recorder(args)
    signers = signing.from_options(args)
    doc = P.cosign(args.plan, signers)
    record.note("rollout-cosign", {"plan": sha256(doc).hex(), "file": args.plan}, signers)
    print("{}: plan now has {} signatures (SHA-256 {})".format(
        args.plan, doc[F.frame(doc, F.DOC_PLAN)], sha256(doc).hex()))


def cmd_show(args):
    doc, sha, p = Repo.read_plan(args.plan)
    info = P.describe(sha, doc, p)
    refused = None
    if args.trust:
        try:
            T.verify_plan(_trusted(args.trust), doc)
            info["accepted"] = True
        except BundleError as e:
            refused = e.reason
            info["accepted"] = False
            info["refused"] = e.reason
    _print(info, P.text(info) + ("\naccepted: {}".format("no" if refused else "yes") if args.trust else ""),
           args.json)
    if refused:
        raise CommandError(reasons.refused(refused, "{} as a rollout plan".format(args.plan)))


def cmd_list(args):
    at = when(args.at) if args.at else now()
    _, ctl = Repo.read_control(args.repo)
    entries = {e[0]: e for e in C.entries_of(ctl)}
    out = []
    for sha, doc, p in Repo.plans(args.repo):
        info = P.describe(sha, doc, p)
        e = entries.get(sha)
        info["state"] = None if e is None else state_name(e[1])
        info["cap_percent"] = None if e is None else percent(e[2])
        share = P.open_share(p, at)
        info["open_percent"] = percent(min(share, p.max_bp, e[2])) if e and e[1] == F.STATE_RUN else "0"
        out.append(info)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    if not out:
        print("no plans in {}".format(args.repo))
    for i in out:
        print("{} {:<20} {:<6} open {}% of ceiling {}%  bundle {}".format(
            i["plan"][:16], i["id"], i["state"] or "-", i["open_percent"], i["max_percent"],
            i["manifest"][:16]))


# control

def cmd_control(args):
    trust = _trusted(args.trust) if args.trust else None
    t = now()
    expires = when(args.expires, t) if args.expires else None
    cap = basis_points(args.percent, "--percent") if getattr(args, "percent", None) is not None else None
    record = auditcmd.Recorder(args)
    signers = signing.from_options(args)
    written = C.update(args.repo, getattr(args, "plan", None), args.action, signers,
                       cap_bp=cap, poll_s=getattr(args, "poll", None), now=t, expires=expires,
                       trust=trust, force=getattr(args, "force", False))
    info = {"control": written.path, "version": written.version, "issued": timefmt.show(written.issued),
            "expires": timefmt.show(written.expires),
            "entries": [{"plan": s.hex(), "state": state_name(st), "cap_percent": percent(c),
                         "poll_seconds": pl} for s, st, c, pl in written.entries]}
    record.note("control-" + args.action, {
        "control": auditcmd.sha256_hex(files.read(written.path, F.MAX_DOC + 1)),
        "version": written.version, "for_plan": getattr(args, "plan", None) or ""}, signers)
    _print(info, "wrote {}: control version {}, {} plan{}, expires {}".format(
        written.path, written.version, len(written.entries), "" if len(written.entries) == 1 else "s",
        timefmt.show(written.expires)), args.json)


def cmd_control_show(args):
    doc, ctl = Repo.read_control(args.repo)
    if ctl is None:
        raise CommandError("{} has no control document (mpota control run PLAN --repo {})".format(
            args.repo, args.repo))
    info = C.describe(args.repo, ctl, doc)
    refused = None
    if args.trust:
        try:
            T.verify_control(_trusted(args.trust), doc, now=now())
        except BundleError as e:
            refused = e.reason
        info["accepted"] = refused is None
    _print(info, C.text(info), args.json)
    if refused:
        raise CommandError(reasons.refused(refused, "{}/control".format(args.repo)))


# revoke / publish / verify REPO

def cmd_revoke(args):
    trust = _trusted(args.trust) if args.trust else None
    record = auditcmd.Recorder(args)
    signers = signing.from_options(args)
    doc, rev = Rev.revoke(args.repo, args.image, signers, trust=trust)
    record.note("revoke", {"revoked": auditcmd.sha256_hex(doc), "version": rev.version,
                           "image": args.image}, signers)
    info = {"revoked": os.path.join(args.repo, Repo.REVOKED), "version": rev.version,
            "images": [bytes(i).hex() for i in rev.images]}
    _print(info, "wrote {}: revocation list version {}, {} of {} images".format(
        info["revoked"], rev.version, len(rev.images), F.MAX_REVOKED), args.json)


def cmd_publish(args):
    counts = Pub.publish(args.repo, roots=args.root, bundles=args.bundle or (), plans=args.plan or (),
                         revoked=args.revoked, control=args.control)
    counts["repository"] = args.repo
    _print(counts, "published {}: root version {}, {} bundle{}, {} plan{}; {} file{} written, {} "
           "unchanged".format(args.repo, counts["root_version"], counts["bundles"],
                              "" if counts["bundles"] == 1 else "s", counts["plans"],
                              "" if counts["plans"] == 1 else "s", counts["written"],
                              "" if counts["written"] == 1 else "s", counts["unchanged"]), args.json)


class Quiet(Exception):
    """Exit 1 with nothing more to say (cli's _Quiet)."""


def verify_repo(args, quiet):
    """`mpota verify REPO --trust ROOT`; quiet: the exception that exits 1
    silently once --json has printed the verdict."""
    if args.root or args.device_class or args.product or args.hw_rev or args.target:
        raise CommandError("{} is a repository: --root, --device-class, --product, --hw-rev and "
                           "--target are for a bundle".format(args.bundle))
    root = _trusted(args.trust)
    at = when(args.at) if args.at else now()
    older = [(p, Repo.read_doc(p)) for p in args.revoked_before or ()]
    try:
        info = repocheck.check(args.bundle, root, now=at, older_revoked=older)
    except repocheck.Refused as e:
        if not args.json:
            raise
        print(json.dumps({"valid": False, "repository": args.bundle, "reason": e.reason,
                          "meaning": repocheck.meaning(e.reason), "where": e.where}, indent=2))
        raise quiet() from None
    _print(info, repocheck.text(info), args.json)


# The command table

def _signing(c, what):
    signing.add_options(c, what=what)


def _json(c, what="print JSON"):
    c.add_argument("--json", action="store_true", help=what)


def arguments(sub):
    """Register `rollout`, `control`, `revoke` and `publish` on the
    top-level subparsers `sub`."""
    r = sub.add_parser("rollout", help="make, co-sign, show and list staged-rollout plans",
                       description="A rollout plan, signed offline by the update keys, releases one "
                                   "bundle to a device class in waves up to a ceiling "
                                   "(docs/ROLLOUT.md).")
    rs = r.add_subparsers(dest="rollout_command", metavar="ROLLOUT_COMMAND", required=True)

    c = rs.add_parser("create", help="write a rollout plan for a bundle",
                      description="Write PLAN, releasing BUNDLE_DIR in waves. The plan names the "
                                  "bundle's manifest file by its SHA-256, signatures included: sign "
                                  "the bundle completely (mpota cosign) first. A canary list is split "
                                  "into shards of at most {} bytes, written as canary/<sha256> "
                                  "beside PLAN (or --canary-dir), where mpota publish finds them."
                                  .format(F.MAX_SHARD))
    c.add_argument("bundle", metavar="BUNDLE_DIR")
    c.add_argument("--id", required=True, help="plan id, 1 to 32 printable ASCII characters; a new "
                                               "id reshuffles which devices come first")
    c.add_argument("--device-class", metavar="CLASS", help="device class selected (default: the bundle's)")
    c.add_argument("--hw-rev", action="append", metavar="REV",
                   help="hardware revision selected; repeat (default: any)")
    c.add_argument("--canary-file", metavar="FILE",
                   help="device ids, one per line, that install as soon as the first wave opens")
    c.add_argument("--canary-dir", metavar="DIR", help="where to write the canary shards (default: "
                                                        "canary/ beside PLAN); mpota publish looks "
                                                        "there and in REPO/canary")
    c.add_argument("--wave", action="append", required=True, metavar="PERCENT@WHEN",
                   help="a wave: percent of the selected devices (two decimals at most) and the "
                        "earliest time it opens: now, +2d, 2027-02-01 or 2027-02-01T12:00:00Z; "
                        "repeat, in order (1 to 8)")
    c.add_argument("--max-percent", required=True, metavar="P",
                   help="ceiling: no wave and no control cap reaches above it")
    c.add_argument("--trust", metavar="ROOT", help="check first that the bundle's manifest is signed "
                                                   "by the update keys' threshold of ROOT")
    c.add_argument("-o", "--output", required=True, metavar="PLAN", help="plan file to write")
    c.add_argument("--force", action="store_true", help="replace PLAN if it exists")
    _signing(c, "update key to sign the plan with")
    _json(c, "what was written, as JSON on stdout")
    auditcmd.add_option(c)
    c.set_defaults(run=cmd_create)

    c = rs.add_parser("cosign", help="add signatures to a plan",
                      description="Add the signature of each -k update key to PLAN (k-of-n signing). "
                                  "The plan's SHA-256, its name in a repository, changes.")
    c.add_argument("plan", metavar="PLAN")
    _signing(c, "update key")
    auditcmd.add_option(c)
    c.set_defaults(run=cmd_cosign)

    c = rs.add_parser("show", help="show (and with --trust check) a plan",
                      description="Print PLAN. With --trust, also check its signatures as a device "
                                  "would; exit 1 (after printing it) if a device would refuse it.")
    c.add_argument("plan", metavar="PLAN")
    c.add_argument("--trust", metavar="ROOT", help="root document to check the signatures against")
    _json(c)
    c.set_defaults(run=cmd_show)

    c = rs.add_parser("list", help="list the plans of a published repository",
                      description="List every plan in REPO/plans with its control state and the "
                                  "share open now (the last wave opened, the ceiling and the cap, "
                                  "whichever is lowest).")
    c.add_argument("repo", metavar="REPO")
    c.add_argument("--at", metavar="TIME", help="judge the waves at TIME (default: now)")
    _json(c)
    c.set_defaults(run=cmd_list)

    r = sub.add_parser("control", help="pause, resume, halt or cap a rollout (the online control key)",
                       description="Write REPO/control, the control document: version + 1, issued "
                                   "now, expires in 24 h unless --expires. The control key can pause, "
                                   "shrink or halt a rollout; never widen one past its plan, nor undo "
                                   "a halt. Re-sign at least daily (control renew).")
    rs = r.add_subparsers(dest="control_command", metavar="CONTROL_COMMAND", required=True)
    helps = {
        "run": "put a published plan under control, running (newest first)",
        "pause": "pause a plan: devices install nothing from it until resume",
        "resume": "resume a paused plan",
        "halt": "halt a plan for good (resuming needs a new plan, signed offline)",
        "cap": "cap a plan's share at --percent (never above its ceiling)",
        "drop": "remove a plan from the control document (devices then ignore it)",
        "renew": "re-sign the control document as it is, with a new expiry",
    }
    for action, words in helps.items():
        c = rs.add_parser(action, help=words, description=words[0].upper() + words[1:] + ".")
        if action != "renew":
            c.add_argument("plan", metavar="PLAN", help="plan id, its SHA-256 in hex (8 digits or "
                                                        "more), or a plan file")
        c.add_argument("--repo", required=True, metavar="REPO", help="the published repository")
        if action in ("run", "cap"):
            c.add_argument("--percent", "--cap", dest="percent", metavar="P", required=action == "cap",
                           help="cap, in percent of the selected devices (default for run: the "
                                "plan's ceiling)")
        if action in ("run", "cap", "pause", "resume"):
            c.add_argument("--poll", type=int, metavar="SECONDS",
                           help="poll hint for devices (run default: {}; else unchanged)".format(C.POLL_DEFAULT))
        if action == "drop":
            c.add_argument("--force", action="store_true", help="drop even a halted plan")
        c.add_argument("--expires", metavar="TIME", help="expiry of the new control document: +12h, "
                                                         "ISO 8601 (default: +24h)")
        c.add_argument("--trust", metavar="ROOT", help="root whose control keys must sign (default: "
                                                       "the newest REPO/roots/<N>)")
        _signing(c, "control key")
        _json(c, "what was written, as JSON on stdout")
        auditcmd.add_option(c)
        c.set_defaults(run=cmd_control, action=action)
    c = rs.add_parser("show", help="show the control document of a repository",
                      description="Print REPO/control: version, expiry, and per plan its state, cap, "
                                  "ceiling and the share open now.")
    c.add_argument("repo", metavar="REPO")
    c.add_argument("--trust", metavar="ROOT", help="also check the signatures and expiry; exit 1 if "
                                                   "a device would refuse it")
    _json(c)
    c.set_defaults(run=cmd_control_show)

    c = sub.add_parser("revoke", help="add an image to the revocation list",
                       description="Write REPO/revoked, version + 1: every image it listed and IMAGE. "
                                   "Devices refuse a revoked image, and one on trial of it reverts. "
                                   "Append-only, at most {} images; past that, raise the security "
                                   "counter.".format(F.MAX_REVOKED))
    c.add_argument("image", metavar="BUNDLE_OR_IMAGE_SHA",
                   help="a bundle directory, or the image's SHA-256 in hex (32 digits or more)")
    c.add_argument("--repo", required=True, metavar="REPO", help="the published repository")
    c.add_argument("--trust", metavar="ROOT", help="root whose update keys must sign (default: the "
                                                   "newest REPO/roots/<N>)")
    _signing(c, "update key; repeat up to the update threshold")
    _json(c, "what was written, as JSON on stdout")
    auditcmd.add_option(c)
    c.set_defaults(run=cmd_revoke)

    c = sub.add_parser("publish", help="lay out a repository any static web server serves",
                       description="Check everything against the roots, then write into REPO: roots/<N>, "
                                   "bundles/<manifest sha256>/, canary/<sha256>, plans/<sha256>, "
                                   "revoked, control (last). Each file is written whole; publishing "
                                   "again changes nothing.")
    c.add_argument("repo", metavar="REPO")
    c.add_argument("--root", action="append", required=True, metavar="ROOT",
                   help="trust root to publish as roots/<version>, the first one trusted as given; "
                        "repeat for rotations (with those in REPO/roots, one chain)")
    c.add_argument("--bundle", action="append", metavar="DIR", help="bundle directory; repeat")
    c.add_argument("--plan", action="append", metavar="PLAN",
                   help="rollout plan (canary shards in canary/ beside it); repeat")
    c.add_argument("--revoked", metavar="FILE", help="a revocation list signed elsewhere")
    c.add_argument("--control", metavar="FILE", help="a control document signed elsewhere")
    _json(c, "the counts, as JSON on stdout")
    c.set_defaults(run=cmd_publish)


def verify_arguments(c):
    """What `mpota verify` takes for a repository, beside its bundle options."""
    c.add_argument("--revoked-before", action="append", metavar="FILE",
                   help="for a repository: a revocation list published before; REPO/revoked must "
                        "keep its every entry; repeat")
