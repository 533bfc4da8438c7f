# SPDX-License-Identifier: MIT
"""RPI_PICO and RPI_PICO_W: the flash split, the size guard, the device
configuration. No Pico SDK here, so each piece is checked with the tool
that reads it in a real build: cmake for the board files, a C compiler for
the board header (with the port's own header included), the agent itself
for the configuration.

Layout (2 MiB of flash; docs/BOARDS.md):
  firmware region   [0, MPOTA_FIRMWARE_BYTES)       agent and C module inside
  littlefs          [MPOTA_FIRMWARE_BYTES, 2 MiB)   two app slots and the
                                                    agent's state files
"""

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from targets import BUILD, ROOT

MPY_DIR = BUILD / "micropython"
PORT = MPY_DIR / "ports" / "rp2"
MPY_CROSS = BUILD / "mpy-cross" / "mpy-cross"
NATMOD_ARMV6M = BUILD / "natmod" / "armv6m" / "ed25519.mpy"
FITS = ROOT / "boards" / "RPI_PICO" / "fits.cmake"

BOARDS = {"RPI_PICO": "pico", "RPI_PICO_W": "pico_w"}
# PICO_FLASH_SIZE_BYTES of both pico-sdk boards (boards/pico.h, pico_w.h).
FLASH = 2 * 1024 * 1024
BLOCK = 4096  # littlefs block on rp2: one flash sector
# Frozen bytecode over the size of the same modules as .mpy: 1.04 measured
# on the Cortex-M0 qemu board (docs/BOARDS.md); 1.25 leaves a margin.
FROZEN_OVER_MPY = 1.25
# Left free on the filesystem for main.py, mpota.json, a CA certificate,
# the application's own files, and littlefs's copy-on-write blocks.
USER_RESERVE = 64 * 1024
# littlefs keeps each directory in a pair of blocks.
DIR_BLOCKS = 2


