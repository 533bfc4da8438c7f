# SPDX-License-Identifier: MIT
"""Which Ed25519 implementation mpota.crypto picks, and the API's edges.

The C module when the firmware has it (built in or as a natmod), never a
same-named package on CPython, else the pure-Python fallback, whose SHA-512
comes from hashlib or, on CircuitPython, adafruit_hashlib. A board with no
SHA-512 at all must fail loudly at import, not at its first update.
"""

import pytest

import crypto_cases as cc

REPORT = (
    "import sys\n"
    "import mpota.crypto as c\n"
    "print('impl', c.IMPLEMENTATION, c.SHA512_SOURCE, 'adafruit_hashlib' in sys.modules)\n"
)


def _impl(out):
    lines = [line.split()[1:] for line in out.splitlines() if line.startswith("impl ")]
    assert len(lines) == 1, out
    return tuple(lines[0])


def test_firmware_with_the_c_module_uses_it(unix_target):
    assert _impl(unix_target.run(REPORT, path=[cc.FIRMWARE])) == ("c", "c", "False")


def test_installed_natmod_is_used_on_stock_firmware(unix_stock_target):
    cc.require_natmod()
    out = unix_stock_target.run(REPORT, path=[cc.FIRMWARE, cc.NATMOD_X64_DIR])
    assert _impl(out) == ("c", "c", "False")


def test_stock_firmware_has_no_builtin_ed25519_to_mask_the_natmod_or_fallback(unix_stock_target):
    code = "try:\n    import ed25519\n    print('present')\nexcept ImportError:\n    print('absent')\n"
    assert unix_stock_target.run(code).split() == ["absent"]


def test_circuitpython_path_really_hashes_with_adafruit_hashlib(unix_stock_target):
    cc.require_circuitpython_lib()
    code = REPORT + (
        "import adafruit_hashlib, hashlib\n"
        "print('hashlib_has_sha512', hasattr(hashlib, 'sha512'))\n"
        "print('same', c.sha512(b'abc').digest() == adafruit_hashlib.sha512(b'abc').digest())\n"
    )
    out = unix_stock_target.run(code, path=[cc.FIRMWARE, cc.CIRCUITPYTHON_LIB])
    assert _impl(out) == ("python", "adafruit_hashlib", "True")
    assert "hashlib_has_sha512 False" in out and "same True" in out


def test_board_without_any_sha512_refuses_to_import_the_verifier(unix_stock_target):
    code = (
        "try:\n    import mpota.crypto\n    print('imported')\n"
        "except ImportError as e:\n    print('refused', e)\n"
    )
    out = unix_stock_target.run(code, path=[cc.FIRMWARE])
    assert out.startswith("refused") and "SHA-512" in out, out


def test_foreign_ed25519_package_that_accepts_everything_is_never_used_on_cpython(tmp_path):
    # A PyPI package may be called ed25519; on CPython only the fallback counts.
    (tmp_path / "ed25519.py").write_text("def verify(*a):\n    return True\nsha512 = None\n")
    code = REPORT + "print('forged', c.verify(bytes(32), bytes(64), b''))\n"
    out = cc.run_cpython(code, path=[tmp_path, cc.FIRMWARE])
    assert _impl(out) == ("python", "hashlib", "False")
    assert "forged False" in out


def test_foreign_ed25519_module_without_our_api_is_ignored_on_micropython(unix_stock_target, tmp_path):
    cc.require_circuitpython_lib()
    (tmp_path / "ed25519.py").write_text("def sign(*a):\n    return b''\n")
    out = unix_stock_target.run(REPORT, path=[tmp_path, cc.FIRMWARE, cc.CIRCUITPYTHON_LIB])
    assert _impl(out)[0] == "python"


# Some ports are built without 3-argument pow(); shadowing pow in the
# fallback's module makes any call to it fail.
NO_POW = "import mpota.crypto.ed25519_fallback as _fb\n_fb.pow = None\n"


@pytest.mark.parametrize("impl", ["fallback-circuitpython", "fallback-cpython"])
def test_fallback_needs_no_three_argument_pow(impl, request, tmp_path):
    cases = cc.speccheck_cases() + cc.rfc8032_cases()[0] + cc.differential_cases()[:150]
    got = cc.run_on(impl, cases, request, tmp_path, prelude=NO_POW)
    report = cc.disagreements(cases, got, cc.reference_verdicts(cases))
    assert not report, "{}:\n{}".format(impl, report)
