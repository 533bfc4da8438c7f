# SPDX-License-Identifier: MIT
"""Family 4: fuzzing the manifest and root parsers and the trust decisions.

Three engines over the same code (mpota.bundle, as the device runs it):

- hypothesis on CPython: arbitrary bytes, structured documents (fields
  drawn tag by tag, then signed, so the parser behind the signature check
  is reached), byte mutations of valid signed documents, chunk tables.
  Oracles: only BundleError comes out; what is accepted obeys the spec
  (values in range, the device's facts, thresholds met by the keys that
  really signed, an independent field reader agrees); a mutant of a signed
  document is never accepted; each call stays under bounds on its work,
  counted (function calls, signature checks, tracemalloc's allocation
  peak), never timed.
- atheris, if build/atheris holds it (`make campaign` tries to install
  it there; optional): coverage-guided, from a corpus of valid documents.
- a mutation loop under the MicroPython unix build with a small heap
  (tests/campaign/mp/mutate.py).
"""

import hashlib
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

import targets
from agent import kit
from bundles import factory as f
from mpota import crypto
from mpota.bundle import format as F
from mpota.bundle import table as T
from mpota.bundle import trust
from mpota.bundle.error import BundleError
from mpota_host import document as D
from mpota_host import writer
from mpota_host.errors import CommandError

from .result import Family

HERE = Path(__file__).resolve().parent
ATHERIS = f.REPO / "build" / "atheris"
R, A, B, X = kit.R, kit.A, kit.B, kit.X
POOL = (R, A, B, X)
ROOT1_DOC = f.root_doc([R], 1, [A], 1)
ROOT1 = trust.load_root(ROOT1_DOC)
NOW = 1_800_000_000
FACTS = dict(now=NOW, product="mpota", device_class="esp32", hw_rev="rev-b", target=1,
             agent_version=1, min_security_counter=3, last_sequence=7)
# What one parse or trust decision may do, counted, never timed (a busy
# machine must not turn into findings): the Python and built-in function
# calls it makes outside signature checks (sys.setprofile), the signature
# checks (a rotation checks the document against two roots), and the
# allocation peak (tracemalloc). On 2026-12-06 the most calls any sampled
# input took was under 100: work linear in a document's bytes stays well
# under the bound, work quadratic in them does not.
CALL_OPS = 2 * F.MAX_DOC
CALL_SIGS = 2 * F.MAX_SIGS
CALL_BYTES = 64 * 1024
# -X heapsize of the MicroPython loop: on 2026-12-06 the loop needs 88 KB
# from .py sources (64 KB was too little to import in 2026-11).
MP_HEAP = 104 * 1024
# What one round of the MicroPython loop (3 calls) may allocate, counted by
# micropython.mem_total(), and its signature checks.
ROUND_BYTES = 64 * 1024
ROUND_SIGS = 3 * CALL_SIGS

# Sizes: (hypothesis examples per target, atheris runs per target,
# MicroPython mutation rounds).
FULL = (4000, 150000, 300000)
SAMPLE = (150, 0, 6000)

_MANIFEST_LEN = {F.T_PRODUCT: 5, F.T_DEVICE_CLASS: 5, F.T_HW_REV: 5, F.T_TARGET: 1,
                 F.T_VERSION: 4, F.T_LABEL: 2, F.T_SECURITY_COUNTER: 4, F.T_SEQUENCE: 4,
                 F.T_EXPIRES: 8, F.T_MIN_AGENT: 4, F.T_IMAGE_SIZE: 4, F.T_IMAGE_SHA256: 32,
                 F.T_CHUNK_SIZE: 4, F.T_TABLE_SHA256: 32, F.T_WINDOW_BITS: 1,
                 F.T_ENCRYPTION: F.ENCRYPTION_SIZE}
_ROOT_LEN = {F.T_ROOT_VERSION: 4, F.T_ROOT_KEY: 32, F.T_ROOT_THRESHOLD: 1,
             F.T_UPDATE_KEY: 32, F.T_UPDATE_THRESHOLD: 1, F.T_ROOT_EXPIRES: 8}


