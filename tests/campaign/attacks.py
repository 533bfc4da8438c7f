# SPDX-License-Identifier: MIT
"""Family 3: the TUF/Uptane threat list, one named case each.

Every case offers a device the attacker's bundle (or server) and expects
one refusal, with the running image, the anti-rollback floors and the
trust root untouched and the refusal in the audit log. Controls (a valid
release on each device) show the refusals come from the attack, not from
a broken setup. The device side is tests/campaign/mp/attack.py, all cases
in one MicroPython process.
"""

import hashlib
import json
import shutil
import tempfile
import time
import zlib
from pathlib import Path

import targets
from agent import kit
from bundles import factory as f
from mpota.bundle import format as F
from mpota.state import log as L
from mpota_host import document as D
from mpota_host import writer
from net.serveproc import Serve

from .result import Family

HERE = Path(__file__).resolve().parent
R, A, B, X = kit.R, kit.A, kit.B, kit.X
R2 = f.Key("campaign-r2")
NOW = 1_800_000_000
KB = 1024
IMG1 = kit.image(16 * KB, seed=41)
IMG2 = kit.changed(IMG1, [2, 9], seed=4)
EVIL = kit.image(16 * KB, seed=66)
L_ORDER = 2**252 + 27742317777372353535851937790883648493


def _config():
    return {"device_class": "esp32", "product": "mpota", "hw_rev": "rev-b",
            "target": "firmware", "bank": "flash", "slot_size": 64 * KB, "table_size": 4 * KB,
            "chunk_area": 8 * KB, "flash": {"file": "flash", "sector": 4096, "page": 256,
                                            "write": 1},
            "max_attempts": 3, "retries": 1, "backoff_ms": 0, "now": NOW}


class Tree:
    """The attacker's workshop: bundles written under one directory."""

    def __init__(self, path):
        self.path = Path(path)

    def bundle(self, name, data=EVIL, signers=(A,), **kw):
        kw.setdefault("version", 9)
        kw.setdefault("security_counter", 5)
        kw.setdefault("sequence", 20)
        kw.setdefault("hw_revs", ["rev-b"])
        return kit.bundle(self.path, name, data, signers=signers, **kw)

    def copy(self, src, name):
        return f.copy(src, self.path / name)


def _root(path, doc):
    (path / "roots").mkdir(exist_ok=True)
    (path / "roots" / "2").write_bytes(doc)
    return path


def _flip(path, at):
    data = bytearray(path.read_bytes())
    data[at] ^= 1
    path.write_bytes(bytes(data))


def _malleable(path):
    # S + L: the same signature in another encoding, which a verifier
    # that does not check S < L accepts.
    signed, sigs = D.split((path / "manifest").read_bytes(), F.DOC_MANIFEST)
    kid, sig = sigs[0]
    s = int.from_bytes(sig[32:], "little") + L_ORDER
    (path / "manifest").write_bytes(D.assemble(signed, [(kid, sig[:32] + s.to_bytes(32, "little"))]))
    return path


def _bomb(t, name):
    # A signed chunk whose deflate stream inflates to four times its
    # declared length: the agent stops at the declared length.
    raw = bytes(KB)
    c = zlib.compressobj(9, zlib.DEFLATED, -10)
    stored = c.compress(bytes(4 * KB)) + c.flush()
    stored_sha = hashlib.sha256(stored).digest()
    raw_sha = hashlib.sha256(raw).digest()
    table = writer.entry(F.CODEC_DEFLATE, stored, stored_sha, raw_sha)
    table_sha = hashlib.sha256(table).digest()
    p = f.params(version=9, security_counter=5, sequence=20, chunk_size=KB, compress="deflate",
                 window_bits=10, hw_revs=["rev-b"])
    fields = writer.manifest_fields(p, len(raw), raw_sha, table_sha)
    signed = D.unsigned(F.DOC_MANIFEST, fields)
    path = t.path / name
    (path / "table").mkdir(parents=True)
    (path / "chunks").mkdir()
    (path / "table" / table_sha.hex()).write_bytes(table)
    (path / "chunks" / stored_sha.hex()).write_bytes(stored)
    (path / "manifest").write_bytes(D.assemble(signed, [(A.id, A.sign(signed))]))
    return path