def cmake_vars(board):
    """The variables our mpconfigboard.cmake sets, as the rp2 port's
    CMakeLists.txt would see them after including it."""
    names = ["PICO_BOARD", "MPOTA_FIRMWARE_BYTES", "MICROPY_DEF_BOARD", "MICROPY_FROZEN_MANIFEST",
             "USER_C_MODULES", "GEN_PINS_BOARD_CSV"]
    tmp = tempfile.TemporaryDirectory()
    script = Path(tmp.name) / "vars.cmake"
    script.write_text(
        "set(MICROPY_PORT_DIR {port})\nset(MICROPY_BOARD_DIR {board})\n"
        "include({board}/mpconfigboard.cmake)\n".format(port=PORT, board=ROOT / "boards" / board)
        + "".join('message("{0}=${{{0}}}")\n'.format(n) for n in names)
    )
    with tmp:
        run = subprocess.run(["cmake", "-P", str(script)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return dict(line.split("=", 1) for line in run.stderr.splitlines() if "=" in line)


def header_value(board_dir, expr, defines):
    """Compiles a host program that includes board_dir's mpconfigboard.h
    (which may include the port's) and prints expr; None if it does not
    compile."""
    with tempfile.TemporaryDirectory() as tmp:
        return _header_value(Path(tmp), board_dir, expr, defines)


def _header_value(tmp, board_dir, expr, defines):
    src = tmp / "board.c"
    exe = tmp / "board"
    src.write_text('#include "mpconfigboard.h"\n#include <stdio.h>\n'
                   "int main(void) {{ printf(\"%ld\\n\", (long)({})); return 0; }}\n".format(expr))
    cmd = ["cc", "-o", str(exe), "-I", str(board_dir), "-I", str(PORT), str(src)]
    cmd += ["-D{}={}".format(k, v) for k, v in defines.items()]
    if subprocess.run(cmd, capture_output=True).returncode != 0:
        return None
    return int(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout)


def frozen_agent_estimate(board):
    """Bytes the frozen agent and the C module add to the board's armv6m
    firmware: the agent modules its manifest freezes, as .mpy, times the
    margin, and the C module's code."""
    from test_boards_manifest import _Manifest

    for f in (MPY_CROSS, NATMOD_ARMV6M):
        if not f.is_file():
            pytest.fail("{} is missing: run make test".format(f), pytrace=False)
    frozen = sorted(ROOT / f.full_path for f in _Manifest(board).files
                    if f.target_path.startswith("mpota/"))
    assert frozen
    mpy = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.mpy"
        for py in frozen:
            subprocess.run([str(MPY_CROSS), "-march=armv6m", "-o", str(out), str(py)], check=True)
            mpy += out.stat().st_size
    return int(mpy * FROZEN_OVER_MPY) + NATMOD_ARMV6M.stat().st_size


def agent_files(config):
    """Filesystem bytes the agent's own files take with this configuration:
    both slots (archive plus unpacked app, at most as large again), the
    state and root records, the table and chunk scratch files, and the
    directories (slots, slots/<i>, slots/<i>/app)."""
    from mpota.bundle import format as F
    from mpota.state import fields, record

    def blocks(n):
        return (n + BLOCK - 1) // BLOCK

    n = 4 * blocks(config["slot_size"])
    n += 2 * blocks(record.HEADER + fields.SIZE + 4) + 2 * blocks(record.HEADER + F.MAX_DOC + 4)
    n += blocks(config.get("table_size", 16384)) + blocks(config.get("chunk_area", 8192))
    n += 5 * DIR_BLOCKS
    return n * BLOCK


@pytest.fixture(scope="module", params=sorted(BOARDS))
def board(request):
    name = request.param
    return name, cmake_vars(name)


def test_board_files_name_the_sdk_board_the_manifest_and_the_c_module(board):
    name, v = board
    assert v["PICO_BOARD"] == BOARDS[name]
    assert v["MICROPY_FROZEN_MANIFEST"] == str(ROOT / "boards" / name / "manifest.py")
    assert v["USER_C_MODULES"] == str(ROOT / "firmware" / "cmod" / "ed25519" / "micropython.cmake")
    assert (ROOT / "firmware" / "cmod" / "ed25519" / "micropython.cmake").is_file()
    # The pin names come from the port's board, whose file must exist.
    assert v["GEN_PINS_BOARD_CSV"] == str(PORT / "boards" / name / "pins.csv")
    assert (PORT / "boards" / name / "pins.csv").is_file()
    assert "MPOTA_FIRMWARE_BYTES={}".format(v["MPOTA_FIRMWARE_BYTES"]) in v["MICROPY_DEF_BOARD"]


def test_header_gives_the_filesystem_what_the_firmware_region_leaves(board):
    name, v = board
    firmware = int(v["MPOTA_FIRMWARE_BYTES"])
    defines = {"PICO_FLASH_SIZE_BYTES": FLASH, "MPOTA_FIRMWARE_BYTES": firmware}
    fs = header_value(ROOT / "boards" / name, "MICROPY_HW_FLASH_STORAGE_BYTES", defines)
    assert fs is not None, "boards/{}/mpconfigboard.h does not compile".format(name)
    assert firmware + fs == FLASH
    # rp2_flash.c's static_assert, and whole littlefs blocks.
    assert fs % BLOCK == 0 and firmware % BLOCK == 0


def test_header_without_the_firmware_size_does_not_compile(board):
    # A build that lost the cmake definition must fail, not silently give
    # the filesystem a made-up size.
    name, _ = board
    assert header_value(ROOT / "boards" / name, "MICROPY_HW_FLASH_STORAGE_BYTES",
                        {"PICO_FLASH_SIZE_BYTES": FLASH}) is None


def test_firmware_region_holds_stock_firmware_plus_the_agent(board):
    name, v = board
    stock_fs = header_value(PORT / "boards" / name, "MICROPY_HW_FLASH_STORAGE_BYTES", {})
    assert stock_fs is not None
    stock_region = FLASH - stock_fs
    assert int(v["MPOTA_FIRMWARE_BYTES"]) >= stock_region + frozen_agent_estimate(name)


def test_filesystem_holds_two_app_slots_and_room_for_user_files(board):
    name, v = board
    config = json.loads((ROOT / "boards" / name / "mpota.json").read_text())
    fs = FLASH - int(v["MPOTA_FIRMWARE_BYTES"])
    assert agent_files(config) + USER_RESERVE <= fs


def test_device_configuration_is_one_the_agent_accepts(board, tmp_path):
    # The agent itself builds its slots from the board's configuration.
    name, _ = board
    config = json.loads((ROOT / "boards" / name / "mpota.json").read_text())
    from mpota import device
    from mpota.slots.appdir import DirBank

    dev = device.Device(config, str(tmp_path))
    try:
        assert isinstance(dev.bank, DirBank)
        assert [r.size for r in dev.bank.regions] == [config["slot_size"]] * 2
    finally:
        dev.close()


def _fake_build(tmp_path, firmware_limit, bin_size):
    """A host-compiled project shaped like the rp2 build: a `firmware`
    target whose post-build step writes firmware.bin, and our fits.cmake
    included before the target exists, as mpconfigboard.cmake does."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "main.c").write_text("int main(void) { return 0; }\n")
    (src / "bin.cmake").write_text('string(REPEAT "x" {} data)\nfile(WRITE ${{OUT}} "${{data}}")\n'
                                   .format(bin_size))
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(fake C)\n"
        "set(MICROPY_TARGET firmware)\nset(MPOTA_FIRMWARE_BYTES {})\n"
        "include({})\n"
        "add_executable(firmware main.c)\n"
        "add_custom_command(TARGET firmware POST_BUILD COMMAND ${{CMAKE_COMMAND}} "
        "-DOUT=${{PROJECT_BINARY_DIR}}/firmware.bin -P ${{CMAKE_CURRENT_LIST_DIR}}/bin.cmake)\n"
        .format(firmware_limit, FITS)
    )
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(src), "-B", str(build)], check=True, capture_output=True)
    return subprocess.run(["cmake", "--build", str(build)], capture_output=True, text=True)


def test_firmware_that_would_run_into_the_filesystem_fails_the_build(tmp_path):
    run = _fake_build(tmp_path, 4096, 4097)
    assert run.returncode != 0
    assert "more than the 4096" in run.stdout + run.stderr


def test_firmware_that_fits_its_region_builds(tmp_path):
    run = _fake_build(tmp_path, 4096, 4096)
    assert run.returncode == 0, run.stdout + run.stderr
