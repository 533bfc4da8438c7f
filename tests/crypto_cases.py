# SPDX-License-Identifier: MIT
"""Ed25519 test cases and the plumbing that runs them on every implementation.

Cases are (label, public_key, signature, message). Their expected verdicts
come from libsodium through PyNaCl, an implementation independent of ours,
or from the vector files where those carry them. A verdict is one
character: '1' accepted, '0' rejected, 'V' ValueError (wrong key or
signature length: the API's only exception).
"""

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
DEVICE = ROOT / "tests" / "device"
FIRMWARE = ROOT / "firmware"
CIRCUITPYTHON_LIB = ROOT / "build" / "circuitpython-lib"
NATMOD_X64_DIR = ROOT / "build" / "natmod" / "x64"

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493

# The eight points of order dividing 8, canonical encodings: identity,
# order 2, the two of order 4 (y = 0, both signs of x), four of order 8.
_Y8 = 0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826
TORSION = [
    (1).to_bytes(32, "little"),
    (P - 1).to_bytes(32, "little"),
    (0).to_bytes(32, "little"),
    (1 << 255).to_bytes(32, "little"),
    _Y8.to_bytes(32, "little"),
    (_Y8 | 1 << 255).to_bytes(32, "little"),
    (P - _Y8).to_bytes(32, "little"),
    ((P - _Y8) | 1 << 255).to_bytes(32, "little"),
]
ORDER8 = TORSION[4]


def _enc(y, sign=0):
    return (y | (sign << 255)).to_bytes(32, "little")


# Encodings whose y is not reduced (y >= p), both sign bits: among them
# non-canonical forms of the identity (p+1) and of the order-4 points (p).
NON_CANONICAL = [_enc(P + i, s) for i in range(19) for s in (0, 1)]
# Non-canonical x = 0: y = 1 and y = p-1 with the sign bit set.
NEGATIVE_ZERO_X = [_enc(1, 1), _enc(P - 1, 1)]
SMALL_ORDER_ENCODINGS = TORSION + NEGATIVE_ZERO_X + [_enc(P, 0), _enc(P, 1), _enc(P + 1, 0), _enc(P + 1, 1)]


# ---------------------------------------------------------------- reference


def reference_verdict(public_key, signature, message):
    """libsodium's verdict (crypto_sign_verify_detached, through PyNaCl)."""
    import nacl.exceptions
    import nacl.signing

    if len(public_key) != 32 or len(signature) != 64:
        return "V"
    try:
        nacl.signing.VerifyKey(bytes(public_key)).verify(bytes(message), bytes(signature))
    except (nacl.exceptions.BadSignatureError, ValueError):
        return "0"
    return "1"


def reference_verdicts(cases):
    return "".join(reference_verdict(pk, sig, msg) for _, pk, sig, msg in cases)


# ---------------------------------------------------------------- vectors


def wycheproof_cases():
    """(cases, expected): Wycheproof's verdicts, 'V' for wrong lengths."""
    data = json.loads((VECTORS / "ed25519_wycheproof.json").read_text())
    cases, expected = [], []
    for group in data["testGroups"]:
        pk = bytes.fromhex(group["publicKey"]["pk"])
        for test in group["tests"]:
            sig = bytes.fromhex(test["sig"])
            cases.append(("wycheproof tcId {}".format(test["tcId"]), pk, sig, bytes.fromhex(test["msg"])))
            if len(pk) != 32 or len(sig) != 64:
                expected.append("V")
            else:
                expected.append("1" if test["result"] == "valid" else "0")
    return cases, "".join(expected)


def speccheck_cases():
    data = json.loads((VECTORS / "ed25519_speccheck_cases.json").read_text())
    return [
        (
            "speccheck case {}".format(i),
            bytes.fromhex(c["pub_key"]),
            bytes.fromhex(c["signature"]),
            bytes.fromhex(c["message"]),
        )
        for i, c in enumerate(data)
    ]