def _swap_files(dst, src_bundle, what):
    # Put another release's files under this release's names.
    if what == "table":
        f.table_file(dst).write_bytes(f.table_file(src_bundle).read_bytes())
        return dst
    mine, theirs = f.chunk_files(dst), f.chunk_files(src_bundle)
    for k, c in enumerate(mine):
        c.write_bytes(theirs[k % len(theirs)].read_bytes())
    return dst


def catalogue(t, base):
    """(name, device, bundle path or server key, expected refusal or
    'installed', root version after). Built into tree t."""
    v1, v2 = base["v1"], base["v2"]
    other = t.bundle("other-release", kit.image(16 * KB, seed=77), version=8,
                     security_counter=5, sequence=19)
    c = []

    def add(name, device, where, expect, root=None):
        c.append((name, device, where, expect, root))

    # Controls: a valid release is installed on every device.
    add("control: a valid release", "v2", t.bundle("control"), "installed")
    add("control: a release signed by both required keys", "threshold",
        t.bundle("control-2", signers=(A, B)), "installed")
    add("control: a release signed by the new update key after rotation", "rotated",
        t.bundle("control-rot", signers=(B,)), "installed")
    add("control: the release over HTTPS with the pinned CA", "v2", "https:good", "installed")

    # Arbitrary software.
    b = t.bundle("unsigned")
    f.resign(b, [], sigs=[])
    add("arbitrary software: unsigned manifest", "v2", b, "below-threshold")
    add("arbitrary software: signed by a key the root does not list", "v2",
        t.bundle("unknown-key", signers=(X,)), "unknown-key")
    b = t.bundle("bad-sig")
    _flip(b / "manifest", -5)
    add("arbitrary software: a signature that does not verify", "v2", b, "bad-signature")
    add("arbitrary software: signed by the root key, not an update key", "v2",
        t.bundle("root-key-signs", signers=(R,)), "unknown-key")
    add("arbitrary software: a malleable signature (S + L)", "v2",
        _malleable(t.bundle("malleable")), "bad-signature")
    b = t.bundle("root-as-manifest")
    (b / "manifest").write_bytes(f.root_doc([R], 1, [A], 1))
    add("arbitrary software: the trust root served as the manifest", "v2", b, "wrong-document")
    b = _swap_files(t.copy(t.bundle("own-files"), "own-files-swapped"), other, "table")
    _swap_files(b, other, "chunks")
    add("arbitrary software: a signed manifest with the attacker's table and chunks", "v2", b,
        "hash-mismatch")

    # Rollback.
    add("rollback: the previous release replayed (lower counter)", "v2", v1, "rollback")
    add("rollback: an older version with a lower counter", "v2",
        t.bundle("older", version=1, security_counter=1), "rollback")
    add("rollback: a newer version number with a lower counter", "v2",
        t.bundle("newer-lower", security_counter=1), "rollback")

    # Freeze and replay.
    add("replay: an older sequence number", "v2",
        t.bundle("old-seq", security_counter=2, sequence=5), "replay")
    add("freeze: an expired manifest", "v2", t.bundle("expired", expires=NOW - 1), "expired")
    add("freeze: an expired trust root published with the release", "v2",
        _root(t.bundle("expired-root"), f.root_doc([R], 1, [A], 1, version=2, expires=NOW - 1,
                                                    signers=[R])), "root-expired", 2)

    # Endless data.
    b = t.bundle("long-chunk")
    victim = f.chunk_files(b)[3]
    victim.write_bytes(victim.read_bytes() + bytes(4 * KB))
    add("endless data: a chunk longer than declared", "v2", b, "too-large")
    b = t.bundle("long-table")
    f.table_file(b).write_bytes(f.table_file(b).read_bytes() + bytes(72))
    add("endless data: a table longer than declared", "v2", b, "too-large")
    b = t.bundle("long-manifest")
    (b / "manifest").write_bytes((b / "manifest").read_bytes() + bytes(2000))
    add("endless data: a manifest over 1609 bytes", "v2", b, "too-large")
    add("endless data: a trust root over 1609 bytes", "v2",
        _root(t.bundle("long-root"), f.root_doc([R], 1, [A], 1, version=2, signers=[R])
              + bytes(2000)), "too-large")
    add("endless data: an image larger than the slot", "v2",
        t.bundle("huge", data=kit.image(80 * KB, seed=5)), "no-room")
    add("endless data: a deflated chunk that inflates past its length", "v2",
        _bomb(t, "bomb"), "too-large")
    add("endless data: an endless body from the server", "v2", "https:endless", "too-large")

    # Mix and match.
    add("mix-and-match: another release's chunks under this release's names", "v2",
        _swap_files(t.copy(t.bundle("mix-chunks"), "mix-chunks-x"), other, "chunks"),
        "hash-mismatch")
    add("mix-and-match: another release's table under this release's name", "v2",
        _swap_files(t.copy(t.bundle("mix-table"), "mix-table-x"), other, "table"),
        "hash-mismatch")
    b = t.copy(other, "mix-manifest")
    shutil.rmtree(b / "table")
    shutil.copytree(t.bundle("mix-own") / "table", b / "table")
    add("mix-and-match: this manifest with another release's table", "v2", b, "missing-table")

    # Not for this device.
    add("wrong device class", "v2", t.bundle("class", device_class="rp2040"),
        "wrong-device-class")
    add("wrong hardware revision", "v2", t.bundle("hw", hw_revs=["rev-a"]), "wrong-hw-rev")
    add("wrong product", "v2", t.bundle("product", product="toaster"), "wrong-product")
    add("wrong target (an app image for a firmware slot)", "v2",
        t.bundle("target", target="app"), "wrong-target")
    add("an agent too old for the release", "v2", t.bundle("agent", min_agent=99),
        "agent-too-old")

    # Key thresholds (root: update keys A and B, threshold 2).
    add("key below threshold: one of two required keys", "threshold",
        t.bundle("one-key", signers=(A,)), "below-threshold")
    b = t.bundle("twice")
    signed, sigs = D.split((b / "manifest").read_bytes(), F.DOC_MANIFEST)
    (b / "manifest").write_bytes(D.assemble(signed, sigs + sigs))
    add("key below threshold: one key's signature twice", "threshold", b, "below-threshold")
    add("key below threshold: the second signature by an unknown key", "threshold",
        t.bundle("plus-unknown", signers=(A, X)), "below-threshold")

    # Revoked keys (root 2: root key R2, update key B; R and A dropped).
    add("revoked key: signed by the update key the current root dropped", "rotated",
        t.bundle("revoked-update", signers=(A,)), "unknown-key")
    b = t.bundle("revoked-root", signers=(X,))
    (b / "roots").mkdir()
    (b / "roots" / "3").write_bytes(f.root_doc([R], 1, [X], 1, version=3, signers=[R]))
    add("revoked key: a rotation signed by the root key the current root dropped", "rotated",
        b, "unknown-key")

    # Forged root rotations (device on root 1: root key R, update key A).
    def forged(name, doc, expect):
        add("forged rotation: " + name, "v2",
            _root(t.bundle("forged-" + str(len(c)), signers=(X,)), doc), expect)

    forged("signed by an update key", f.root_doc([X], 1, [X], 1, version=2, signers=[A]),
           "unknown-key")
    forged("signed by the attacker", f.root_doc([X], 1, [X], 1, version=2, signers=[X]),
           "unknown-key")
    forged("not signed by its own new root key",
           f.root_doc([X], 1, [X], 1, version=2, signers=[R]), "unknown-key")
    forged("a version skipped (roots/2 holds 3)",
           f.root_doc([R], 1, [X], 1, version=3, signers=[R]), "wrong-root-version")
    forged("a version going back (roots/2 holds 1)",
           f.root_doc([R], 1, [X], 1, version=1, signers=[R]), "wrong-root-version")
    doc = bytearray(f.root_doc([R], 1, [X], 1, version=2, signers=[R]))
    doc[-3] ^= 1
    forged("a signature that does not verify", bytes(doc), "bad-signature")
    forged("a manifest served as the root", (v2 / "manifest").read_bytes(), "wrong-document")

    # TLS.
    add("TLS: a server certificate from another CA", "v2", "https:impostor", "tls")
    add("TLS: a certificate for another host name", "v2", "https:wrong-name", "tls")
    add("TLS: plain HTTP when the device does not allow it", "v2", "http:plain", "tls")
    return c


