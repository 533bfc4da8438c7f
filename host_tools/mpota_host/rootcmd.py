# SPDX-License-Identifier: MIT
"""`mpota root`: create, rotate, sign and show the trust root document.

The document's layout is written by `roots`; what a device accepts is
decided by the firmware's own `mpota.bundle.trust`, used here unchanged.
"""

import json
import os
import time

from mpota.bundle import format as F
from mpota.bundle import trust
from mpota.bundle.error import BundleError

from . import auditcmd, files, keys, reasons, roots, signer, timefmt
from .errors import CommandError

DESCRIPTION = ("The trust root lists root keys (they sign roots), update keys "
               "(they sign manifests, rollout plans and revocation lists) and, for staged "
               "rollouts, control keys (they sign the control document), each with a threshold.")


def _when(text):
    if text is None:
        return None
    seconds = timefmt.parse(text)
    if seconds <= time.time():
        raise CommandError("--expires {} is in the past: no device would accept the root".format(text))
    return seconds


def _root_keys(paths, args):
    return [keys.load_public(p, args.passphrase_env) for p in paths or ()]


def _read_root(path):
    """The root document in `path`, parsed (signatures not checked)."""
    doc = files.read(path, F.MAX_DOC + 1)
    try:
        return doc, roots.parse(doc)
    except BundleError as e:
        raise CommandError("{} is not a root document: {}".format(path, e.reason))


def _check_output(args):
    if os.path.exists(args.output) and not args.force:
        raise CommandError("{} exists (use --force to replace it)".format(args.output))


def _finish_root(args, doc, may_sign, action):
    """Sign doc with the -k keys (each must be one of `may_sign`), write it,
    record it in the ledger if it was signed, and say what it still needs."""
    record = auditcmd.Recorder(args)
    signers = []
    if args.key:
        signers = signer.from_options(args)
        for s in signers:
            if may_sign is not None and s.public not in may_sign:
                raise CommandError("{} (key id {}) is not a root key that may sign this root".format(
                    s.describe, keys.key_id_hex(s.public)))
        doc = roots.add_signatures(doc, signers)
    files.write(args.output, doc)
    r = roots.parse(doc)
    if signers:
        record.note(action, {"root": auditcmd.sha256_hex(doc), "version": r.version,
                             "file": args.output}, signers)
    print("wrote {}: root version {}, {} of {} root keys, {} of {} update keys, {}{} signatures".format(
        args.output, r.version, r.root_threshold, len(r.root_keys), r.update_threshold,
        len(r.update_keys), "{} of {} control keys, ".format(r.control_threshold, len(r.control_keys))
        if r.control_keys else "", len(roots.signature_ids(doc))))
    return doc, r


def _missing(doc, key_ids, threshold, whose):
    have = len(set(roots.signature_ids(doc)) & set(key_ids))
    if have >= threshold:
        return None
    return "{} more signature{} of {}".format(threshold - have, "" if threshold - have == 1 else "s", whose)


def _say_missing(needs):
    needs = [n for n in needs if n]
    if needs:
        print("still needs {} (mpota root sign)".format(" and ".join(needs)))


def _control_role(args, p):
    """Apply --control-key / --control-threshold (and --no-control) to p."""
    if getattr(args, "no_control", False):
        if args.control_key or args.control_threshold is not None:
            raise CommandError("--no-control and --control-key/--control-threshold contradict each other")
        p.control_keys, p.control_threshold = [], 0
        return
    if args.control_key:
        p.control_keys = _root_keys(args.control_key, args)
        if args.control_threshold is None and not p.control_threshold:
            raise CommandError("--control-key needs --control-threshold K")
    if args.control_threshold is not None:
        if not p.control_keys:
            raise CommandError("--control-threshold needs --control-key PUB")
        p.control_threshold = args.control_threshold


def cmd_root_init(args):
    _check_output(args)
    params = roots.RootParams(1, _root_keys(args.root_key, args), args.root_threshold,
                              _root_keys(args.update_key, args), args.update_threshold,
                              _when(args.expires), issued=int(time.time()))
    _control_role(args, params)
    doc, r = _finish_root(args, roots.build(params), set(params.root_keys), "root-init")
    _say_missing([_missing(doc, r.root_ids, r.root_threshold, "its root keys")])


def cmd_root_rotate(args):
    _check_output(args)
    if args.expires and args.no_expiry:
        raise CommandError("--expires and --no-expiry contradict each other")
    _, old = _read_root(args.current)
    p = roots.params_of(old)
    p.version = old.version + 1
    if args.root_key:
        p.root_keys = _root_keys(args.root_key, args)
    if args.update_key:
        p.update_keys = _root_keys(args.update_key, args)
    # 0 is a value here (refused by roots.build), not "keep the old one".
    if args.root_threshold is not None:
        p.root_threshold = args.root_threshold
    if args.update_threshold is not None:
        p.update_threshold = args.update_threshold
    if args.expires:
        p.expires = _when(args.expires)
    if args.no_expiry:
        p.expires = None
    _control_role(args, p)
    p.issued = int(time.time())
    doc, r = _finish_root(args, roots.build(p), set(old.root_keys) | set(p.root_keys), "root-rotate")
    _say_missing([_missing(doc, old.root_ids, old.root_threshold,
                                "the root keys of version {}".format(old.version)),
                       _missing(doc, r.root_ids, r.root_threshold, "its own root keys")])


