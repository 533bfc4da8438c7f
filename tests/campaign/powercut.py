# SPDX-License-Identifier: MIT
"""Family 1: power cut before every operation of an update cycle.

Host side: makes the bundles of each setup (a flash geometry or a slot
bank), hands them to tests/campaign/mp/cutsweep.py running under the
MicroPython unix build (every cut of one setup and cycle in one process),
and gathers the cases.

Cycles (cutsweep.story): "good" is install (with a root rotation
published alongside), trial boot, confirm, boot; "bad" is install, trial
boots without confirm until the revert, boot, and the refused reinstall.
"unbootable" (ESP32 banks) first installs a validly signed image for
another chip, which set_boot() refuses, then runs "good".
Both versions share some chunks with the running image, so the install
copies some locally (delta) and fetches the others. On the ESP32 banks
the images are ESP32 app images (bundles.espapp), as the OTA partitions
hold.
"""

import hashlib
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import targets
from agent import kit
from bundles import espapp
from bundles import factory as f
from mpota_host import apppack

from .result import Family

HERE = Path(__file__).resolve().parent
PATH = [f.FIRMWARE, kit.MP, HERE / "mp", kit.MP.parent / "esp32stub", kit.MP.parent / "rp2stub"]
KB = 1024

# name: bank, flash geometry (sector, page, write unit), chunk size,
# codec, sizes of the shared and the per-version file in the app image,
# slot size. Erased value 0xFF throughout (the NOR model's).
SETUPS = {
    # SPI NOR as the ESP32's and RP2040's external flash: 4 KB sectors,
    # 256-byte pages, any length written (1-byte write unit).
    "nor-4k": dict(bank="flash", sector=4 * KB, page=256, write=1, chunk=1 * KB,
                   compress="none", shared=8 * KB, own=14 * KB, slot=32 * KB),
    # The RP2040's flash driver programs whole 256-byte pages only.
    "nor-4k-pages": dict(bank="flash", sector=4 * KB, page=256, write=256, chunk=4 * KB,
                         compress="deflate", shared=12 * KB, own=16 * KB, slot=48 * KB),
    # 64 KB sectors (the large erase blocks of many NOR chips): one erase
    # unit holds sixteen 4 KB chunks; the state record has a sector each.
    "nor-64k": dict(bank="flash", sector=64 * KB, page=256, write=1, chunk=4 * KB,
                    compress="none", shared=20 * KB, own=60 * KB, slot=128 * KB),
    # Internal MCU flash with 2 KB pages programmed in 16-byte words.
    "mcu-2k-w16": dict(bank="flash", sector=2 * KB, page=2 * KB, write=16, chunk=2 * KB,
                       compress="none", shared=8 * KB, own=16 * KB, slot=32 * KB),
    # ESP32 OTA partitions (stand-in esp32 module over the NOR model,
    # bootloader rollback on), state and scratch in files; ESP32 app
    # images of a shared code segment and a per-version data segment.
    "esp32": dict(bank="esp32", sector=4 * KB, page=256, write=1, chunk=4 * KB,
                  compress="deflate", shared=8 * KB, own=16 * KB, slot=64 * KB),
    # The same without the bootloader's rollback: boot() counts the
    # trial boots and goes back by set_boot() and a reset.
    "esp32-no-rollback": dict(bank="esp32", sector=4 * KB, page=256, write=1, chunk=4 * KB,
                              compress="none", shared=8 * KB, own=16 * KB, slot=64 * KB,
                              rollback=False),
    # A raw region of an RP2040's flash through rp2.Flash (stand-in over
    # the NOR model): 16 KB into the storage area, below it the board's
    # filesystem; whole-page programs.
    "rp2-region": dict(bank="flash", sector=4 * KB, page=256, write=256, chunk=4 * KB,
                       compress="none", shared=12 * KB, own=16 * KB, slot=48 * KB,
                       rp2=16 * KB, storage=272 * KB),
    # Encrypted bundles (docs/FORMAT.md, "Encryption") on RP2040-like
    # flash: every fetched chunk is staged, checked, decrypted, inflated.
    "nor-4k-sealed": dict(bank="flash", sector=4 * KB, page=256, write=256, chunk=4 * KB,
                          compress="deflate", shared=12 * KB, own=16 * KB, slot=48 * KB,
                          sealed=True),
    # App directories on a filesystem: image files, state files and the
    # unpacked app are the operations.
    "app-dir": dict(bank="dir", sector=4 * KB, page=4 * KB, write=1, chunk=1 * KB,
                    compress="none", shared=6 * KB, own=10 * KB, slot=32 * KB),
}
# rollout: the good cycle, driven by a staged-rollout poll of a repository
# (docs/ROLLOUT.md) instead of an install from the bundle directly.
CYCLES = ("good", "bad", "unbootable", "rollout")
# The bounded sample of `make test`: every STRIDE-th operation (strides
# that do not divide the counts, so the sample walks through every kind).
SAMPLE = {"nor-4k": 7, "nor-4k-pages": 13, "nor-64k": 37, "mcu-2k-w16": 5, "esp32": 7,
          "esp32-no-rollback": 9, "rp2-region": 11, "app-dir": 3, "nor-4k-sealed": 17}
