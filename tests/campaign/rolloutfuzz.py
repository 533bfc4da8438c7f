# SPDX-License-Identifier: MIT
"""Family 5: fuzzing the staged-rollout documents (docs/ROLLOUT.md): the
plan, control and revocation-list parsers and their trust decisions, as
the device runs them.

- hypothesis on CPython: arbitrary bytes; structured documents (fields
  drawn tag by tag, then signed with the right role's key, so the parser
  behind the signature check is reached); byte mutations of valid signed
  documents. Oracles: only BundleError comes out; what is accepted obeys
  the spec (waves in order and under the ceiling, states and caps in
  range, versions and expiry against the device's); a mutant is never
  accepted; no document passes as another kind; each call's signature
  checks and allocation peak are bounded (counted, never timed).
- a mutation loop under the MicroPython unix build with a small heap
  (tests/campaign/mp/mutate_rollout.py).
"""

import json
import tempfile
import time
import tracemalloc
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

import targets
from agent import kit
from mpota import crypto
from mpota.bundle import format as F
from mpota.bundle import rollout as _loaded  # noqa: F401  (imported before any call is measured)
from mpota.bundle import trust
from mpota.bundle.error import BundleError
from mpota_host import document as D
from rollouts import docs

from .result import Family

HERE = Path(__file__).resolve().parent
ROOT_DOC = docs.root()
ROOT = trust.load_root(ROOT_DOC)
NOW = 1_800_000_000
KEYS = {F.DOC_PLAN: docs.A, F.DOC_CONTROL: docs.C, F.DOC_REVOKED: docs.A}
CALL_SIGS = F.MAX_SIGS
CALL_BYTES = 64 * 1024
# -X heapsize of the MicroPython loop. Not a measure of need: the loop
# imports the agent from .py sources, and where the compiled code lands
# (file paths are part of it) decides whether its buffers find room. On
# 2026-12-06 112 KB and 128-136 KB failed in an import, 120 KB and 144 KB
# up passed: 160 KB keeps that jitter out of the fuzz verdict.
MP_HEAP = 160 * 1024
ROUND_BYTES = 64 * 1024
FULL = (3000, 200000)
SAMPLE = (120, 4000)

_LENGTHS = {
    F.T_PLAN_ID: (1, 32), F.T_PLAN_ISSUED: (8, 8), F.T_PLAN_MANIFEST: (32, 32),
    F.T_PLAN_CLASS: (1, 32), F.T_PLAN_HW_REV: (1, 16), F.T_PLAN_CANARY: (32, 32),
    F.T_PLAN_WAVE: (10, 10), F.T_PLAN_MAX: (2, 2),
    F.T_CTL_VERSION: (4, 4), F.T_CTL_ISSUED: (8, 8), F.T_CTL_EXPIRES: (8, 8),
    F.T_CTL_ENTRY: (39, 39),
    F.T_REV_VERSION: (4, 4), F.T_REV_ISSUED: (8, 8), F.T_REV_IMAGE: (16, 16),
}
_TAGS = {F.DOC_PLAN: [t for t in _LENGTHS if 0x41 <= t <= 0x48],
         F.DOC_CONTROL: [t for t in _LENGTHS if 0x51 <= t <= 0x54],
         F.DOC_REVOKED: [t for t in _LENGTHS if 0x61 <= t <= 0x63]}


def valid_docs():
    plan = docs.plan(b"\x11" * 32, "fuzz", waves=((500, NOW - 10), (10000, NOW + 10)),
                     hw_revs=("a", "b"), canary=(b"\x22" * 32,))
    control = docs.control([(plan, F.STATE_RUN, 2500, 60), (b"\x33" * 32, F.STATE_HALT, 0, 60)],
                           version=4, issued=NOW - 60, expires=NOW + 3600)
    revoked = docs.revoked([b"\x44" * 32, b"\x55" * 32], version=2)
    return {F.DOC_PLAN: plan, F.DOC_CONTROL: control, F.DOC_REVOKED: revoked}


def decide(kind, doc):
    """The device's trust decision for a document of this kind."""
    if kind == F.DOC_PLAN:
        return trust.verify_plan(ROOT, doc)
    if kind == F.DOC_CONTROL:
        return trust.verify_control(ROOT, doc, now=NOW, last_version=3)
    return trust.verify_revoked(ROOT, doc, last_version=2)


def obeys_spec(kind, got):
    """What an accepted document must satisfy (docs/ROLLOUT.md)."""
    problems = []
    if kind == F.DOC_PLAN:
        last = (0, 0)
        for bp, at in got.waves:
            if bp < last[0] or at < last[1] or bp > got.max_bp:
                problems.append("waves out of order or over the ceiling")
            last = (bp, at)
        if not 1 <= got.max_bp <= F.BASIS or not got.waves:
            problems.append("ceiling or waves out of range")
    elif kind == F.DOC_CONTROL:
        if got.version < 3 or NOW >= got.expires:
            problems.append("replayed or expired control accepted")
        for e in got.entries:
            if e.state not in (F.STATE_RUN, F.STATE_PAUSE, F.STATE_HALT) or e.cap_bp > F.BASIS:
                problems.append("entry out of range")
    elif got.version < 2:
        problems.append("rolled-back revocation list accepted")
    return problems


