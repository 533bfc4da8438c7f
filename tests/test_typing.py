# SPDX-License-Identifier: MIT
"""The agent type-checked against each board's stubs (mypy).

One run per stub set in build/stubs/<set> (make stubs, pins in
typing/requirements-<set>.txt): the MicroPython ports the agent ships on
(esp32, rp2 for the plain Pico, rp2-pico-w, unix) and CircuitPython for the
parts that run there. A call the board's firmware does not have (a missing
function, a wrong argument) fails the run.

Scope: every module under firmware/mpota (read from the tree), less
UNCHECKED (with the reason) and BOARD_SPECIFIC (checked only for the boards
that have what they need).
  on CircuitPython       bundle.inflate reads MicroPython's deflate
                         too; CircuitPython's zlib.decompress path is
                         bundle.oneshot, checked there
"""

import ast
import os
import re
import subprocess
from collections import defaultdict

import pytest

from targets import BUILD, ROOT

TYPING = ROOT / "typing"
STUBS = BUILD / "stubs"
PYTHON = BUILD / "venv" / "bin" / "python"

# Modules that need what only some boards have; each set below adds back the
# ones its board supports.
BOARD_SPECIFIC = {
    "mpota": "boot() resets through machine.reset, which the unix port lacks",
    "mpota.slots.esp32": "ESP32 OTA partitions: esp32 only",
    "mpota.flash.rp2flash": "rp2.Flash: RP2040 only",
    "mpota.source.netconn": "socket and tls: not on the plain Pico",
    "mpota.source.poolconn": "socketpool, wifi and ssl.SSLContext: CircuitPython only",
    "mpota.slots.dualbank": "dualbank: CircuitPython's espressif port only",
    "mpota.bundle.oneshot": "CircuitPython's zlib.decompress (elsewhere deflate or CPython's zlib)",
}
# Not type-checked at all, with the reason.
UNCHECKED = {
    "mpota.bundle.directory": "frees its buffers by assigning None (directory.py)",
}


