# SPDX-License-Identifier: MIT
# The fuzz family's mutation loop, device side: run under
# build/unix/micropython with a small -X heapsize and firmware/ and this
# directory on MICROPYPATH.
#
# mutate(spec) reads valid documents (a manifest, its root, a rotated
# root), then for spec["count"] rounds picks one, mutates it (bit flips,
# byte sets, inserts, deletes, truncation, extension, a copied run, a new
# body length) and hands it to the parsers and the trust decisions:
# frame()+manifest(), frame()+root(), verify_manifest(), load_root(),
# rotate(). Only BundleError may come out; a mutant that differs from its
# original must never be accepted by the trust decisions; no round may
# allocate more than spec["round_bytes"] (micropython.mem_total(), the
# bytes allocated so far: work counted, not timed) or check more than
# spec["round_sigs"] signatures; the heap in use after a collection must
# not grow (no leak). Emits "rounds", "failures" (each with the round
# number: the seed and the number reproduce it), "verdicts" (counts per
# reason), "most_bytes", "most_sigs", "heap".

import gc
import random

import micropython
from agentkit import emit
from mpota import crypto
from mpota.bundle import format as F
from mpota.bundle import trust
from mpota.bundle.error import BundleError

_SIGS = [0]


def _counting(real):
    def verify(*args):
        _SIGS[0] += 1
        return real(*args)

    return verify


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _mutant(doc, buf):
    # A mutant of doc in buf (at most MAX_DOC + 64 bytes); its length.
    n = len(doc)
    buf[:n] = doc
    # Half the rounds keep the length, so the framing holds and the field
    # parser behind it is reached.
    in_place = random.getrandbits(1)
    for _ in range(1 + random.getrandbits(2)):
        how = random.getrandbits(3)
        if in_place and how in (2, 3, 4, 5):
            how = 1
        at = random.getrandbits(11) % (n + 1) if n else 0
        if how == 0 and n:
            at %= n
            buf[at] ^= 1 << random.getrandbits(3)
        elif how == 1 and n:
            at %= n
            buf[at] = random.getrandbits(8)
        elif how == 2 and n < len(buf) - 8:
            k = 1 + random.getrandbits(3)
            buf[at + k:n + k] = buf[at:n]
            for i in range(at, at + k):
                buf[i] = random.getrandbits(8)
            n += k
        elif how == 3 and n:
            k = min(1 + random.getrandbits(4), n - at)
            buf[at:n - k] = buf[at + k:n]
            n -= k
        elif how == 4:
            n = at
        elif how == 5 and n < len(buf) - 40:
            k = random.getrandbits(5)
            for i in range(n, n + k):
                buf[i] = random.getrandbits(8)
            n += k
        elif how == 6 and n > 8:
            # The body length field, anything.
            buf[6] = random.getrandbits(8)
            buf[7] = random.getrandbits(8)
        elif how == 7 and n > 16:
            # A run copied over another place (a field moved or repeated).
            src = random.getrandbits(11) % n
            k = min(random.getrandbits(5), n - src, n - at % n)
            buf[at % n:at % n + k] = buf[src:src + k]
    return n


def _sabotage(how):
    # For the control tests: a parser that crashes on some lengths, or one
    # that allocates a lot on them (work the bound must see), to show that
    # the loop notices.
    frame = F.frame

    def broken(doc, kind):
        if len(doc) % 7 == 3:
            if how == "work":
                for _ in range(200):
                    bytes(1024)
            else:
                raise IndexError("sabotage")
        return frame(doc, kind)

    F.frame = broken


def mutate(spec):
    random.seed(spec["seed"])
    if spec.get("sabotage"):
        _sabotage(spec["sabotage"])
    manifest = _read(spec["manifest"])
    root1 = trust.load_root(_read(spec["root"]))
    root2_doc = _read(spec["root2"])
    originals = (manifest, _read(spec["root"]), root2_doc)
    buf = bytearray(F.MAX_DOC + 64)
    verdicts = {}
    failures = []
    failed = 0
    most_bytes = most_sigs = 0
    crypto.verify = _counting(crypto.verify)
    gc.collect()
    base = gc.mem_alloc()
    peak = 0
    for r in range(spec["count"]):
        which = r % 3
        doc = originals[which]
        n = _mutant(doc, buf)
        view = memoryview(buf)[:n]
        changed = n != len(doc) or bytes(view) != doc
        _SIGS[0] = 0
        before = micropython.mem_total()
        for step in range(3):
            try:
                if step == 0:
                    if which == 0:
                        F.manifest(view, F.frame(view, F.DOC_MANIFEST))
                    else:
                        F.root(view, F.frame(view, F.DOC_ROOT))
                    got = "parsed"
                elif step == 1:
                    if which == 0:
                        trust.verify_manifest(root1, view)
                    elif which == 1:
                        trust.load_root(view)
                    else:
                        trust.rotate(root1, view)
                    got = "accepted"
                    if changed:
                        failed += 1
                        if len(failures) < 20:
                            failures.append(["accepted a mutant", which, r])
                else:
                    # Each kind where the other is expected: never accepted.
                    if which:
                        trust.verify_manifest(root1, view)
                    else:
                        trust.load_root(view)
                    got = "accepted"
                    failed += 1
                    if len(failures) < 20:
                        failures.append(["accepted as the other kind", which, r])
            except BundleError as e:
                got = e.reason
            except Exception as e:  # anything else is what the loop looks for
                got = "crash"
                failed += 1
                if len(failures) < 20:
                    failures.append([type(e).__name__, str(e), which, r])
            verdicts[got] = verdicts.get(got, 0) + 1
        # The round's own work; the bookkeeping above allocates too
        # (verdict keys, failures), a few dozen bytes.
        spent = micropython.mem_total() - before
        most_bytes = max(most_bytes, spent)
        most_sigs = max(most_sigs, _SIGS[0])
        if spent > spec["round_bytes"] or _SIGS[0] > spec["round_sigs"]:
            failed += 1
            if len(failures) < 20:
                failures.append(["too much work", spent, _SIGS[0], which, r])
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
