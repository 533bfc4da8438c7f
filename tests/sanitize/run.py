# SPDX-License-Identifier: MIT
"""`make sanitize`: the ed25519 module's C core under AddressSanitizer and
UBSan, checked against independent implementations.

Builds tests/sanitize/driver.c with the module's sources three times: once
per limb layout of field.c (five 51-bit limbs, and the ten 26/25-bit limbs
the Cortex-M builds use, forced with -DED25519_FIELD_32), and the 32-bit
one again with the Cortex-M0's products (-DED25519_MUL_HALVES), with
-fsanitize=address,undefined and no recovery: the first out-of-bounds
access, signed overflow, bad shift or misaligned load ends the run. Then
each build gets

- the RFC 8032, Wycheproof and speccheck vectors of tests/vectors and
  --cases random and mutated signatures (tests/crypto_cases.py, every
  attack family); each verdict must be libsodium's
  (crypto_sign_verify_detached through PyNaCl) and the SHA-512 of each
  message, hashed in pieces, hashlib's;
- --field pairs of field elements, edge values (0, 1, p - 1, p to p + 18,
  2^255 - 1) and random ones: sum, difference, product, square, inverse,
  the square-root power and the negation must be Python's integers mod p.

  build/venv/bin/python tests/sanitize/run.py [--cases N] [--field N]

Exit status 0: no sanitizer report and no disagreement; 1 otherwise, with
what went wrong. About 60 s with the defaults on one core.
"""

import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import crypto_cases as cc  # noqa: E402

