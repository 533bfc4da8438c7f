# SPDX-License-Identifier: MIT
# The rollout-documents fuzz loop, device side (MicroPython unix build,
# small heap; firmware/, tests/agent/mp and this directory on MICROPYPATH).
#
# mutate_rollout(spec) reads a valid plan, control document and revocation
# list and the root that trusts them (update and control keys), then for
# spec["count"] rounds mutates one (mutate._mutant) and hands it to its
# parser and its trust decision, and to the two trust decisions of the
# other kinds. Only BundleError may come out; a mutant must never be
# accepted; no document is ever accepted as another kind; each round's
# work is bounded by counts (bytes allocated, signature checks); the heap
# does not grow. Emits the same RESULT names as mutate.py.

import gc
import random

import micropython
from agentkit import emit
from mpota import crypto
from mpota.bundle import format as F
from mpota.bundle import rollout as R
from mpota.bundle import trust
from mpota.bundle.error import BundleError

import mutate

_PARSE = (R.plan, R.control, R.revoked)
_KINDS = (F.DOC_PLAN, F.DOC_CONTROL, F.DOC_REVOKED)


def _decide(root, which, view):
    if which == 0:
        return trust.verify_plan(root, view)
    if which == 1:
        return trust.verify_control(root, view, now=1800000000, last_version=3)
    return trust.verify_revoked(root, view, last_version=2)


def mutate_rollout(spec):
    random.seed(spec["seed"])
    root = trust.load_root(mutate._read(spec["root"]))
    originals = tuple(mutate._read(spec[k]) for k in ("plan", "control", "revoked"))
    buf = bytearray(F.MAX_DOC + 64)
    verdicts = {}
    failures = []
    failed = 0
    most_bytes = most_sigs = 0
    crypto.verify = mutate._counting(crypto.verify)
    gc.collect()
    base = gc.mem_alloc()
    peak = 0
    for r in range(spec["count"]):
        which = r % 3
        doc = originals[which]
        n = mutate._mutant(doc, buf)
        view = memoryview(buf)[:n]
        changed = n != len(doc) or bytes(view) != doc
        mutate._SIGS[0] = 0
        before = micropython.mem_total()
        for step in range(4):
            try:
                if step == 0:
                    _PARSE[which](view, F.frame(view, _KINDS[which]))
                    got = "parsed"
                else:
                    kind = (which + step - 1) % 3
                    _decide(root, kind, view)
                    got = "accepted"
                    if kind != which:
                        failed += 1
                        if len(failures) < 20:
                            failures.append(["accepted as another kind", which, kind, r])
                    elif changed:
                        failed += 1
                        if len(failures) < 20:
                            failures.append(["accepted a mutant", which, r])
            except BundleError as e:
                got = e.reason
            except Exception as e:  # anything else is what the loop looks for
                got = "crash"
                failed += 1
                if len(failures) < 20:
                    failures.append([type(e).__name__, str(e), which, r])
            verdicts[got] = verdicts.get(got, 0) + 1
        spent = micropython.mem_total() - before
        most_bytes = max(most_bytes, spent)
        most_sigs = max(most_sigs, mutate._SIGS[0])
        if spent > spec["round_bytes"] or mutate._SIGS[0] > spec["round_sigs"]:
            failed += 1
            if len(failures) < 20:
                failures.append(["too much work", spent, mutate._SIGS[0], which, r])
        if r % 1000 == 999:
            gc.collect()
            used = gc.mem_alloc() - base
            if used > peak:
                peak = used
    gc.collect()
    leak = gc.mem_alloc() - base
    if leak > spec["leak_bytes"]:
        failed += 1
        failures.append(["heap grew", leak])
    emit("rounds", spec["count"])
    emit("failed", failed)
    emit("failures", failures)
    emit("verdicts", verdicts)
    emit("most_bytes", most_bytes)
    emit("most_sigs", most_sigs)
    emit("heap", {"after_collect_peak": peak, "end": leak})