# The device key of the encrypted setups (a fixed test key).
SEALED_KEY = hashlib.sha256(b"mpota power-cut device key").digest()


def _noise(seed, n):
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha512(b"cut %d %d" % (seed, i)).digest()
        i += 1
    return out[:n]


def _app(d, version, setup):
    d.mkdir(parents=True, exist_ok=True)
    (d / "main.py").write_text("print('app version {}')\n".format(version))
    (d / "lib").mkdir(exist_ok=True)
    # a.bin is the same in every version (its chunks are copied locally);
    # b.bin differs (fetched).
    (d / "lib" / "a.bin").write_bytes(_noise(0, setup["shared"]))
    (d / "lib" / "b.bin").write_bytes(_noise(version, setup["own"]))
    return apppack.pack(str(d))


def cycles(name):
    """The cycles a setup runs: "unbootable" only where a bootloader
    checks the image (ESP32); "rollout" on the slots the agent manages."""
    esp32 = SETUPS[name]["bank"] == "esp32"
    return [c for c in CYCLES if (c != "unbootable" or esp32) and (c != "rollout" or not esp32)]


def _bundle(work, name, version, setup, rotate=False, chip=espapp.CHIP_ESP32):
    if setup["bank"] == "esp32":
        data = espapp.image(str(version), code=_noise(0, setup["shared"]),
                            ram=_noise(version, setup["own"]), chip_id=chip)
        target = "firmware"
    else:
        data = _app(work / (name + "-src"), version, setup)
        target = "app"
    sealed = {}
    if setup.get("sealed"):
        from mpota_host import seal

        sealed["encrypt_for"] = [seal.public_of(SEALED_KEY)]
    path = kit.bundle(work, name, data, version=version, security_counter=version,
                      sequence=10 + version, target=target, device_class="cut",
                      chunk_size=setup["chunk"], compress=setup["compress"], window_bits=10,
                      **sealed)
    if rotate:
        (path / "roots").mkdir()
        (path / "roots" / "2").write_bytes(
            f.root_doc([kit.R], 1, [kit.A], 1, version=2, signers=[kit.R]))
    return {"bundle": str(path), "image": str(path) + ".img", "version": version,
            "counter": version, "sequence": 10 + version, "size": len(data),
            "sha": hashlib.sha256(data).hexdigest()}