MODULE = cc.ROOT / "firmware" / "cmod" / "ed25519"
SOURCES = ["verify.c", "point.c", "scalar.c", "field.c", "sha512.c", "tables.c"]
P = 2**255 - 19
FLAGS = ["-std=c99", "-O1", "-g", "-fno-omit-frame-pointer", "-Wall", "-Wextra",
         "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
LAYOUTS = {"64": ("51-bit limbs", []), "32": ("26/25-bit limbs", ["-DED25519_FIELD_32"]),
           # The Cortex-M0's products, from 16-bit halves (field.c, mul_wide).
           "32h": ("26/25-bit limbs, 16-bit-half products", ["-DED25519_FIELD_32", "-DED25519_MUL_HALVES"])}
# No leak check (the core allocates nothing; the check needs ptrace, which
# some CI sandboxes refuse); any report aborts with a non-zero status.
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


def build(out, extra, module=MODULE):
    cmd = [os.environ.get("CC", "cc")] + FLAGS + extra + ["-I", str(module), "-o", str(out),
                                                         str(HERE / "driver.c")]
    cmd += [str(Path(module) / s) for s in SOURCES]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit("sanitize: the build failed:\n" + run.stderr[-3000:])


def drive(binary, mode, data):
    run = subprocess.run([str(binary), mode], input=data, capture_output=True, env=ENV,
                         timeout=3600)
    if run.returncode != 0:
        raise SystemExit("sanitize: {} {} stopped (status {}):\n{}".format(
            binary.name, mode, run.returncode, run.stderr.decode(errors="replace")[-4000:]))
    return run.stdout


def verify_cases(count, seed):
    cases, _ = cc.wycheproof_cases()
    cases = cases + cc.speccheck_cases() + cc.rfc8032_cases()[0]
    return cases + cc.differential_cases(count, seed) if count else cases


def check_verify(binary, cases, expected):
    out = drive(binary, "verify", cc.encode_cases(cases))
    if len(out) != 65 * len(cases):
        return ["{} answers for {} cases".format(len(out) // 65, len(cases))]
    problems = []
    for i, (label, _, _, msg) in enumerate(cases):
        rec = out[65 * i:65 * (i + 1)]
        if chr(rec[0]) != expected[i]:
            problems.append("{}: verdict {} where libsodium says {}".format(
                label, chr(rec[0]), expected[i]))
        if rec[1:] != hashlib.sha512(msg).digest():
            problems.append("{}: SHA-512 of the message differs from hashlib's".format(label))
    return problems


def field_pairs(count, seed):
    rng = random.Random(seed)
    edges = [0, 1, 2, P - 1, P - 2, 2**255 - 1, 2**255 - 20, 2**254, 2**51 - 1, 2**26 - 1] + \
        [P + i for i in range(19)]
    values = edges + [rng.getrandbits(255) for _ in range(max(0, 2 * count - len(edges)))]
    rng.shuffle(values)
    pairs = [(values[i], values[i + 1]) for i in range(0, len(values) - 1, 2)][:count]
    # Every edge value against every other once, too.
    return pairs + [(a, b) for a in edges for b in edges]


def field_expected(a, b):
    a, b = a % P, b % P
    out = [(a + b) % P, (a - b) % P, a * b % P, a * a % P, pow(a, P - 2, P),
           pow(a, (P - 5) // 8, P), -a % P]
    return b"".join(v.to_bytes(32, "little") for v in out) + bytes([a & 1, a == 0])


def check_field(binary, pairs):
    data = b"".join(a.to_bytes(32, "little") + b.to_bytes(32, "little") for a, b in pairs)
    out = drive(binary, "field", data)
    size = 7 * 32 + 2
    if len(out) != size * len(pairs):
        return ["{} answers for {} pairs".format(len(out) // size, len(pairs))]
    names = ("a+b", "a-b", "a*b", "a^2", "1/a", "a^((p-5)/8)", "-a")
    problems = []
    for i, (a, b) in enumerate(pairs):
        got = out[size * i:size * (i + 1)]
        want = field_expected(a, b)
        if got != want:
            k = next(j for j in range(size) if got[j] != want[j])
            what = names[k // 32] if k < 7 * 32 else ("isnegative", "iszero")[k - 7 * 32]
            problems.append("a={:#x} b={:#x}: {} differs".format(a, b, what))
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=4000,
                    help="random and mutated signatures besides the vectors (default 4000)")
    ap.add_argument("--field", type=int, default=20000,
                    help="random field-element pairs besides the edge values (default 20000)")
    ap.add_argument("--seed", type=int, default=0x53414E, help="seed of the random cases")
    ap.add_argument("--layout", choices=sorted(LAYOUTS), action="append",
                    help="field.c's limb layout to build: 64 (51-bit limbs), 32 (26/25-bit, "
                         "as on the Cortex-M), 32h (26/25-bit with the Cortex-M0's products); "
                         "default all three")
    ap.add_argument("--module", default=str(MODULE),
                    help="the C sources to build (default firmware/cmod/ed25519)")
    args = ap.parse_args(argv)

    started = time.monotonic()
    cases = verify_cases(args.cases, args.seed)
    expected = cc.reference_verdicts(cases)
    pairs = field_pairs(args.field, args.seed)
    problems = []
    with tempfile.TemporaryDirectory(prefix="mpota-sanitize-") as tmp:
        for key in args.layout or sorted(LAYOUTS, reverse=True):
            layout, extra = LAYOUTS[key]
            binary = Path(tmp) / ("driver" + "".join(extra).replace("-D", "-"))
            build(binary, extra, args.module)
            found = check_verify(binary, cases, expected) + check_field(binary, pairs)
            problems += ["{}: {}".format(layout, p) for p in found]
            print("sanitize: {}: {} signature cases ({} accepted), {} field pairs: {}".format(
                layout, len(cases), expected.count("1"), len(pairs),
                "{} disagreements".format(len(found)) if found else "no sanitizer report, "
                "every answer agrees"), flush=True)
    for p in problems[:20]:
        print("  " + p)
    # A time for the reader, not a bound.
    print("sanitize: {} in {:.0f} s".format("FAILED" if problems else "passed",
                                          time.monotonic() - started))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
