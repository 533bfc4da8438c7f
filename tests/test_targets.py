# SPDX-License-Identifier: MIT
"""The targets themselves: every other test trusts that code sent to a target
really runs there, that a failure on the target fails the test, and that the
emulated board looks like the microcontroller it stands for.
"""

import hashlib
import time

import pytest

import targets

# Code sent to a board in one piece, larger than any raw-paste window.
_LARGE_CODE_FUNCTIONS = 300

# Thumb-2 loop of exactly two instructions per iteration (subs, bne).
_SPIN = """
import micropython, time
@micropython.asm_thumb
def spin(r0):
    label(loop)
    sub(r0, r0, 1)
    bne(loop)
def timed(n):
    t0 = time.ticks_us()
    spin(n)
    return time.ticks_diff(time.ticks_us(), t0)
"""

# Bytecode work of fixed size.
_WORK = """
import time
def work():
    x = 0
    for i in range(5000):
        x += i
    return x
t0 = time.ticks_us()
work()
print(time.ticks_diff(time.ticks_us(), t0))
"""


@pytest.fixture(scope="module")
def counted_m3():
    """A second M3 board whose clock counts instructions (-icount shift=0)."""
    board = targets.qemu_m3(icount=targets.ICOUNT_EXACT)
    board.check()
    with board:
        yield board


# ------------------------------------------------------------------ unix


@pytest.fixture(params=["unix", "unix-stock"])
def any_unix(request, unix_target, unix_stock_target):
    return unix_target if request.param == "unix" else unix_stock_target


def test_unix_output_is_returned_exactly(any_unix):
    assert any_unix.run("print(6 * 7)\nprint('a', 'b')") == "42\na b\n"


def test_unix_exception_fails_the_run_with_traceback_and_prior_output(any_unix):
    with pytest.raises(targets.TargetError) as caught:
        any_unix.run("print('before')\nraise ValueError('boom-17')")
    assert "ValueError: boom-17" in str(caught.value)
    assert "Traceback" in str(caught.value)
    assert caught.value.output == "before\n"


def test_unix_sys_exit_with_error_status_fails_the_run(any_unix):
    with pytest.raises(targets.TargetError, match="exit status 3"):
        any_unix.run("import sys\nsys.exit(3)")


def test_unix_runaway_code_is_stopped_by_the_timeout(unix_stock_target):
    # The loop never ends by itself: "timed out" is the harness stopping it.
    with pytest.raises(targets.TargetError, match="timed out"):
        unix_stock_target.run("while True:\n    pass", timeout=1.0)


def test_unix_path_entries_are_searched_in_order(unix_stock_target, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "probe.py").write_text("WHO = 'first'\n")
    (second / "probe.py").write_text("WHO = 'second'\n")
    (second / "only_second.py").write_text("WHO = 'only'\n")
    out = unix_stock_target.run(
        "import probe, only_second\nprint(probe.WHO, only_second.WHO)", path=[first, second]
    )
    assert out == "first only\n"


def test_unix_frozen_modules_stay_importable_with_a_path(unix_stock_target, tmp_path):
    out = unix_stock_target.run("import asyncio, mip\nprint('ok')", path=[tmp_path])
    assert out == "ok\n"


def test_unix_heapsize_limits_the_heap(unix_stock_target):
    code = "import gc\ngc.collect()\nprint(gc.mem_free() + gc.mem_alloc())"
    small = int(unix_stock_target.run(code, heapsize="64k"))
    assert 60 * 1024 <= small <= 64 * 1024
    with pytest.raises(targets.TargetError, match="MemoryError"):
        unix_stock_target.run("b = bytearray(100 * 1024)", heapsize="64k")


def test_unix_has_our_c_module_and_stock_does_not(unix_target, unix_stock_target):
    code = "try:\n    from ed25519 import verify, sha512\n    print('present')\nexcept ImportError:\n    print('absent')"
    assert unix_target.run(code) == "present\n"
    assert unix_stock_target.run(code) == "absent\n"


def test_missing_build_fails_and_says_how_to_build(tmp_path):
    ghost = targets.UnixTarget("ghost", tmp_path / "micropython")
    with pytest.raises(targets.TargetMissing, match="run make test"):
        ghost.run("print(1)")
    board = targets.QemuBoard("ghost", tmp_path / "firmware.elf", "mps2-an385")
    with pytest.raises(targets.TargetMissing, match="run make test"):
        board.start()
    assert not board.running


# ------------------------------------------------------------- qemu board


