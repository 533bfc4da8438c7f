# SPDX-License-Identifier: MIT
"""X25519 (RFC 7748) in the C module: `ed25519.x25519(scalar, u)`.

Every build runs RFC 7748's vectors (section 5.2), its Diffie-Hellman
example (section 6.1), the small-order points and the wrong lengths: the C
module on the unix port, and the x64, armv7m and armv6m native modules
(the last two on the emulated Cortex-M3 and Cortex-M0 boards), and the
module built into those boards' firmware. The
1,000-iteration test of section 5.2 runs on each of them but the Cortex-M0,
which runs the first 50 iterations (against libsodium's; 1,000 take it
about 35 s); the 1,000,000-iteration test does not run. 10,000 cases from a fixed seed go
through the unix port and the x64 native module against libsodium's
crypto_scalarmult (PyNaCl), a sample of them through the boards.

A u of small order makes the shared secret all zero, whatever the scalar.
libsodium refuses such a u with an error; ours returns the 32 zero bytes
(the function of RFC 7748 as written), so a caller that needs contributory
behaviour compares the output with zero. The tests hold ours to that.
"""

import functools
import json
import random

import pytest
from nacl.bindings import crypto_scalarmult, crypto_scalarmult_base
from nacl.exceptions import RuntimeError as SodiumError

import crypto_cases as cc

RFC = json.loads((cc.VECTORS / "rfc7748_x25519.json").read_text())
P = cc.P
BASE = (9).to_bytes(32, "little")

# Every build the module ships as. The boards run native modules; their
# firmware's own copy of the module is not what is tested here.
IMPLEMENTATIONS = ("unix-c", "natmod-x64", "natmod-armv7m-qemu-m3", "natmod-armv6m-qemu-m0")

# The module built into the boards' firmware: the vectors only.
BUILT_IN_BOARDS = ("qemu-m3", "qemu-m0")

FULL = 10000
# The cases travel to a board inside the code, over its emulated UART: that,
# more than computing, bounds the samples. Every family is in each (checked).
BOARD_SAMPLE = {"natmod-armv7m-qemu-m3": 100, "natmod-armv6m-qemu-m0": 40}
_BOARD_BATCH = 100
# The Cortex-M0 (no 32x32->64 multiply) runs 1,000 iterations in about 35 s
# of emulation: it runs the first 50 instead, each checked against libsodium.
ITERATIONS = {"natmod-armv6m-qemu-m0": 50}


def _u_of_edwards_y(y):
    # The birational map of RFC 7748, section 4.1: u = (1 + y) / (1 - y).
    return (1 + y) * pow(1 - y, P - 2, P) % P


def _small_order_u():
    """u-coordinates of the points of order 1, 2, 4 and 8 on the curve, and
    of order 2 and 4 on its twist (p - 1 has order 4 there), each with its
    non-canonical forms below 2^255 and with the top bit set."""
    values = {0, 1, P - 1}
    for enc in cc.TORSION:
        y = int.from_bytes(enc, "little") & ((1 << 255) - 1)
        if y != 1:
            values.add(_u_of_edwards_y(y))
    values |= {v + P for v in values if v + P < 2**255}
    return sorted(set(values) | {v | 1 << 255 for v in values})


SMALL_ORDER_U = _small_order_u()


@functools.lru_cache(maxsize=None)
def reference(scalar, u):
    """libsodium's output, or 32 zero bytes where it refuses a small-order u."""
    if len(scalar) != 32 or len(u) != 32:
        return "V"
    try:
        return crypto_scalarmult(bytes(scalar), bytes(u))
    except SodiumError:
        return bytes(32)


# ---------------------------------------------------------------- cases

FAMILIES = ("random", "unclamped", "non_canonical_u", "mixed_order_u", "small_order_u", "edge_scalar")


def _edwards_point(rng):
    from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp

    return crypto_scalarmult_ed25519_base_noclamp(rng.randrange(1, cc.L).to_bytes(32, "little"))