def rfc8032_cases():
    """RFC 8032 section 7.1 as cases, with secret keys for re-signing."""
    data = json.loads((VECTORS / "rfc8032_ed25519.json").read_text())
    return [
        (c["name"], bytes.fromhex(c["public_key"]), bytes.fromhex(c["signature"]), bytes.fromhex(c["message"]))
        for c in data["cases"]
    ], [bytes.fromhex(c["secret_key"]) for c in data["cases"]]


# ---------------------------------------------------------------- differential

FAMILIES = (
    "valid",
    "flip_key_bit",
    "flip_r_bit",
    "flip_s_bit",
    "flip_message_bit",
    "s_plus_l",
    "s_plus_kl",
    "s_high_bits",
    "random_key",
    "small_order_key",
    "small_order_r",
    "non_canonical_key",
    "non_canonical_r",
    "mixed_order_key",
    "mixed_order_r",
    "zero_s_identity_r",
)


def _message(rng):
    roll = rng.random()
    if roll < 0.08:
        return b""
    if roll < 0.12:
        return rng.randbytes(rng.randrange(1000, 5000))
    return rng.randbytes(rng.randrange(1, 300))


def _flip(data, rng, lo=0, hi=None):
    hi = len(data) if hi is None else hi
    out = bytearray(data)
    out[rng.randrange(lo, hi)] ^= 1 << rng.randrange(8)
    return bytes(out)


def _s_bytes(s):
    return s.to_bytes(32, "little")


def _signed(rng):
    import nacl.signing

    key = nacl.signing.SigningKey(rng.randbytes(32))
    msg = _message(rng)
    return bytes(key.verify_key), key.sign(msg).signature, msg


def _scalar_point(scalar):
    from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp

    return crypto_scalarmult_ed25519_base_noclamp(scalar.to_bytes(32, "little"))


def _mixed_order_key_case(rng):
    """A' = A + T (T of order 8), signed with A's secret scalar.

    [S]B - [k]A' = R - [k]T, so the cofactorless equation holds exactly when
    k is a multiple of 8: half of these cases are made to hit that."""
    from nacl.bindings import crypto_core_ed25519_add

    a = rng.randrange(1, L)
    mixed = crypto_core_ed25519_add(_scalar_point(a), ORDER8)
    want_multiple_of_8 = rng.random() < 0.5
    while True:
        r = rng.randrange(1, L)
        big_r = _scalar_point(r)
        msg = rng.randbytes(rng.randrange(0, 64))
        k = int.from_bytes(hashlib.sha512(big_r + mixed + msg).digest(), "little") % L
        if (k % 8 == 0) == want_multiple_of_8:
            return mixed, big_r + _s_bytes((r + k * a) % L), msg


def _mixed_order_r_case(rng):
    """R' = R + T, S computed honestly over R': never valid."""
    from nacl.bindings import crypto_core_ed25519_add

    a = rng.randrange(1, L)
    pk = _scalar_point(a)
    r = rng.randrange(1, L)
    big_r = crypto_core_ed25519_add(_scalar_point(r), rng.choice(TORSION[1:]))
    msg = rng.randbytes(rng.randrange(0, 64))
    k = int.from_bytes(hashlib.sha512(big_r + pk + msg).digest(), "little") % L
    return pk, big_r + _s_bytes((r + k * a) % L), msg


