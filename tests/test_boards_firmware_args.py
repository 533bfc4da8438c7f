# SPDX-License-Identifier: MIT
"""`make firmware ... CMAKE_ARGS=... MAKE_ARGS=...`: the extra options
reach the board's own build, after ours, and nothing else does.

As in test_boards_firmware.py, this machine has no Pico SDK and no ESP-IDF:
the prerequisites stand in (an SDK folder with pico_sdk_init.cmake, a
MicroPython tree with the submodule folders the script looks for, an
idf.py that must not run), and so do the two programs the script hands
the build to, cmake and make, each writing down the arguments it got.
The top-level make is the real one."""

import os
import shutil
import subprocess

import pytest

from targets import BUILD, ROOT

MAKE = shutil.which("make")
STAND_IN = """#!/bin/sh
# Writes down how it was called, one argument a line, then its environment's
# IDFPY_FLAGS; builds nothing.
{{ echo "--- $0"; for a in "$@"; do echo "$a"; done; echo "IDFPY_FLAGS=${{IDFPY_FLAGS:-}}"; }} >> {log}
"""


def _tree(tmp_path, *dirs):
    for d in dirs:
        (tmp_path / d).mkdir(parents=True, exist_ok=True)


@pytest.fixture
def stand_ins(tmp_path):
    """PATH with cmake, make and idf.py stand-ins first; the log they write."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name in ("cmake", "make"):
        tool = bin_dir / name
        tool.write_text(STAND_IN.format(log=log))
        tool.chmod(0o755)
    idf = bin_dir / "idf.py"
    idf.write_text("#!/bin/sh\necho idf.py must not run >&2\nexit 99\n")
    idf.chmod(0o755)
    return bin_dir, log


def calls(log):
    """(program name, its arguments, its IDFPY_FLAGS) for each call the
    stand-ins saw, in order."""
    out = []
    for block in log.read_text().split("--- ")[1:]:
        lines = block.splitlines()
        out.append((os.path.basename(lines[0]), lines[1:-1], lines[-1][len("IDFPY_FLAGS="):]))
    return out


def make_firmware(stand_ins, tmp_path, *args, **env_extra):
    bin_dir, _ = stand_ins
    env = {k: v for k, v in os.environ.items()
           if k not in ("IDF_PATH", "PICO_SDK_PATH", "MPY_DIR", "BOARD", "MAKEFLAGS", "MFLAGS",
                        "CMAKE_ARGS", "MAKE_ARGS", "IDFPY_FLAGS")}
    env["PATH"] = str(bin_dir) + os.pathsep + env.get("PATH", "")
    env.update(env_extra)
    return subprocess.run([MAKE, "--no-print-directory", "firmware", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def pico(tmp_path):
    mpy = tmp_path / "micropython"
    _tree(mpy, "ports/rp2", "lib/tinyusb/src", "lib/mbedtls/include",
          "lib/micropython-lib/micropython/drivers")
    sdk = tmp_path / "pico-sdk"
    sdk.mkdir()
    (sdk / "pico_sdk_init.cmake").write_text("")
    return {"MPY_DIR": str(mpy), "PICO_SDK_PATH": str(sdk)}


def test_rp2_extra_cmake_and_make_options_come_after_ours(stand_ins, tmp_path, pico):
    run = make_firmware(stand_ins, tmp_path, "BOARD=RPI_PICO", "MPY_DIR=" + pico["MPY_DIR"],
                        "CMAKE_ARGS=-DPICO_NO_PICOTOOL=1 -DMICROPY_BOARD_VARIANT=x", "MAKE_ARGS=V=1",
                        PICO_SDK_PATH=pico["PICO_SDK_PATH"])
    assert run.returncode == 0, run.stderr
    (cmake, cargs, _), (make, margs, _) = calls(stand_ins[1])
    assert (cmake, make) == ("cmake", "make")
    out = str(ROOT / "build" / "firmware" / "RPI_PICO")
    # Ours first, the SDK path, then the extra options, split at spaces.
    assert cargs[:3] == ["-S", ".", "-B"] and cargs[3] == out
    assert "-DMICROPY_BOARD=RPI_PICO" in cargs
    assert cargs[-3:] == ["-DPICO_SDK_PATH_OVERRIDE=" + pico["PICO_SDK_PATH"],
                          "-DPICO_NO_PICOTOOL=1", "-DMICROPY_BOARD_VARIANT=x"]
    assert margs[-3:] == ["-C", out, "V=1"]
    # No .uf2 without picotool: the script names what the build left.
    assert "firmware.elf and firmware.bin (no .uf2 without picotool)" in run.stdout


def test_extra_options_in_the_environment_are_ignored(stand_ins, tmp_path, pico):
    # As BOARD is: only the command line sets them.
    run = make_firmware(stand_ins, tmp_path, "BOARD=RPI_PICO", "MPY_DIR=" + pico["MPY_DIR"],
                        PICO_SDK_PATH=pico["PICO_SDK_PATH"], CMAKE_ARGS="-DFROM_ENV=1",
                        MAKE_ARGS="FROM_ENV=1")
    assert run.returncode == 0, run.stderr
    (_, cargs, _), (_, margs, _) = calls(stand_ins[1])
    assert cargs[-1] == "-DPICO_SDK_PATH_OVERRIDE=" + pico["PICO_SDK_PATH"]
    assert margs[-2:] == ["-C", str(ROOT / "build" / "firmware" / "RPI_PICO")]
    assert not any("FROM_ENV" in a for a in cargs + margs)


def test_esp32_extra_options_reach_idf_py_and_the_port_make(stand_ins, tmp_path):
    # The size check before the build (boards/ESP32_GENERIC/fits.py) reads
    # the port's manifest with MicroPython's own tools: those come from the
    # real tree, the submodules the script looks for are stand-ins.
    mpy = tmp_path / "micropython"
    _tree(mpy, "ports", "lib/berkeley-db-1.xx",
          "lib/micropython-lib/micropython/bundles/bundle-networking")
    real = BUILD / "micropython"
    for part in ("tools", "extmod", "py", "mpy-cross", "ports/esp32"):
        (mpy / part).symlink_to(real / part)
    (mpy / "lib/berkeley-db-1.xx/README").write_text("")
    (mpy / "lib/micropython-lib/micropython/bundles/bundle-networking/manifest.py").write_text("")
    run = make_firmware(stand_ins, tmp_path, "BOARD=ESP32_GENERIC", "MPY_DIR=" + str(mpy),
                        "CMAKE_ARGS=-DSDKCONFIG_DEFAULTS=extra",
                        # The variant the size check asks for when the agent
                        # outgrows the default build's OTA slot.
                        "MAKE_ARGS=BOARD_VARIANT=NOBLE BUILD_VERBOSE=1",
                        IDF_PATH=str(tmp_path))
    assert run.returncode == 0, run.stderr
    [(name, margs, idfpy_flags)] = calls(stand_ins[1])
    assert name == "make" and margs[:2] == ["-C", str(mpy / "ports" / "esp32")]
    # The port's Makefile adds its own -D options to IDFPY_FLAGS from the
    # environment; its USER_C_MODULES still comes from the command line.
    assert idfpy_flags == "-DSDKCONFIG_DEFAULTS=extra"
    assert "USER_C_MODULES=" + str(ROOT / "firmware/cmod/ed25519/micropython.cmake") in margs
    assert margs[-2:] == ["BOARD_VARIANT=NOBLE", "BUILD_VERBOSE=1"]


@pytest.mark.parametrize("board", ["unix", "QEMU_M3", "QEMU_M0"])
def test_own_builds_refuse_extra_options_rather_than_drop_them(stand_ins, tmp_path, board):
    run = make_firmware(stand_ins, tmp_path, "BOARD=" + board, "CMAKE_ARGS=-DPICO_NO_PICOTOOL=1")
    assert run.returncode != 0
    ours = [ln for ln in run.stderr.splitlines() if ln.startswith("firmware:")]
    assert len(ours) == 1 and "repository's own build" in ours[0], run.stderr
    assert not stand_ins[1].exists()
