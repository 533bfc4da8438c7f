# SPDX-License-Identifier: MIT
"""`mpota device` fails with one line a person can act on: no board, a
busy port, no MicroPython on the line, the wrong files for the board, no
agent, not provisioned; and picks the board's files by what it is."""

import os

import pytest
import serial
from serial.tools import list_ports

from bundles import factory as f
from device_host import bundles as kit
from device_host.ptyboard import UnixPtyBoard
from mpota_host import cli
from mpota_host.device import agent, board as B
from mpota_host.errors import CommandError

NATMOD = f.REPO / "build" / "natmod"


def one_line(proc):
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("mpota: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr[len("mpota: "):-1]


@pytest.fixture
def board(tmp_path, unix_stock_target):
    with UnixPtyBoard(tmp_path / "board", unix_stock_target.binary) as b:
        yield b


def test_port_that_does_not_exist_is_no_board(tmp_path):
    port = str(tmp_path / "ttyACM9")
    assert one_line(f.cli("device", "status", "--port", port)) == "no board at {}".format(port)


def test_port_that_is_not_a_serial_line_is_named_as_such(tmp_path):
    plain = tmp_path / "fw.bin"
    plain.write_bytes(b"not a tty")
    for port in ("/dev/null", str(plain)):
        assert one_line(f.cli("device", "status", "--port", port)) == \
            "{} is not a serial port".format(port)


@pytest.mark.parametrize("found, message", [
    ([], "no board found: plug one in, or name its port with --port"),
    (["/dev/ttyACM0", "/dev/ttyUSB0"], "several boards found (/dev/ttyACM0, /dev/ttyUSB0): choose one with --port"),
])
def test_without_port_the_one_usb_board_is_required(monkeypatch, capsys, found, message):
    class Port:
        def __init__(self, device):
            self.device, self.vid = device, 0x2E8A

    monkeypatch.setattr(list_ports, "comports", lambda: [Port(d) for d in found])
    assert cli.main(["device", "status"]) == 1
    assert capsys.readouterr().err == "mpota: {}\n".format(message)


def test_port_held_by_another_program_is_busy(board):
    with serial.Serial(board.port, exclusive=True):
        msg = one_line(f.cli("device", "status", "--port", board.port))
    assert msg.startswith("port {} is busy: another program".format(board.port))


def test_line_without_a_micropython_repl_is_refused():
    master, slave = os.openpty()  # nobody answers on the other side
    try:
        port = os.ttyname(slave)
        msg = one_line(f.cli("device", "status", "--port", port))
    finally:
        os.close(slave)
        os.close(master)
    assert msg.startswith("no MicroPython REPL answers on {}".format(port))


def test_board_without_the_agent_is_told_to_install_it(board):
    msg = one_line(f.cli("device", "status", "--port", board.port))
    assert msg == "no mpota agent on the board: run mpota device install"


def test_board_without_provisioning_is_told_to_provision(board):
    assert f.cli("device", "install", "--port", board.port).returncode == 0
    msg = one_line(f.cli("device", "push", kit.app(board.home.parent, "v1", 1, 4000), "--port", board.port))
    assert msg == "the board is not provisioned: run mpota device provision"


def test_native_module_for_another_architecture_is_not_installed(board):
    # The board is x64 without the C module; an armv7m ed25519.mpy cannot load there.
    msg = one_line(f.cli("device", "install", "--port", board.port,
                         "--natmod", NATMOD / "armv7m" / "ed25519.mpy"))
    assert msg.startswith("wrong board for the files here: ") and "no native ed25519.mpy for x64" in msg
    assert not (board.home / "lib" / "mpota").exists()


def test_directory_without_a_manifest_is_not_pushed(tmp_path):
    msg = one_line(f.cli("device", "push", tmp_path, "--port", "/dev/null"))
    assert msg == "{} is not a bundle directory (it has no manifest)".format(tmp_path)
    msg = one_line(f.cli("device", "push", tmp_path / "nope", "--port", "/dev/null"))
    assert msg == "{} does not exist or is not a directory".format(tmp_path / "nope")


def _facts(**kw):
    facts = {"name": "micropython", "version": [1, 25, 0], "mpy": 6 | 3 << 8 | 6 << 10,
             "machine": "a board", "platform": "rp2", "path": ["", ".frozen", "/lib"],
             "ed25519": None, "agent": None}
    facts.update(kw)
    return B.Board(facts)


def test_board_of_another_runtime_is_refused():
    with pytest.raises(CommandError, match="wrong board: it runs pycopy 3.6.1; mpota device needs MicroPython or CircuitPython"):
        _facts(name="pycopy", version=[3, 6, 1]).check_micropython()
    # CircuitPython is driven (tests/test_device_circuitpython.py), whatever .mpy it loads.
    _facts(name="circuitpython", version=[9, 2, 1], mpy=0).check_micropython()


def test_board_facts_name_its_architecture_and_lib():
    b = _facts(mpy=6 | 3 << 8 | 4 << 10)  # what an RP2040 reports
    assert (b.arch, b.mpy, b.lib(), b.c_module) == ("armv6m", (6, 3), "/lib", False)
    assert _facts(ed25519="built-in").c_module and not _facts(ed25519="/lib/ed25519.mpy").c_module


@pytest.mark.parametrize("native, board, loads", [
    ("armv6m", "armv6m", True), ("armv6m", "armv7em", True), ("armv7m", "armv7em", True),
    ("armv7m", "armv6m", False), ("armv7emsp", "armv7m", False), ("x64", "x64", True),
    ("x64", "armv7m", False), ("armv6m", "xtensawin", False),
])
def test_native_module_loads_only_where_its_instructions_run(native, board, loads):
    assert B.native_loads_on(native, board) is loads


def test_natmod_chosen_for_a_board_is_the_newest_core_it_runs():
    # Every built architecture is there (make natmod): an armv7em board
    # (the Cortex-M3 qemu board reports it) gets armv7m, an RP2040 armv6m.
    assert agent.find_natmod("armv7em", (6, 3))[1] == "armv7m"
    assert agent.find_natmod("armv6m", (6, 3))[1] == "armv6m"
    assert agent.find_natmod("x64", (6, 3))[1] == "x64"
    assert agent.find_natmod("x64", (6, 2)) is None  # another .mpy version
    assert agent.find_natmod("xtensawin", (6, 3)) is None