def cmd_root_sign(args):
    args.output = args.output or args.root
    doc, r = _read_root(args.root)
    # Which old root keys may sign a rotation is not known here: any key
    # may add its signature, and `root show --trust` tells if it suffices.
    _finish_root(args, doc, None, "root-sign")


def cmd_root_show(args):
    doc, r = _read_root(args.root)
    refused = None
    try:
        if args.trust:
            roots.chain(_read_root(args.trust)[0], [doc])
        else:
            trust.load_root(doc)
    except BundleError as e:
        refused = e.reason
    sig_ids = [k.hex() for k in roots.signature_ids(doc)]
    if refused:
        accepted = None
    elif args.trust:
        accepted = "rotation from version {}".format(r.version - 1)
    else:
        accepted = "self-signed by a threshold of its root keys"
    info = {"version": r.version,
            "root_keys": [k.hex() for k in r.root_ids], "root_threshold": r.root_threshold,
            "update_keys": [k.hex() for k in r.update_ids], "update_threshold": r.update_threshold,
            "control_keys": [k.hex() for k in r.control_ids], "control_threshold": r.control_threshold,
            "expires": r.expires, "issued": r.issued or None,
            "signatures": sig_ids, "accepted": accepted, "refused": refused}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print("root version {}, issued {}, expires {}".format(
            r.version, timefmt.show(r.issued) if r.issued else "(not given)", timefmt.show(r.expires)))
        print("root keys ({} of {}): {}".format(r.root_threshold, len(r.root_keys), ", ".join(info["root_keys"])))
        print("update keys ({} of {}): {}".format(r.update_threshold, len(r.update_keys), ", ".join(info["update_keys"])))
        print("control keys ({} of {}): {}".format(r.control_threshold, len(r.control_keys),
                                                   ", ".join(info["control_keys"]))
              if r.control_keys else "control keys: none (devices follow no staged rollout)")
        print("signatures: {}".format(", ".join(sig_ids) or "none"))
        print("accepted: {}".format(accepted or "no"))
    if refused:
        raise CommandError(reasons.refused(refused, "{}{}".format(
            args.root, " as the rotation after {}".format(args.trust) if args.trust else "")))


def arguments(r):
    rsub = r.add_subparsers(dest="root_command", metavar="ROOT_COMMAND", required=True)

    def keys_and_thresholds(c, required):
        c.add_argument("--root-key", action="append", required=required, metavar="PUB", help="root public key; repeat")
        c.add_argument("--root-threshold", type=int, required=required, metavar="K", help="root signatures needed")
        c.add_argument("--update-key", action="append", required=required, metavar="PUB", help="update public key; repeat")
        c.add_argument("--update-threshold", type=int, required=required, metavar="K", help="manifest signatures needed")
        c.add_argument("--control-key", action="append", metavar="PUB",
                       help="control public key (signs rollout control documents, docs/ROLLOUT.md); "
                            "repeat{}".format("" if required else "; replaces CURRENT_ROOT's"))
        c.add_argument("--control-threshold", type=int, metavar="K",
                       help="control signatures needed (required with --control-key{})".format(
                           "" if required else ", unless CURRENT_ROOT has one"))
        c.add_argument("--expires", metavar="TIME",
                       help="expiry: ISO 8601 (UTC) or +365d (default: never{})".format(
                           "" if required else ", or CURRENT_ROOT's"))
        c.add_argument("-o", "--output", required=True, metavar="ROOT", help="root document to write")
        c.add_argument("--force", action="store_true", help="replace ROOT if it exists")
        signer.add_options(c, required=False, what="root key to sign with (a --root-key's private key"
                           + ("" if required else ", or one of CURRENT_ROOT's") + ")")
        auditcmd.add_option(c)

    c = rsub.add_parser("init", help="create root version 1",
                        description="Create root version 1; sign it now with -k or later with `root sign`.")
    keys_and_thresholds(c, True)
    c.set_defaults(run=cmd_root_init)

    c = rsub.add_parser("rotate", help="create the next root version",
                        description="Create version N+1 of CURRENT_ROOT. Lists given replace the old ones "
                                    "(leave a key out to revoke it); options left out keep CURRENT_ROOT's values. "
                                    "Devices accept it only when signed by a threshold of the old root keys "
                                    "and of the new ones.")
    c.add_argument("current", metavar="CURRENT_ROOT")
    keys_and_thresholds(c, False)
    c.add_argument("--no-expiry", action="store_true", help="drop the expiry (the new root never expires)")
    c.add_argument("--no-control", action="store_true",
                   help="drop the control role: devices then follow no staged rollout")
    c.set_defaults(run=cmd_root_rotate)

    c = rsub.add_parser("sign", help="add signatures to a root document",
                        description="Add the signature of each -k root key to ROOT (in place unless -o): "
                                    "its own root keys, or for a rotation also the previous root's.")
    c.add_argument("root", metavar="ROOT")
    c.add_argument("-o", "--output", metavar="FILE", help="write here instead of over ROOT")
    signer.add_options(c)
    auditcmd.add_option(c)
    c.set_defaults(run=cmd_root_sign)

    c = rsub.add_parser("show", help="show and check a root document",
                        description="Print ROOT and check it: self-signed, or with --trust a valid rotation "
                                    "from the previous root. Exit 1 (after printing it) if a device "
                                    "would not accept it.")
    c.add_argument("root", metavar="ROOT")
    c.add_argument("--trust", metavar="PREVIOUS_ROOT", help="check ROOT as the rotation following this root")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(run=cmd_root_show)
