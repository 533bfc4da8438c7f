# SPDX-License-Identifier: MIT
"""The ed25519 C core under AddressSanitizer and UBSan (tests/sanitize/,
`make sanitize` for the full run): a small sample here, both limb layouts
and the Cortex-M0's products, every answer libsodium's, hashlib's or
Python's integers'; and controls
showing that the harness reports what it is there to find, on copies of
the module broken on purpose: a read one byte past the key, a signed
overflow, and a verdict that accepts S >= L."""

import shutil
import subprocess
import sys

import pytest

from crypto_cases import ROOT

RUN = ROOT / "tests" / "sanitize" / "run.py"
MODULE = ROOT / "firmware" / "cmod" / "ed25519"


def sanitize(*args):
    return subprocess.run([sys.executable, str(RUN), *args], capture_output=True, text=True,
                          timeout=1800)


def test_sample_runs_clean_under_asan_and_ubsan_with_libsodiums_verdicts():
    run = sanitize("--cases", "200", "--field", "300")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("no sanitizer report, every answer agrees") == 3


ENTRY = "    const uint8_t *s = signature + 32;\n"


@pytest.mark.parametrize("broken, reported", [
    (ENTRY + "    volatile uint8_t past = public_key[32];\n    (void)past;\n",
     "heap-buffer-overflow"),
    (ENTRY + "    volatile int32_t big = 2147483647;\n    big += (signature[0] | 1);\n",
     "signed integer overflow"),
])
def test_harness_stops_at_a_memory_or_undefined_behaviour_error(tmp_path, broken, reported):
    module = tmp_path / "ed25519"
    shutil.copytree(MODULE, module)
    verify = module / "verify.c"
    verify.write_text(verify.read_text().replace(ENTRY, broken, 1))
    run = sanitize("--cases", "10", "--field", "10", "--layout", "32", "--module", str(module))
    assert run.returncode != 0
    assert reported in run.stdout + run.stderr


def test_harness_reports_a_verdict_libsodium_does_not_share(tmp_path):
    module = tmp_path / "ed25519"
    shutil.copytree(MODULE, module)
    verify = module / "verify.c"
    text = verify.read_text()
    assert "    if (!sc_is_canonical(s)) {\n        return 0;" in text
    verify.write_text(text.replace("    if (!sc_is_canonical(s)) {\n        return 0;",
                                   "    if (!sc_is_canonical(s)) {\n        return 1;", 1))
    run = sanitize("--cases", "60", "--field", "10", "--layout", "64", "--module", str(module))
    assert run.returncode == 1
    assert "where libsodium says 0" in run.stdout