def _small_order_key_case(rng):
    """A of small order with a signature a naive verifier accepts.

    With A = identity, [k]A vanishes and R = [S]B passes for any message.
    For other small-order A, R = [S]B - T is retried until [k]A = T."""
    from nacl.bindings import crypto_core_ed25519_add, crypto_core_ed25519_sub

    pk = rng.choice(SMALL_ORDER_ENCODINGS)
    msg = rng.randbytes(rng.randrange(0, 64))
    s = rng.randrange(1, L)
    sb = _scalar_point(s)
    if pk == TORSION[0] or rng.random() < 0.3:
        return pk, sb + _s_bytes(s), msg
    for _ in range(64):
        target = rng.choice(TORSION)
        big_r = sb if target == TORSION[0] else crypto_core_ed25519_sub(sb, target)
        k = int.from_bytes(hashlib.sha512(big_r + pk + msg).digest(), "little") % L
        acc = TORSION[0]
        for _ in range(k % 8):
            acc = crypto_core_ed25519_add(acc, pk)
        if acc == target:
            return pk, big_r + _s_bytes(s), msg
        s = rng.randrange(1, L)
        sb = _scalar_point(s)
    return pk, sb + _s_bytes(s), msg


def _make_case(family, rng):
    if family == "valid":
        return _signed(rng)
    if family in ("mixed_order_key",):
        return _mixed_order_key_case(rng)
    if family == "mixed_order_r":
        return _mixed_order_r_case(rng)
    if family == "small_order_key":
        return _small_order_key_case(rng)
    pk, sig, msg = _signed(rng)
    r, s = sig[:32], int.from_bytes(sig[32:], "little")
    if family == "flip_key_bit":
        return _flip(pk, rng), sig, msg
    if family == "flip_r_bit":
        return pk, _flip(sig, rng, 0, 32), msg
    if family == "flip_s_bit":
        return pk, _flip(sig, rng, 32, 64), msg
    if family == "flip_message_bit":
        if not msg:
            msg = rng.randbytes(rng.randrange(1, 300))
            return pk, sig, msg
        return pk, sig, _flip(msg, rng)
    if family == "s_plus_l":
        return pk, r + _s_bytes(s + L), msg
    if family == "s_plus_kl":
        top = (2**256 - 1 - s) // L
        return pk, r + _s_bytes(s + rng.randrange(2, top + 1) * L), msg
    if family == "s_high_bits":
        return pk, r + _s_bytes(s | (rng.randrange(1, 8) << 253)), msg
    if family == "random_key":
        return rng.randbytes(32), sig, msg
    if family == "small_order_r":
        return pk, rng.choice(SMALL_ORDER_ENCODINGS) + sig[32:], msg
    if family == "non_canonical_key":
        return rng.choice(NON_CANONICAL + NEGATIVE_ZERO_X), sig, msg
    if family == "non_canonical_r":
        return pk, rng.choice(NON_CANONICAL + NEGATIVE_ZERO_X) + sig[32:], msg
    if family == "zero_s_identity_r":
        return pk, TORSION[0] + bytes(32), msg
    raise AssertionError(family)


_DIFF_CACHE = {}


def differential_cases(count=10000, seed=0x6D706F7461):
    """`count` cases, a fixed mix: 30% valid signatures, the rest spread
    over the mutation families. Deterministic for a seed."""
    key = (count, seed)
    if key not in _DIFF_CACHE:
        rng = random.Random(seed)
        cases = []
        mutated = FAMILIES[1:]
        n_mutated = 0
        for i in range(count):
            if i % 10 < 3:
                family = "valid"
            else:
                family = mutated[n_mutated % len(mutated)]
                n_mutated += 1
            pk, sig, msg = _make_case(family, rng)
            cases.append(("#{} {}".format(i, family), pk, sig, msg))
        _DIFF_CACHE[key] = cases
    return _DIFF_CACHE[key]


def family_of(case):
    return case[0].split(" ", 1)[1]


# ---------------------------------------------------------------- running


def encode_cases(cases):
    out = bytearray()
    for _, pk, sig, msg in cases:
        assert len(pk) < 256 and len(sig) < 256 and len(msg) < 65536
        out += bytes([len(pk), len(sig)]) + len(msg).to_bytes(2, "little") + pk + sig + msg
    return bytes(out)


