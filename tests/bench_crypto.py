# SPDX-License-Identifier: MIT
"""Speed and size of the Ed25519 verifier and of X25519, measured against
libsodium in the same run. `make bench-crypto` runs this; it is a benchmark,
not a test.

Prints microseconds per verification for the C module on the unix port,
libsodium (PyNaCl) on the same machine and their ratio, the native module,
the pure-Python fallback; instructions per verification on the emulated
Cortex-M3 (and Cortex-M0 when built), counted exactly with qemu's
`-icount shift=0`; and the code size of the armv6m native module. For
X25519: microseconds per call on the unix port and in the x64 native module
against libsodium's crypto_scalarmult, instructions per call for the armv7m
and armv6m native modules on the emulated Cortex-M3 and Cortex-M0, and the
code of x25519.o per architecture.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nacl.bindings
import nacl.signing

sys.path.insert(0, str(Path(__file__).resolve().parent))
import targets  # noqa: E402

ROOT = targets.ROOT
NATMOD = targets.BUILD / "natmod"
FIRMWARE = ROOT / "firmware"
CIRCUITPYTHON_LIB = targets.BUILD / "circuitpython-lib"

# Targets from the foundation issue.
MAX_RATIO_TO_LIBSODIUM = 2.0
MAX_M3_INSTRUCTIONS = 3_000_000
MAX_ARMV6M_TEXT = 10 * 1024
# From issue 15.
MAX_X25519_RATIO_TO_LIBSODIUM = 2.0

# RFC 7748's first vector.
X25519_SCALAR = bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
X25519_U = bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")


def signed_sample():
    key = nacl.signing.SigningKey(bytes(range(32)))
    message = b"mpota benchmark message: 64 bytes of payload to hash and verify"
    signature = key.sign(message).signature
    return bytes(key.verify_key), signature, message


def _loop(setup, call, count):
    """MicroPython source that runs `setup`, then `call` `count` times, and
    prints the microseconds spent per call, with the loop's own cost
    subtracted."""
    return """
{setup}
import time
n = {n}
t0 = time.ticks_us()
for _ in range(n):
    pass
empty = time.ticks_diff(time.ticks_us(), t0)
t0 = time.ticks_us()
for _ in range(n):
    {call}
spent = time.ticks_diff(time.ticks_us(), t0) - empty
print(spent / n)
""".format(setup=setup, call=call, n=count)


def timing_loop(import_line, verify_expr, count):
    """A timing loop of `count` verifications of one signed sample."""
    pk, sig, msg = signed_sample()
    setup = "{}\npk = {!r}\nsig = {!r}\nmsg = {!r}\nassert {}".format(
        import_line, pk, sig, msg, verify_expr)
    return _loop(setup, verify_expr, count)


def _host_us(call, count):
    """Best of 3 loops of count calls, microseconds per call (the host's
    reference, libsodium, in the same run as the device's figures)."""
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(count):
            call()
        us = (time.perf_counter() - t0) / count * 1e6
        best = us if best is None else min(best, us)
    return best


def libsodium_us(count):
    pk, sig, msg = signed_sample()
    signed = sig + msg
    return _host_us(lambda: nacl.bindings.crypto_sign_open(signed, pk), count)


def best_of(target, code, runs=3, **kw):
    return min(float(target.run(code, **kw).split()[-1]) for _ in range(runs))


def cpython_fallback_us(count):
    sys.path.insert(0, str(FIRMWARE))
    from mpota.crypto import ed25519_fallback
    pk, sig, msg = signed_sample()
    t0 = time.perf_counter()
    for _ in range(count):
        assert ed25519_fallback.verify(pk, sig, msg)
    return (time.perf_counter() - t0) / count * 1e6


def armv6m_text_size():
    """Bytes of code (.text) and constants (.rodata) in the armv6m module's objects."""
    objects = sorted((NATMOD / "armv6m").rglob("*.o"))
    if not objects:
        return None, None
    return _sections("arm-none-eabi-size", objects)


def _sections(tool, objects):
    """(.text, .rodata) bytes summed over objects, as `size -A` counts them."""
    out = subprocess.run([tool, "-A"] + [str(o) for o in objects],
                         capture_output=True, text=True, check=True).stdout
    text = rodata = 0
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1].isdigit():
            if fields[0].startswith(".text"):
                text += int(fields[1])
            elif fields[0].startswith(".rodata"):
                rodata += int(fields[1])
    return text, rodata


def instructions_per_verify(board, count):
    # With -icount shift=0 a guest microsecond is exactly 1000 instructions.
    with board:
        us = best_of(board, timing_loop("import ed25519", "ed25519.verify(pk, sig, msg)", count), runs=1)
    return us * 1000


def x25519_loop(module, count):
    """A timing loop of `count` calls of module.x25519."""
    setup = "x25519 = __import__({!r}).x25519\nk = {!r}\nu = {!r}".format(
        module, X25519_SCALAR, X25519_U)
    return _loop(setup, "x25519(k, u)", count)


def libsodium_x25519_us(count):
    return _host_us(lambda: nacl.bindings.crypto_scalarmult(X25519_SCALAR, X25519_U), count)


def x25519_instructions(board, arch, count):
    """Instructions per call of the arch's native module on the board (its
    firmware's own module may predate x25519)."""
    mpy = NATMOD / arch / "ed25519.mpy"
    if not mpy.is_file():
        return None
    mount = Path(tempfile.mkdtemp(prefix="mpota-bench-"))
    try:
        shutil.copy(mpy, mount / "ed25519_native.mpy")
        with board:
            us = best_of(board, x25519_loop("ed25519_native", count), runs=1, path=[mount])
    finally:
        shutil.rmtree(mount, ignore_errors=True)
    return us * 1000


