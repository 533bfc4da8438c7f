# SPDX-License-Identifier: MIT
"""`make firmware BOARD=...`: builds where the board's SDK is present and
otherwise stops with one line naming what is missing and how to get it.

This machine has no ESP-IDF and no Pico SDK, and Debian's MicroPython
source has none of the ports' submodules: the missing-SDK paths run for
real. Where a test needs one prerequisite present to reach the next, it
supplies a stand-in for that one (an idf.py on PATH, an SDK folder with
pico_sdk_init.cmake); nothing is built from them.
"""

import os
import subprocess

import pytest

from targets import BUILD, ROOT

SCRIPT = ROOT / "scripts" / "firmware.sh"
MISSING = 3
UNKNOWN = 2


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("IDF_PATH", "PICO_SDK_PATH", "MPY_DIR", "BOARD", "MAKEFLAGS", "MFLAGS")}
    # Whatever this machine has, no idf.py on the PATH unless a test adds one.
    dirs = [d for d in env.get("PATH", "").split(os.pathsep)
            if d and not os.path.exists(os.path.join(d, "idf.py"))]
    env["PATH"] = os.pathsep.join(dirs)
    env.update(extra)
    return env


def firmware(board, **env):
    return subprocess.run([str(SCRIPT), board], cwd=ROOT, env=_env(**env),
                          capture_output=True, text=True, timeout=60)


def one_line(run):
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and not run.stdout, (run.stdout, run.stderr)
    return lines[0]


def test_esp32_without_esp_idf_says_so_through_make():
    run = subprocess.run(["make", "--no-print-directory", "firmware", "BOARD=ESP32_GENERIC"],
                         cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    ours = [ln for ln in run.stderr.splitlines() if ln.startswith("firmware:")]
    assert len(ours) == 1, run.stderr
    assert "ESP32_GENERIC needs ESP-IDF" in ours[0]
    assert "IDF_PATH" in ours[0] and "export.sh" in ours[0]


def test_esp32_without_esp_idf_exits_missing():
    run = firmware("ESP32_GENERIC")
    assert run.returncode == MISSING
    assert one_line(run).startswith("firmware: ESP32_GENERIC needs ESP-IDF")


def test_esp32_with_esp_idf_but_no_submodules_names_the_submodule(tmp_path):
    # ESP-IDF stands in as an idf.py that must never run.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    idf = bin_dir / "idf.py"
    idf.write_text("#!/bin/sh\necho idf.py must not run >&2\nexit 99\n")
    idf.chmod(0o755)
    env = _env(IDF_PATH=str(tmp_path))
    env["PATH"] = str(bin_dir) + os.pathsep + env["PATH"]
    run = subprocess.run([str(SCRIPT), "ESP32_GENERIC"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == MISSING
    line = one_line(run)
    assert "lib/berkeley-db-1.xx" in line and "MPY_DIR" in line


@pytest.mark.parametrize("board", ["RPI_PICO", "RPI_PICO_W"])
def test_rp2_without_pico_sdk_says_so(board):
    run = firmware(board)
    assert run.returncode == MISSING
    line = one_line(run)
    assert line.startswith("firmware: {} needs the Pico SDK".format(board))
    assert "PICO_SDK_PATH" in line


def test_rp2_with_a_pico_sdk_path_that_holds_no_sdk_names_it(tmp_path):
    run = firmware("RPI_PICO", PICO_SDK_PATH=str(tmp_path))
    assert run.returncode == MISSING
    assert "PICO_SDK_PATH={} has no pico_sdk_init.cmake".format(tmp_path) in one_line(run)


def test_pico_w_with_sdk_but_no_submodules_names_the_first_missing(tmp_path):
    (tmp_path / "pico_sdk_init.cmake").write_text("")
    run = firmware("RPI_PICO_W", PICO_SDK_PATH=str(tmp_path))
    assert run.returncode == MISSING
    line = one_line(run)
    assert "tinyusb" in line and "make -C ports/rp2 submodules" in line


@pytest.mark.parametrize("board", ["", "ESP32", "rpi_pico"])
def test_unknown_board_lists_the_known_ones(board):
    run = firmware(board)
    assert run.returncode == UNKNOWN
    line = one_line(run)
    for known in ("ESP32_GENERIC", "RPI_PICO", "RPI_PICO_W", "QEMU_M3", "unix"):
        assert known in line


def test_unix_delegates_to_the_existing_build():
    run = subprocess.run(["make", "--no-print-directory", "firmware", "BOARD=unix"],
                         cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "build: unix" in run.stdout
    assert (BUILD / "unix" / "micropython").is_file()
