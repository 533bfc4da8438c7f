# SPDX-License-Identifier: MIT
"""The NOR flash model keeps a real chip's rules, so that code which
passes against it does not depend on things a chip would not do; and it
cuts power exactly where asked (the fault campaign's tool)."""

import pytest

from agent import kit

_SETUP = """
from mpota.flash import FlashError
from mpota.flash.nor import NorFile, PowerCut
import os
try:
    os.remove({path!r})
except OSError:
    pass
fl = NorFile({path!r}, 4 * 4096, 4096, 256, {write})


def peek(addr, n):
    b = bytearray(n)
    fl.read(addr, b)
    return list(b)
"""


def _run(unix_target, tmp_path, code, write=1):
    return kit.run(unix_target, _SETUP.format(path=str(tmp_path / "chip"), write=write) + code)


def test_new_chip_reads_erased_and_programs_clear_bits_only(unix_target, tmp_path):
    r = _run(unix_target, tmp_path, """
emit("fresh", peek(0, 4) + peek(4 * 4096 - 2, 2))
emit("program", attempt(lambda: fl.program(0, b"\\x0f\\xf0")))
emit("after", peek(0, 2))
emit("clear_more", attempt(lambda: fl.program(0, b"\\x0e\\x00")))
emit("set_a_bit", attempt(lambda: fl.program(0, b"\\x1f")))
emit("unchanged", peek(0, 2))
""")
    assert r["fresh"] == [0xFF] * 6
    assert r["program"] == "ok" and r["after"] == [0x0F, 0xF0]
    assert r["clear_more"] == "ok"
    assert r["set_a_bit"] == "not-erased"
    assert r["unchanged"] == [0x0E, 0x00]


def test_erase_takes_only_whole_aligned_sectors(unix_target, tmp_path):
    r = _run(unix_target, tmp_path, """
fl.program(4096, b"\\x00" * 256)
fl.program(8192, b"\\x00" * 256)
emit("misaligned", attempt(lambda: fl.erase(4096 + 256)))
emit("outside", attempt(lambda: fl.erase(4 * 4096)))
emit("erase", attempt(lambda: fl.erase(4096)))
emit("erased", peek(4096, 4) + peek(8192, 1))
emit("ops", [fl.ops, fl.erases, fl.programs])
""")
    assert r["misaligned"] == "align" and r["outside"] == "range"
    assert r["erase"] == "ok"
    assert r["erased"] == [0xFF] * 4 + [0x00]  # only the one sector
    assert r["ops"] == [3, 1, 2]


def test_program_never_crosses_a_page_or_breaks_write_granularity(unix_target, tmp_path):
    r = _run(unix_target, tmp_path, """
emit("cross", attempt(lambda: fl.program(250, b"\\x00" * 8)))
emit("too_long", attempt(lambda: fl.program(0, b"\\x00" * 512)))
emit("odd_addr", attempt(lambda: fl.program(2, b"\\x00" * 4)))
emit("odd_len", attempt(lambda: fl.program(0, b"\\x00" * 6)))
emit("aligned", attempt(lambda: fl.program(4, b"\\x00" * 4)))
emit("ops", fl.ops)
""", write=4)
    assert r["cross"] == "align" and r["too_long"] == "align"
    assert r["odd_addr"] == "align" and r["odd_len"] == "align"
    assert r["aligned"] == "ok"
    assert r["ops"] == 1  # refused operations do not happen


def test_power_cut_before_operation_n_leaves_it_undone_and_the_chip_dead(unix_target, tmp_path):
    r = _run(unix_target, tmp_path, """
fl.cut_power_before(2)
emit("op0", attempt(lambda: fl.program(0, b"\\x00" * 16)))
emit("op1", attempt(lambda: fl.program(256, b"\\x00" * 16)))
emit("op2", attempt(lambda: fl.erase(0)))
emit("after", [attempt(lambda: fl.program(512, b"\\x00")), attempt(lambda: peek(0, 1))])
fl.close()
fl = NorFile({path!r}, 4 * 4096, 4096, 256, 1)
emit("kept", peek(0, 1) + peek(256, 1) + peek(512, 1))
""".replace("{path!r}", repr(str(tmp_path / "chip"))))
    assert r["op0"] == r["op1"] == "ok"
    assert r["op2"] == "power-cut"
    assert r["after"] == ["power-cut", "power-cut"]
    # Reopened ("rebooted"): the erase never happened, later writes neither.
    assert r["kept"] == [0x00, 0x00, 0xFF]


@pytest.mark.parametrize("write", [1, 4])
def test_torn_program_writes_half_the_page(unix_target, tmp_path, write):
    r = _run(unix_target, tmp_path, """
fl.cut_power_before(0, tear=True)
emit("cut", attempt(lambda: fl.program(0, b"\\x00" * 256)))
fl.close()
fl = NorFile({path!r}, 4 * 4096, 4096, 256, {write})
b = peek(0, 256)
emit("written", sum(1 for x in b if x == 0))
""".replace("{path!r}", repr(str(tmp_path / "chip"))).replace("{write}", str(write)), write)
    assert r["cut"] == "power-cut"
    assert r["written"] == 128


def test_torn_erase_erases_half_the_sector(unix_target, tmp_path):
    r = _run(unix_target, tmp_path, """
for a in range(0, 4096, 256):
    fl.program(a, b"\\x00" * 256)
fl.cut_power_before(fl.ops, tear=True)
emit("cut", attempt(lambda: fl.erase(0)))
fl.close()
fl = NorFile({path!r}, 4 * 4096, 4096, 256, 1)
emit("halves", [peek(0, 1)[0], peek(2047, 1)[0], peek(2048, 1)[0], peek(4095, 1)[0]])
""".replace("{path!r}", repr(str(tmp_path / "chip"))))
    assert r["cut"] == "power-cut"
    assert r["halves"] == [0xFF, 0xFF, 0x00, 0x00]


def test_page_erased_by_the_model_still_refuses_a_second_program(unix_target, tmp_path):
    # The model skips the read-back for a page it erased itself and has
    # not programmed since; any program ends that, so setting a bit back
    # is refused on the page's next program, after a partial one too, and
    # a torn erase leaves its unerased half checked.
    r = _run(unix_target, tmp_path, """
fl.program(0, b"\\x00" * 256)
fl.erase(0)
emit("first", attempt(lambda: fl.program(0, b"\\xf0" * 16)))
emit("again", attempt(lambda: fl.program(0, b"\\xff" * 16)))
emit("rest_of_page", attempt(lambda: fl.program(16, b"\\x00" * 16)))
emit("onto_programmed", attempt(lambda: fl.program(0, b"\\xf1" * 16)))
for a in range(4096, 8192, 256):
    fl.program(a, b"\\x00" * 256)
fl.cut_power_before(fl.ops, tear=True)
attempt(lambda: fl.erase(4096))
fl.cut_power_before(-1)
fl.dead = False
emit("erased_half", attempt(lambda: fl.program(4096, b"\\x00")))
emit("unerased_half", attempt(lambda: fl.program(4096 + 2048, b"\\x01")))
""")
    assert r["first"] == "ok"
    assert r["again"] == "not-erased"  # 0xff onto 0xf0 sets bits back
    assert r["rest_of_page"] == "ok"
    assert r["onto_programmed"] == "not-erased"
    assert r["erased_half"] == "ok"
    assert r["unerased_half"] == "not-erased"
