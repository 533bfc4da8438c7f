# SPDX-License-Identifier: MIT
"""Install throughput of an encrypted bundle against the same bundle in the
clear, on the unix port (part of `make bench-crypto`; figures, not a
test): the same image, device and flash model, best of three runs each,
printed as ratios within the run."""

import tempfile
from pathlib import Path

import targets
from agent import kit
from mpota_host import seal

SIZE = 512 * 1024
KEY = bytes(range(32))
_CODE = """
import time
from mpota.update.install import Install
best = None
for i in range(3):
    dev = device({base!r} + str(i), slot_size={slot}, table_size=16384, chunk_area=16384,
                 decrypt_keys=[{key!r}], buffer=4096)
    provision(dev, {root!r}, {v1!r})
    t = time.ticks_us()
    rep = Install(dev, LocalSource({b!r})).run()
    us = time.ticks_diff(time.ticks_us(), t)
    assert rep.outcome == "installed"
    best = us if best is None else min(best, us)
emit("us", best)
"""


def _install_us(target, work, name, bundle):
    code = _CODE.format(base=str(work / ("dev-" + name)), slot=SIZE, key=str(work / "device.key"),
                        root=str(work / "root"), v1=str(work / "v1"), b=str(bundle))
    return kit.run(target, code, timeout=900)["us"]


def rows(row):
    print("Encrypted bundles: install of a {} KiB image on the unix port (NOR model, "
          "best of 3):".format(SIZE // 1024))
    target = targets.unix()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "device.key").write_bytes(KEY)
        me = seal.public_of(KEY)
        kit.root(work)
        kit.bundle(work, "v1", kit.image(4096, seed=1), version=1, security_counter=1, sequence=1)
        img = kit.image(SIZE, seed=7)
        for codec in ("none", "deflate"):
            kw = dict(version=2, security_counter=2, sequence=2, compress=codec, chunk_size=4096)
            clear = kit.bundle(work, "clear-" + codec, img, **kw)
            sealed = kit.bundle(work, "sealed-" + codec, img, encrypt_for=[me], **kw)
            a = _install_us(target, work, "clear-" + codec, clear)
            b = _install_us(target, work, "sealed-" + codec, sealed)
            row("clear, codec {}".format(codec), "{:.0f}".format(a / 1000), "ms",
                "{:.2f} MB/s".format(SIZE / a))
            row("encrypted, codec {}".format(codec), "{:.0f}".format(b / 1000), "ms",
                "ratio {:.2f} to clear".format(b / a))