def _spec(work, name, setup, cycle, stride, sabotage=None):
    old = _bundle(work, "v1", 1, setup)
    new = _bundle(work, "v2", 2, setup, rotate=cycle == "good") if cycle != "bad" else \
        _bundle(work, "v3", 3, setup)
    # For another chip (ESP32-S3): signed, and refused by set_boot().
    unbootable = _bundle(work, "v4", 4, setup, chip=espapp.CHIP_ESP32S3) \
        if cycle == "unbootable" else None
    unit = max(setup["chunk"], setup["sector"])
    config = {"device_class": "cut", "bank": setup["bank"],
              "target": "firmware" if setup["bank"] == "esp32" else "app",
              "slot_size": setup["slot"], "table_size": 4 * KB, "chunk_area": 8 * KB,
              "flash": {"file": "flash", "sector": setup["sector"], "page": setup["page"],
                        "write": setup["write"]},
              "dir": "slots", "max_attempts": 3, "backoff_ms": 0, "retries": 2,
              "now": 1800000000}
    if setup["bank"] == "esp32":
        config["dir"] = "."
    if "rp2" in setup:
        config["flash"] = {"rp2": setup["rp2"], "sector": setup["sector"]}
    if setup.get("sealed"):
        (work / "device.x25519").write_bytes(SEALED_KEY)
        config["decrypt_keys"] = [str(work / "device.x25519")]
    root, repo = str(kit.root(work)), None
    if cycle == "rollout":
        root, repo = _rollout_repo(work, new)
        config["device_id"] = "cut-device"
    return {"base": str(work / "dev"), "config": config, "root": root, "repo": repo,
            "old": old, "new": new, "unbootable": unbootable, "cycle": cycle, "per_unit": unit // setup["chunk"],
            "part_size": setup["slot"], "rollback": setup.get("rollback", True), "stride": stride,
            "rp2_storage": setup.get("storage"),
            "tears": [False, True], "name": name, "sabotage": sabotage}


def _rollout_repo(work, new):
    # A repository whose control document runs a plan releasing `new` to
    # every device, under a root with a control role.
    from mpota.bundle import format as F
    from rollouts import docs

    repo = docs.Repo(work / "repo")
    plan = repo.plan(docs.plan(repo.bundle(new["bundle"]), "cut-plan", device_class="cut",
                               issued=1_799_000_000, signers=(kit.A,)))
    repo.control(docs.control([(plan, F.STATE_RUN, 10000, 60)], issued=1_799_990_000,
                              expires=1_800_900_000))
    root = work / "root-control"
    root.write_bytes(docs.root(update=(kit.A,), root_key=kit.R))
    return str(root), str(repo.path)


_CODE = """
import json
from cutsweep import sweep
with open({path!r}) as f:
    sweep(json.load(f))
"""


def run_one(name, cycle, stride=1, target=None, work=None, sabotage=None):
    """One setup and cycle: the device's RESULT values as a dict."""
    target = target or targets.unix()
    with tempfile.TemporaryDirectory(prefix="mpota-cut-") as tmp:
        work = Path(work or tmp)
        spec = _spec(work, name, SETUPS[name], cycle, stride, sabotage)
        path = work / "spec.json"
        path.write_text(json.dumps(spec))
        return kit.run(target, _CODE.format(path=str(path)), timeout=3600,
                       extra_path=PATH[2:])


def run(full=True, jobs=None):
    fam = Family("power cut")
    t0 = time.time()
    runs = [(n, c) for n in SETUPS for c in cycles(n) if full or n in SAMPLE]
    target = targets.unix()
    target.check()

    def one(nc):
        n, c = nc
        return n, c, run_one(n, c, 1 if full else SAMPLE[n], target)

    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        results = list(pool.map(one, runs))
    ops = writes = cuts_again = 0
    worst = 0
    for n, c, r in results:
        label = "{}/{}".format(n, c)
        fam.merge(r["cases"], r["failed"],
                  ["{} cut before op {}{} ({}): {}".format(label, x[0], " torn" if x[1] else "",
                                                          x[2], "; ".join(x[3])) for x in r["failures"]])
        count = r["count"]
        ops += count["ops"]
        writes += count["state_writes"]
        cuts_again += r["resume"]["cases_refetching"]
        worst = max(worst, r["resume"]["max_again"])
        fam.figures[label] = "{} operations ({}), {} state writes, {} cases, {} s".format(
            count["ops"], ", ".join("{} {}".format(v, k) for k, v in sorted(count["kinds"].items())),
            count["state_writes"], r["cases"], round(r["seconds"]))
    fam.figures["operations per cycle, all setups"] = ops
    fam.figures["state writes per cycle, all setups"] = writes
    fam.figures["resume"] = ("{} cases fetched some verified chunk again, at most {} "
                             "(the chunks of one erase unit)".format(cuts_again, worst))
    fam.seconds = time.time() - t0
    return fam