def _devices(t):
    root1 = kit.root(t.path)
    t_root = t.path / "root-threshold"
    t_root.write_bytes(f.root_doc([R], 1, [A, B], 2))
    v1 = kit.bundle(t.path, "v1", IMG1, version=1, security_counter=1, sequence=11,
                    hw_revs=["rev-b"])
    v2 = kit.bundle(t.path, "v2", IMG2, version=2, security_counter=2, sequence=12)
    v1t = kit.bundle(t.path, "v1-threshold", IMG1, signers=(A, B), version=1,
                     security_counter=1, sequence=11)
    rot = _root(kit.bundle(t.path, "v2-rotate", IMG2, signers=(B,), version=2,
                           security_counter=2, sequence=12),
                f.root_doc([R2], 1, [B], 1, version=2, signers=[R, R2]))
    cfg = _config()
    devices = {
        "v2": {"config": cfg, "root": str(root1), "first": str(v1), "then": [str(v2)]},
        "threshold": {"config": cfg, "root": str(t_root), "first": str(v1t), "then": []},
        "rotated": {"config": cfg, "root": str(root1), "first": str(v1), "then": [str(rot)]},
    }
    return devices, {"v1": v1, "v2": v2}


_CODE = """
import json
from attack import attacks
with open({path!r}) as f:
    attacks(json.load(f))
"""


