# SPDX-License-Identifier: MIT
"""The verifier's deepest call path fits in 3 KB of stack on the cores it
targets (docs/ED25519.md, "Constraints"): each frame as GCC reports it
(-fstack-usage, static frames only), summed along the call graph GCC
writes (-fcallgraph-info=su), with the qemu port's flags. A board sizes
its stack from this figure, so a frame grown by a refactor must show."""

import re
import shutil
import subprocess

import pytest

from targets import ROOT

SRC = ROOT / "firmware" / "cmod" / "ed25519"
CORE = ("field.c", "point.c", "scalar.c", "sha512.c", "tables.c", "verify.c")
LIMIT = 3 * 1024
_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_FRAME = re.compile(r"\\n(\d+) bytes \((\w+)\)")


def _graph(cpu, out, sources=CORE):
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.fail("arm-none-eabi-gcc is missing: run make test", pytrace=False)
    frames, calls = {}, {}
    for name in sources:
        obj = out / name.replace(".c", ".o")
        subprocess.run([cc, "-std=gnu99", "-Os", "-DNDEBUG", "-mthumb", "-mcpu=" + cpu,
                        "-mfloat-abi=soft", "-ffunction-sections", "-fstack-usage",
                        "-fcallgraph-info=su", "-I", str(SRC), "-c", str(SRC / name),
                        "-o", str(obj)], check=True, cwd=out)
        text = obj.with_suffix(".ci").read_text()
        for title, label in _NODE.findall(text):
            m = _FRAME.search(label)
            if m:
                assert m.group(2) == "static", (title, label)  # no alloca, no VLA
                frames[title] = int(m.group(1))
            else:
                frames.setdefault(title, 0)  # a library call (memcpy)
        for caller, callee in _EDGE.findall(text):
            calls.setdefault(caller, set()).add(callee)
    return frames, calls


def _deepest(frames, calls, fn, path=()):
    assert fn not in path, "recursion: " + " -> ".join(path + (fn,))
    below = [_deepest(frames, calls, c, path + (fn,)) for c in calls.get(fn, ())]
    depth, chain = max(below, default=(0, []))
    return frames[fn] + depth, [fn] + chain


@pytest.mark.parametrize("cpu", ["cortex-m0", "cortex-m3"])
def test_the_deepest_verify_path_fits_in_3_kb_of_stack(tmp_path, cpu):
    frames, calls = _graph(cpu, tmp_path)
    depth, chain = _deepest(frames, calls, "ed25519_verify")
    print("{}: {} bytes: {}".format(cpu, depth, " -> ".join(chain)))
    # The summing sees the main loop (a sanity check on the parsing).
    assert "ge_double_scalarmult_vartime" in chain and depth > 2000
    assert depth < LIMIT, " -> ".join("{}({})".format(f, frames[f]) for f in chain)
