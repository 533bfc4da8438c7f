# SPDX-License-Identifier: MIT
"""X25519 takes the same path whatever the secret: no branch and no memory
address depends on the scalar or on u.

tests/ctgrind/x25519_ct.c runs x25519() with its inputs marked undefined
for valgrind's memcheck (the method of ctgrind, and of libsodium's and
Monocypher's constant-time checks): memcheck reports every conditional
jump, conditional move and address computed from them. It is built from
x25519.c and field.c in both limb layouts at -O2, the 32-bit one at -Os
too (as the boards build it), and with the Cortex-M0's branch-free
products. Controls: a
copy of x25519.c with a branch on the secret bit, and one with a table
indexed by it, must be reported.

What this does not see: instructions whose own time depends on their
operands (docs/ED25519.md, "X25519", says which cores have them).
"""

import shutil
import subprocess

import pytest

from test_x25519 import SMALL_ORDER_U, reference
from targets import ROOT

MODULE = ROOT / "firmware" / "cmod" / "ed25519"
HARNESS = ROOT / "tests" / "ctgrind" / "x25519_ct.c"
BUILDS = {
    "51-bit limbs, -O2": ["-O2"],
    "26/25-bit limbs, -O2": ["-O2", "-DED25519_FIELD_32"],
    "26/25-bit limbs, -Os": ["-Os", "-DED25519_FIELD_32"],
    # The products as the Cortex-M0 build makes them (field.c, mul_wide).
    "26/25-bit limbs, 16-bit halves": ["-O2", "-DED25519_FIELD_32", "-DED25519_MUL_HALVES"],
}
# A few inputs are enough (memcheck follows definedness, not values); the
# small-order u takes the inversion of zero.
CASES = [(bytes(range(i, i + 32)), bytes(range(100 + i, 132 + i))) for i in (0, 7)]
CASES += [(b"\xff" * 32, (SMALL_ORDER_U[3]).to_bytes(32, "little"))]


def _valgrind():
    path = shutil.which("valgrind")
    if path is None:
        pytest.fail("valgrind is missing: run make setup", pytrace=False)
    return path


def build(out, flags, module=MODULE):
    subprocess.run(["cc", "-std=c99", "-g", "-Wall", "-Wextra", "-Werror", *flags, "-I", str(module),
                    "-o", str(out), str(HARNESS), str(module / "x25519.c"), str(module / "field.c")],
                   check=True, capture_output=True, text=True)
    return out


def memcheck(binary):
    """(outputs, memcheck's report, exit status) for CASES."""
    run = subprocess.run([_valgrind(), "--error-exitcode=99", "--track-origins=yes", str(binary)],
                         input=b"".join(k + u for k, u in CASES), capture_output=True, timeout=600)
    outs = [run.stdout[i:i + 32] for i in range(0, len(run.stdout), 32)]
    return outs, run.stderr.decode(errors="replace"), run.returncode


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_no_branch_or_address_depends_on_the_secret_scalar_or_u(tmp_path, name):
    outs, report, status = memcheck(build(tmp_path / "ct", BUILDS[name]))
    assert status == 0 and "ERROR SUMMARY: 0 errors" in report, "{}:\n{}".format(name, report[-4000:])
    # The harness computed what it was given (it is not vacuously quiet).
    assert outs == [reference(k, u) for k, u in CASES]


LOOP_SWAP = ("        fe_cswap(s.x2, s.x3, swap);\n"
             "        fe_cswap(s.z2, s.z3, swap);\n"
             "        swap = bit;\n")
LOOP_BIT = "        uint32_t bit = (s.k[t >> 3] >> (t & 7)) & 1;\n"


@pytest.mark.parametrize("broken, reported", [
    # The textbook ladder's mistake: swap only when the bit says so.
    (LOOP_SWAP.replace("        fe_cswap(s.x2, s.x3, swap);\n        fe_cswap(s.z2, s.z3, swap);\n",
                       "        if (swap) {\n            fe_cswap(s.x2, s.x3, 1);\n"
                       "            fe_cswap(s.z2, s.z3, 1);\n        }\n"),
     "Conditional jump or move depends on uninitialised value"),
    # A table lookup with the secret bit as the index (a cache-timing leak).
    (LOOP_SWAP.replace("swap = bit;", "swap = (uint32_t)\"\\x00\\x01\\x00\\x01\"[bit + (t & 2)];"),
     "Use of uninitialised value of size 8"),
], ids=["branch", "table"])
def test_a_secret_dependent_branch_or_table_index_is_reported(tmp_path, broken, reported):
    module = tmp_path / "ed25519"
    shutil.copytree(MODULE, module)
    source = module / "x25519.c"
    text = source.read_text()
    assert text.count(LOOP_SWAP) == 1 and LOOP_BIT in text
    source.write_text(text.replace(LOOP_SWAP, broken))
    outs, report, status = memcheck(build(tmp_path / "ct", ["-O2"], module))
    assert outs == [reference(k, u) for k, u in CASES]  # still right, but leaky
    assert status == 99 and reported in report, report[-4000:]


def test_cortex_m0_build_calls_no_libgcc_helper(tmp_path):
    # ARMv6-M has no 32x32->64 multiply; libgcc's __aeabi_lmul, which GCC
    # would call instead, branches on a carry of the operands. field.c builds
    # its products itself there: no helper may come back into the build.
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.fail("arm-none-eabi-gcc is missing: run make setup", pytrace=False)
    calls = set()
    for name in ("x25519.c", "field.c"):
        obj = tmp_path / name.replace(".c", ".o")
        subprocess.run([cc, "-std=gnu99", "-Os", "-mthumb", "-mcpu=cortex-m0", "-mfloat-abi=soft", "-ffunction-sections",
                        "-I", str(MODULE), "-c", str(MODULE / name), "-o", str(obj)], check=True)
        dump = subprocess.run(["arm-none-eabi-objdump", "-dr", str(obj)], capture_output=True,
                              text=True, check=True).stdout
        calls |= {line.split()[-1] for line in dump.splitlines() if "R_ARM_THM_CALL" in line}
    assert "mul_wide" in calls
    assert not {c for c in calls if c.startswith("__")}, calls
