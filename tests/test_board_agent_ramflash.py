# SPDX-License-Identifier: MIT
"""The flash in spare RAM (mpota/flash/ram.py) keeps the NOR rules the
agent's state store and install are written against, on the unix port and
at a real address on the emulated Cortex-M3 board."""

import json

from bundles import factory as f

RULES = """
import json
from mpota.flash import FlashError
from mpota.flash.ram import RamFlash
fl = RamFlash(MEM, 8192, 4096, 256, 1)
res = []
def step(name, fn):
    try:
        fn()
        res.append([name, 'ok'])
    except FlashError as e:
        res.append([name, e.reason])
b = bytearray(4)
step('program-over-fresh-zero-memory', lambda: fl.program(0, b'\\x01'))
step('erase', lambda: fl.erase(0))
fl.read(0, b)
res.append(['erased-reads', list(b)])
step('clear-bits', lambda: fl.program(0, b'\\x0f'))
step('clear-more-bits', lambda: fl.program(0, b'\\x07'))
step('set-a-bit-back', lambda: fl.program(0, b'\\x1f'))
step('across-a-page', lambda: fl.program(252, b'12345678'))
step('past-the-end', lambda: fl.read(8190, b))
step('erase-off-sector', lambda: fl.erase(100))
fl.read(0, b)
res.append(['after', list(b)])
fl.erase_all()
fl.read(0, b)
res.append(['erase-all', list(b)])
print(json.dumps(res))
"""

EXPECTED = [["program-over-fresh-zero-memory", "not-erased"], ["erase", "ok"],
            ["erased-reads", [255] * 4], ["clear-bits", "ok"], ["clear-more-bits", "ok"],
            ["set-a-bit-back", "not-erased"], ["across-a-page", "align"],
            ["past-the-end", "range"], ["erase-off-sector", "align"],
            ["after", [7, 255, 255, 255]], ["erase-all", [255] * 4]]


def _run(target, prelude):
    out = target.run(prelude + RULES, path=[f.FIRMWARE])
    return json.loads(out.strip().splitlines()[-1])


def test_ram_flash_keeps_the_nor_rules(unix_target):
    assert _run(unix_target, "MEM = bytearray(8192)\n") == EXPECTED


def test_ram_flash_at_an_address_of_the_emulated_board(qemu_m3):
    # RAM of the board's second bank, zeroed first as a fresh emulator
    # hands it out (an earlier run in this session leaves it erased).
    prelude = ("MEM = 0x20300000\nimport uctypes\n"
               "uctypes.bytearray_at(MEM, 8192)[:] = bytes(8192)\n")
    assert _run(qemu_m3, prelude) == EXPECTED
