# SPDX-License-Identifier: MIT
"""Every kind of slot behind the same agent: two app directories (any
board with a filesystem, CircuitPython included) and a raw region of an
RP2040's flash (through a stand-in rp2.Flash on the flash model). The
ESP32's OTA partitions are in test_agent_esp32.py."""

from agent import kit

RP2_STUB = kit.MP.parent / "rp2stub"


def _bundles(tmp_path):
    return {"root": kit.root(tmp_path),
            "v1": kit.app_bundle(tmp_path, "v1", 1, device_class="board"),
            "v2": kit.app_bundle(tmp_path, "v2", 2, device_class="board"),
            "v3": kit.app_bundle(tmp_path, "v3", 3, healthy=False, device_class="board")}


def test_app_directories_switch_by_the_state_record_and_boot_puts_the_app_on_sys_path(
        unix_target, tmp_path):
    b = _bundles(tmp_path)
    r = kit.run(unix_target, """
import sys
from mpota import trial
from mpota.source.local import LocalSource
from mpota.update.install import Install
base = {base!r}
dev = device(base, bank="dir", target="app", device_class="board", slot_size=131072)
provision(dev, {root!r}, {v1!r})
b = trial.boot(dev)
emit("boot1", [b.slot, sys.path[0] == dev.bank.app(0)])
with open(dev.bank.app(0) + "/main.py") as f:
    emit("app1", "app version 1" in f.read())
emit("install", report(Install(dev, LocalSource({v2!r})).run()))
b = trial.boot(dev)
emit("boot2", [b.slot, b.trial, sys.path[0] == dev.bank.app(1), dev.bank.app(0) in sys.path])
import main  # the app: prints its version, passes its check, confirms
emit("state", state(dev))
# The old slot is reused for the next image; nothing of v1 is left in it.
with open(dev.bank.app(0) + "/stale.py", "w") as f:
    f.write("x = 1")
Install(dev, LocalSource({v3!r})).run()
import os
emit("stale", "stale.py" in os.listdir(dev.bank.app(0)))
""".format(base=str(tmp_path / "dev"), **{k: str(v) for k, v in b.items()}))
    assert r["boot1"] == [0, True] and r["app1"] is True
    assert r["install"]["outcome"] == "installed" and r["install"]["slot"] == 1
    assert r["boot2"] == [1, True, True, False]
    assert r["state"]["active"] == 1 and r["state"]["active_version"] == 2
    assert r["stale"] is False


def test_app_directories_on_stock_micropython_the_circuitpython_path(unix_stock_target, tmp_path):
    # No ed25519 C module and no hashlib.sha512: the pure-Python verifier
    # over adafruit_hashlib, as on CircuitPython, through the same agent.
    b = _bundles(tmp_path)
    r = kit.run(unix_stock_target, """
from mpota import crypto, trial
from mpota.source.local import LocalSource
from mpota.update.install import Install
dev = device({base!r}, bank="dir", target="app", device_class="board", slot_size=131072)
provision(dev, {root!r}, {v1!r})
emit("impl", crypto.IMPLEMENTATION)
emit("install", report(Install(dev, LocalSource({v2!r})).run()))
b = trial.boot(dev)
import main
emit("state", state(dev))
""".format(base=str(tmp_path / "dev"), **{k: str(v) for k, v in b.items()}),
        extra_path=[kit.f.REPO / "build" / "circuitpython-lib"], timeout=300)
    assert r["impl"] == "python"
    assert r["install"]["outcome"] == "installed"
    assert r["state"]["active_version"] == 2 and r["state"]["min_counter"] == 2


def test_rp2_raw_region_update_confirm_and_the_filesystem_below_it_untouched(
        unix_target, tmp_path):
    # Bank "flash" on a region of an RP2040's flash that the board's
    # filesystem leaves free (rp2.Flash from 64 KB into the storage area,
    # through a stand-in over the NOR model with 256-byte page programs).
    b = _bundles(tmp_path)
    r = kit.run(unix_target, """
import hashlib, os, rp2
from mpota import trial
from mpota.source.local import LocalSource
from mpota.update.install import Install
base = {base!r}
os.mkdir(base)
rp2.configure(base + "/rp2-flash", 1 << 20)
fs = rp2.Flash(start=0, len=65536)
for blk in range(16):
    fs.writeblocks(blk, bytes([blk]) * 4096)
def fs_sha():
    h = hashlib.sha256()
    buf = bytearray(4096)
    for blk in range(16):
        fs.readblocks(blk, buf)
        h.update(buf)
    return h.digest()
before = fs_sha()
dev = device(base, bank="flash", target="app", device_class="board", slot_size=131072,
             flash={{"rp2": 65536}})
emit("geometry", [dev.flash.sector_size, dev.flash.write_size, dev.pad])
provision(dev, {root!r}, {v1!r})
emit("install", report(Install(dev, LocalSource({v2!r})).run()))
b = trial.boot(dev)
emit("boot", [b.slot, b.trial, b.version])
emit("confirm", trial.confirm(dev))
emit("state", state(dev))
emit("fs", fs_sha() == before)
emit("refused", [outcome(lambda: device(base, bank="flash", slot_size=131072,
                                        flash={{"rp2": where}}) and "opened")
                 for where in (1000, 1 << 20, (1 << 20) - 65536, 65536)])
""".format(base=str(tmp_path / "dev"), **{k: str(v) for k, v in b.items()}),
        extra_path=[RP2_STUB])
    assert r["geometry"] == [4096, 256, 256]
    assert r["install"]["outcome"] == "installed" and r["install"]["slot"] == 1
    assert r["boot"] == [1, True, 2]
    assert r["confirm"] is True
    assert r["state"]["active"] == 1 and r["state"]["active_version"] == 2
    assert r["state"]["min_counter"] == 2
    assert r["fs"] is True
    # Not sector-aligned; past the storage area; a region that does not
    # fit; and, for contrast, the region in use.
    assert r["refused"] == [{"refused": "config"}] * 3 + ["opened"]


def test_main_py_runs_the_app_that_boot_chose_and_nothing_before_a_boot(unix_target, tmp_path):
    # What `mpota device install` writes as the board's main.py: run the
    # chosen app's main.py (after boot.py's mpota.bringup.boot()).
    b = _bundles(tmp_path)
    out = unix_target.run("""
from agentkit import *
import json, os
from mpota import bringup
from mpota.source.local import LocalSource
from mpota.update.install import Install
os.mkdir({base!r})
os.chdir({base!r})
bringup.run_app()
cfg = config(".", bank="dir", target="app", device_class="board", slot_size=131072)
with open("mpota.json", "w") as f:
    f.write(json.dumps(cfg))
dev = device(".", bank="dir", target="app", device_class="board", slot_size=131072)
provision(dev, {root!r}, {v1!r})
bringup.run_app()
bringup.boot()
bringup.run_app()
Install(dev, LocalSource({v2!r})).run()
bringup.boot()
bringup.run_app()
""".format(base=str(tmp_path / "dev"), **{k: str(v) for k, v in b.items()}), path=kit.PATH)
    lines = [ln for ln in out.splitlines() if ln.startswith("mpota: ") or ln.startswith("app ")]
    assert lines[0] == "mpota: no app to run: not-provisioned"
    assert lines[1] == "mpota: no app to run: boot() has not chosen one"
    assert lines[2:4] == ["mpota: boot: version 1", "app version 1"]
    assert lines[4] == "mpota: boot: trial of version 2"
    assert lines[5] == "app version 2"