def _agent_modules():
    """Every module of the on-device package, read from the source tree, so
    that a module added to the agent is checked without editing this list."""
    base = ROOT / "firmware"
    names = []
    for path in sorted((base / "mpota").rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


# Checked against every MicroPython set.
MICROPYTHON = [m for m in _agent_modules() if m not in BOARD_SPECIFIC and m not in UNCHECKED]

SETS = {
    "esp32": MICROPYTHON + ["mpota", "mpota.slots.esp32", "mpota.source.netconn"],
    "rp2": MICROPYTHON + ["mpota", "mpota.flash.rp2flash"],
    "rp2-pico-w": MICROPYTHON + ["mpota", "mpota.flash.rp2flash", "mpota.source.netconn"],
    "unix": MICROPYTHON + ["mpota.source.netconn"],
    # The agent less the bundle module that also reads MicroPython's
    # deflate (its CircuitPython path, bundle.oneshot, is checked).
    "circuitpython": [m for m in MICROPYTHON if m != "mpota.bundle.inflate"]
    + ["mpota", "mpota.source.poolconn", "mpota.slots.dualbank", "mpota.bundle.oneshot"],
}

_ERROR = re.compile(r"^(?P<path>[^:\s]+\.pyi?):(?P<line>\d+): error: (?P<msg>.*)$")

# Handlers of a feature probe: their body runs only on a runtime without the
# feature, which the set's stubs (having it) cannot describe.
_PROBES = {"ImportError", "NameError", "AttributeError"}


def _stub_gaps():
    """Errors that are the stubs' fault, each proven from MicroPython's own
    source rather than taken on trust."""
    gaps = []
    tls_c = BUILD / "micropython" / "extmod" / "modtls_mbedtls.c"
    if "MP_QSTR_verify_mode" in tls_c.read_text():
        gaps.append('"SSLContext" has no attribute "verify_mode"')
    # rp2.Flash(start=, len=): the constructor's keyword arguments, which
    # the stubs leave out.
    flash_c = (BUILD / "micropython" / "ports" / "rp2" / "rp2_flash.c").read_text()
    for kw in ("start", "len"):
        if "{ MP_QSTR_" + kw + "," in flash_c.split("rp2_flash_make_new", 1)[1]:
            gaps.append('Unexpected keyword argument "{}" for "Flash"'.format(kw))
    return gaps


def _mypypath(name, tmp):
    s = STUBS / name
    paths = [TYPING / "stubs"]
    if name == "circuitpython":
        # Stub-only packages named like stdlib modules (hashlib, zlib) are
        # ignored by mypy in favour of typeshed; on the path under their
        # module names they are used.
        view = tmp / "circuitpython-view"
        view.mkdir(exist_ok=True)
        for d in s.glob("*-stubs"):
            (view / d.name[: -len("-stubs")]).symlink_to(d)
        paths += [view, s, BUILD / "circuitpython-lib"]
    else:
        paths.append(s)
    paths.append(ROOT / "firmware")
    return os.pathsep.join(str(p) for p in paths)


def mypy(name, modules, tmp, extra=()):
    """Runs mypy for one stub set; returns its errors as (path, line, msg)."""
    s = STUBS / name
    if not (s / ".mpota-installed").is_file():
        pytest.fail("{} is missing: run make test".format(s), pytrace=False)
    args = [str(PYTHON), "-m", "mypy", "--config-file", str(TYPING / "mypy.ini"),
            "--no-site-packages", "--no-error-summary",
            "--cache-dir", str(STUBS / (name + ".mypy_cache"))]
    if name != "circuitpython":
        args += ["--custom-typeshed-dir", str(s)]
    for m in modules:
        args += ["-m", m]
    args += list(extra)
    env = dict(os.environ, MYPYPATH=_mypypath(name, tmp))
    run = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if run.returncode not in (0, 1) or "error: " in run.stderr:
        pytest.fail("mypy did not run:\n" + run.stdout + run.stderr, pytrace=False)
    found = []
    for line in run.stdout.splitlines():
        m = _ERROR.match(line)
        if m:
            found.append((m["path"], int(m["line"]), m["msg"]))
    return found


def _probe_handlers(path):
    """(try body lines, handler lines) of each feature probe in a file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Try):
            continue
        body = (node.body[0].lineno, node.body[-1].end_lineno)
        for h in node.handlers:
            kinds = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
            names = {k.id for k in kinds if isinstance(k, ast.Name)}
            if names and names <= _PROBES:
                out.append((body, (h.lineno, h.end_lineno)))
    return out


def unexcused(errors, root=ROOT):
    """The errors in agent code (paths under root/firmware), less those in
    the fallback branch of a feature probe whose own import or lookup
    checked cleanly, the stubs' known gaps, and mypy's own "cannot
    determine type" (an inference-order limit with unannotated code, not
    a call the board lacks)."""
    gaps = _stub_gaps()
    by_file = defaultdict(list)
    for path, line, msg in errors:
        if path.startswith("firmware/"):
            by_file[path].append((line, msg))
    left = []
    for path, errs in by_file.items():
        lines = [ln for ln, _ in errs]
        probes = _probe_handlers(root / path)
        for line, msg in errs:
            if any(gap in msg for gap in gaps) or msg.endswith("[has-type]"):
                continue
            fallback = any(
                h[0] <= line <= h[1] and not any(b[0] <= ln <= b[1] for ln in lines)
                for b, h in probes
            )
            if not fallback:
                left.append("{}:{}: {}".format(path, line, msg))
    return left


@pytest.mark.parametrize("name", sorted(SETS))
def test_agent_calls_only_what_the_board_firmware_has(name, tmp_path):
    errors = unexcused(mypy(name, SETS[name], tmp_path))
    assert not errors, "against the {} stubs:\n{}".format(name, "\n".join(errors))


def test_checked_modules_exist():
    # A module renamed away would otherwise drop out of the check unseen.
    for name, modules in SETS.items():
        for m in modules:
            base = ROOT / "firmware" / m.replace(".", "/")
            assert base.with_suffix(".py").is_file() or (base / "__init__.py").is_file(), (name, m)


def test_unix_stubs_reject_a_call_the_unix_port_lacks(tmp_path):
    # The check can fail: the unix port has no machine.reset() (the ESP32
    # port has), so the same code passes one set and fails the other.
    mod = tmp_path / "resetter.py"
    mod.write_text("import machine\n\ndef go():\n    machine.reset()\n")
    extra = ["--cache-dir", os.devnull, str(mod)]
    unix = [e for e in mypy("unix", [], tmp_path, extra) if e[0].endswith("resetter.py")]
    esp32 = [e for e in mypy("esp32", [], tmp_path, extra) if e[0].endswith("resetter.py")]
    assert any("reset" in msg for _, _, msg in unix), unix
    assert not esp32, esp32


def test_probe_fallback_is_excused_only_when_the_probe_itself_checks(tmp_path):
    # `try: import x / except ImportError: <fallback>`: the fallback's errors
    # are excused only while the import itself checks cleanly on the board.
    rel = "firmware/probe.py"
    (tmp_path / "firmware").mkdir()
    (tmp_path / rel).write_text(
        "try:\n    from time import ticks_ms\nexcept ImportError:\n"
        "    def ticks_ms():\n        return 0\n"
    )
    fallback_error = [(rel, 4, "All conditional function variants must have identical signatures")]
    probe_error = [(rel, 2, 'Module "time" has no attribute "ticks_ms"')]
    assert unexcused(fallback_error, tmp_path) == []
    assert len(unexcused(fallback_error + probe_error, tmp_path)) == 2
