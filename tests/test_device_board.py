# SPDX-License-Identifier: MIT
"""`mpota device install` tells an agent frozen into the firmware from one
on the filesystem, however the firmware reports a frozen module.

MicroPython before 1.25 gave a frozen module a __file__ of
".frozen/mpota/__init__.py"; 1.25 gives the bare "mpota/__init__.py"
(py/builtinimport.c strips the prefix), which is also what a package in
the current directory gets. The probe (device/board.py) asks the board
whether that file is on its filesystem. The probe runs here on the real
unix port; the frozen answers are what a 1.25 firmware with the agent
frozen in prints (MicroPython 1.25 unix port built with
tests/agent/frozen_manifest.py, as heap_min.py --build makes it)."""

import json
import shutil
import subprocess

import pytest

from bundles import factory as f
from mpota_host.device import board as B


def probe(binary, cwd, path):
    run = subprocess.run([str(binary), "-c", B._PROBE], cwd=cwd, capture_output=True, text=True,
                         env={"MICROPYPATH": path}, timeout=60)
    assert run.returncode == 0, run.stderr
    return B.Board(json.loads(run.stdout.splitlines()[-1]))


@pytest.fixture
def home(tmp_path):
    (tmp_path / "lib").mkdir()
    return tmp_path


def test_agent_copied_into_lib_is_not_taken_for_frozen(unix_stock_target, home):
    shutil.copytree(f.FIRMWARE / "mpota", home / "lib" / "mpota")
    b = probe(unix_stock_target.binary, home, ":.frozen:" + str(home / "lib"))
    assert b.agent_file == str(home / "lib" / "mpota" / "__init__.py")
    assert b.frozen_agent is False


def test_agent_in_the_current_directory_is_not_taken_for_frozen(unix_stock_target, home):
    # Its __file__ is the bare "mpota/__init__.py", as a frozen one's on
    # 1.25, but the file is there: install must replace it, not skip.
    shutil.copytree(f.FIRMWARE / "mpota", home / "mpota")
    b = probe(unix_stock_target.binary, home, ":.frozen:" + str(home / "lib"))
    assert b.agent_file == "mpota/__init__.py"
    assert b.frozen_agent is False


def test_board_without_the_agent_has_nothing_frozen(unix_stock_target, home):
    b = probe(unix_stock_target.binary, home, ":.frozen:" + str(home / "lib"))
    assert b.agent is None and b.frozen_agent is False


FACTS = {"name": "micropython", "version": [1, 25, 0], "mpy": 6 | (4 << 10), "machine": "",
         "platform": "rp2", "path": ["", ".frozen", "/lib"], "ed25519": "built-in",
         "agent": "0.1.0"}


@pytest.mark.parametrize("agent_file, on_fs, frozen", [
    ("mpota/__init__.py", False, True),          # frozen, MicroPython 1.25 and later
    (".frozen/mpota/__init__.py", False, True),  # frozen, before 1.25
    ("/lib/mpota/__init__.mpy", True, False),    # installed by mpota device install
    ("mpota/__init__.py", True, False),          # a package in the current directory
    ("", False, False),                          # a firmware without __file__: install
])
def test_frozen_agent_is_told_from_where_its_file_is(agent_file, on_fs, frozen):
    b = B.Board(dict(FACTS, agent_file=agent_file, agent_on_fs=on_fs))
    assert b.frozen_agent is frozen


def test_first_stage_files_alone_import_the_serial_receiver(unix_stock_target, home):
    # install copies these through the REPL, then the board pulls every
    # other file through mpota.source.serial.receive: they must import
    # without any other module of the agent.
    from mpota_host.device import agent as A

    for name in A.FIRST:
        dest = home / "lib" / (name + ".py")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f.FIRMWARE / (name + ".py"), dest)
    run = subprocess.run([str(unix_stock_target.binary), "-c",
                          "from mpota.source.serial import receive\nprint('ok')"],
                         cwd=home, capture_output=True, text=True, timeout=60,
                         env={"MICROPYPATH": ":.frozen:" + str(home / "lib")})
    assert run.stdout.strip() == "ok", run.stderr
