# SPDX-License-Identifier: MIT
"""The agent on an ESP32's OTA partitions, through a stand-in esp32
module as strict as the chip (tests/agent/esp32stub/esp32.py: set_boot()
checks the app image as esp_image_verify does, the bootloader falls back
and rolls back as ESP-IDF's does, partition bounds and erase lengths as
esp_partition's). The bundles hold ESP32 app images, as micropython.bin
is."""

import pytest

from agent import espkit, kit
from bundles import espapp
from bundles import factory as f

# Log events and reasons (firmware/mpota/state/log.py).
VERIFY_FAIL, TRIAL, CONFIRM, REVERT, INSTALLED, PROVISION = 3, 4, 5, 6, 8, 10
BOOTLOADER, UNBOOTABLE = 40, 41


@pytest.fixture(scope="module")
def b(tmp_path_factory):
    d = tmp_path_factory.mktemp("esp32")
    out = {"root": kit.root(d)}
    for v in (1, 2, 3):
        out["v{}".format(v)] = espkit.bundle(d, "v{}".format(v), v)
    # Validly signed, and not an app this board can start.
    out["s3"] = espkit.bundle(d, "s3", 4, espkit.app_image(4, chip_id=espapp.CHIP_ESP32S3))
    # MicroPython's firmware.bin (bootloader, table, app) signed by mistake.
    out["fwbin"] = espkit.bundle(d, "fwbin", 5, espapp.firmware_bin(espkit.app_image(5)))
    return {k: str(v) for k, v in out.items()}


def run(unix_target, tmp_path, b, code):
    return espkit.run(unix_target, tmp_path / "dev", code, **b)


def test_update_confirm_and_bootloader_rollback_of_an_unconfirmed_trial(unix_target, tmp_path, b):
    r = run(unix_target, tmp_path, b, """
flash({v1!r} + ".img")
emit("first", esp32.reset())  # the bootloader's first boot writes otadata
dev = power_on()
provision(dev, {root!r}, {v1!r})
emit("provisioned", [esp32.otadata()["state"], state(dev)["active"]])
emit("install", report(Install(dev, LocalSource({v2!r})).run()))
emit("ota", esp32.otadata()["boot"])
emit("reset", esp32.reset())
b = trial.boot(power_on())
emit("trial", [b.slot, b.trial, esp32.otadata()["state"]])
emit("confirm", [trial.confirm(power_on()), esp32.otadata()["state"], state(power_on())["active"]])
# v3 is never confirmed: at the second reset ESP-IDF gives it up.
Install(power_on(), LocalSource({v3!r})).run()
emit("reset3", esp32.reset())
b = trial.boot(power_on())
emit("trial3", [b.slot, b.trial])
emit("reset4", esp32.reset())
b = trial.boot(power_on())
st = state(power_on())
emit("after", [b.slot, b.reverted, st["active"], st["trial"], st["events"][-1],
               esp32.otadata()["entries"]])
""")
    assert r["first"] == "ota_0"
    assert r["provisioned"] == ["valid", 0]
    assert r["install"]["slot"] == 1 and r["install"]["copied"] > 0 and r["ota"] == "ota_1"
    assert r["reset"] == "ota_1" and r["trial"] == [1, True, "pending"]
    assert r["confirm"] == [True, "valid", 1]
    assert r["reset3"] == "ota_0" and r["trial3"] == [0, True]
    assert r["reset4"] == "ota_1"
    # boot() sees the bootloader went back and records it.
    assert r["after"][:5] == [1, True, 1, 255, [REVERT, BOOTLOADER, 3]]
    # ota_1's entry (sequence 2) valid, ota_0's (sequence 3) aborted.
    assert sorted(r["after"][5]) == [[2, 2], [3, 4]]


def test_without_bootloader_rollback_boot_reverts_by_attempt_count(unix_target, tmp_path, b):
    r = run(unix_target, tmp_path, b, """
esp32.configure(base, 131072, rollback=False)
flash({v1!r} + ".img")
esp32.reset(rollback=False)
dev = power_on(max_attempts=2)
provision(dev, {root!r}, {v1!r})
Install(dev, LocalSource({v3!r})).run()
emit("state", esp32.otadata()["state"])
seen = []
for _ in range(4):
    running = esp32.reset(rollback=False)
    b = trial.boot(power_on(max_attempts=2))
    seen.append([running, b.slot, b.trial, b.reverted, b.reset])
emit("seen", seen)
emit("boot", esp32.otadata()["boot"])
""")
    assert r["state"] == "undefined"
    # Two trial boots, then boot() sets the old partition and asks for a
    # reset; after it the old image runs.
    assert r["seen"] == [["ota_1", 1, True, False, False], ["ota_1", 1, True, False, False],
                         ["ota_1", 0, False, True, True], ["ota_0", 0, False, False, False]]
    assert r["boot"] == "ota_0"


