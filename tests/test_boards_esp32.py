# SPDX-License-Identifier: MIT
"""ESP32_GENERIC: the OTA partition table and the sdkconfig that points at
it. No ESP-IDF here, so the board's cmake file is run by cmake itself (as
the esp32 port's CMakeLists.txt includes it) and the table is read by a
parser written from ESP-IDF's documented CSV format.
"""

import re
import subprocess
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