def judge(expect, root_after, r):
    got, before, after = r["got"], r["before"], r["after"]
    bad = []
    if expect == "installed":
        if got.get("outcome") != "installed":
            bad.append("not installed: {}".format(got))
        if after["trial"] == 255:
            bad.append("no trial pending after the install")
    elif got.get("refused") != expect:
        bad.append("expected {}, got {}".format(expect, got.get("refused", got.get("outcome"))))
    keep = ("active", "version", "min_counter", "last_sequence", "running_sha", "active_sha")
    if expect != "installed":
        keep += ("trial",)
    for k in keep:
        if before[k] != after[k]:
            bad.append("{} changed: {} -> {}".format(k, before[k], after[k]))
    if after["running_sha"] != after["active_sha"]:
        bad.append("the running slot does not hold the active image")
    want_root = root_after or before["root"]
    if expect == "installed" and after["root"] != before["root"]:
        bad.append("root changed")
    if after["root"] != want_root or after["root_version"] != want_root:
        bad.append("root {} (state says {}), expected {}".format(
            after["root"], after["root_version"], want_root))
    if got.get("kind") in ("BundleError", "AgentError") and \
            after["last_failure"] != L.reason_code(expect):
        bad.append("refusal not in the audit log")
    return bad


def run(full=True, jobs=None):
    """All cases at every size: the list is the threat list (full and
    sample alike)."""
    fam = Family("attacks")
    t0 = time.time()
    target = targets.unix()
    target.check()
    with tempfile.TemporaryDirectory(prefix="mpota-attack-") as tmp:
        work = Path(tmp)
        t = Tree(work / "tree")
        t.path.mkdir()
        devices, base = _devices(t)
        cases = catalogue(t, base)
        with Serve(t.path) as good, \
                Serve(t.path, "--state", str(work / "impostor")) as impostor, \
                Serve(t.path, "--fault", "endless", "--fault-on", "/stream/") as endless, \
                Serve(t.path, "--http") as plain:
            # Same CA as `good`, certificate for another name only.
            with Serve(t.path, "--name", "elsewhere.invalid") as elsewhere:
                urls = {"good": good.url, "impostor": impostor.url, "endless": endless.url,
                        "wrong-name": "https://127.0.0.1:{}/".format(elsewhere.port),
                        "plain": plain.url}
                spec_cases = []
                for name, device, where, expect, root in cases:
                    case = {"name": name, "device": device}
                    if isinstance(where, str) and where.split(":")[0] in ("https", "http"):
                        server = where.split(":")[1]
                        case["url"] = urls[server] + "control/"
                        case["ca"] = good.ca_der
                    else:
                        case["bundle"] = str(where)
                    spec_cases.append(case)
                spec = {"base": str(work / "dev"), "devices": devices, "cases": spec_cases}
                (work / "dev").mkdir()
                path = work / "spec.json"
                path.write_text(json.dumps(spec))
                out = kit.run(target, _CODE.format(path=str(path)), timeout=600,
                              extra_path=[HERE / "mp"])["cases"]
        for (name, device, where, expect, root), r in zip(cases, out):
            fam.add(name, judge(expect, root, r))
    fam.figures["threats"] = "{} attack cases and {} controls".format(
        sum(1 for c in cases if not c[0].startswith("control")),
        sum(1 for c in cases if c[0].startswith("control")))
    fam.seconds = time.time() - t0
    return fam