def test_board_is_the_qemu_port_on_a_cortex_m3(qemu_m3):
    out = qemu_m3.run("import sys\nprint(sys.platform)\nprint(sys.implementation._machine)")
    platform, machine = out.splitlines()
    assert platform == "qemu"
    assert "Cortex-M3" in machine


def test_board_heap_is_the_size_of_an_rp2040_s(qemu_m3):
    heap = targets.qemu_heap_bytes()
    out = qemu_m3.run(
        "import gc, micropython\ngc.collect()\nmicropython.mem_info()\n"
        "print('heap', gc.mem_free() + gc.mem_alloc(), gc.mem_free())"
    )
    assert "GC: total:" in out
    total, free = (int(n) for n in out.split("heap ")[1].split())
    # The GC keeps its allocation table inside the heap (1/33 of it).
    assert heap * 0.95 <= total <= heap
    assert free >= 0.95 * total


def test_board_has_ed25519_built_in(qemu_m3):
    out = qemu_m3.run("import ed25519\nprint(ed25519.verify(bytes(32), bytes(64), b''))")
    assert out == "False\n"


def test_board_output_is_returned_exactly(qemu_m3):
    assert qemu_m3.run("print(6 * 7)\nprint('a', 'b')") == "42\na b\n"


def test_board_exception_fails_the_run_with_traceback_and_prior_output(qemu_m3):
    with pytest.raises(targets.TargetError) as caught:
        qemu_m3.run("print('before')\nraise ValueError('boom-17')")
    assert "ValueError: boom-17" in str(caught.value)
    assert "Traceback" in str(caught.value)
    assert caught.value.output == "before\n"


def test_board_state_does_not_leak_between_runs(qemu_m3):
    qemu_m3.run("import gc\nleaked = bytearray(50000)")
    out = qemu_m3.run("import gc\ngc.collect()\nprint('leaked' in globals(), gc.mem_free())")
    present, free = out.split()
    assert present == "False"
    assert int(free) > 0.9 * targets.qemu_heap_bytes()


def test_board_runs_code_of_tens_of_kilobytes(qemu_m3):
    functions = "".join(
        "def f{0}(a):\n    return (a * {0} + {1}) % 65521\n".format(i, i * 7)
        for i in range(_LARGE_CODE_FUNCTIONS)
    )
    code = functions + "total = 0\n" + "".join(
        "total += f{}(3)\n".format(i) for i in range(_LARGE_CODE_FUNCTIONS)
    ) + "print(total)\n"
    assert len(code) > 15000
    expected = sum((3 * i + i * 7) % 65521 for i in range(_LARGE_CODE_FUNCTIONS))
    assert qemu_m3.run(code) == "{}\n".format(expected)


def test_board_path_is_served_from_the_host_by_mpremote_mount(qemu_m3, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "pkg").mkdir(parents=True)
    second.mkdir()
    (first / "pkg" / "__init__.py").write_text("NAME = 'pkg'\n")
    (first / "probe.py").write_text("WHO = 'first'\n")
    (second / "probe.py").write_text("WHO = 'second'\n")
    (second / "data.bin").write_bytes(bytes(range(256)) * 4)
    out = qemu_m3.run(
        "import pkg, probe\n"
        "with open('data.bin', 'rb') as f:\n"
        "    data = f.read()\n"
        "print(pkg.NAME, probe.WHO, len(data), data == bytes(range(256)) * 4)",
        path=[first, second],
    )
    assert out == "pkg first 1024 True\n"
    # The next run has no mount left over.
    with pytest.raises(targets.TargetError, match="ImportError"):
        qemu_m3.run("import probe")


def test_board_runaway_code_is_stopped_and_the_board_comes_back(qemu_m3):
    with pytest.raises(targets.TargetError, match="timed out"):
        qemu_m3.run("while True:\n    pass", timeout=2.0)
    assert qemu_m3.run("print('back')") == "back\n"


def test_armv7m_native_module_loads_on_the_board(qemu_m3, tmp_path):
    mpy = targets.BUILD / "natmod" / "armv7m" / "ed25519.mpy"
    assert mpy.is_file(), "{} is missing: run make test".format(mpy)
    # Renamed so that the built-in ed25519 does not shadow it.
    (tmp_path / "ed25519_native.mpy").write_bytes(mpy.read_bytes())
    out = qemu_m3.run(
        "import ed25519_native as n\nprint(n.sha512(b'abc').digest().hex())", path=[tmp_path]
    )
    assert out.strip() == hashlib.sha512(b"abc").hexdigest()


