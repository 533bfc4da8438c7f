# SPDX-License-Identifier: MIT
"""Will ESP32_GENERIC's app fit its OTA slot? (docs/BOARDS.md, "Size")

Before the build (scripts/firmware.sh runs this, and stops when it says
no): the slot's size from our partition table, against MicroPython's
published size for the stock OTA build (-Os) plus the agent this board
freezes, measured here: the frozen modules compiled with mpy-cross for
xtensawin (or, without mpy-cross, their source size times a measured
ratio), times 1.04 for frozen over .mpy, plus the C module. Exit 1 when
even the smallest published stock size does not leave room, with the
numbers; a warning when the range straddles the slot.

After a build: --bin micropython.bin gives the real size against the
slot (ESP-IDF's check_sizes.py fails an overflowing build too).

  python3 fits.py [--mpy-dir DIR] [--mpy-cross FILE|none] [--idf-path DIR]
                  [BOARD_VARIANT=NAME ...] [--bin FILE] [--json]

MPY_DIR's mpy-cross/build/mpy-cross or this repository's build/mpy-cross
is used when --mpy-cross is not given; "none" estimates from the source.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
TABLE = os.path.join(HERE, "partitions-mpota-4MiB.csv")

# MicroPython's ESP32_GENERIC OTA variant (-Os, BLE on), builds of the
# 1.25 era with ESP-IDF 5.2: 64 to 74 KB free in a 0x180000 slot, so
# 1,572,864 - 74,000 to 1,572,864 - 64,000 bytes. ESP-IDF 5.4 adds about
# 10 KB (check_sizes.py on the same estimates: 2 to 9 KB free with 5.2.2,
# 1 to 8 KB over with 5.4.1). No published size without BLE: the NOBLE
# variant is checked after its build only.
STOCK = {("", (5, 2)): (1498864, 1508864), ("", (5, 4)): (1508864, 1518864)}
FROZEN_OVER_MPY = 1.04  # measured on the Cortex-M0 board (docs/BOARDS.md)
MPY_PER_SOURCE = 0.36  # xtensawin .mpy per source byte (0.325 measured), without mpy-cross
C_MODULE = 12000  # ed25519: 10,840 bytes on Cortex-M; Xtensa counted larger
WARN_FREE = 32 * 1024  # less left than this: the next firmware update may not fit


def slot_size(path=TABLE):
    """The smaller of ota_0 and ota_1 in the partition table."""
    sizes = []
    with open(path) as f:
        for line in f:
            cells = [c.strip() for c in line.split("#")[0].split(",")]
            if len(cells) >= 5 and cells[1] == "app":
                sizes.append(int(cells[4], 0))
    return min(sizes)


def idf_version(idf_path):
    """(major, minor) of the ESP-IDF at idf_path, or None."""
    h = os.path.join(idf_path or "", "components", "esp_common", "include", "esp_idf_version.h")
    try:
        with open(h) as f:
            text = f.read()
    except OSError:
        return None
    v = dict(re.findall(r"#define ESP_IDF_VERSION_(MAJOR|MINOR)\s+(\d+)", text))
    return (int(v["MAJOR"]), int(v["MINOR"])) if len(v) == 2 else None


def frozen_agent_files(mpy_dir):
    """(target path, source path) of the agent modules the board freezes,
    read by MicroPython's own manifest tool (require() is not followed:
    the port's packages are not ours)."""
    sys.path.insert(0, os.path.join(mpy_dir, "tools"))
    try:
        import manifestfile as mf
    finally:
        sys.path.pop(0)

    class Frozen(mf.ManifestFile):
        def require(self, *args, **kwargs):
            pass

    m = Frozen(mf.MODE_FREEZE, {"MPY_DIR": mpy_dir,
                                "MPY_LIB_DIR": os.path.join(mpy_dir, "lib", "micropython-lib"),
                                "PORT_DIR": os.path.join(mpy_dir, "ports", "esp32"),
                                "BOARD_DIR": HERE})
    m.execute(os.path.join(HERE, "manifest.py"))
    return [(f.target_path, f.full_path) for f in m.files() if f.target_path.startswith("mpota/")]


def agent_bytes(files, mpy_cross=None):
    """(bytes the agent adds to the app, how it was measured)."""
    if mpy_cross:
        mpy = 0
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "m.mpy")
            for target, src in files:
                subprocess.run([mpy_cross, "-march=xtensawin", "-s", target, "-o", out, src],
                               check=True)
                mpy += os.path.getsize(out)
        how = "{} modules, {} bytes as xtensawin .mpy".format(len(files), mpy)
    else:
        mpy = int(sum(os.path.getsize(src) for _, src in files) * MPY_PER_SOURCE)
        how = "{} modules, about {} bytes as .mpy (no mpy-cross: from their source)".format(
            len(files), mpy)
    return int(mpy * FROZEN_OVER_MPY) + C_MODULE, how


