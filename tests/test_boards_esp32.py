# SPDX-License-Identifier: MIT
"""ESP32_GENERIC: the OTA partition table and the sdkconfig that points at
it. No ESP-IDF here, so the board's cmake file is run by cmake itself (as
the esp32 port's CMakeLists.txt includes it) and the table is read by a
parser written from ESP-IDF's documented CSV format.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from targets import BUILD, ROOT

BOARD = ROOT / "boards" / "ESP32_GENERIC"
PORT = BUILD / "micropython" / "ports" / "esp32"

APP_ALIGN = 0x10000  # app partitions: the flash cache maps 64 KiB pages
DATA_ALIGN = 0x1000  # data partitions: one flash sector
TABLE_SIZE = 0x1000  # the partition table itself (ESP-IDF: one sector)
FLASH_SIZES = {"2MB": 2 << 20, "4MB": 4 << 20, "8MB": 8 << 20, "16MB": 16 << 20}
_SIZE = re.compile(r"^(0x[0-9a-fA-F]+|\d+)([KkMm]?)$")


class TableError(Exception):
    pass


def number(text):
    m = _SIZE.match(text.strip())
    if not m:
        raise TableError("not a number: {!r}".format(text))
    n = int(m[1], 0)
    return n * {"": 1, "k": 1024, "m": 1024 * 1024}[m[2].lower()]


def parse_table(text):
    """Rows of an ESP-IDF partition CSV as dicts. Offsets must be given:
    ours states every address rather than leave them to the tool."""
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 5:
            raise TableError("line {}: {} fields".format(lineno, len(cells)))
        name, kind, subtype, offset, size = cells[:5]
        if not offset:
            raise TableError("line {}: no offset".format(lineno))
        rows.append({"name": name, "type": kind, "subtype": subtype,
                     "offset": number(offset), "size": number(size),
                     "flags": [f for f in cells[5:] if f]})
    return rows


def parse_sdkconfig(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value.strip('"')
    return out


@pytest.fixture(scope="module")
def board():
    """What the esp32 port's build sees: the variables our
    mpconfigboard.cmake sets, and the sdkconfig defaults it lists read in
    order into one (later files win, as in the IDF), with our fragment
    configured by the same configure_file() call the build makes."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "vars.cmake"
        script.write_text(
            "set(MICROPY_BOARD_DIR {})\ninclude({}/mpconfigboard.cmake)\n".format(BOARD, BOARD)
            + "".join('message("{0}=${{{0}}}")\n'.format(n)
                      for n in ("SDKCONFIG_DEFAULTS", "MICROPY_FROZEN_MANIFEST", "USER_C_MODULES"))
        )
        # In script mode CMAKE_BINARY_DIR is the working directory.
        run = subprocess.run(["cmake", "-P", str(script)], cwd=tmp, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        v = dict(line.split("=", 1) for line in run.stderr.splitlines() if "=" in line)
        config = {}
        files = []
        for f in v["SDKCONFIG_DEFAULTS"].split(";"):
            path = Path(f) if Path(f).is_absolute() else PORT / f
            files.append(path)
            config.update(parse_sdkconfig(path.read_text()))
    v["files"] = files
    v["config"] = config
    return v


@pytest.fixture(scope="module")
def table(board):
    path = Path(board["config"]["CONFIG_PARTITION_TABLE_CUSTOM_FILENAME"])
    assert path.is_absolute() and path.is_file(), path
    return parse_table(path.read_text())


def flash_size(config):
    sizes = [FLASH_SIZES[k[len("CONFIG_ESPTOOLPY_FLASHSIZE_"):]] for k, v in config.items()
             if k.startswith("CONFIG_ESPTOOLPY_FLASHSIZE_") and v == "y" and
             k[len("CONFIG_ESPTOOLPY_FLASHSIZE_"):] in FLASH_SIZES]
    assert len(sizes) == 1, sizes
    return sizes[0]


def test_board_reads_the_port_defaults_then_ours(board):
    names = [p.name for p in board["files"]]
    assert names[-1] == "sdkconfig.mpota"
    assert "sdkconfig.base" in names
    assert board["MICROPY_FROZEN_MANIFEST"] == str(BOARD / "manifest.py")
    assert board["USER_C_MODULES"] == str(ROOT / "firmware" / "cmod" / "ed25519" / "micropython.cmake")
    assert Path(board["USER_C_MODULES"]).is_file()


def test_rollback_is_on_so_an_unconfirmed_image_is_given_up_by_the_bootloader(board):
    assert board["config"]["CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE"] == "y"
    # In our own fragment, not only inherited from the port's defaults.
    ours = parse_sdkconfig((BOARD / "sdkconfig.mpota").read_text())
    assert ours["CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE"] == "y"


def test_the_table_used_is_ours_not_the_ports(board):
    c = board["config"]
    assert c["CONFIG_PARTITION_TABLE_CUSTOM"] == "y"
    assert Path(c["CONFIG_PARTITION_TABLE_CUSTOM_FILENAME"]).parent == BOARD


def test_two_equal_app_slots_and_an_otadata(table):
    by_name = {r["name"]: r for r in table}
    apps = [r for r in table if r["type"] == "app"]
    assert sorted(r["subtype"] for r in apps) == ["ota_0", "ota_1"]
    # The agent's PartitionBank finds the slots by these subtypes.
    assert by_name["ota_0"]["subtype"] == "ota_0" and by_name["ota_1"]["subtype"] == "ota_1"
    assert by_name["ota_0"]["size"] == by_name["ota_1"]["size"]
    # otadata: two sectors, one per copy of the boot selection.
    ota = [r for r in table if (r["type"], r["subtype"]) == ("data", "ota")]
    assert len(ota) == 1 and ota[0]["size"] == 2 * DATA_ALIGN
    assert [r for r in table if (r["type"], r["subtype"]) == ("data", "nvs")]
    assert [r for r in table if (r["type"], r["subtype"]) == ("data", "phy")]


def test_filesystem_partition_is_the_one_micropython_mounts(table):
    # MicroPython's flashbdev mounts the data partition labelled vfs (or ffat).
    fs = [r for r in table if r["name"] in ("vfs", "ffat")]
    assert len(fs) == 1 and fs[0]["type"] == "data" and fs[0]["subtype"] == "fat"


def layout_problems(table, table_at, end_of_flash):
    """What is wrong with where the partitions sit, as short texts."""
    problems = []
    names = [r["name"] for r in table]
    if len(set(names)) != len(names) or not all(0 < len(n) <= 16 for n in names):
        problems.append("names not unique or not 1 to 16 characters")
    for r in table:
        align = APP_ALIGN if r["type"] == "app" else DATA_ALIGN
        if r["offset"] % align or r["size"] % DATA_ALIGN or r["size"] <= 0:
            problems.append("{} not aligned".format(r["name"]))
    spans = sorted((r["offset"], r["offset"] + r["size"], r["name"]) for r in table)
    # The table sits after the bootloader (0x1000 on the ESP32); nothing
    # may start before the table's own sector ends.
    if table_at < 0x8000 or spans[0][0] < table_at + TABLE_SIZE:
        problems.append("{} over the bootloader or the table".format(spans[0][2]))
    for (_, a1, an), (b0, _, bn) in zip(spans, spans[1:]):
        if a1 > b0:
            problems.append("{} overlaps {}".format(an, bn))
    if spans[-1][1] > end_of_flash:
        problems.append("{} past the end of the flash".format(spans[-1][2]))
    return problems


def test_partitions_are_aligned_disjoint_and_fit_the_flash(board, table):
    c = board["config"]
    assert layout_problems(table, number(c["CONFIG_PARTITION_TABLE_OFFSET"]), flash_size(c)) == []


def test_misplaced_partitions_are_each_reported():
    table = parse_table("""
        nvs,      data, nvs,     0x8000,   0x4000,
        ota_0,    app,  ota_0,   0x18000,  0x100000,
        ota_1,    app,  ota_1,   0x110000, 0x100000,
        vfs,      data, fat,     0x210000, 0x200000,
    """)
    assert layout_problems(table, 0x8000, 4 << 20) == [
        "ota_0 not aligned",
        "nvs over the bootloader or the table",
        "ota_0 overlaps ota_1",
        "vfs past the end of the flash",
    ]


@pytest.mark.parametrize("row", [
    "ota_0, app, ota_0, , 0x100000,",  # no offset: placed by the tool, unchecked
    "ota_0, app, ota_0, 0x10000",  # too few fields
    "ota_0, app, ota_0, 0x10000, 1.5M,",  # a size the IDF would not read
])
def test_parser_refuses_rows_it_cannot_place(row):
    with pytest.raises(TableError):
        parse_table(row)


def test_sizes_take_hex_decimal_and_suffixes():
    assert [number(t) for t in ("0x1000", "4096", "4K", "1M")] == [4096, 4096, 4096, 1 << 20]


# Size: the app against its OTA slot (boards/ESP32_GENERIC/fits.py) -------

FITS = BOARD / "fits.py"
MPY_CROSS = BUILD / "mpy-cross" / "mpy-cross"


def fits(*args, **kw):
    return subprocess.run([sys.executable, str(FITS)] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=300, **kw)


def _frozen_agent_mpy():
    """The agent modules ESP32_GENERIC freezes, compiled for its
    architecture as the port's build compiles them: (count, .mpy bytes).
    Read with the manifest tool the board tests use (test_boards_manifest)."""
    from test_boards_manifest import _Manifest

    files = [f for f in _Manifest("ESP32_GENERIC").files if f.target_path.startswith("mpota/")]
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.mpy"
        for f in files:
            subprocess.run([str(MPY_CROSS), "-march=xtensawin", "-s", f.target_path,
                            "-o", str(out), f.full_path], check=True)
            total += out.stat().st_size
    return len(files), total


def test_the_agent_frozen_into_esp32_generic_is_measured_and_counted_against_the_slot(table):
    if not MPY_CROSS.is_file():
        pytest.fail("{} is missing: run make test".format(MPY_CROSS), pytrace=False)
    run = fits("--json", "--mpy-cross", MPY_CROSS, "--idf-path", "/nonexistent")
    e = json.loads(run.stdout or run.stderr)
    n, mpy = _frozen_agent_mpy()
    print("ESP32_GENERIC freezes {} agent modules, {} bytes as xtensawin .mpy; "
          "estimate {}".format(n, mpy, e))
    assert e["measured"] == "{} modules, {} bytes as xtensawin .mpy".format(n, mpy)
    slot = min(r["size"] for r in table if r["type"] == "app")
    assert e["slot"] == slot == 0x180000
    # Frozen code 1.04 times its .mpy (docs/BOARDS.md), the C module, the
    # published stock OTA build with ESP-IDF 5.2 (no IDF here).
    agent = int(mpy * 1.04) + 12000
    assert e["agent"] == agent
    lo, hi = 0x180000 - 74000, 0x180000 - 64000
    assert e["free"] == [slot - hi - agent, slot - lo - agent]
    assert e["verdict"] == ("over" if slot - lo - agent < 0 else
                            "tight" if slot - hi - agent < 32 * 1024 else "fits")
    assert run.returncode == (1 if e["verdict"] == "over" else 0)


def test_an_estimate_over_the_slot_stops_the_build_with_the_numbers():
    run = fits("--mpy-cross", MPY_CROSS, "--idf-path", "/nonexistent")
    if run.returncode:
        msg = run.stderr
        assert "would not fit its OTA slot" in msg and "BOARD_VARIANT=NOBLE" in msg
        assert "1,572,864" in msg and "bytes free" in msg
    else:
        assert "bytes free" in run.stdout
    # Without mpy-cross the agent is estimated from its source, and said so.
    run = fits("--mpy-dir", BUILD / "micropython", "--mpy-cross", "none")
    assert "from their source" in run.stdout + run.stderr


def test_micropython_bin_larger_than_the_slot_is_refused_with_its_size(tmp_path):
    big = tmp_path / "micropython.bin"
    big.write_bytes(b"\0" * (0x180000 + 1))
    run = fits("--bin", big)
    assert run.returncode == 1
    assert "1,572,865 of 1,572,864 bytes" in run.stderr and "does not fit" in run.stderr
    big.write_bytes(b"\0" * (0x180000 - 40000))
    run = fits("--bin", big)
    assert run.returncode == 0 and "40,000 free" in run.stdout


@pytest.fixture(scope="module")
def noble():
    """What the port sees with BOARD_VARIANT=NOBLE: our board file, then
    the variant file, as ports/esp32/CMakeLists.txt includes them."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "vars.cmake"
        script.write_text(
            "set(MICROPY_BOARD_DIR {b})\ninclude({b}/mpconfigboard.cmake)\n"
            "include({b}/mpconfigvariant_NOBLE.cmake)\n".format(b=BOARD)
            + "".join('message("{0}=${{{0}}}")\n'.format(n)
                      for n in ("SDKCONFIG_DEFAULTS", "MICROPY_DEF_BOARD")))
        run = subprocess.run(["cmake", "-P", str(script)], cwd=tmp, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        v = dict(line.split("=", 1) for line in run.stderr.splitlines() if "=" in line)
        config = {}
        for f in v["SDKCONFIG_DEFAULTS"].split(";"):
            path = Path(f) if Path(f).is_absolute() else PORT / f
            config.update(parse_sdkconfig(path.read_text()))
    v["config"] = config
    return v


def test_variant_without_bluetooth_drops_the_ble_stack_and_keeps_our_layout(noble):
    assert "sdkconfig.ble" not in noble["SDKCONFIG_DEFAULTS"]
    assert noble["config"].get("CONFIG_BT_ENABLED") != "y"
    assert "MICROPY_PY_BLUETOOTH=0" in noble["MICROPY_DEF_BOARD"].split(";")
    c = noble["config"]
    assert c["CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE"] == "y"
    assert Path(c["CONFIG_PARTITION_TABLE_CUSTOM_FILENAME"]).parent == BOARD
    assert c["CONFIG_COMPILER_OPTIMIZATION_SIZE"] == "y"


def test_variant_board_name_is_taken_by_the_board_header():
    # The variant names the board on the compiler's command line; the
    # header must not define it again (a redefinition is an error with
    # -Werror).
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "b.c"
        src.write_text('#include "mpconfigboard.h"\n#include <stdio.h>\n'
                       'int main(void) { puts(MICROPY_HW_BOARD_NAME); return 0; }\n')
        exe = Path(tmp) / "b"
        run = subprocess.run(["cc", "-Werror", "-I", str(BOARD), "-o", str(exe), str(src),
                              '-DMICROPY_HW_BOARD_NAME="no ble"'], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert subprocess.run([str(exe)], capture_output=True, text=True).stdout == "no ble\n"


def _fake_tree(tmp_path):
    """ESP-IDF as an idf.py that must not run, and a MicroPython tree with
    what firmware.sh checks, the manifest tool and the port's frozen
    files (from Debian's source), and a port Makefile that only leaves a
    mark."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    idf = bin_dir / "idf.py"
    idf.write_text("#!/bin/sh\necho idf.py must not run >&2\nexit 99\n")
    idf.chmod(0o755)
    mpy = tmp_path / "mpy"
    src = BUILD / "micropython"
    (mpy / "lib" / "berkeley-db-1.xx").mkdir(parents=True)
    (mpy / "lib" / "berkeley-db-1.xx" / "README").write_text("")
    net = mpy / "lib" / "micropython-lib" / "micropython" / "bundles" / "bundle-networking"
    net.mkdir(parents=True)
    (net / "manifest.py").write_text("")
    (mpy / "tools").symlink_to(src / "tools")
    (mpy / "extmod").symlink_to(src / "extmod")
    port = mpy / "ports" / "esp32"
    port.mkdir(parents=True)
    (port / "boards").symlink_to(src / "ports" / "esp32" / "boards")
    (port / "modules").symlink_to(src / "ports" / "esp32" / "modules")
    (port / "Makefile").write_text("all:\n\t@echo port make ran $(BOARD_VARIANT) > {}\n"
                                   .format(tmp_path / "mark"))
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")}
    env.update(IDF_PATH=str(tmp_path), MPY_DIR=str(mpy),
               PATH=str(bin_dir) + os.pathsep + env["PATH"])
    return env


def test_make_firmware_stops_before_the_build_when_the_estimate_is_over(tmp_path):
    env = _fake_tree(tmp_path)
    script = ROOT / "scripts" / "firmware.sh"
    run = subprocess.run([str(script), "ESP32_GENERIC"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    verdict = fits("--json", "--mpy-cross", MPY_CROSS, "--idf-path", "/nonexistent")
    if json.loads(verdict.stdout or verdict.stderr)["verdict"] == "over":
        assert run.returncode == 1, run.stderr
        assert "would not fit its OTA slot" in run.stderr
        assert not (tmp_path / "mark").exists()
    else:
        assert (tmp_path / "mark").exists()
    # The variant without Bluetooth goes on to the port's build.
    env["MAKE_ARGS"] = "BOARD_VARIANT=NOBLE"
    run = subprocess.run([str(script), "ESP32_GENERIC"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "mark").read_text() == "port make ran NOBLE\n"
    assert "ESP32_GENERIC-NOBLE" in run.stdout


def test_board_configuration_is_one_the_agent_accepts_on_the_partitions(unix_target, tmp_path):
    from agent import espkit, kit

    r = kit.run(unix_target, """
import esp32, json, os
os.mkdir({base!r})
esp32.configure({base!r}, 0x180000)
with open({cfg!r}) as f:
    cfg = json.load(f)
from mpota.device import Device
from mpota.slots.esp32 import PartitionBank
dev = Device(cfg, {base!r})
emit("bank", [isinstance(dev.bank, PartitionBank), [r.size for r in dev.bank.regions],
              dev.facts()["target"]])
""".format(base=str(tmp_path / "dev"), cfg=str(BOARD / "mpota.json")), extra_path=[espkit.STUB])
    assert r["bank"] == [True, [0x180000, 0x180000], 1]