# ----------------------------------------------------------- the clock


def test_board_time_module_has_the_ticks_api(qemu_m3):
    names = ["ticks_ms", "ticks_us", "ticks_diff", "ticks_add", "sleep_ms", "sleep_us", "sleep", "time"]
    out = qemu_m3.run("import time\nprint([n for n in {!r} if not hasattr(time, n)])".format(names))
    assert out == "[]\n"


def test_board_ticks_wrap_like_real_ports(qemu_m3):
    out = qemu_m3.run(
        "import time\n"
        "top = time.ticks_add(0, -1)\n"
        "print(time.ticks_add(top, 1), time.ticks_diff(0, top), time.ticks_diff(top, 0))\n"
        "try:\n    time.ticks_add(0, top)\nexcept OverflowError:\n    print('overflow')\n"
        "try:\n    time.sleep_ms(-1)\nexcept ValueError:\n    print('negative')\n"
    )
    assert out == "0 1 -1\noverflow\nnegative\n"


def test_board_wall_clock_is_the_host_s(qemu_m3):
    # The board asks the host (semihosting SYS_TIME) when called: its answer
    # falls between the host's clock before and after, however long the run
    # takes on a busy machine.
    before = int(time.time())
    board_time = int(qemu_m3.run("import time\nprint(time.time())"))
    assert before <= board_time <= time.time() + 1


def test_board_sleep_lasts_at_least_as_asked(counted_m3):
    out = counted_m3.run(
        "import time\n"
        "t0 = time.ticks_us(); time.sleep_ms(30); t1 = time.ticks_us()\n"
        "time.sleep(0.02); t2 = time.ticks_us(); time.sleep_us(700); t3 = time.ticks_us()\n"
        "print(time.ticks_diff(t1, t0), time.ticks_diff(t2, t1), time.ticks_diff(t3, t2))"
    )
    slept = [int(n) for n in out.split()]
    for got, asked in zip(slept, (30000, 20000, 700)):
        assert asked <= got <= asked + 50


def test_one_microsecond_is_a_thousand_instructions_under_icount(counted_m3):
    # Two loops differing by `extra` iterations of two instructions each: the
    # call overhead cancels and the difference is pure instruction count.
    extra = 500_000
    out = counted_m3.run(_SPIN + "print(timed(100_000), timed(100_000 + {}))".format(extra))
    short, long = (int(n) for n in out.split())
    instructions_per_us = 2 * extra / (long - short)
    assert abs(instructions_per_us - 1000) < 5


def test_board_clock_follows_virtual_time_not_the_host_s():
    """The same work measured under -icount shift=0 and shift=1 (two guest
    nanoseconds per instruction) must take exactly twice the guest time."""
    results = []
    for shift in (0, 1):
        board = targets.qemu_m3(icount=shift)
        board.check()
        with board:
            results.append(int(board.run(_WORK)))
    assert abs(results[1] / results[0] - 2.0) < 0.01


# ---------------------------------------------------- the Cortex-M0 board


@pytest.fixture(scope="module")
def counted_m0():
    board = targets.qemu_m0(icount=targets.ICOUNT_EXACT)
    board.check()
    with board:
        yield board


def test_m0_board_is_an_armv6m_core_with_our_module(counted_m0):
    out = counted_m0.run(
        "import sys, ed25519\nprint(sys.platform, sys.implementation._machine)\n"
        "print(ed25519.sha512(b'abc').digest().hex())"
    )
    platform_line, digest = out.splitlines()
    assert platform_line.startswith("qemu ") and "nRF51" in platform_line
    assert digest == hashlib.sha512(b"abc").hexdigest()


def test_m0_one_microsecond_is_a_thousand_instructions_under_icount(counted_m0):
    extra = 500_000
    out = counted_m0.run(_SPIN + "print(timed(100_000), timed(100_000 + {}))".format(extra))
    short, long = (int(n) for n in out.split())
    assert abs(2 * extra / (long - short) - 1000) < 5


def test_armv6m_native_module_loads_on_the_m0_board(counted_m0, tmp_path):
    mpy = targets.BUILD / "natmod" / "armv6m" / "ed25519.mpy"
    assert mpy.is_file(), "{} is missing: run make test".format(mpy)
    (tmp_path / "ed25519_native.mpy").write_bytes(mpy.read_bytes())
    out = counted_m0.run(
        "import ed25519_native as n\nprint(n.sha512(b'abc').digest().hex())", path=[tmp_path]
    )
    assert out.strip() == hashlib.sha512(b"abc").hexdigest()