def find_mpy_cross(mpy_dir):
    for p in (os.path.join(mpy_dir, "mpy-cross", "build", "mpy-cross"),
              os.path.join(TOP, "build", "mpy-cross", "mpy-cross")):
        if os.access(p, os.X_OK):
            return p
    return None


def stock_range(variant, idf):
    """Published stock size (low, high) for the variant and ESP-IDF
    (major, minor); None where nothing was published. An unknown IDF is
    taken as 5.2, the one MicroPython 1.25's CI builds with."""
    if variant:
        return None
    if idf in (None, (5, 2), (5, 4)):
        return STOCK[("", idf or (5, 2))]
    if idf == (5, 3):
        return (STOCK[("", (5, 2))][0], STOCK[("", (5, 4))][1])
    return None


def estimate(variant, idf, slot, agent):
    """The verdict before a build, as a dict."""
    out = {"variant": variant or "(default)", "slot": slot, "agent": agent, "idf": idf}
    stock = stock_range(variant, idf)
    if stock is None:
        out["verdict"] = "unknown"
        return out
    out["stock"] = list(stock)
    out["free"] = [slot - stock[1] - agent, slot - stock[0] - agent]
    if out["free"][1] < 0:
        out["verdict"] = "over"
    elif out["free"][0] < WARN_FREE:
        out["verdict"] = "tight"
    else:
        out["verdict"] = "fits"
    return out


def _kib(n):
    return "{:,} bytes ({:.1f} KiB)".format(n, n / 1024)


def report(e):
    name = "ESP32_GENERIC" + ("-" + e["variant"] if e["variant"] != "(default)" else "")
    if e["verdict"] == "unknown":
        return ("fits: {}: agent {}; no published stock size for this variant or ESP-IDF, "
                "checked after the build (ESP-IDF's check_sizes)".format(name, _kib(e["agent"])))
    lo, hi = e["free"]
    text = ("fits: {}: slot {:,} bytes; stock OTA build {:,} to {:,} (published, -Os) + agent "
            "{:,} = {:,} to {:,}: {:,} to {:,} bytes free".format(
                name, e["slot"], e["stock"][0], e["stock"][1], e["agent"],
                e["stock"][0] + e["agent"], e["stock"][1] + e["agent"], lo, hi))
    if e["verdict"] == "over":
        text += ("\nfits: {} would not fit its OTA slot: build the variant without Bluetooth "
                 "(make firmware BOARD=ESP32_GENERIC MAKE_ARGS=BOARD_VARIANT=NOBLE) or freeze "
                 "fewer parts of the agent (docs/BOARDS.md)".format(name))
    elif e["verdict"] == "tight":
        text += ("\nfits: warning: {} may not fit, or leave under {} KiB for the next update "
                 "(docs/BOARDS.md)".format(name, WARN_FREE // 1024))
    return text


def check_bin(path, slot):
    size = os.path.getsize(path)
    free = slot - size
    ok = free >= 0
    text = "fits: {}: {:,} of {:,} bytes, {:,} free ({:.1%})".format(
        os.path.basename(path), size, slot, free, free / slot)
    if not ok:
        text += "\nfits: {} does not fit its OTA slot".format(os.path.basename(path))
    elif free < WARN_FREE:
        text += "\nfits: warning: under {} KiB left for the next update".format(WARN_FREE // 1024)
    return ok, {"bin": size, "slot": slot, "free": free}, text


def main(argv):
    opts = {"--mpy-dir": os.path.join(TOP, "build", "micropython"), "--mpy-cross": None,
            "--idf-path": os.environ.get("IDF_PATH"), "--bin": None}
    variant = ""
    as_json = False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in opts:
            opts[a] = args.pop(0)
        elif a == "--json":
            as_json = True
        elif a.startswith("BOARD_VARIANT="):
            variant = a.split("=", 1)[1]
        # Other make arguments (MAKE_ARGS) are not ours.
    slot = slot_size()
    if opts["--bin"]:
        ok, data, text = check_bin(opts["--bin"], slot)
        print(json.dumps(data) if as_json else text, file=sys.stdout if ok else sys.stderr)
        return 0 if ok else 1
    mpy_dir = opts["--mpy-dir"]
    files = frozen_agent_files(mpy_dir)
    cross = opts["--mpy-cross"]
    if cross is None:
        cross = find_mpy_cross(mpy_dir)
    agent, how = agent_bytes(files, None if cross == "none" else cross)
    e = estimate(variant, idf_version(opts["--idf-path"]), slot, agent)
    e["measured"] = how
    if as_json:
        e["idf"] = list(e["idf"]) if e["idf"] else None
        print(json.dumps(e))
    else:
        out = sys.stderr if e["verdict"] == "over" else sys.stdout
        print("fits: agent: " + how, file=out)
        print(report(e), file=out)
    return 1 if e["verdict"] == "over" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
