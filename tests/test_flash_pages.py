# SPDX-License-Identifier: MIT
"""program_pages() and blank(), the calls a flash model offers to program
several pages at once and to tell an erased range (issue 14): they keep
the NOR rules and the power cuts of program() page by page, on the NOR
file model and the RAM flash, through a Region."""

import pytest

from agent import kit

_NOR = """
from mpota.flash import FlashError
from mpota.flash.nor import NorFile, PowerCut
import os

def fresh(path):
    try:
        os.remove(path)
    except OSError:
        pass
    return NorFile(path, 4 * 4096, 4096, 256, {write})


def image(path):
    with open(path, "rb") as f:
        return f.read()
"""


def _nor(unix_target, tmp_path, code, write=1):
    return kit.run(unix_target, _NOR.replace("{write}", str(write)) + code.replace(
        "{dir!r}", repr(str(tmp_path))))


@pytest.mark.parametrize("tear", [False, True])
def test_power_cut_inside_a_multi_page_program_leaves_what_page_programs_would(
        unix_target, tmp_path, tear):
    # Four pages programmed in one call, power cut before each operation
    # in turn: the chip file, the operation count and the dead chip are
    # those of the same pages programmed one by one.
    r = _nor(unix_target, tmp_path, """
data = bytes((i * 7) % 255 for i in range(1024))  # no 0xff
same = []
for k in range(5):
    a = fresh({dir!r} + "/a")
    a.program(0, b"\\x00" * 16)
    a.cut_power_before(a.ops + k, tear=TEAR)
    ra = attempt(lambda: a.program_pages(1024, data))
    ra2 = attempt(lambda: a.program(4096, b"\\x00"))
    b = fresh({dir!r} + "/b")
    b.program(0, b"\\x00" * 16)
    b.cut_power_before(b.ops + k, tear=TEAR)
    def pages():
        for i in range(4):
            b.program(1024 + 256 * i, data[256 * i:256 * (i + 1)])
    rb = attempt(pages)
    rb2 = attempt(lambda: b.program(4096, b"\\x00"))
    a.close()
    b.close()
    same.append([ra, ra2, a.ops, a.programs] == [rb, rb2, b.ops, b.programs]
                and image({dir!r} + "/a") == image({dir!r} + "/b"))
    if k == 2:
        emit("cut_at_2", [ra, ra2, image({dir!r} + "/a")[1024:2048].count(b"\\xff")])
emit("same", same)
""".replace("TEAR", str(tear)))
    assert r["same"] == [True] * 5
    # Cut before the third page: two pages written (and half the third if
    # torn), the chip dead afterwards.
    assert r["cut_at_2"] == ["power-cut", "power-cut", 512 - (128 if tear else 0)]


def test_multi_page_program_refuses_setting_bits_back_and_writes_nothing(unix_target, tmp_path):
    r = _nor(unix_target, tmp_path, """
fl = fresh({dir!r} + "/c")
fl.program(256 + 8, b"\\xf0")
ops = fl.ops
emit("onto_programmed", attempt(lambda: fl.program_pages(0, b"\\xff" * 512)))
emit("untouched", [fl.ops == ops, image({dir!r} + "/c")[:256].count(b"\\xff")])
emit("clearing_only", attempt(lambda: fl.program_pages(0, b"\\x00" * 512)))
emit("misaligned", attempt(lambda: fl.program_pages(128, b"\\x00" * 256)))
emit("part_of_a_page", attempt(lambda: fl.program_pages(1024, b"\\x00" * 300)))
emit("past_the_end", attempt(lambda: fl.program_pages(4 * 4096 - 256, b"\\x00" * 512)))
fl.close()
# Reopened, the model no longer knows which pages it erased: a program
# onto a programmed page is still refused by reading it back.
fl = NorFile({dir!r} + "/c", 4 * 4096, 4096, 256, 1)
emit("after_reopen", attempt(lambda: fl.program_pages(0, b"\\x01" * 256)))
emit("blank_after_reopen", [fl.blank(2048, 256), fl.blank(16, 300), fl.blank(264, 1),
                            fl.blank(520, 301)])
fl.erase(0)
emit("blank_after_erase", [fl.blank(0, 4096), fl.blank(0, 4097)])
fl.program(4000, b"\\x00")
emit("blank_after_program", [fl.blank(0, 3840), fl.blank(3840, 256), fl.blank(4001, 95)])
""")
    assert r["onto_programmed"] == "not-erased"
    assert r["untouched"] == [True, 256]
    assert r["clearing_only"] == "ok"
    assert r["misaligned"] == r["part_of_a_page"] == "align"
    assert r["past_the_end"] == "range"
    assert r["after_reopen"] == "not-erased"
    # blank(): known for pages the model erased, read for the rest.
    assert r["blank_after_reopen"] == [True, False, False, True]
    assert r["blank_after_erase"] == [True, True]
    assert r["blank_after_program"] == [True, False, True]


