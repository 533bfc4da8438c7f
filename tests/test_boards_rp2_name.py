# SPDX-License-Identifier: MIT
"""RPI_PICO and RPI_PICO_W say once what they run on: MicroPython appends
" with <MCU>" to the board's name for the banner and
sys.implementation._machine, so a board name of its own that ends in
"with mpota" read "Raspberry Pi Pico with mpota with RP2040".

The name is what a C compiler reads from our mpconfigboard.h (with the
port's own board header included, as in test_boards_rp2.py); the suffix
is how py/mpconfig.h forms MICROPY_BANNER_MACHINE, read from the source."""

import re
import subprocess

import pytest

from targets import BUILD, ROOT

MPY_DIR = BUILD / "micropython"
PORT = MPY_DIR / "ports" / "rp2"
STOCK = {"RPI_PICO": "Raspberry Pi Pico", "RPI_PICO_W": "Raspberry Pi Pico W"}


def board_name(board_dir, tmp_path):
    src = tmp_path / "name.c"
    exe = tmp_path / "name"
    src.write_text('#include "mpconfigboard.h"\n#include <stdio.h>\n'
                   'int main(void) { puts(MICROPY_HW_BOARD_NAME); return 0; }\n')
    subprocess.run(["cc", "-o", str(exe), "-I", str(board_dir), "-I", str(PORT), str(src),
                    "-DMPOTA_FIRMWARE_BYTES=786432", "-DPICO_FLASH_SIZE_BYTES=2097152"],
                   check=True, capture_output=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.strip()


def machine(name, mcu):
    # py/mpconfig.h: #define MICROPY_BANNER_MACHINE MICROPY_HW_BOARD_NAME " with " MICROPY_HW_MCU_NAME
    text = (MPY_DIR / "py" / "mpconfig.h").read_text()
    m = re.search(r"#define MICROPY_BANNER_MACHINE MICROPY_HW_BOARD_NAME \"(.*?)\" MICROPY_HW_MCU_NAME",
                  text)
    assert m, "py/mpconfig.h no longer forms the machine name this way"
    return name + m.group(1) + mcu


@pytest.mark.parametrize("board", sorted(STOCK))
def test_machine_name_says_with_once_and_names_mpota(board, tmp_path):
    ours = machine(board_name(ROOT / "boards" / board, tmp_path), "RP2040")
    assert ours.count(" with ") == 1, ours
    assert ours.startswith(STOCK[board] + " ") and "mpota" in ours
    # The port's own board, for contrast: the same form.
    assert machine(board_name(PORT / "boards" / board, tmp_path), "RP2040") == \
        STOCK[board] + " with RP2040"
