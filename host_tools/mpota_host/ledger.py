# SPDX-License-Identifier: MIT
"""The release ledger (docs/LEDGER.md): one JSON line per release action,
each naming the hash of the line before it and signed by a key the action
used, so that an edit, a deletion, a reordering or a splice of two
ledgers shows when `mpota audit` walks the chain.

Pure functions of bytes here (make a record, check a chain); reading,
locking and appending the file is in append() and read().
"""

import fcntl
import hashlib
import json
import os
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import keys
from .errors import CommandError

VERSION = 1
GENESIS_PREV = "0" * 64
MAX_LINE = 16384  # a record is a few hundred bytes; a longer line is not one
FIELDS = ("v", "ledger", "n", "prev", "at", "who", "action", "subject", "keys", "signer",
          "public", "sig")


def canonical(obj):
    """The one byte form of a record: sorted keys, no spaces, ASCII."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def line_hash(line):
    """The hash the next record names as `prev`: SHA-256 of the line."""
    return hashlib.sha256(line).hexdigest()


def make(prev_record, prev_line, at, who, action, subject, key_ids, signer):
    """The next record's line (bytes, no newline). prev_record None: the
    ledger's first record, which gives the ledger its random id."""
    rec = {"v": VERSION, "n": 0 if prev_record is None else prev_record["n"] + 1,
           "ledger": secrets.token_hex(16) if prev_record is None else prev_record["ledger"],
           "prev": GENESIS_PREV if prev_record is None else line_hash(prev_line),
           "at": int(at), "who": who, "action": action, "subject": subject,
           "keys": sorted(key_ids), "signer": keys.key_id_hex(signer.public),
           "public": bytes(signer.public).hex()}
    rec["sig"] = bytes(signer.sign(canonical(rec))).hex()
    return canonical(rec)


class Broken(Exception):
    """The ledger fails a check: which record (0-based line) and why."""

    def __init__(self, n, why):
        Exception.__init__(self, "record {}: {}".format(n, why))
        self.n = n
        self.why = why


def parse(line, n):
    """One line as a record dict, or Broken."""
    if len(line) > MAX_LINE:
        raise Broken(n, "longer than {} bytes".format(MAX_LINE))
    try:
        rec = json.loads(line.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Broken(n, "not a JSON record")
    if not isinstance(rec, dict) or sorted(rec) != sorted(FIELDS):
        raise Broken(n, "not a ledger record (fields)")
    if canonical(rec) != line:
        raise Broken(n, "not in canonical form (edited by hand?)")
    if rec["v"] != VERSION:
        raise Broken(n, "version {} (this mpota reads {})".format(rec["v"], VERSION))
    for name, kind in (("n", int), ("at", int), ("who", str), ("action", str), ("subject", dict),
                       ("keys", list), ("ledger", str), ("prev", str), ("signer", str),
                       ("public", str), ("sig", str)):
        if not isinstance(rec[name], kind) or isinstance(rec[name], bool):
            raise Broken(n, "{} is not a {}".format(name, kind.__name__))
    return rec


def _signature_ok(rec):
    try:
        public = bytes.fromhex(rec["public"])
        sig = bytes.fromhex(rec["sig"])
        body = dict(rec)
        del body["sig"]
        Ed25519PublicKey.from_public_bytes(public).verify(sig, canonical(body))
    except (ValueError, InvalidSignature):
        return False
    return keys.key_id_hex(public) == rec["signer"]


def check(lines, trusted=None):
    """Walk the chain; return the records, or raise Broken at the first
    record that does not follow. trusted: key ids allowed to sign (None:
    any key, the chain alone is checked)."""
    records = []
    prev_line = None
    for i, line in enumerate(lines):
        rec = parse(line, i)
        if rec["n"] != i:
            raise Broken(i, "numbered {} (records removed, added or moved)".format(rec["n"]))
        if i == 0:
            if rec["prev"] != GENESIS_PREV:
                raise Broken(i, "the first record names a record before it (the start is gone)")
        else:
            if rec["ledger"] != records[0]["ledger"]:
                raise Broken(i, "belongs to another ledger ({})".format(rec["ledger"][:16]))
            if rec["prev"] != line_hash(prev_line):
                raise Broken(i, "does not follow record {} (changed, removed or moved)".format(i - 1))
            if rec["at"] < records[-1]["at"]:
                raise Broken(i, "earlier than the record before it")
        if not _signature_ok(rec):
            raise Broken(i, "bad signature")
        if trusted is not None and rec["signer"] not in trusted:
            raise Broken(i, "signed by key {}, not one given to trust".format(rec["signer"][:16]))
        records.append(rec)
        prev_line = line
    return records


def read(path):
    """The ledger's lines (bytes, without newlines)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise CommandError("{}: no such ledger".format(path))
    except OSError as e:
        raise CommandError("{}: {}".format(path, e.strerror))
    if data and not data.endswith(b"\n"):
        raise CommandError("{}: the last record is cut short (no newline at the end)".format(path))
    return data.split(b"\n")[:-1]


def append(path, at, who, action, subject, key_ids, signer):
    """Add one record under an exclusive lock; return (record, started),
    started True if this made a new ledger."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as e:
        raise CommandError("ledger {}: {}".format(path, e.strerror))
    with os.fdopen(fd, "r+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        f.seek(0)
        data = f.read()
        if data and not data.endswith(b"\n"):
            raise CommandError("ledger {}: the last record is cut short; run mpota audit".format(path))
        lines = data.split(b"\n")[:-1]
        last = None
        if lines:
            try:
                last = parse(lines[-1], len(lines) - 1)
            except Broken as e:
                raise CommandError("ledger {}: {}; run mpota audit".format(path, e))
        line = make(last, lines[-1] if lines else None, at, who, action, subject, key_ids, signer)
        f.write(line + b"\n")
        f.flush()
        os.fsync(f.fileno())
    return json.loads(line), not lines