def test_provisioning_refuses_to_adopt_a_partition_that_is_not_the_signed_image(
        unix_target, tmp_path, b):
    r = run(unix_target, tmp_path, b, """
flash({v2!r} + ".img")
esp32.reset()
emit("result", outcome(lambda: provision(power_on(), {root!r}, {v1!r}).outcome))
""")
    assert r["result"] == {"refused": "hash-mismatch"}


def test_provisioning_a_board_never_reset_since_esptool_adopts_it(unix_target, tmp_path, b):
    # otadata erased: mark_app_valid_cancel_rollback() has nothing to
    # cancel (ESP_FAIL), which commit() takes as such.
    r = run(unix_target, tmp_path, b, """
flash({v1!r} + ".img")
dev = power_on()
emit("result", provision(dev, {root!r}, {v1!r}).outcome)
emit("boot", [trial.boot(power_on()).slot, esp32.otadata()["entries"]])
""")
    assert r["result"] == "adopted"
    assert r["boot"] == [0, [None, None]]


def test_validly_signed_image_for_another_chip_is_refused_and_the_next_update_installs(
        unix_target, tmp_path, b):
    r = run(unix_target, tmp_path, b, """
flash({v1!r} + ".img")
esp32.reset()
provision(power_on(), {root!r}, {v1!r})
emit("refused", outcome(lambda: Install(power_on(), LocalSource({s3!r})).run().outcome))
st = state(power_on())
emit("after", [st["trial"], st["active"], st["events"][-1], esp32.otadata()["boot"]])
# The device is not wedged: boot() runs the old image, and again.
boots = []
for _ in range(3):
    esp32.reset()
    b = trial.boot(power_on())
    boots.append([esp32.otadata()["running"], b.slot, b.trial, b.reverted, b.reset])
emit("boots", boots)
emit("again", outcome(lambda: Install(power_on(), LocalSource({s3!r})).run().outcome))
emit("log", len([e for e in state(power_on())["events"] if e[1] == {unbootable}]))
emit("next", report(Install(power_on(), LocalSource({v2!r})).run())["outcome"])
emit("reset", esp32.reset())
trial.boot(power_on())
emit("confirm", trial.confirm(power_on()))
""".replace("{unbootable}", str(UNBOOTABLE)))
    assert r["refused"] == {"refused": "unbootable"}
    assert r["after"] == [255, 0, [VERIFY_FAIL, UNBOOTABLE, 4], "ota_0"]
    assert r["boots"] == [["ota_0", 0, False, False, False]] * 3
    # Refused again the same way, logged once.
    assert r["again"] == {"refused": "unbootable"} and r["log"] == 1
    assert r["next"] == "installed" and r["reset"] == "ota_1" and r["confirm"] is True


def test_signing_firmware_bin_instead_of_micropython_bin_ends_as_a_revert(
        unix_target, tmp_path, b):
    # firmware.bin starts with the bootloader: set_boot() accepts it (the
    # load-address checks run only in the bootloader), the bootloader
    # does not and starts ota_0 again; boot() selects it once more, then
    # gives it up.
    r = run(unix_target, tmp_path, b, """
flash({v1!r} + ".img")
esp32.reset()
provision(power_on(), {root!r}, {v1!r})
emit("install", Install(power_on(), LocalSource({fwbin!r})).run().outcome)
seen = []
for _ in range(3):
    running = esp32.reset()
    b = trial.boot(power_on())
    seen.append([running, b.reset, b.reverted])
emit("seen", seen)
emit("again", outcome(lambda: Install(power_on(), LocalSource({fwbin!r})).run().outcome))
""")
    assert r["install"] == "installed"
    assert r["seen"] == [["ota_0", True, False], ["ota_0", False, True], ["ota_0", False, False]]
    assert r["again"] == {"refused": "reverted"}


def test_bank_esp32_holding_an_app_archive_is_refused_as_config(unix_target, tmp_path, b):
    r = run(unix_target, tmp_path, b, """
emit("app", outcome(lambda: device(base, bank="esp32", dir=base, target="app",
                                   device_class="board")))
cfg = config(base, bank="esp32", dir=base, device_class="board")
del cfg["target"]  # "app" when not given
from mpota.device import Device
emit("default", outcome(lambda: Device(cfg, base)))
""")
    assert r["app"] == r["default"] == {"refused": "config"}