def object_size(arch, name):
    """(.text, .rodata) bytes of one object of the arch's native module."""
    obj = next((NATMOD / arch).rglob(name), None)
    if obj is None:
        return None, None
    return _sections("size" if arch == "x64" else "arm-none-eabi-size", [obj])


def x25519_rows(n):
    print("X25519, one run, {} calls per loop:".format(n))
    sodium = libsodium_x25519_us(n)
    c_unix = best_of(targets.unix(), x25519_loop("ed25519", n))
    row("libsodium crypto_scalarmult (PyNaCl)", "{:.1f}".format(sodium), "us")
    row("C module, unix port (x86-64)", "{:.1f}".format(c_unix), "us",
        "ratio {:.2f} to libsodium (target <= {})".format(c_unix / sodium, MAX_X25519_RATIO_TO_LIBSODIUM))
    natmod_dir = NATMOD / "x64"
    if (natmod_dir / "ed25519.mpy").is_file():
        nat = best_of(targets.unix_stock(), x25519_loop("ed25519", n), path=[str(natmod_dir)])
        row("native module x64, stock unix port", "{:.1f}".format(nat), "us",
            "ratio {:.2f} to libsodium".format(nat / sodium))
    for arch, board, label, count in (
        ("armv7m", targets.qemu_m3, "Cortex-M3 (qemu mps2-an385)", max(20, n // 50)),
        ("armv6m", targets.qemu_m0, "Cortex-M0 (qemu microbit)", max(5, n // 200)),
    ):
        insn = x25519_instructions(board(icount=targets.ICOUNT_EXACT), arch, count)
        if insn is None:
            row("{} native module".format(arch), "not built", "", "(make natmod ARCH={})".format(arch))
        else:
            row("{} native module, {}".format(arch, label), "{:.2f}".format(insn / 1e6), "M insn")
    for arch in ("x64", "armv6m", "armv7m", "armv7emsp"):
        text, rodata = object_size(arch, "x25519.o")
        if text is None:
            row("x25519.o, {}".format(arch), "not built", "", "(make natmod ARCH={})".format(arch))
        else:
            row("x25519.o .text, {}".format(arch), str(text), "bytes", "+ {} bytes .rodata".format(rodata))


def row(label, value, unit, note=""):
    print("  {:<44} {:>12} {:<8} {}".format(label, value, unit, note))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="verifications per timed loop")
    args = parser.parse_args()
    n = args.count
    call = "ed25519.verify(pk, sig, msg)"

    print("Ed25519 verification, one run, {} verifies per loop:".format(n))
    sodium = libsodium_us(n)
    c_unix = best_of(targets.unix(), timing_loop("import ed25519", call, n))
    ratio = c_unix / sodium
    row("libsodium (PyNaCl), CPython", "{:.1f}".format(sodium), "us")
    row("C module, unix port (x86-64)", "{:.1f}".format(c_unix), "us",
        "ratio {:.2f} to libsodium (target <= {})".format(ratio, MAX_RATIO_TO_LIBSODIUM))

    natmod_dir = NATMOD / "x64"
    if (natmod_dir / "ed25519.mpy").is_file():
        nat = best_of(targets.unix_stock(), timing_loop("import ed25519", call, n), path=[str(natmod_dir)])
        row("native module x64, stock unix port", "{:.1f}".format(nat), "us",
            "ratio {:.2f} to libsodium".format(nat / sodium))
    else:
        row("native module x64", "not built", "", "(make natmod ARCH=x64)")

    fb_count = max(5, n // 200)
    fallback = best_of(targets.unix_stock(),
                       timing_loop("from mpota.crypto import ed25519_fallback as ed25519", call, fb_count),
                       runs=1, path=[str(FIRMWARE), str(CIRCUITPYTHON_LIB)])
    row("pure-Python fallback, stock unix port", "{:.0f}".format(fallback), "us",
        "ratio {:.0f} to libsodium".format(fallback / sodium))
    row("pure-Python fallback, CPython", "{:.0f}".format(cpython_fallback_us(fb_count)), "us")

    m3 = instructions_per_verify(targets.qemu_m3(icount=targets.ICOUNT_EXACT), max(20, n // 50))
    row("C module, Cortex-M3 (qemu mps2-an385)", "{:.2f}".format(m3 / 1e6), "M insn",
        "target <= {:.0f} M".format(MAX_M3_INSTRUCTIONS / 1e6))
    if targets.QEMU_M0_ELF.is_file():
        m0 = instructions_per_verify(targets.qemu_m0(icount=targets.ICOUNT_EXACT), max(10, n // 100))
        row("C module, Cortex-M0 (qemu microbit)", "{:.2f}".format(m0 / 1e6), "M insn")
    else:
        row("C module, Cortex-M0", "not built", "", "(make qemu-m0)")

    text, rodata = armv6m_text_size()
    if text is None:
        row("armv6m native module .text", "not built", "", "(make natmod ARCH=armv6m)")
    else:
        row("armv6m native module .text", str(text), "bytes",
            "+ {} bytes .rodata (target .text <= {})".format(rodata, MAX_ARMV6M_TEXT))
    print()
    x25519_rows(n)
    print()
    import bench_sealed

    bench_sealed.rows(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
