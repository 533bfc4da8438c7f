# SPDX-License-Identifier: MIT
"""The release ledger on the command line (docs/LEDGER.md): `--ledger` on
every command that signs a release document, and `mpota audit`."""

import hashlib
import json
import os
import sys
import time

from mpota.bundle import format as F

from . import files, keys, ledger, timefmt
from .errors import CommandError

ENV = "MPOTA_LEDGER"
WHO_ENV = "MPOTA_WHO"


def add_option(p):
    p.add_argument("--ledger", metavar="FILE",
                   help="append a signed record of this action to the release ledger FILE "
                        "(default ${}; made at the first record; none: nothing recorded)".format(ENV))


def who():
    """Who acts: $MPOTA_WHO, else user@host."""
    from .provenance import user_at_host

    return os.environ.get(WHO_ENV) or user_at_host()


def sha256_hex(data):
    return hashlib.sha256(bytes(data)).hexdigest()


class Recorder:
    """Made before the action (a ledger that cannot take a record stops
    it before anything is signed), used after it."""

    def __init__(self, args):
        self.path = getattr(args, "ledger", None) or os.environ.get(ENV) or None
        if self.path and os.path.exists(self.path):
            lines = ledger.read(self.path)
            if lines:
                try:
                    ledger.parse(lines[-1], len(lines) - 1)
                except ledger.Broken as e:
                    raise CommandError("ledger {}: {}; run mpota audit {}".format(
                        self.path, e, self.path))

    def note(self, action, subject, signers):
        """Append the record, signed by the action's first key."""
        if not self.path:
            return None
        rec, started = ledger.append(self.path, time.time(), who(), action, subject,
                                     [keys.key_id_hex(s.public) for s in signers], signers[0])
        print("mpota: {} record {} in {}{}".format(
            action, rec["n"], self.path, " (a new ledger)" if started else ""), file=sys.stderr)
        return rec


# mpota audit ---------------------------------------------------------------

def _trusted(paths):
    if not paths:
        return None
    out = set()
    for p in paths:
        data = files.read(p, F.MAX_DOC + 1)
        if data.startswith(F.MAGIC.to_bytes(4, "big")):
            from mpota.bundle import trust
            from mpota.bundle.error import BundleError
            try:
                root = trust.load_root(data)
            except BundleError as e:
                raise CommandError("{}: not a root document ({})".format(p, e.reason))
            for k in tuple(root.root_keys) + tuple(root.update_keys) + tuple(root.control_keys):
                out.add(keys.key_id_hex(bytes(k)))
        else:
            out.add(keys.key_id_hex(keys.load_public(p)))
    return out


def _published(repo):
    """{what: {sha256 hex: path}} of the offline-signed documents a
    repository serves, each of which a ledger record must name."""
    out = {"bundle": {}, "plan": {}, "root": {}, "revoked": {}}
    b = os.path.join(repo, "bundles")
    for name in sorted(os.listdir(b)) if os.path.isdir(b) else ():
        m = os.path.join(b, name, "manifest")
        if os.path.isfile(m):
            out["bundle"][sha256_hex(files.read(m, F.MAX_DOC + 1))] = m
    for folder, what in (("plans", "plan"), ("roots", "root")):
        d = os.path.join(repo, folder)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else ():
            p = os.path.join(d, name)
            out[what][sha256_hex(files.read(p, F.MAX_DOC + 1))] = p
    r = os.path.join(repo, "revoked")
    if os.path.isfile(r):
        out["revoked"][sha256_hex(files.read(r, F.MAX_DOC + 1))] = r
    return out


# Which subject field of which actions names each kind of document.
_NAMES = {"bundle": ("manifest",), "plan": ("plan",), "root": ("root",), "revoked": ("revoked",)}


def unrecorded(records, published):
    """[(what, path)] of published documents no record names."""
    named = set()
    for rec in records:
        for field in ("manifest", "plan", "root", "revoked"):
            v = rec["subject"].get(field)
            if isinstance(v, str):
                named.add((field, v))
    missing = []
    for what, docs in published.items():
        (field,) = _NAMES[what]
        for sha, path in docs.items():
            if (field, sha) not in named:
                missing.append((what, path))
    return missing


def _summary(rec):
    s = rec["subject"]
    parts = []
    for k in sorted(s):
        v = s[k]
        if isinstance(v, str) and len(v) == 64:
            v = v[:16]
        parts.append("{}={}".format(k, v))
    return " ".join(parts)


def cmd_audit(args):
    lines = ledger.read(args.ledger_file)
    if not lines:
        raise CommandError("{}: an empty ledger".format(args.ledger_file))
    try:
        records = ledger.check(lines, _trusted(args.trust))
    except ledger.Broken as e:
        raise CommandError("{}: tampered or damaged: {}".format(args.ledger_file, e))
    hashes = [ledger.line_hash(line) for line in lines]
    if args.head and args.head.lower() not in hashes:
        raise CommandError("{}: no record hashes to {} (history rewritten or cut short since "
                           "that head was taken)".format(args.ledger_file, args.head))
    missing = unrecorded(records, _published(args.repo)) if args.repo else []
    if args.json:
        print(json.dumps({"ledger": records[0]["ledger"], "records": records, "head": hashes[-1],
                          "unrecorded": [{"kind": w, "path": p} for w, p in missing],
                          "ok": not missing}, indent=2))
    else:
        for rec in records:
            print("{:>4}  {}  {:<20} {:<15} keys {}  {}".format(
                rec["n"], timefmt.show(rec["at"]), rec["who"][:20], rec["action"],
                ",".join(k[:8] for k in rec["keys"]), _summary(rec)))
        print("ledger {}: {} records, chain and signatures good; head {}".format(
            records[0]["ledger"][:16], len(records), hashes[-1]))
    if missing:
        raise CommandError("{} published document{} with no ledger record: {}".format(
            len(missing), "" if len(missing) == 1 else "s",
            ", ".join("{} {}".format(w, p) for w, p in missing[:5])))


def add_parser(sub):
    c = sub.add_parser("audit", help="check the release ledger: its chain, signatures and records",
                       description="Walk the release ledger FILE: every record must follow the one "
                                   "before it (hash chain), be signed by the key it names, and belong "
                                   "to the same ledger. Exit 1 with the first record that does not.")
    c.add_argument("ledger_file", metavar="FILE", help="the ledger (a file of JSON lines)")
    c.add_argument("--trust", action="append", metavar="KEY_OR_ROOT",
                   help="a public key or root document; every record must be signed by one of "
                        "their keys (repeat for several)")
    c.add_argument("--head", metavar="SHA256",
                   help="a head printed by an earlier audit: it must still be in the ledger "
                        "(catches a ledger cut short or rewritten since)")
    c.add_argument("--repo", metavar="DIR",
                   help="a published repository: every bundle, plan, root and revocation list "
                        "in it must have its record")
    c.add_argument("--json", action="store_true", help="print the records as JSON")
    c.set_defaults(run=cmd_audit)