def test_commit_reports_a_failed_otadata_write_and_ignores_only_nothing_to_cancel(
        unix_target, tmp_path, b):
    r = run(unix_target, tmp_path, b, """
flash({v1!r} + ".img")
esp32.reset()
provision(power_on(), {root!r}, {v1!r})
Install(power_on(), LocalSource({v2!r})).run()
esp32.reset()
trial.boot(power_on())
real = esp32.Partition.mark_app_valid_cancel_rollback
seen = []
for code in (-0x105, 1, -0x6001):  # no otadata, nothing selected, a flash write failed
    def fail(code=code):
        raise OSError(code)
    esp32.Partition.mark_app_valid_cancel_rollback = fail
    try:
        seen.append(["ok", power_on().bank.commit(1)])
    except OSError as e:
        seen.append(["raised", e.args[0]])
emit("seen", seen)
# confirm() does not record a confirmation the bootloader did not get.
try:
    trial.confirm(power_on())
    emit("confirmed", True)
except OSError:
    emit("confirmed", False)
emit("state", [state(power_on())["trial"], esp32.otadata()["state"]])
""")
    assert r["seen"] == [["ok", None], ["ok", None], ["raised", -0x6001]]
    assert r["confirmed"] is False
    assert r["state"] == [1, "pending"]


def _corrupt(img, at, xor=0x01):
    out = bytearray(img)
    out[at] ^= xor
    return bytes(out)


def _bad_images():
    """Images esp_image_verify refuses, each for one reason."""
    good = espkit.app_image(7)
    segs = espapp.segments_of(good)
    desc = espapp.app_desc("7")
    return {
        "magic": _corrupt(good, 0),
        "other chip": espkit.app_image(7, chip_id=espapp.CHIP_ESP32S3),
        "needs a later revision": espkit.app_image(7, min_rev=301),
        "for earlier revisions only": espkit.app_image(7, max_rev=299),
        "17 segments": espapp.build([(espapp.DRAM + 4 * i, b"abcd") for i in range(17)]),
        "mapped segment off its page offset": espapp.build(
            [(espapp.DROM + 0x100, desc), (espapp.IRAM, b"\0" * 8)]),
        "data byte changed": _corrupt(good, segs[2][1] + 5),
        "checksum, no hash appended": _corrupt(espkit.app_image(7, hash_appended=False),
                                               len(espkit.app_image(7, hash_appended=False)) - 1),
        "hash changed": _corrupt(good, len(good) - 1),
        "longer than the partition": espkit.app_image(7, size=espkit.PART)[:espkit.PART],
        "segment length not a multiple of 4": _corrupt(good, segs[2][1] - 4, 0x01),
    }


def test_stand_in_set_boot_refuses_what_esp_image_verify_refuses(unix_target, tmp_path):
    # The stand-in is held to the chip: each broken image raises
    # ESP_ERR_OTA_VALIDATE_FAILED and leaves otadata as it was; the
    # intact one is selected.
    imgs = dict(_bad_images(), intact=espkit.app_image(7))
    names = sorted(imgs, key=lambda n: (n == "intact", n))  # the intact one last
    for i, n in enumerate(names):
        (tmp_path / "img{}".format(i)).write_bytes(imgs[n])
    r = espkit.run(unix_target, tmp_path / "dev", """
seen = []
for i in range({n}):
    flash({d!r} + "/img" + str(i), "ota_1")
    try:
        esp32.Partition("ota_1").set_boot()
        seen.append(["selected", esp32.otadata()["boot"]])
    except OSError as e:
        seen.append([e.args[0], esp32.otadata()["boot"]])
emit("seen", seen)
""", n=len(names), d=tmp_path)
    got = dict(zip(names, r["seen"]))
    assert got.pop("intact") == ["selected", "ota_1"]
    assert got == {n: [-0x1503, "ota_0"] for n in got}


def test_stand_in_bounds_every_access_by_its_partition_and_erases_whole_sectors(
        unix_target, tmp_path):
    r = espkit.run(unix_target, tmp_path / "dev", """
p0, p1 = esp32.Partition("ota_0"), esp32.Partition("ota_1")
p1.writeblocks(0, b"\\x5a" * 4096)
last = p0.ioctl(4, 0) - 1
def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return e.args[0]
emit("seen", [
    attempt(lambda: p0.writeblocks(0, b"\\0" * 100)),          # not whole sectors
    attempt(lambda: p0.writeblocks(last, b"\\0" * 8192)),      # runs into ota_1
    attempt(lambda: p0.writeblocks(last, b"\\0" * 8, 4092)),   # programmed across the end
    attempt(lambda: p0.readblocks(last, bytearray(8), 4092)),
    attempt(lambda: p0.readblocks(last + 2, bytearray(8))),
    attempt(lambda: p0.ioctl(6, last + 1)),
    attempt(lambda: p0.ioctl(6, last)),
])
buf = bytearray(4096)
p1.readblocks(0, buf)
emit("ota_1", buf == b"\\x5a" * 4096)
emit("valid", attempt(esp32.Partition.mark_app_valid_cancel_rollback))
emit("label", attempt(lambda: esp32.Partition("ota_7")))
# Neither partition holds an app: the bootloader has nothing to start.
try:
    esp32.reset()
    emit("noboot", False)
except esp32.NoBootableApp:
    emit("noboot", True)
""")
    assert r["seen"] == [-0x104, -0x104, -0x104, -0x104, -0x102, -0x104, "ok"]
    assert r["ota_1"] is True
    # Erased otadata: nothing to cancel (ESP_FAIL); no such label: ENOENT.
    assert r["valid"] == 1 and r["label"] == 2
    assert r["noboot"] is True