def device_code(module, source, cases):
    """The case runner for a target: `source` is a file path or the bytes."""
    script = (DEVICE / "verify_cases.py").read_text()
    return "MODULE = {!r}\nSOURCE = {!r}\nMAX_MESSAGE = {}\n{}".format(
        module, str(source) if isinstance(source, Path) else source, max(len(c[3]) for c in cases), script
    )


def parse_output(out):
    """(implementation line or None, verdict string) from the runner's output."""
    impl, verdicts = None, None
    for line in out.splitlines():
        if line.startswith("impl "):
            impl = tuple(line.split()[1:])
        elif line.startswith("verdicts"):
            verdicts = line[len("verdicts"):].strip()
    assert verdicts is not None, "runner printed no verdicts:\n" + out[-2000:]
    return impl, verdicts


def run_cpython(code, *, path=(), timeout=120.0):
    """Run code in a fresh CPython with `path` first on sys.path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in path)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout, cwd=str(ROOT)
    )
    if proc.returncode != 0:
        raise AssertionError("CPython run failed:\n" + proc.stderr[-4000:])
    return proc.stdout


def disagreements(cases, got, expected, limit=5):
    """Readable report of the first cases whose verdicts differ; '' if none."""
    assert len(got) == len(cases), "{} verdicts for {} cases".format(len(got), len(cases))
    bad = [i for i in range(len(cases)) if got[i] != expected[i]]
    lines = []
    for i in bad[:limit]:
        label, pk, sig, msg = cases[i]
        lines.append(
            "case {} ({}): got {} want {}\n  key {}\n  sig {}\n  msg[{}] {}".format(
                i, label, got[i], expected[i], pk.hex(), sig.hex(), len(msg), msg[:64].hex()
            )
        )
    if bad:
        lines.insert(0, "{} of {} verdicts differ".format(len(bad), len(cases)))
    return "\n".join(lines)


# The implementations every case list goes through.
IMPLEMENTATIONS = (
    "unix-c",  # build/unix/micropython, C module built in
    "natmod-x64",  # build/unix-stock/micropython + build/natmod/x64/ed25519.mpy
    "qemu-m3",  # the Cortex-M3 board, C module built in (32-bit field layout)
    "natmod-armv7m-qemu-m3",  # build/natmod/armv7m/ed25519.mpy loaded on the Cortex-M3 board
    "natmod-armv6m-qemu-m0",  # build/natmod/armv6m/ed25519.mpy on the Cortex-M0 board (RP2040's ISA)
    "fallback-circuitpython",  # unix-stock, no C module, SHA-512 from adafruit_hashlib
    "fallback-cpython",  # CPython, SHA-512 from hashlib
)

# Raw case bytes per run on the board: it has no filesystem, so cases
# travel inside the code, whose bytes literal is up to 4x larger.
_QEMU_BATCH_BYTES = 8000


_FALLBACK = "mpota.crypto.ed25519_fallback"
_REPORT_SHA512_SOURCE = "import mpota.crypto.sha512_source as _src\nprint('impl python', _src.SOURCE)\n"


def require_natmod():
    mpy = NATMOD_X64_DIR / "ed25519.mpy"
    assert mpy.is_file(), "{} is missing: run make natmod ARCH=x64".format(mpy)


def require_circuitpython_lib():
    lib = CIRCUITPYTHON_LIB / "adafruit_hashlib"
    assert lib.is_dir(), "{} is missing: run make setup".format(lib)


def _qemu_batches(cases):
    batch, size = [], 0
    for case in cases:
        n = 4 + len(case[1]) + len(case[2]) + len(case[3])
        if batch and size + n > _QEMU_BATCH_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(case)
        size += n
    if batch:
        yield batch


# Native modules on the boards: (fixture, architecture).
_BOARD_NATMODS = {
    "natmod-armv7m-qemu-m3": ("qemu_m3", "armv7m"),
    "natmod-armv6m-qemu-m0": ("qemu_m0", "armv6m"),
}


# The name a native module is imported by on a board whose firmware has the
# C module built in (the built-in would shadow a plain `ed25519`).
BOARD_NATMOD_NAME = "ed25519_native"


def is_board_natmod(impl):
    return impl in _BOARD_NATMODS


def board_natmod(impl, request, directory):
    """(board, mount directory) for a native module on its emulated board."""
    fixture, arch = _BOARD_NATMODS[impl]
    mpy = ROOT / "build" / "natmod" / arch / "ed25519.mpy"
    assert mpy.is_file(), "{} is missing: run make test".format(mpy)
    mount = Path(directory) / "natmod-{}".format(arch)
    mount.mkdir(exist_ok=True)
    (mount / (BOARD_NATMOD_NAME + ".mpy")).write_bytes(mpy.read_bytes())
    return request.getfixturevalue(fixture), mount


def _run_natmod_on_board(impl, cases, request, tmp_path, prelude):
    board, mount = board_natmod(impl, request, tmp_path)
    verdicts = []
    for batch in _qemu_batches(cases):
        code = prelude + device_code(BOARD_NATMOD_NAME, encode_cases(batch), batch)
        verdicts.append(parse_output(board.run(code, path=[mount], timeout=120.0))[1])
    return "".join(verdicts)


def run_on(impl, cases, request, tmp_path, prelude=""):
    """Verdict string for `cases` on one implementation, one process per call
    (one run per batch on the board). `request` is pytest's, so that only the
    targets in use get started. `prelude` is code run before the runner."""
    if impl in _BOARD_NATMODS:
        return _run_natmod_on_board(impl, cases, request, tmp_path, prelude)
    if impl in ("qemu-m3", "fallback-qemu-m3"):
        board = request.getfixturevalue("qemu_m3")
        verdicts = []
        for batch in _qemu_batches(cases):
            if impl == "qemu-m3":
                code = prelude + device_code("ed25519", encode_cases(batch), batch)
                verdicts.append(parse_output(board.run(code, timeout=120.0))[1])
                continue
            # The board's firmware has the C module, so call the fallback
            # by name; its files and adafruit_hashlib are mounted from here.
            require_circuitpython_lib()
            code = prelude + _REPORT_SHA512_SOURCE + device_code(_FALLBACK, encode_cases(batch), batch)
            out = board.run(code, path=[FIRMWARE, CIRCUITPYTHON_LIB], timeout=300.0)
            impl_line, batch_verdicts = parse_output(out)
            assert impl_line == ("python", "adafruit_hashlib"), impl_line
            verdicts.append(batch_verdicts)
        return "".join(verdicts)
    stream = tmp_path / "cases-{}.bin".format(impl)
    stream.write_bytes(encode_cases(cases))
    if impl == "unix-c":
        code = prelude + device_code("ed25519", stream, cases)
        return parse_output(request.getfixturevalue("unix_target").run(code))[1]
    if impl == "natmod-x64":
        require_natmod()
        code = prelude + device_code("ed25519", stream, cases)
        out = request.getfixturevalue("unix_stock_target").run(code, path=[NATMOD_X64_DIR])
        return parse_output(out)[1]
    if impl == "fallback-circuitpython":
        require_circuitpython_lib()
        code = prelude + device_code("mpota.crypto", stream, cases)
        out = request.getfixturevalue("unix_stock_target").run(code, path=[FIRMWARE, CIRCUITPYTHON_LIB])
        impl_line, verdicts = parse_output(out)
        assert impl_line == ("python", "adafruit_hashlib"), impl_line
        return verdicts
    if impl == "fallback-cpython":
        code = prelude + device_code("mpota.crypto", stream, cases)
        impl_line, verdicts = parse_output(run_cpython(code, path=[FIRMWARE]))
        assert impl_line == ("python", "hashlib"), impl_line
        return verdicts
    raise AssertionError(impl)