class Finding(Exception):
    """An oracle of this family was broken."""


class _Work:
    """Counts what a call does: function calls (Python and built-in) outside
    signature checks, and signature checks. Deterministic for a given input,
    whatever the machine's load."""

    def __init__(self):
        self.ops = 0
        self.sigs = 0
        self._inside = 0

    def profile(self, frame, event, arg):
        if not self._inside and (event == "call" or event == "c_call"):
            self.ops += 1

    def verify(self, real):
        def counted(*args):
            self.sigs += 1
            self._inside += 1
            try:
                return real(*args)
            finally:
                self._inside -= 1

        return counted


def _bounded(fn, *args):
    """fn(*args) under the work and allocation bounds; its value, or the
    BundleError's reason. Anything else propagates (a finding)."""
    work = _Work()
    real = crypto.verify
    crypto.verify = work.verify(real)
    was = sys.getprofile()
    tracemalloc.start()
    sys.setprofile(work.profile)
    try:
        try:
            out = fn(*args)
        except BundleError as e:
            out = e.reason
    finally:
        sys.setprofile(was)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        crypto.verify = real
    if work.ops > CALL_OPS:
        raise Finding("{} made {} calls".format(fn.__name__, work.ops))
    if work.sigs > CALL_SIGS:
        raise Finding("{} checked {} signatures".format(fn.__name__, work.sigs))
    if peak > CALL_BYTES:
        raise Finding("{} allocated {} bytes".format(fn.__name__, peak))
    return out


def _fields_by_tag(doc):
    out = {}
    for tag, pos, n in f.fields(doc):
        out.setdefault(tag, []).append(bytes(doc[pos:pos + n]))
    return out


def _check_manifest(m, doc, facts=None):
    """What the spec promises about an accepted manifest."""
    fields = _fields_by_tag(doc)
    u = int.from_bytes
    want = {F.T_VERSION: m.version, F.T_SECURITY_COUNTER: m.security_counter,
            F.T_SEQUENCE: m.sequence, F.T_IMAGE_SIZE: m.image_size,
            F.T_CHUNK_SIZE: m.chunk_size, F.T_TARGET: m.target}
    for tag, value in want.items():
        if [u(v, "big") for v in fields.get(tag, [])] != [value]:
            raise Finding("field 0x{:02x} read as {}".format(tag, value))
    for text in (m.product, m.device_class, m.label) + tuple(m.hw_revs):
        if not all(0x20 <= ord(c) <= 0x7E for c in text):
            raise Finding("text field not printable: {!r}".format(text))
    if not m.product or not m.device_class or len(m.hw_revs) > F.MAX_HW_REVS:
        raise Finding("identifiers out of range")
    cs = m.chunk_size
    if cs & (cs - 1) or not F.MIN_CHUNK_SIZE <= cs <= F.MAX_CHUNK_SIZE:
        raise Finding("chunk size {}".format(cs))
    if m.target not in (F.TARGET_FIRMWARE, F.TARGET_APP) or m.image_size > F.MAX_IMAGE_SIZE:
        raise Finding("target or image size out of range")
    if m.window_bits and not F.MIN_WINDOW_BITS <= m.window_bits <= F.MAX_WINDOW_BITS:
        raise Finding("window bits {}".format(m.window_bits))
    if facts:
        if m.device_class != facts["device_class"] or m.product != facts["product"]:
            raise Finding("accepted for another device")
        if m.hw_revs and facts["hw_rev"] not in m.hw_revs:
            raise Finding("accepted for another hardware revision")
        if m.security_counter < facts["min_security_counter"]:
            raise Finding("accepted below the security counter")
        if m.sequence < facts["last_sequence"]:
            raise Finding("accepted an older sequence")
        if m.expires is not None and m.expires <= facts["now"]:
            raise Finding("accepted an expired manifest")
        if m.min_agent > facts["agent_version"]:
            raise Finding("accepted for a newer agent")