def test_ram_flash_multi_page_program_keeps_the_nor_rules(unix_target):
    r = kit.run(unix_target, """
from mpota.flash import FlashError
from mpota.flash.ram import RamFlash
from mpota.flash.region import Region
fl = RamFlash(bytearray(16384), 16384, 4096, 256, 1)
fl.erase_all()
reg = Region(fl, 4096, 8192)
emit("blank", [reg.blank(0, 8192), fl.blank(0, 16384)])
emit("pages", attempt(lambda: reg.program_pages(0, b"\\x0f" * 512)))
emit("read", [fl.mem[4096], fl.mem[4096 + 511], fl.mem[4096 + 512]])
emit("blank_after", [reg.blank(0, 512), reg.blank(512, 512), reg.blank(256, 512)])
emit("clear_more", attempt(lambda: reg.program_pages(0, b"\\x07" * 256)))
emit("set_back", attempt(lambda: reg.program_pages(256, b"\\x1f" * 256)))
emit("kept", fl.mem[4096 + 256])
emit("misaligned", attempt(lambda: reg.program_pages(128, b"\\x00" * 256)))
emit("outside_region", attempt(lambda: reg.program_pages(8192 - 256, b"\\x00" * 512)))
""")
    assert r["blank"] == [True, True]
    assert r["pages"] == "ok" and r["read"] == [0x0F, 0x0F, 0xFF]
    assert r["blank_after"] == [False, True, False]
    assert r["clear_more"] == "ok"
    assert r["set_back"] == "not-erased" and r["kept"] == 0x0F
    assert r["misaligned"] == "align"
    assert r["outside_region"] == "range"


def test_ram_flash_checks_every_program_below_what_it_knows_erased(unix_target):
    # The RAM flash skips the check above the part of a sector it erased
    # and has programmed since; below it, and on memory it did not erase
    # (a new object after a soft reset), a bit set back is refused.
    r = kit.run(unix_target, """
from mpota.flash import FlashError
from mpota.flash.ram import RamFlash
mem = bytearray(8192)
fl = RamFlash(mem, 8192, 4096, 256, 1)
emit("unerased", [attempt(lambda: fl.program(0, b"\\x01")), fl.blank(0, 1)])
fl.erase(0)
emit("above", attempt(lambda: fl.program(256, b"\\x0f" * 256)))
emit("below", attempt(lambda: fl.program(0, b"\\x00" * 256)))
emit("set_back", attempt(lambda: fl.program(256, b"\\x1f")))
emit("set_back_pages", attempt(lambda: fl.program_pages(0, b"\\xff" * 512)))
emit("blank", [fl.blank(0, 256), fl.blank(512, 3584), fl.blank(511, 2), fl.blank(4096, 1)])
fl.erase(0)
emit("erased_again", [fl.blank(0, 4096), attempt(lambda: fl.program_pages(0, b"\\x0f" * 512)),
                      attempt(lambda: fl.program_pages(256, b"\\x1f" * 256)),
                      attempt(lambda: fl.program_pages(1024, b"\\x1f" * 256))])
again = RamFlash(mem, 8192, 4096, 256, 1)
emit("new_object", [attempt(lambda: again.program_pages(0, b"\\xf0" * 256)),
                    attempt(lambda: again.program(512, b"\\x01")), again.blank(512, 1),
                    again.blank(513, 100)])
""")
    assert r["unerased"] == ["not-erased", False]
    assert r["above"] == r["below"] == "ok"
    assert r["set_back"] == r["set_back_pages"] == "not-erased"
    assert r["blank"] == [False, True, False, False]
    assert r["erased_again"] == [True, "ok", "not-erased", "ok"]
    assert r["new_object"] == ["not-erased", "ok", False, True]