def _make_case(family, rng):
    scalar = rng.randbytes(32)
    if family == "random":
        return scalar, rng.randbytes(32)
    if family == "unclamped":
        # Only the clamped scalar counts: the low three bits and bit 255 are
        # cleared and bit 254 set, so flipping them changes nothing.
        u = crypto_scalarmult_base(rng.randbytes(32))
        k = bytearray(scalar)
        k[0] ^= rng.randrange(1, 8)
        k[31] ^= rng.choice((0x40, 0x80, 0xC0))
        return bytes(k), u
    if family == "non_canonical_u":
        # p <= u < 2^255 is taken mod p; the top bit is ignored. (p and
        # p + 1 are 0 and 1, of small order: that family has them.)
        u = P + rng.randrange(2, 19)
        return scalar, (u | rng.randrange(2) << 255).to_bytes(32, "little")
    if family == "mixed_order_u":
        # A point plus one of small order: the cofactor in the clamped scalar
        # removes the small component, so the result is the point's.
        from nacl.bindings import crypto_core_ed25519_add

        mixed = crypto_core_ed25519_add(_edwards_point(rng), rng.choice(cc.TORSION[1:]))
        y = int.from_bytes(mixed, "little") & ((1 << 255) - 1)
        return scalar, _u_of_edwards_y(y).to_bytes(32, "little")
    if family == "small_order_u":
        return scalar, rng.choice(SMALL_ORDER_U).to_bytes(32, "little")
    if family == "edge_scalar":
        k = rng.choice((bytes(32), b"\xff" * 32, bytes(31) + b"\x40", b"\xf8" + b"\xff" * 30 + b"\x7f"))
        return k, rng.randbytes(32)
    raise AssertionError(family)


@functools.lru_cache(maxsize=None)
def random_cases(count=FULL, seed=0x783235353139):
    """`count` cases, deterministic for the seed: 70% random scalars and u
    (half of them on the twist), the rest spread over the other families."""
    rng = random.Random(seed)
    cases, others = [], 0
    for i in range(count):
        if i % 10 < 7:
            family = "random"
        else:
            family = FAMILIES[1 + others % (len(FAMILIES) - 1)]
            others += 1
        cases.append(("#{} {}".format(i, family),) + _make_case(family, rng))
    return cases


def fixed_cases():
    """RFC 7748's vectors and example, the small-order points, wrong lengths."""
    cases = [(v["name"], bytes.fromhex(v["scalar"]), bytes.fromhex(v["u"])) for v in RFC["vectors"]]
    dh = {k: bytes.fromhex(v) for k, v in RFC["diffie_hellman"].items()}
    cases += [
        ("section 6.1, Alice's public key", dh["alice_private"], BASE),
        ("section 6.1, Bob's public key", dh["bob_private"], BASE),
        ("section 6.1, Alice's shared secret", dh["alice_private"], dh["bob_public"]),
        ("section 6.1, Bob's shared secret", dh["bob_private"], dh["alice_public"]),
    ]
    k = bytes(range(32))
    cases += [("small-order u {:#x}".format(u), k, u.to_bytes(32, "little")) for u in SMALL_ORDER_U]
    cases += [("u = 2^255 - 1", k, b"\xff" * 32), ("u = p + 1 + 2^255", k, (P + 1 | 1 << 255).to_bytes(32, "little"))]
    cases += [("scalar of {} bytes".format(n), (k * 3)[:n], BASE) for n in (0, 1, 31, 33, 64)]
    cases += [("u of {} bytes".format(n), k, (BASE * 3)[:n]) for n in (0, 31, 33)]
    return cases


# ---------------------------------------------------------------- running


def _encode(cases):
    out = bytearray()
    for _, k, u in cases:
        out += bytes([len(k), len(u)]) + k + u
    return bytes(out)


def _code(module, source):
    script = (cc.DEVICE / "x25519_cases.py").read_text()
    return "MODULE = {!r}\nSOURCE = {!r}\n{}".format(module, source, script)


def _parse(out):
    got = []
    for line in out.splitlines():
        if line.startswith("x "):
            word = line[2:].strip()
            got.append("V" if word == "V" else bytes.fromhex(word))
    return got


def run_on(impl, cases, request, tmp_path):
    """Outputs (bytes, or 'V' for a ValueError) of `cases` on one build."""
    if cc.is_board_natmod(impl):
        board, mount = cc.board_natmod(impl, request, tmp_path)
        got = []
        for i in range(0, len(cases), _BOARD_BATCH):
            code = _code(cc.BOARD_NATMOD_NAME, _encode(cases[i:i + _BOARD_BATCH]))
            got += _parse(board.run(code, path=[mount], timeout=600.0))
        return got
    if impl in BUILT_IN_BOARDS:
        board = request.getfixturevalue(impl.replace("-", "_"))
        got = []
        for i in range(0, len(cases), _BOARD_BATCH):
            got += _parse(board.run(_code("ed25519", _encode(cases[i:i + _BOARD_BATCH])), timeout=600.0))
        return got
    stream = tmp_path / "x25519-{}.bin".format(impl)
    stream.write_bytes(_encode(cases))
    code = _code("ed25519", str(stream))
    if impl == "unix-c":
        return _parse(request.getfixturevalue("unix_target").run(code, timeout=600.0))
    if impl == "natmod-x64":
        cc.require_natmod()
        target = request.getfixturevalue("unix_stock_target")
        return _parse(target.run(code, path=[cc.NATMOD_X64_DIR], timeout=600.0))
    raise AssertionError(impl)