def _check_root(r, doc, signers, version=None):
    if version is not None and r.version != version:
        raise Finding("root version {} accepted, {} expected".format(r.version, version))
    if not 1 <= r.root_threshold <= len(r.root_keys) or \
            not 1 <= r.update_threshold <= len(r.update_keys):
        raise Finding("threshold out of range")
    signed_root_keys = {k.public for k in signers} & set(r.root_keys)
    if len(signed_root_keys) < r.root_threshold:
        raise Finding("root accepted with {} of {} root key signatures".format(
            len(signed_root_keys), r.root_threshold))


# Strategies ------------------------------------------------------------------


def _value(draw, n):
    return draw(st.one_of(st.binary(min_size=n, max_size=n),
                          st.just(b"mpota"[:n].ljust(n, b"a")),
                          st.just(bytes(n)),
                          st.binary(max_size=40)))


_BASE_MANIFEST = {
    F.T_PRODUCT: b"mpota", F.T_DEVICE_CLASS: b"esp32", F.T_TARGET: b"\x01",
    F.T_VERSION: (9).to_bytes(4, "big"), F.T_SECURITY_COUNTER: (5).to_bytes(4, "big"),
    F.T_SEQUENCE: (9).to_bytes(4, "big"), F.T_IMAGE_SIZE: (4096).to_bytes(4, "big"),
    F.T_IMAGE_SHA256: bytes(32), F.T_CHUNK_SIZE: (1024).to_bytes(4, "big"),
    F.T_TABLE_SHA256: bytes(32)}


@st.composite
def manifest_fields(draw):
    """Fields of a manifest: a valid set edited a few times (a value
    changed, a field dropped, wrong lengths, hardware revisions, optional
    and unknown tags), then usually put in order."""
    fields = [(t, v) for t, v in _BASE_MANIFEST.items()]
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.integers(0, 5))
        if op == 0:  # a known field, a new value of its length
            tag = draw(st.sampled_from(sorted(_MANIFEST_LEN)))
            n = _MANIFEST_LEN[tag]
            if n in (1, 4, 8) and draw(st.booleans()):
                v = draw(st.one_of(st.integers(0, 16), st.integers(0, 2**(8 * n) - 1),
                                   st.just(1 << (8 * n - 1))))
                if n == 4 and draw(st.booleans()):
                    v = 1 << draw(st.integers(0, 31))
                value = v.to_bytes(n, "big")
            else:
                value = _value(draw, n)
            fields = [(t, v) for t, v in fields if t != tag] + [(tag, value)]
        elif op == 1 and fields:  # one dropped
            del fields[draw(st.integers(0, len(fields) - 1))]
        elif op == 2:  # hardware revisions, label, expiry, agent
            tag = draw(st.sampled_from([F.T_HW_REV, F.T_LABEL, F.T_EXPIRES, F.T_MIN_AGENT,
                                        F.T_WINDOW_BITS]))
            for _ in range(draw(st.integers(1, 3)) if tag == F.T_HW_REV else 1):
                value = draw(st.sampled_from([b"rev-b", b"rev-a", b"", b"r e v"])) \
                    if tag == F.T_HW_REV else _value(draw, _MANIFEST_LEN[tag])
                if tag == F.T_EXPIRES and draw(st.booleans()):
                    value = draw(st.integers(NOW - 2, NOW + 2)).to_bytes(8, "big")
                elif tag != F.T_HW_REV and tag != F.T_LABEL and draw(st.booleans()):
                    value = draw(st.integers(0, 16)).to_bytes(_MANIFEST_LEN[tag], "big")
                fields.append((tag, value))
        elif op == 3:  # an optional tag (skipped) or an unknown critical one
            fields.append((draw(st.integers(0x10, 0xFF)), draw(st.binary(max_size=20))))
        elif op == 4:  # a known tag with a wrong length
            tag = draw(st.sampled_from(sorted(_MANIFEST_LEN)))
            fields.append((tag, draw(st.binary(max_size=40))))
        else:  # a field repeated
            if fields:
                fields.append(fields[draw(st.integers(0, len(fields) - 1))])
    if draw(st.integers(0, 9)):
        fields.sort(key=lambda tv: tv[0])
    return fields


