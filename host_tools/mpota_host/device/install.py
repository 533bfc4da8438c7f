# SPDX-License-Identifier: MIT
"""`mpota device install`: the agent onto a board, in the form it can load."""

import json
import os
import shutil
import tempfile
import time
import types

from ..errors import CommandError
from . import agent as A
from . import board as B
from . import drive as D
from . import runtime, wire
from .calls import forget_agent, show

BOOT_PY = ("# Written by `mpota device install`: the agent's boot step (trial boots,\n"
           "# rollback) before the application, and one line saying what it chose.\n"
           "import mpota.bringup\n"
           "mpota.bringup.boot()\n")
MAIN_PY = ("# Written by `mpota device install`: run the main.py of the app that\n"
           "# boot.py chose (mpota.boot() put its folder first on sys.path).\n"
           "import mpota.bringup\n"
           "mpota.bringup.run_app()\n")

_REMOVE_TREE = """
import os
def _rm(p):
    try:
        st = os.stat(p)
    except OSError:
        return
    if st[0] & 0x4000:
        for n in os.listdir(p):
            _rm(p + '/' + n)
        os.rmdir(p)
    else:
        os.remove(p)
def _mk(p):
    try:
        os.mkdir(p)
    except OSError:
        pass
"""


def _dirs(lib, names):
    """Every directory the files need, parents first, lib included."""
    out = []
    parts = lib.split("/")
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if d and d not in out:
            out.append(d)
    for name in names:
        segs = name.split("/")[:-1]
        for i in range(1, len(segs) + 1):
            d = lib + "/" + "/".join(segs[:i])
            if d not in out:
                out.append(d)
    return out


# Run on a CircuitPython board: whether it has a SHA-512 for the pure-Python
# signature check (crypto/sha512_source.py takes hashlib's, else
# adafruit_hashlib's).
_SHA512 = """
try:
    import hashlib
    _s = hasattr(hashlib, 'sha512')
except ImportError:
    _s = False
if not _s:
    try:
        import adafruit_hashlib
        _s = hasattr(adafruit_hashlib, 'sha512')
    except ImportError:
        pass
print(_s)
del _s
"""


def _check_sha512(link, board):
    if link.exec(_SHA512)[-1] != "True":
        raise CommandError("wrong board for the agent: {} has no SHA-512 for the signature check "
                           "(hashlib.sha512 or adafruit_hashlib): copy adafruit_hashlib from the "
                           "CircuitPython library bundle into its lib/ first".format(board.describe()))


def _choose(args, board):
    """(mpy-cross or None, (natmod path, arch) or None, notes) for this board."""
    notes = []
    if board.circuitpython:
        # CircuitPython loads neither MicroPython's .mpy files nor native
        # modules: sources, and the pure-Python Ed25519 over adafruit_hashlib.
        return None, None, notes
    mpy_cross = None if args.sources else A.find_mpy_cross(args.mpy_cross)
    if mpy_cross:
        made = A.mpy_cross_version(mpy_cross)
        if made != board.mpy:
            notes.append("{} writes .mpy v{}.{}, the board loads v{}.{}: copying .py sources".format(
                mpy_cross, made[0], made[1], board.mpy[0], board.mpy[1]))
            mpy_cross = None
    elif not args.sources:
        notes.append("no mpy-cross found (make setup builds one; or pass --mpy-cross): copying .py sources")
    natmod = None
    if not board.c_module:
        natmod = A.find_natmod(board.arch, board.mpy, args.natmod)
        if natmod is None and not args.pure_python:
            raise CommandError(
                "wrong board for the files here: {} has no ed25519 C module and there is no native "
                "ed25519.mpy for {} (.mpy v{}.{}): build one (make natmod ARCH={}), or pass "
                "--pure-python to use the slow fallback".format(
                    board.describe(), board.arch or "its architecture", board.mpy[0], board.mpy[1],
                    board.arch or "<arch>"))
    return mpy_cross, natmod, notes


def _copy(link, lib, tmp, names):
    """Put the staged files under lib on the board: a clean mpota/ tree,
    the serial source's modules through the REPL, the rest pulled by the
    board through them."""
    link.exec(_REMOVE_TREE + "_rm({!r})\n".format(lib + "/mpota")
              + "".join("_mk({!r})\n".format(d) for d in _dirs(lib, names)))
    first = len(A.FIRST)
    for name in names[:first]:
        with open(os.path.join(tmp, name), "rb") as f:
            link.write_file(lib + "/" + name, f.read())
    forget_agent(link)
    server = wire.FileServer(tmp, set(names[first:]).__contains__)
    try:
        ans = wire.converse(
            link, "import json\nfrom mpota.source.serial import receive\n"
                  "print('~~D ' + json.dumps(receive({!r}, {!r})))\n".format(names[first:], lib),
            server, timeout=60.0)
    finally:
        server.close()
    if ans.error or ans.result is None:
        raise CommandError("copying the agent failed: {}".format(
            (ans.error or "no answer").strip().splitlines()[-1]))