def disagreements(cases, got, limit=5):
    assert len(got) == len(cases), "{} outputs for {} cases".format(len(got), len(cases))
    bad = []
    for (label, k, u), out in zip(cases, got):
        want = reference(k, u)
        if out != want:
            show = lambda v: v if v == "V" else v.hex()  # noqa: E731
            bad.append("{}: got {} want {}\n  scalar {}\n  u {}".format(
                label, show(out), show(want), k.hex(), u.hex()))
    return "\n".join(["{} of {} outputs differ".format(len(bad), len(cases))] + bad[:limit]) if bad else ""


# ---------------------------------------------------------------- the data


def test_rfc7748_vectors_are_reproduced_by_libsodium():
    # Guards the copied data: libsodium must compute every figure in it.
    for v in RFC["vectors"]:
        assert crypto_scalarmult(bytes.fromhex(v["scalar"]), bytes.fromhex(v["u"])).hex() == v["output"]
    k = u = bytes.fromhex(RFC["iterated"]["start"])
    for i in range(1000):
        k, u = crypto_scalarmult(k, u), k
        if i == 0:
            assert k.hex() == RFC["iterated"]["after_1"]
    assert k.hex() == RFC["iterated"]["after_1000"]
    dh = {key: bytes.fromhex(v) for key, v in RFC["diffie_hellman"].items()}
    assert crypto_scalarmult_base(dh["alice_private"]) == dh["alice_public"]
    assert crypto_scalarmult_base(dh["bob_private"]) == dh["bob_public"]
    assert crypto_scalarmult(dh["alice_private"], dh["bob_public"]) == dh["shared"]


def test_small_order_u_list_is_exactly_what_libsodium_refuses():
    # 0, 1, p - 1 and the two u of order 8, with their forms >= p and with
    # the top bit set: libsodium refuses each, and no random u.
    assert len(SMALL_ORDER_U) == 14
    k = bytes(range(32))
    for u in SMALL_ORDER_U:
        with pytest.raises(SodiumError):
            crypto_scalarmult(k, u.to_bytes(32, "little"))
    mix = [family for label, k, u in random_cases() if reference(k, u) == bytes(32)
           for family in [label.split(" ", 1)[1]]]
    assert set(mix) == {"small_order_u"}


def test_case_mix_holds_every_family_in_each_sample():
    cases = random_cases()
    for count in (FULL,) + tuple(BOARD_SAMPLE.values()):
        families = {label.split(" ", 1)[1] for label, _, _ in cases[:count]}
        assert families == set(FAMILIES), count


# ---------------------------------------------------------------- per build


@pytest.mark.parametrize("impl", IMPLEMENTATIONS + BUILT_IN_BOARDS)
def test_rfc7748_vectors_hold_and_a_small_order_peer_gives_an_all_zero_secret(impl, request, tmp_path):
    # A peer that sends a point of small order (the attack of a forced,
    # guessable shared secret) gets 32 zero bytes, never a value that
    # depends on our scalar: nothing about the key leaks through it.
    cases = fixed_cases()
    got = run_on(impl, cases, request, tmp_path)
    report = disagreements(cases, got)
    assert not report, "{}:\n{}".format(impl, report)
    by_label = dict(zip([c[0] for c in cases], got))
    assert by_label["section 6.1, Alice's shared secret"].hex() == RFC["diffie_hellman"]["shared"]
    assert by_label["section 6.1, Bob's shared secret"].hex() == RFC["diffie_hellman"]["shared"]
    assert [by_label["small-order u {:#x}".format(u)] for u in SMALL_ORDER_U] == [bytes(32)] * 14
    assert sum(out == "V" for out in got) == 8


ITERATE = """
x25519 = __import__({module!r}).x25519
k = u = bytes.fromhex({start!r})
for i in range({n}):
    k, u = x25519(k, u), k
    if i == 0:
        print("after 1", k.hex())
print("after {n}", k.hex())
"""


