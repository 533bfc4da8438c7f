"""`mpota root`: create, rotate, sign and show the trust root document.

The document's layout is written by `roots`; what a device accepts is
decided by the firmware's own `mpota.bundle.trust`, used here unchanged.
"""

import json

from mpota.bundle import format as F
from mpota.bundle import trust

from . import files, keys, roots, signer, timefmt

DESCRIPTION = ("The trust root lists root keys (they sign roots) and update keys "
               "(they sign manifests), each with a threshold.")


def _when(text):
    return None if text is None else timefmt.parse(text)


def _root_keys(paths):
    return [keys.load_public(p) for p in paths or ()]


def _finish_root(args, doc):
    if args.key:
        doc = roots.add_signatures(doc, signer.from_options(args))
    files.write(args.output, doc)
    r = roots.parse(doc)
    print("wrote {}: root version {}, {} of {} root keys, {} of {} update keys, {} signatures".format(
        args.output, r.version, r.root_threshold, len(r.root_keys), r.update_threshold,
        len(r.update_keys), len(roots.signature_ids(doc))))


def cmd_root_init(args):
    params = roots.RootParams(1, _root_keys(args.root_key), args.root_threshold,
                              _root_keys(args.update_key), args.update_threshold,
                              _when(args.expires))
    _finish_root(args, roots.build(params))


def cmd_root_rotate(args):
    old = roots.parse(files.read(args.current, F.MAX_DOC + 1))
    p = roots.params_of(old)
    p.version = old.version + 1
    if args.root_key:
        p.root_keys = _root_keys(args.root_key)
    if args.update_key:
        p.update_keys = _root_keys(args.update_key)
    if args.root_threshold:
        p.root_threshold = args.root_threshold
    if args.update_threshold:
        p.update_threshold = args.update_threshold
    if args.expires:
        p.expires = _when(args.expires)
    if args.no_expiry:
        p.expires = None
    _finish_root(args, roots.build(p))


def cmd_root_sign(args):
    args.output = args.output or args.root
    _finish_root(args, files.read(args.root, F.MAX_DOC + 1))


def cmd_root_show(args):
    doc = files.read(args.root, F.MAX_DOC + 1)
    r = roots.parse(doc)
    trusted = roots.chain(files.read(args.trust, F.MAX_DOC + 1), [doc]) if args.trust else trust.load_root(doc)
    sig_ids = [k.hex() for k in roots.signature_ids(doc)]
    info = {"version": r.version,
            "root_keys": [k.hex() for k in r.root_ids], "root_threshold": r.root_threshold,
            "update_keys": [k.hex() for k in r.update_ids], "update_threshold": r.update_threshold,
            "expires": r.expires, "signatures": sig_ids,
            "accepted": "rotation from version {}".format(trusted.version - 1) if args.trust
            else "self-signed by a threshold of its root keys"}
    if args.json:
        print(json.dumps(info, indent=2))
        return
    print("root version {}, expires {}".format(r.version, timefmt.show(r.expires)))
    print("root keys ({} of {}): {}".format(r.root_threshold, len(r.root_keys), ", ".join(info["root_keys"])))
    print("update keys ({} of {}): {}".format(r.update_threshold, len(r.update_keys), ", ".join(info["update_keys"])))
    print("signatures: {}".format(", ".join(sig_ids) or "none"))
    print("accepted: {}".format(info["accepted"]))


def arguments(r):
    rsub = r.add_subparsers(dest="root_command", metavar="ROOT_COMMAND", required=True)

    def keys_and_thresholds(c, required):
        c.add_argument("--root-key", action="append", required=required, metavar="PUB", help="root public key; repeat")
        c.add_argument("--root-threshold", type=int, required=required, metavar="K", help="root signatures needed")
        c.add_argument("--update-key", action="append", required=required, metavar="PUB", help="update public key; repeat")
        c.add_argument("--update-threshold", type=int, required=required, metavar="K", help="manifest signatures needed")
        c.add_argument("--expires", metavar="TIME", help="expiry: ISO 8601 (UTC) or +365d")
        c.add_argument("-o", "--output", required=True, metavar="ROOT", help="root document to write")
        signer.add_options(c, required=False)

    c = rsub.add_parser("init", help="create root version 1",
                        description="Create root version 1; sign it now with -k or later with `root sign`.")
    keys_and_thresholds(c, True)
    c.set_defaults(run=cmd_root_init)

    c = rsub.add_parser("rotate", help="create the next root version",
                        description="Create version N+1 of CURRENT_ROOT. Lists given replace the old ones "
                                    "(leave a key out to revoke it). Devices accept it only when signed by "
                                    "a threshold of the old root keys and of the new ones.")
    c.add_argument("current", metavar="CURRENT_ROOT")
    keys_and_thresholds(c, False)
    c.add_argument("--no-expiry", action="store_true", help="drop the expiry")
    c.set_defaults(run=cmd_root_rotate)

    c = rsub.add_parser("sign", help="add signatures to a root document",
                        description="Add the signature of each -k root key to ROOT (in place unless -o).")
    c.add_argument("root", metavar="ROOT")
    c.add_argument("-o", "--output", metavar="FILE", help="write here instead of over ROOT")
    signer.add_options(c)
    c.set_defaults(run=cmd_root_sign)

    c = rsub.add_parser("show", help="show and check a root document",
                        description="Print ROOT and check it: self-signed, or with --trust a valid rotation from the previous root.")
    c.add_argument("root", metavar="ROOT")
    c.add_argument("--trust", metavar="PREVIOUS_ROOT", help="check ROOT as the rotation following this root")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(run=cmd_root_show)