class Bounded:
    """Run one call; record problems: an exception other than
    BundleError, or more work than the bounds allow."""

    def __init__(self):
        self.sigs = 0
        real = crypto.verify

        def counting(*args):
            self.sigs += 1
            return real(*args)

        self.real = real
        crypto.verify = counting

    def close(self):
        crypto.verify = self.real

    def call(self, fn, problems):
        self.sigs = 0
        tracemalloc.start()
        try:
            return fn()
        except BundleError:
            return None
        except Exception as e:  # what the fuzzer looks for
            problems.append("{}: {}".format(type(e).__name__, e))
            return None
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            if self.sigs > CALL_SIGS or peak > CALL_BYTES:
                problems.append("too much work: {} signature checks, {} bytes".format(
                    self.sigs, peak))


def _structured(draw, kind):
    fields = []
    for tag in sorted(draw(st.lists(st.sampled_from(_TAGS[kind]), max_size=24))):
        lo, hi = _LENGTHS[tag]
        n = draw(st.integers(max(0, lo - 1), hi + 1))
        fields.append(D.field(tag, draw(st.binary(min_size=n, max_size=n))))
    return docs.sign(kind, fields, (KEYS[kind],))


def _hypothesis(fam, examples, rng_seed):
    originals = valid_docs()
    kinds = list(originals)
    bound = Bounded()
    cfg = settings(max_examples=examples, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck), phases=[Phase.generate])

    def check(name, body):
        problems = []

        @seed(rng_seed)
        @cfg
        @given(st.data())
        def run(data):
            problems.extend(body(data))
            fam.tried += 1

        try:
            run()
        except Exception as e:  # hypothesis reports the first failing example
            problems.append("{}: {}".format(type(e).__name__, str(e)[:300]))
        if problems:
            fam.failed += 1
            fam.failures.append("{}: {}".format(name, "; ".join(sorted(set(problems))[:5])))

    def arbitrary(data):
        problems = []
        doc = data.draw(st.binary(max_size=F.MAX_DOC + 8))
        for kind in kinds:
            if bound.call(lambda: decide(kind, doc), problems) is not None:
                problems.append("arbitrary bytes accepted")
        return problems

    def structured(data):
        problems = []
        kind = data.draw(st.sampled_from(kinds))
        doc = _structured(data.draw, kind)
        got = bound.call(lambda: decide(kind, doc), problems)
        if got is not None:
            problems += obeys_spec(kind, got)
        for other in kinds:
            if other != kind and bound.call(lambda: decide(other, doc), problems) is not None:
                problems.append("accepted as another kind")
        return problems

    def mutated(data):
        problems = []
        kind = data.draw(st.sampled_from(kinds))
        doc = bytearray(originals[kind])
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, len(doc) - 1))
            doc[at] = data.draw(st.integers(0, 255))
        if bytes(doc) != originals[kind] and \
                bound.call(lambda: decide(kind, bytes(doc)), problems) is not None:
            problems.append("a mutant was accepted")
        return problems

    try:
        for kind in kinds:  # the originals pass, or the oracles test nothing
            problems = []
            if bound.call(lambda: decide(kind, originals[kind]), problems) is None or problems:
                fam.add("valid document kind {}".format(kind), problems or ["refused"])
        check("arbitrary bytes", arbitrary)
        check("structured documents", structured)
        check("mutations of signed documents", mutated)
    finally:
        bound.close()
    return originals


_MP = """
import json
from mutate_rollout import mutate_rollout
with open({path!r}) as f:
    mutate_rollout(json.load(f))
"""


def _micropython(fam, rounds, originals, work, rng_seed):
    spec = {"count": rounds, "seed": rng_seed, "round_bytes": ROUND_BYTES,
            "round_sigs": 3 * CALL_SIGS, "leak_bytes": 4096}
    for name, kind in (("plan", F.DOC_PLAN), ("control", F.DOC_CONTROL),
                       ("revoked", F.DOC_REVOKED)):
        (work / name).write_bytes(originals[kind])
        spec[name] = str(work / name)
    (work / "root").write_bytes(ROOT_DOC)
    spec["root"] = str(work / "root")
    path = work / "mutate.json"
    path.write_text(json.dumps(spec))
    t = time.time()
    try:
        r = kit.run(targets.unix(), _MP.format(path=str(path)), heapsize=MP_HEAP,
                    timeout=3600, extra_path=[HERE / "mp"])
    except targets.TargetError as e:
        fam.merge(rounds, 1, ["micropython loop: {}".format(str(e)[-600:])])
        return
    fam.merge(r["rounds"], r["failed"], ["micropython (seed {}): {}".format(rng_seed, x)
                                         for x in r["failures"]])
    fam.figures["micropython mutation loop"] = (
        "{} rounds (4 calls each) in {:.0f} s at -X heapsize={}, most allocated in a round "
        "{} bytes (bound {}), most signature checks {}; verdicts {}".format(
            r["rounds"], time.time() - t, MP_HEAP, r["most_bytes"], ROUND_BYTES,
            r["most_sigs"], json.dumps(r["verdicts"], sort_keys=True)))


def run(full=True, jobs=None, rng_seed=20261206):
    fam = Family("rollout fuzz")
    t0 = time.time()
    examples, rounds = FULL if full else SAMPLE
    with tempfile.TemporaryDirectory(prefix="mpota-rfuzz-") as tmp:
        originals = _hypothesis(fam, examples, rng_seed)
        _micropython(fam, rounds, originals, Path(tmp), rng_seed)
    fam.seconds = time.time() - t0
    return fam