@st.composite
def root_fields(draw):
    """(fields, the keys that sign it) of a root: mostly well formed, with
    distinct keys and thresholds in range, sometimes not."""
    pool = list(POOL)
    version = draw(st.sampled_from([2, 2, 2, 1, 3, 0]))
    root_keys = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))
    update_keys = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))
    if not draw(st.integers(0, 7)):
        root_keys.append(root_keys[0])  # a key listed twice
    rt = draw(st.integers(1, len(root_keys))) if draw(st.integers(0, 7)) else \
        draw(st.sampled_from([0, len(root_keys) + 1]))
    ut = draw(st.integers(1, len(update_keys))) if draw(st.integers(0, 7)) else \
        draw(st.sampled_from([0, len(update_keys) + 1]))
    fields = [(F.T_ROOT_VERSION, version.to_bytes(4, "big"))]
    fields += [(F.T_ROOT_KEY, k.public) for k in root_keys]
    fields.append((F.T_ROOT_THRESHOLD, bytes((rt,))))
    fields += [(F.T_UPDATE_KEY, k.public) for k in update_keys]
    fields.append((F.T_UPDATE_THRESHOLD, bytes((ut,))))
    if draw(st.booleans()):
        fields.append((F.T_ROOT_EXPIRES, draw(st.integers(0, 2 * NOW)).to_bytes(8, "big")))
    if not draw(st.integers(0, 4)):
        fields.insert(draw(st.integers(0, len(fields))),
                      (draw(st.integers(0, 255)), draw(st.binary(max_size=34))))
    # Usually R (the current root key) and the new root keys sign; not always.
    signers = set(k for k in root_keys if draw(st.integers(0, 4)))
    if draw(st.integers(0, 4)):
        signers.add(R)
    signers |= draw(st.sets(st.sampled_from(pool), max_size=2))
    return fields, sorted(signers, key=lambda k: k.name)


def _doc(doc_type, fields, signers):
    try:
        signed = D.unsigned(doc_type, [D.field(t, v) for t, v in fields])
    except CommandError:
        return None, ()
    return D.assemble(signed, [(k.id, k.sign(signed)) for k in signers]), signers