def install(link, mpy_cross=None, natmod=None, sources=False, pure_python=False, drive=None):
    """Copy the agent onto the board on `link`; return what was done, as
    `mpota device install --json` prints it (mpota_host.Board.install).
    drive: the CircuitPython board's CIRCUITPY folder, written where the
    board's code may not write (runtime.route)."""
    args = types.SimpleNamespace(mpy_cross=mpy_cross, natmod=natmod, sources=sources,
                                 pure_python=pure_python)
    board = B.probe(link)
    board.check_micropython()
    how = runtime.route(board.name, board.readonly, drive)
    if board.frozen_agent:
        return {"installed": False, "frozen": board.agent}
    if board.circuitpython and not board.c_module:
        _check_sha512(link, board)
    folder = D.check(link, drive) if how == "drive" else None
    lib = board.lib() if folder is None else "/lib"
    mpy_cross, natmod, notes = _choose(args, board)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mpota-install-") as tmp:
        names = A.stage(tmp, mpy_cross)
        if natmod:
            shutil.copyfile(natmod[0], os.path.join(tmp, "ed25519.mpy"))
            names.append("ed25519.mpy")
        size = sum(os.path.getsize(os.path.join(tmp, n)) for n in names)
        if folder is None:
            _copy(link, lib, tmp, names)
        else:
            D.install(folder, tmp, names)
    seconds = time.monotonic() - started
    start = {}
    for name, text in runtime.start_files(board.name, (BOOT_PY, MAIN_PY), A.PACKAGE.parent / "circuitpython"):
        start[name.replace(".", "_")] = (_write_start(link, name, text) if folder is None
                                         else D.start_file(folder, name, text))
    if folder is None:
        forget_agent(link)
        check = link.exec("import json, mpota, mpota.crypto as c\n"
                          "print(json.dumps([mpota.__version__, c.IMPLEMENTATION]))")
        version, impl = json.loads(check[-1])
        forget_agent(link)
    else:
        # The board imports the files only after its reset, and cannot load
        # native code: the version copied, the pure-Python verifier.
        import mpota

        version, impl = mpota.__version__, "python"
    return dict({"installed": True, "agent": version, "board": board.facts, "lib": lib,
                 "files": len(names), "kind": ".mpy" if mpy_cross else ".py", "bytes": size,
                 "seconds": round(seconds, 2), "ed25519": impl, "natmod": natmod[1] if natmod else None,
                 "notes": notes, "route": how}, **start)


def install_text(info):
    """What `mpota device install` prints for install()'s answer."""
    if not info["installed"]:
        return "the agent {} is frozen into this firmware: nothing to install".format(info["frozen"])
    board = B.Board(info["board"])
    crypto = ("C module in the firmware" if board.c_module else
              "native module for {} (ed25519.mpy)".format(info["natmod"]) if info["natmod"]
              else "pure Python fallback")
    head = ["note: " + n for n in info["notes"]] + [
        "installed mpota {} on {}: {} files as {} ({} bytes) in {}{}".format(
            info["agent"], board.describe(), info["files"], info["kind"], info["bytes"], info["lib"],
            " on the CIRCUITPY drive" if info.get("route") == "drive" else ""),
        "signature checks: {}".format(crypto)]
    if board.circuitpython:
        return "\n".join(head + [
            {"written": "code.py written: the agent's boot step, then the app's main.py",
             "present": "code.py was already set up for mpota",
             "other": "code.py exists: merge firmware/circuitpython/code.py into it"}[info["code_py"]],
            {"written": "boot.py written: after the next reset (mpota device reboot) the board's code "
                        "writes CIRCUITPY and the computer only reads it",
             "present": "boot.py was already set up for mpota",
             "other": "boot.py exists: it must call storage.remount('/', readonly=False) "
                      "(firmware/circuitpython/boot.py)"}[info["boot_py"]]])
    return "\n".join(head + [
        {"written": "boot.py written: the board runs mpota.boot() at every start",
         "present": "boot.py was already set up for mpota",
         "other": "boot.py exists: add `import mpota.bringup; mpota.bringup.boot()` to it"}[info["boot_py"]],
        {"written": "main.py written: the board then runs the chosen app's main.py",
         "present": "main.py was already set up for mpota",
         "other": "main.py exists: it starts the app (boot() put the app's folder first on "
                  "sys.path), or add `import mpota.bringup; mpota.bringup.run_app()`"}[info["main_py"]]])


def cmd_install(args):
    from ..board_api import Board

    info = Board(args.port, mount=args.mount, drive=args.drive).install(
        mpy_cross=args.mpy_cross, natmod=args.natmod, sources=args.sources,
        pure_python=args.pure_python)
    show(args, info.raw, install_text(info.raw))


def _write_start(link, name, text):
    """Give the board `name` (boot.py, main.py) with the agent's `text`,
    unless it has that file already. Returns 'written', 'present' (it
    mentions mpota) or 'other'."""
    lines = link.exec("try:\n with open({0!r}) as _f:\n  print('mpota' in _f.read())\n"
                      "except OSError:\n print('none')".format(name))
    state = lines[-1] if lines else "none"
    if state == "none":
        link.write_file(name, text.encode())
        return "written"
    return "present" if state == "True" else "other"
