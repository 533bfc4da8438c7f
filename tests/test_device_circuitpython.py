# SPDX-License-Identifier: MIT
"""`mpota device` on a CircuitPython board: build/unix-cpy behind a pty
(tests/device_host/ptyboard.py, circuitpython=True) with the stand-ins of
tests/circuitpython/lib, reached by real mpremote and the real CLI. Its
home directory is its CIRCUITPY drive: read-only to its code (OSError 30)
until the agent's boot.py remounts it at a start, as on a board.

No real CircuitPython and no real board: what differs on one (a FAT the
board caches, a drive the computer must sync) is in docs/CIRCUITPYTHON.md."""

import json
import shutil

import pytest

import targets
from device_host import bundles as kit
from device_host.cli import device, ok_json
from device_host.ptyboard import UnixPtyBoard
from mpota_host.device import runtime
from mpota_host.device.link import Link
from mpota_host.errors import BoardError

CPY_FIRMWARE = targets.ROOT / "firmware" / "circuitpython"


def one_line(proc):
    assert proc.returncode == 1 and proc.stdout == "", (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("mpota: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr[len("mpota: "):-1]


def _board(tmp_path, cpy, boot_py=False):
    home = tmp_path / "CIRCUITPY"
    home.mkdir()
    if boot_py:
        shutil.copy(CPY_FIRMWARE / "boot.py", home / "boot.py")
    return UnixPtyBoard(home, cpy.binary, circuitpython=True)


@pytest.fixture
def board(tmp_path, cpy):
    """A fresh board, its drive the computer's (no boot.py)."""
    with _board(tmp_path, cpy) as b:
        yield b


@pytest.fixture
def writable(tmp_path, cpy):
    """A fresh board whose boot.py remounted CIRCUITPY for its code."""
    with _board(tmp_path, cpy, boot_py=True) as b:
        yield b


def _errno(link, code):
    out = link.run(code)
    return out.error.strip().splitlines()[-1] if out.error else "ok"


def test_code_cannot_write_circuitpy_while_the_computer_has_it(board, tmp_path):
    # As CircuitPython's FAT (verify_fs_writable: EROFS) until boot.py
    # remounts it: every way of writing fails, reading works.
    (board.home / "old.txt").write_text("x")
    with Link(board.port) as link:
        for code in ("open('new.txt', 'w')", "open('old.txt', 'a')", "open('old.txt', 'r+b')",
                     "import os\nos.mkdir('d')", "import os\nos.remove('old.txt')",
                     "import os\nos.rename('old.txt', 'n.txt')", "import os\nos.rmdir('lib')"):
            assert _errno(link, code) == "OSError: 30", code
        assert link.exec("print(open('old.txt').read())") == ["x"]
        assert link.exec("import storage\nprint(storage.getmount('/').readonly)") == ["True"]
    assert sorted(p.name for p in board.home.iterdir()) == ["boot_out.txt", "lib", "old.txt"]


def test_read_only_board_brought_up_through_its_drive_then_updated_over_serial(board, tmp_path):
    home = board.home
    info = ok_json(board, "install", "--drive", home)
    assert (info["route"], info["kind"], info["ed25519"], info["natmod"]) == ("drive", ".py", "python", None)
    assert (info["code_py"], info["boot_py"]) == ("written", "written")
    assert (home / "lib" / "mpota" / "bringup.py").is_file() and not (home / "main.py").exists()
    assert (home / "code.py").read_text() == (CPY_FIRMWARE / "code.py").read_text()
    assert (home / "boot.py").read_text() == (CPY_FIRMWARE / "boot.py").read_text()

    res = ok_json(board, "provision", "--drive", home, "--root", kit.root(tmp_path),
                  "--device-class", kit.DEVICE_CLASS)
    assert res["root_version"] == 1 and json.loads((home / "mpota.json").read_text())["bank"] == "dir"
    # Reads go through the REPL: the board reads what the computer wrote.
    st = ok_json(board, "status")
    assert st["trial"] is None and st["active"]["version"] == 0 and st["root_version"] == 1

    v1 = kit.app(tmp_path, "v1", 1, 9000)
    rep = ok_json(board, "push", v1, "--drive", home)
    assert (rep["route"], rep["outcome"], rep["version"], rep["slot"]) == ("drive", "installed", 1, 0)
    assert rep["heap"] is None and rep["chunks"] == rep["fetched"] == len(kit.chunk_names(v1))
    # No trial runs before the reset: nothing to confirm, through the drive too.
    assert ok_json(board, "confirm", "--drive", home) == {"confirmed": False, "version": 0}

    boot = ok_json(board, "reboot")
    assert boot["reset"] == "hard" and board.hard_resets == 1
    assert (home / "resets").read_text() == "reset\n"  # microcontroller.reset()
    # code.py counted the trial at the start; boot.py gave CIRCUITPY to the
    # code, so from now on the board writes through its REPL, --drive or not.
    assert boot["status"]["trial"]["version"] == 1 and boot["status"]["trial"]["attempts"] == 1
    assert (home / "slots" / "0" / "app" / "main.py").read_text() == "print('app version 1')\n"
    assert ok_json(board, "confirm", "--drive", home) == {"confirmed": True, "version": 1}
    st = ok_json(board, "status")
    assert st["trial"] is None and st["active"]["version"] == 1 and st["min_security_counter"] == 1
    events = [(e["event"], e["value"]) for e in ok_json(board, "log")]
    assert events == [("provisioned", 0), ("install", 1), ("installed", 1), ("trial-boot", 1),
                      ("counter-advanced", 1), ("confirm", 1)]

    # v2 over the serial line now: the board itself checks every byte.
    rep = ok_json(board, "push", kit.app(tmp_path, "v2", 2, 9000))
    assert (rep["route"], rep["outcome"], rep["slot"]) == ("repl", "installed", 1)
    assert rep["heap"]["idle"] < rep["heap"]["peak"] <= rep["heap"]["size"]


def test_writable_board_is_brought_up_through_its_repl(writable, tmp_path):
    home = writable.home
    info = ok_json(writable, "install")
    assert (info["route"], info["kind"], info["ed25519"]) == ("repl", ".py", "python")
    assert (info["code_py"], info["boot_py"]) == ("written", "present")
    # Its stdin carries text only: the files came, and bundles come, as
    # base64 frames (~~o, ~~r), so no byte of them is a Ctrl-C.
    with Link(writable.port) as link:
        assert link.exec("from mpota.source.serial import stdio\nprint(stdio().text)") == ["True"]
    ok_json(writable, "provision", "--root", kit.root(tmp_path), "--device-class", kit.DEVICE_CLASS)
    rep = ok_json(writable, "push", kit.app(tmp_path, "v1", 1, 9000))
    assert (rep["route"], rep["outcome"], rep["version"]) == ("repl", "installed", 1)
    assert rep["sent"]["files"]["chunks"] == rep["fetched"]
    proc = device(writable, "reboot")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("running version 1 on trial (attempt 1 of 3)")
    proc = device(writable, "confirm")
    assert proc.returncode == 0 and proc.stdout == "confirmed version 1\n"
    proc = device(writable, "log")
    assert proc.returncode == 0 and " confirm version 1" in proc.stdout
    assert (home / "slots" / "0" / "app" / "main.py").is_file()


def test_board_names_itself_as_circuitpython_with_its_chip_uid(board):
    from mpota_host import Board

    me = Board(board.port).identity()
    assert (me.implementation, me.version, me.agent) == ("circuitpython", "9.2.1", None)
    # The UID boot_out.txt shows (as CircuitPython writes it, upper case).
    assert "UID:{}\n".format(me.unique_id.upper()) in (board.home / "boot_out.txt").read_text()


def test_read_only_board_without_drive_is_told_how_to_write(board, tmp_path):
    for args in (("install",), ("provision", "--root", kit.root(tmp_path), "--device-class", "x")):
        assert one_line(device(board, *args)) == runtime.READ_ONLY
    assert sorted(p.name for p in board.home.iterdir()) == ["boot_out.txt", "lib"]


def test_folder_that_is_not_a_circuitpy_drive_gets_nothing(board, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    msg = one_line(device(board, "install", "--drive", other))
    assert msg == ("--drive {} is not this board's CIRCUITPY drive: it has no boot_out.txt, "
                   "which every CIRCUITPY drive has".format(other))
    # Another board's drive: a boot_out.txt naming another chip.
    (other / "boot_out.txt").write_text((board.home / "boot_out.txt").read_text().replace("UID:", "UID:9"))
    msg = one_line(device(board, "install", "--drive", other))
    assert msg.endswith("its boot_out.txt is not the board's (another board, or another start)")
    assert sorted(p.name for p in other.iterdir()) == ["boot_out.txt"]


def test_board_without_sha512_is_refused_before_anything_is_copied(tmp_path, cpy):
    # The stand-ins alone: no adafruit_hashlib (and no hashlib) on its path.
    home = tmp_path / "CIRCUITPY"
    with UnixPtyBoard(home, cpy.binary, circuitpython=True, cpy_path=targets.CPY_PATH[:1]) as b:
        msg = one_line(device(b, "install", "--drive", home))
    assert msg.startswith("wrong board for the agent: ") and msg.endswith(
        "has no SHA-512 for the signature check (hashlib.sha512 or adafruit_hashlib): copy "
        "adafruit_hashlib from the CircuitPython library bundle into its lib/ first")
    assert sorted(p.name for p in home.iterdir()) == ["boot_out.txt", "lib"]
    assert not any((home / "lib").iterdir())


@pytest.mark.parametrize("name, readonly, drive, result", [
    ("micropython", None, None, "repl"),
    ("micropython", None, "/media/CIRCUITPY", "--drive is for CircuitPython boards; this one runs micropython"),
    ("circuitpython", False, None, "repl"),
    ("circuitpython", False, "/media/CIRCUITPY", "repl"),  # the drive is read-only to the computer then
    ("circuitpython", None, None, "repl"),  # no storage.getmount: try the REPL
    ("circuitpython", True, "/media/CIRCUITPY", "drive"),
    ("circuitpython", True, None, runtime.READ_ONLY),
])
def test_writes_go_where_the_board_lets_them(name, readonly, drive, result):
    try:
        got = runtime.route(name, readonly, drive)
    except BoardError as e:
        got = str(e)
    assert got == result


@pytest.mark.parametrize("name, hard, call", [
    ("micropython", True, "machine.reset()"),
    ("micropython", False, "machine.soft_reset()"),
    ("circuitpython", True, "microcontroller.reset()"),
    ("circuitpython", False, "microcontroller.reset()"),  # no soft reset that runs boot code
])
def test_reset_uses_the_runtimes_own_call(name, hard, call):
    code = runtime.reset_code(name, hard)
    assert call in code
    assert ("machine." in code) == (name == "micropython")
    if name == "micropython" and not hard:
        assert "_hard = False" in code


@pytest.mark.parametrize("board_text, drive_text, ok", [
    (b"CircuitPython 9.2.1\nUID:A1\n", b"CircuitPython 9.2.1\nUID:A1\n", True),
    (b"CircuitPython 9.2.1\nUID:A1\n", b"CircuitPython 9.2.1\nUID:B2\n", False),
    (b"CircuitPython 9.2.1\nUID:A1\n", None, False),
    (None, b"CircuitPython 9.2.1\nUID:A1\n", False),
])
def test_only_the_boards_own_drive_is_written(board_text, drive_text, ok):
    assert (runtime.same_drive(board_text, drive_text) is None) == ok


def test_circuitpython_start_files_are_the_shipped_ones_boot_py_last():
    files = runtime.start_files("circuitpython", ("b", "m"), CPY_FIRMWARE)
    assert [n for n, _ in files] == ["code.py", "boot.py"]
    assert files[1][1] == (CPY_FIRMWARE / "boot.py").read_text()
    assert runtime.start_files("micropython", ("b", "m"), CPY_FIRMWARE) == [("boot.py", "b"), ("main.py", "m")]


def test_tampered_bundle_pushed_through_the_drive_changes_nothing(board, tmp_path):
    home = board.home
    ok_json(board, "install", "--drive", home)
    ok_json(board, "provision", "--drive", home, "--root", kit.root(tmp_path), "--device-class", kit.DEVICE_CLASS)
    bundle = kit.app(tmp_path, "v1", 1, 9000)
    chunk = bundle / kit.chunk_names(bundle)[1]
    data = bytearray(chunk.read_bytes())
    data[100] ^= 1
    chunk.write_bytes(bytes(data))
    msg = one_line(device(board, "push", bundle, "--drive", home))
    assert msg == "the agent (run here, on the drive) refused the bundle: hash-mismatch"
    st = ok_json(board, "status")
    assert st["trial"] is None and st["active"]["version"] == 0
    # The board's own audit log has it, read through the REPL.
    last = ok_json(board, "log")[-1]
    assert (last["event"], last["reason"]) == ("chunk-failure", "hash-mismatch")