def _mutants(draw, doc):
    doc = bytearray(doc)
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.integers(0, 4))
        at = draw(st.integers(0, max(0, len(doc) - 1)))
        if how == 0 and doc:
            doc[at] ^= 1 << draw(st.integers(0, 7))
        elif how == 1 and doc:
            doc[at] = draw(st.integers(0, 255))
        elif how == 2:
            doc[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif how == 3 and doc:
            del doc[at:at + draw(st.integers(1, 16))]
        else:
            doc = doc[:at]
    return bytes(doc)


# The hypothesis targets ------------------------------------------------------


def _targets():
    valid = f.params(version=9, security_counter=5, sequence=9, hw_revs=["rev-b"], label="v9")
    signed = D.unsigned(F.DOC_MANIFEST, writer.manifest_fields(valid, 4096, bytes(32), bytes(32)))
    good_manifest = D.assemble(signed, [(A.id, A.sign(signed))])
    good_root2 = f.root_doc([R, B], 2, [A], 1, version=2, signers=[R, B])

    def parse_manifest(doc):
        return F.manifest(doc, F.frame(doc, F.DOC_MANIFEST))

    def parse_root(doc):
        return F.root(doc, F.frame(doc, F.DOC_ROOT))

    def verify(doc):
        return trust.verify_manifest(ROOT1, doc, **FACTS)

    def rotate(doc):
        return trust.rotate(ROOT1, doc)

    def any_bytes(data):
        for prefix in (b"", b"MPOT\x01\x01", b"MPOT\x01\x02"):
            doc = prefix + data
            m = _bounded(parse_manifest, doc)
            if not isinstance(m, str):
                _check_manifest(m, doc)
            r = _bounded(parse_root, doc)
            if not isinstance(r, str) and not 1 <= r.root_threshold <= len(r.root_keys):
                raise Finding("root parsed with an impossible threshold")
            for fn in (verify, trust.load_root, rotate):
                if not isinstance(_bounded(fn, doc), str):
                    raise Finding("{} accepted unsigned bytes".format(fn.__name__))

    def structured_manifest(fields, signers):
        doc, who = _doc(F.DOC_MANIFEST, fields, signers)
        if doc is None:
            return
        m = _bounded(verify, doc)
        if not isinstance(m, str):
            if A not in who:
                raise Finding("manifest accepted without the update key's signature")
            _check_manifest(m, doc, FACTS)

    def structured_root(fields_signers):
        doc, who = _doc(F.DOC_ROOT, *fields_signers)
        if doc is None:
            return
        r = _bounded(trust.load_root, doc)
        if not isinstance(r, str):
            _check_root(r, doc, who)
        r = _bounded(rotate, doc)
        if not isinstance(r, str):
            if R not in who:
                raise Finding("rotation accepted without the current root key")
            _check_root(r, doc, who, version=2)

    def mutated(data):
        for doc, fn in ((good_manifest, verify), (good_root2, rotate),
                        (ROOT1_DOC, trust.load_root)):
            m = _mutants(data.draw, doc)
            got = _bounded(fn, m)
            if m != doc and not isinstance(got, str):
                raise Finding("{} accepted a mutant: {}".format(fn.__name__, m.hex()))

    def chunk_table(data):
        n = data.draw(st.integers(1, 6))
        cs = 1024
        size = data.draw(st.integers((n - 1) * cs + 1, n * cs))
        entries = []
        # An encrypted bundle's table (docs/FORMAT.md, "Encryption"):
        # stored lengths in whole AES blocks.
        sealed = data.draw(st.booleans())
        for i in range(n):
            raw = min(cs, size - i * cs)
            e = bytearray(data.draw(st.binary(min_size=72, max_size=72)))
            if data.draw(st.booleans()):
                e[0:4] = bytes((data.draw(st.integers(0, 2)), 0, 0, 0))
                stored = raw if e[0] != 1 else data.draw(st.integers(0, raw + 2))
                if sealed:
                    most = -(-raw // 16) * 16
                    stored = data.draw(st.sampled_from([stored, most, stored // 16 * 16, most + 16]))
                e[4:8] = stored.to_bytes(4, "big")
                if e[0] == 0 and data.draw(st.booleans()):
                    e[40:72] = e[8:40]
            entries.append(bytes(e))
        table = b"".join(entries)
        if data.draw(st.booleans()):
            table = _mutants(data.draw, table)
        window = data.draw(st.sampled_from([0, 9, 12]))
        p = f.params(chunk_size=cs, compress="deflate" if window else "none",
                     window_bits=window or 12)
        fields = writer.manifest_fields(p, size, bytes(32), hashlib.sha256(table).digest())
        if sealed:
            at = next((k for k, fd in enumerate(fields) if fd[0] > F.T_ENCRYPTION), len(fields))
            fields.insert(at, D.field(F.T_ENCRYPTION, bytes((F.SUITE_X25519_AES128,)) + bytes(16)))
        signed = D.unsigned(F.DOC_MANIFEST, fields)
        m = trust.verify_manifest(ROOT1, D.assemble(signed, [(A.id, A.sign(signed))]))
        check = T.TableCheck(m)
        cut = data.draw(st.integers(0, len(table)))

        def feed():
            check.update(table[:cut])
            check.update(table[cut:])
            return check.finish()

        if isinstance(_bounded(feed), str):
            return
        # Accepted: every entry obeys the rules of docs/FORMAT.md.
        for i in range(n):
            e = T.Entry()
            e.buf[:] = table[i * 72:(i + 1) * 72]
            e.load(m, i)
            raw = m.chunk_len(i)
            if sealed:
                most = -(-raw // 16) * 16
                if e.stored_len % 16 or not 16 <= e.stored_len <= most:
                    raise Finding("encrypted entry {} accepted outside whole blocks".format(i))
                if e.codec == F.CODEC_NONE and e.stored_len != most:
                    raise Finding("encrypted stored entry {} accepted with a wrong length".format(i))
                if e.codec == F.CODEC_DEFLATE and not m.window_bits:
                    raise Finding("deflate entry {} accepted without a window".format(i))
                if e.codec not in (F.CODEC_NONE, F.CODEC_DEFLATE):
                    raise Finding("unknown codec accepted")
                continue
            if e.codec == F.CODEC_NONE and (e.stored_len != raw or bytes(e.stored_sha) != bytes(e.raw_sha)):
                raise Finding("stored entry {} accepted with lengths or hashes apart".format(i))
            if e.codec == F.CODEC_DEFLATE and not (m.window_bits and 1 <= e.stored_len <= raw):
                raise Finding("deflate entry {} accepted out of range".format(i))
            if e.codec not in (F.CODEC_NONE, F.CODEC_DEFLATE):
                raise Finding("unknown codec accepted")

    return {
        "manifest and root parsers, arbitrary bytes": (any_bytes, (st.binary(max_size=F.MAX_DOC + 4),)),
        "signed manifests built field by field": (
            structured_manifest, (manifest_fields(), st.one_of(
                st.just((A,)), st.lists(st.sampled_from(POOL), max_size=3, unique=True)))),
        "signed roots built field by field": (structured_root, (root_fields(),)),
        "mutations of signed documents": (mutated, (st.data(),)),
        "chunk tables behind a signed manifest": (chunk_table, (st.data(),)),
    }, good_manifest, good_root2


def _counted(fn, count):
    def body(args):
        count[0] += 1
        fn(*args)

    return body


def _hypothesis(fam, examples, rng_seed, only=None, shrink=True):
    targets_, good_manifest, good_root2 = _targets()
    phases = list(Phase) if shrink else [Phase.generate]
    for name, (fn, strategies) in targets_.items():
        if only and name not in only:
            continue
        count = [0]
        test = seed(rng_seed)(settings(max_examples=examples, deadline=None, database=None,
                                       phases=phases, suppress_health_check=list(HealthCheck))(
            given(st.tuples(*strategies))(_counted(fn, count))))
        try:
            test()
            problems = []
        except Exception as e:  # the shrunk counterexample of any finding
            problems = ["{}: {}".format(type(e).__name__, str(e)[:400])]
        fam.merge(count[0], 1 if problems else 0,
                  ["hypothesis, {}: {}".format(name, p) for p in problems])
        fam.figures["hypothesis " + name] = "{} examples".format(count[0])
    return good_manifest, good_root2


# atheris (optional) ----------------------------------------------------------

_ATHERIS = r'''
import sys
sys.path[:0] = [{atheris!r}, {firmware!r}]
import atheris
with atheris.instrument_imports():
    from mpota.bundle import format as F, trust
    from mpota.bundle.error import BundleError
ROOT = trust.load_root(open({root!r}, "rb").read())
def one(data):
    for kind in (F.DOC_MANIFEST, F.DOC_ROOT):
        try:
            signed = F.frame(data, kind)
            (F.manifest if kind == F.DOC_MANIFEST else F.root)(data, signed)
        except BundleError:
            pass
    for fn in (lambda d: trust.verify_manifest(ROOT, d), trust.load_root,
               lambda d: trust.rotate(ROOT, d)):
        try:
            fn(data)
        except BundleError:
            continue
        if data not in ({good!r}, {root_bytes!r}, {root2!r}):
            raise AssertionError("accepted: " + data.hex())
atheris.Setup([sys.argv[0], "-runs={runs}", "-max_len=1700", "-seed={seed}", {corpus!r}], one)
atheris.Fuzz()
'''


def _atheris(fam, runs, good_manifest, good_root2, work):
    if not runs:
        return
    if not (ATHERIS / "atheris").is_dir():
        fam.figures["atheris"] = "not installed in build/atheris: skipped"
        return
    corpus = work / "corpus"
    corpus.mkdir()
    for name, doc in (("manifest", good_manifest), ("root", ROOT1_DOC), ("root2", good_root2)):
        (corpus / name).write_bytes(doc)
    (work / "root").write_bytes(ROOT1_DOC)
    code = _ATHERIS.format(atheris=str(ATHERIS), firmware=str(f.FIRMWARE), root=str(work / "root"),
                           good=good_manifest, root_bytes=ROOT1_DOC, root2=good_root2,
                           runs=runs, seed=1, corpus=str(corpus))
    t = time.time()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=1800, cwd=work)
    done = [line for line in proc.stderr.splitlines() if "DONE" in line]
    problems = [] if proc.returncode == 0 and done else \
        ["atheris exit {}: {}".format(proc.returncode, proc.stderr[-800:])]
    fam.merge(runs, 1 if problems else 0, problems)
    fam.figures["atheris"] = "{} runs in {:.0f} s ({})".format(
        runs, time.time() - t, done[-1].split("DONE")[1].strip() if done else "no summary")


# MicroPython -----------------------------------------------------------------

_MP = """
import json
from mutate import mutate
with open({path!r}) as f:
    mutate(json.load(f))
"""


def _micropython(fam, rounds, good_manifest, good_root2, work, rng_seed, sabotage=None):
    if not rounds:
        return
    for name, doc in (("manifest", good_manifest), ("root", ROOT1_DOC), ("root2", good_root2)):
        (work / ("mp-" + name)).write_bytes(doc)
    spec = {"manifest": str(work / "mp-manifest"), "root": str(work / "mp-root"),
            "root2": str(work / "mp-root2"), "count": rounds, "seed": rng_seed,
            "round_bytes": ROUND_BYTES, "round_sigs": ROUND_SIGS, "leak_bytes": 4096,
            "sabotage": sabotage}
    path = work / "mutate.json"
    path.write_text(json.dumps(spec))
    t = time.time()
    try:
        r = kit.run(targets.unix(), _MP.format(path=str(path)), heapsize=MP_HEAP,
                    timeout=3600, extra_path=[HERE / "mp"])
    except targets.TargetError as e:  # a MemoryError or a crash of the loop itself
        fam.merge(rounds, 1, ["micropython loop: {}".format(str(e)[-600:])])
        return
    fam.merge(r["rounds"], r["failed"], ["micropython (seed {}): {}".format(rng_seed, x)
                                         for x in r["failures"]])
    fam.figures["micropython mutation loop"] = (
        "{} rounds (3 calls each) in {:.0f} s at -X heapsize={}, most allocated in a round "
        "{} bytes (bound {}), most signature checks in a round {}, heap after collection "
        "at most {} bytes above the start; verdicts {}".format(
            r["rounds"], time.time() - t, MP_HEAP, r["most_bytes"], ROUND_BYTES, r["most_sigs"],
            r["heap"]["after_collect_peak"], json.dumps(r["verdicts"], sort_keys=True)))


def run(full=True, jobs=None, rng_seed=20261122):
    fam = Family("fuzz")
    t0 = time.time()
    examples, runs, rounds = FULL if full else SAMPLE
    with tempfile.TemporaryDirectory(prefix="mpota-fuzz-") as tmp:
        work = Path(tmp)
        good_manifest, good_root2 = _hypothesis(fam, examples, rng_seed)
        _atheris(fam, runs, good_manifest, good_root2, work)
        _micropython(fam, rounds, good_manifest, good_root2, work, rng_seed)
    fam.seconds = time.time() - t0
    return fam