def test_deep_sleep_wake_runs_the_last_partition_and_a_real_reset_then_starts_the_trial(
        unix_target, tmp_path, b):
    # CONFIG_BOOTLOADER_SKIP_VALIDATE_IN_DEEP_SLEEP: a wake starts the
    # partition that ran before, whatever otadata says, and rolls nothing
    # back. boot() selects the trial again and asks for a reset (the app
    # must call machine.reset(), not sleep); a trial that deep-sleeps is
    # not given up by the bootloader, but boot() counts its boots.
    r = run(unix_target, tmp_path, b, """
flash({v1!r} + ".img")
esp32.reset()
provision(power_on(), {root!r}, {v1!r})
Install(power_on(), LocalSource({v2!r})).run()
emit("wake", esp32.reset(deep_sleep=True))
b = trial.boot(power_on())
emit("boot", [b.slot, b.reset])
emit("reset", esp32.reset())
seen = []
for _ in range(4):
    b = trial.boot(power_on())
    seen.append([esp32.otadata()["running"], b.slot, b.trial, b.reverted, b.reset])
    if b.reset:
        esp32.reset()
    else:
        esp32.reset(deep_sleep=True)
emit("seen", seen)
""")
    assert r["wake"] == "ota_0" and r["boot"] == [0, True]
    assert r["reset"] == "ota_1"
    # Three counted trial boots across wakes, then boot() reverts.
    assert r["seen"] == [["ota_1", 1, True, False, False], ["ota_1", 1, True, False, False],
                         ["ota_1", 1, True, False, False], ["ota_1", 0, False, True, True]]


def _esptool(path):
    """Espressif's esptool reading an image: {checksum, hash, chip}."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "esptool", "--chip", "esp32", "image-info",
                          str(path)], capture_output=True, text=True, timeout=120)
    out = run.stdout + run.stderr
    return {"checksum": "Checksum:" in out and "(invalid" not in out.split("Checksum:")[1]
            .splitlines()[0],
            "hash": "Validation hash:" in out and "(valid)" in out.split("Validation hash:")[1]
            .splitlines()[0],
            "chip": "Chip ID: 0 (ESP32)" in out, "ok": run.returncode == 0}


def test_test_images_are_ones_esptool_reads_and_the_corrupted_ones_it_flags(tmp_path):
    # The image generator checked by an independent reader: what the
    # stand-in accepts esptool reads as a valid ESP32 image (checksum and
    # SHA-256), and the byte-level corruptions the stand-in refuses
    # esptool finds too.
    good = tmp_path / "good.bin"
    good.write_bytes(espkit.app_image(7, irom=b"\x01" * 512))
    assert _esptool(good) == {"checksum": True, "hash": True, "chip": True, "ok": True}
    bad = _bad_images()
    seen = {}
    for name in ("data byte changed", "hash changed", "checksum, no hash appended", "other chip"):
        p = tmp_path / "bad.bin"
        p.write_bytes(bad[name])
        seen[name] = _esptool(p)
    assert seen["data byte changed"]["checksum"] is False
    assert seen["data byte changed"]["hash"] is False
    assert seen["hash changed"]["checksum"] is True and seen["hash changed"]["hash"] is False
    assert seen["checksum, no hash appended"]["checksum"] is False
    assert seen["other chip"]["chip"] is False


def test_provisioning_over_usb_refuses_bank_esp32_with_target_app_and_writes_nothing(
        unix_target, tmp_path, b):
    # What `mpota device provision --bank esp32` (target app by default)
    # asks of the board: refused as config before anything is written.
    r = run(unix_target, tmp_path, b, """
flash({v1!r} + ".img")
esp32.reset()
os.chdir(base)
import json
from mpota import bringup
with open({root!r}, "rb") as f:
    root = f.read().hex()
cfg = {{"device_class": "board", "bank": "esp32", "dir": ".", "target": "app"}}
emit("app", outcome(lambda: bringup.provision(json.dumps(cfg), root)))
emit("written", sorted(n for n in os.listdir(".") if not n.startswith("esp32") and n != "otadata"))
cfg["target"] = "firmware"
emit("firmware", bringup.provision(json.dumps(cfg), root)["bank"])
""")
    assert r["app"] == {"refused": "config"}
    assert r["written"] == []
    assert r["firmware"] == "esp32"