def _iterated(n):
    k = u = bytes.fromhex(RFC["iterated"]["start"])
    for _ in range(n):
        k, u = crypto_scalarmult(k, u), k
    return k.hex()


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_rfc7748_thousand_iterations_reach_the_published_value(impl, request, tmp_path):
    # Each output is the next scalar: one wrong carry anywhere shows at the end.
    n = ITERATIONS.get(impl, 1000)
    want = RFC["iterated"]["after_1000"] if n == 1000 else _iterated(n)
    module = cc.BOARD_NATMOD_NAME if cc.is_board_natmod(impl) else "ed25519"
    code = ITERATE.format(module=module, start=RFC["iterated"]["start"], n=n)
    if cc.is_board_natmod(impl):
        board, mount = cc.board_natmod(impl, request, tmp_path)
        out = board.run(code, path=[mount], timeout=900.0)
    elif impl == "unix-c":
        out = request.getfixturevalue("unix_target").run(code)
    else:
        cc.require_natmod()
        out = request.getfixturevalue("unix_stock_target").run(code, path=[cc.NATMOD_X64_DIR])
    assert "after 1 " + RFC["iterated"]["after_1"] in out, out
    assert "after {} {}".format(n, want) in out, out


@pytest.mark.parametrize("impl", ["unix-c", "natmod-x64"])
def test_ten_thousand_random_scalars_and_points_give_libsodiums_outputs(impl, request, tmp_path):
    # Includes points on the twist, non-canonical and mixed-order u,
    # unclamped and extreme scalars, and small-order u.
    cases = random_cases()
    report = disagreements(cases, run_on(impl, cases, request, tmp_path))
    assert not report, "{}:\n{}".format(impl, report)


@pytest.mark.parametrize("impl", sorted(BOARD_SAMPLE))
def test_random_sample_gives_libsodiums_outputs_on_the_cortex_m_boards(impl, request, tmp_path):
    # The 32-bit field layout, as the boards compile it.
    cases = random_cases()[:BOARD_SAMPLE[impl]]
    report = disagreements(cases, run_on(impl, cases, request, tmp_path))
    assert not report, "{}:\n{}".format(impl, report)


# ---------------------------------------------------------------- stack


@pytest.mark.parametrize("cpu", ["cortex-m0", "cortex-m3"])
def test_the_deepest_x25519_path_fits_in_1_5_kb_of_stack(tmp_path, cpu):
    # Measured as the verifier's (tests/test_ed25519_stack.py): GCC's frames
    # at the qemu port's flags, summed along its call graph. The ladder's
    # state is one struct on the stack; the deepest path is the inversion.
    from test_ed25519_stack import _deepest, _graph

    frames, calls = _graph(cpu, tmp_path, ("x25519.c", "field.c"))
    depth, chain = _deepest(frames, calls, "x25519")
    print("{}: {} bytes: {}".format(cpu, depth, " -> ".join(chain)))
    assert chain[:2] == ["x25519", "fe_invert"] and depth > 1000
    assert depth < 1536, " -> ".join("{}({})".format(f, frames[f]) for f in chain)


# ---------------------------------------------------------------- sanitizers


@pytest.mark.parametrize("layout", [[], ["-DED25519_FIELD_32"], ["-DED25519_FIELD_32", "-DED25519_MUL_HALVES"]],
                         ids=["51-bit limbs", "26/25-bit limbs", "16-bit-half products"])
def test_both_limb_layouts_give_libsodiums_outputs_under_asan_and_ubsan(tmp_path, layout):
    # The unix port runs the 51-bit limbs; the boards, the 26/25-bit ones
    # (the Cortex-M0 with products from 16-bit halves), here on 300 cases with every signed overflow and stray access fatal.
    import subprocess

    module = cc.ROOT / "firmware" / "cmod" / "ed25519"
    binary = tmp_path / "x25519"
    subprocess.run(["cc", "-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=all", *layout,
                    "-I", str(module), "-o", str(binary), str(cc.ROOT / "tests" / "ctgrind" / "x25519_ct.c"),
                    str(module / "x25519.c"), str(module / "field.c")], check=True)
    cases = [(k, u) for _, k, u in random_cases()[:300]]
    run = subprocess.run([str(binary)], input=b"".join(k + u for k, u in cases), capture_output=True,
                         env={"ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1"}, timeout=600)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-4000:]
    got = [run.stdout[i:i + 32] for i in range(0, len(run.stdout), 32)]
    assert got == [reference(k, u) for k, u in cases]
