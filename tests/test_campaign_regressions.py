# SPDX-License-Identifier: MIT
"""Faults the power-cut campaign found in the agent, each cut at the exact
operation it found and checked on the fix (docs/CAMPAIGN.md, "Found and
fixed"). The cut is real: PowerCut raised at that write, the device
opened again, the stand-in bootloader's reset, boot()."""

import pytest

from agent import espkit, kit
from bundles import factory as f

ESP32_STUB = espkit.STUB


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("regressions")
    b = {"root": kit.root(d),
         "v1": kit.app_bundle(d, "v1", 1, device_class="board"),
         "v2": kit.app_bundle(d, "v2", 2, device_class="board"),
         "v3": kit.app_bundle(d, "v3", 3, healthy=False, device_class="board")}
    rot = kit.app_bundle(d, "v2rot", 2, device_class="board")
    (rot / "roots").mkdir()
    (rot / "roots" / "2").write_bytes(f.root_doc([kit.R], 1, [kit.A], 1, version=2,
                                                 signers=[kit.R]))
    b["v2rot"] = rot
    # The ESP32 cases: firmware images (the OTA partitions hold apps).
    for v in (1, 2, 3):
        b["e{}".format(v)] = espkit.bundle(d, "e{}".format(v), v)
    return {k: str(v) for k, v in b.items()}


def test_power_cut_between_the_root_write_and_the_state_write_is_mended_by_the_next_install(
        unix_target, tmp_path, bundles):
    r = kit.run(unix_target, _root_code(tmp_path, bundles))
    assert r["cut"] == "power"
    # The stored root is version 2; the state record still said 1.
    assert r["before"] == [2, 1]
    assert r["retry"] == "installed"
    # The state names the stored root again and the log has the rotation.
    assert r["after"] == [2, 2, [[9, 0, 2]]]


def _root_code(tmp_path, bundles):
    return """
from mpota.flash.nor import PowerCut
from mpota.source.local import LocalSource
from mpota.update.install import Install
base = {base!r}
dev = device(base, target="app", device_class="board", slot_size=131072)
provision(dev, {root!r}, {v1!r})
save = dev.roots.save
def save_then_cut(doc):
    save(doc)
    # Power goes before the next operation: the state record's write.
    dev.flash.cut_power_before(dev.flash.ops)
dev.roots.save = save_then_cut
try:
    Install(dev, LocalSource({v2rot!r})).run()
    emit("cut", "none")
except PowerCut:
    emit("cut", "power")
dev.close()
dev = device(base, target="app", device_class="board", slot_size=131072)
emit("before", [dev.root().version, state(dev)["root_version"]])
emit("retry", report(Install(dev, LocalSource({v2rot!r})).run())["outcome"])
st = state(dev)
emit("after", [dev.root().version, st["root_version"], [e for e in st["events"] if e[0] == 9]])
""".format(base=str(tmp_path / "dev"), **bundles)


_ESP32 = """
import esp32, os
from mpota import trial
from mpota.flash.nor import PowerCut
from mpota.source.local import LocalSource
from mpota.update.install import Install
base = {base!r}
os.mkdir(base)
esp32.configure(base, 131072)
with open({e1!r} + ".img", "rb") as f:
    data = f.read()
esp32.Partition("ota_0").writeblocks(0, data + b"\\xff" * (-len(data) % 4096))
esp32.reset()

def power_on():
    return device(base, bank="esp32", dir=base, target="firmware", device_class="board")

def reset(rollback=True):
    # The bootloader's choice, then the agent's boot(); again if boot()
    # asks for a reset. [running partition, slot, trial, reverted] each.
    seen = []
    while True:
        running = esp32.reset(rollback)
        b = trial.boot(power_on())
        seen.append([running, b.slot, b.trial, b.reverted])
        if not b.reset:
            return seen

def cut_once(module, name):
    # Power goes at the next call of module.name (nothing of it happens).
    real = getattr(module, name)
    def cut(*args):
        setattr(module, name, real)
        raise PowerCut()
    setattr(module, name, cut)

dev = power_on()
provision(dev, {root!r}, {e1!r})
"""


def _esp32(unix_target, tmp_path, bundles, code):
    return kit.run(unix_target, _ESP32.format(base=str(tmp_path / "dev"), **bundles)
                   + code.format(**bundles), extra_path=[ESP32_STUB])


def test_power_cut_as_set_boot_runs_leaves_no_trial_and_the_retry_completes(
        unix_target, tmp_path, bundles):
    # install() selects the slot before it records the trial (a refused
    # set_boot() must leave nothing to undo): a cut there records nothing.
    r = _esp32(unix_target, tmp_path, bundles, """
cut_once(esp32.Partition, "set_boot")
try:
    Install(dev, LocalSource({e2!r})).run()
except PowerCut:
    emit("cut", [state(power_on())["trial"], esp32.otadata()["boot"]])
emit("boots", reset())
rep = report(Install(power_on(), LocalSource({e2!r})).run())
emit("retry", [rep["outcome"], rep["fetched"]])
emit("trial", reset())
emit("confirm", trial.confirm(power_on()))
st = state(power_on())
emit("state", [st["active"], st["active_version"], st["min_counter"]])
""")
    assert r["cut"] == [255, "ota_0"]
    assert r["boots"] == [["ota_0", 0, False, False]]
    # Nothing fetched again: the image is in the slot, checked unit by unit.
    assert r["retry"] == ["installed", 0]
    assert r["trial"] == [["ota_1", 1, True, False]]
    assert r["confirm"] is True
    assert r["state"] == [1, 2, 2]


def test_power_cut_between_set_boot_and_the_trial_record_goes_back_and_the_retry_completes(
        unix_target, tmp_path, bundles):
    # The bootloader starts the new image with no trial recorded: its
    # boot() selects the active slot again and asks for a reset.
    r = _esp32(unix_target, tmp_path, bundles, """
from mpota.state.record import FileArea
real = esp32.Partition.set_boot
def set_boot_then_cut(self):
    real(self)
    cut_once(FileArea, "write")  # the next write: the trial record
esp32.Partition.set_boot = set_boot_then_cut
try:
    Install(dev, LocalSource({e2!r})).run()
except PowerCut:
    emit("cut", [state(power_on())["trial"], esp32.otadata()["boot"]])
esp32.Partition.set_boot = real
emit("boots", reset())
emit("retry", report(Install(power_on(), LocalSource({e2!r})).run())["outcome"])
emit("trial", reset())
emit("confirm", trial.confirm(power_on()))
""")
    assert r["cut"] == [255, "ota_1"]
    assert r["boots"] == [["ota_1", 0, False, False], ["ota_0", 0, False, False]]
    assert r["retry"] == "installed"
    assert r["trial"] == [["ota_1", 1, True, False]]
    assert r["confirm"] is True


def test_power_cut_before_the_first_trial_boot_is_counted_does_not_give_up_the_update(
        unix_target, tmp_path, bundles):
    r = _esp32(unix_target, tmp_path, bundles, """
from mpota.state.record import FileArea
Install(dev, LocalSource({e2!r})).run()
esp32.reset()  # the bootloader starts ota_1, pending verification
cut_once(FileArea, "write")  # power goes as boot() counts the trial
try:
    trial.boot(power_on())
except PowerCut:
    pass
# At the next reset ESP-IDF gives the pending image up; boot() selects it
# again once, and this time the trial boot is counted.
emit("boots", reset())
emit("confirm", trial.confirm(power_on()))
st = state(power_on())
emit("state", [st["active"], st["active_version"]])
""")
    assert r["boots"] == [["ota_0", 0, False, False], ["ota_1", 1, True, False]]
    assert r["confirm"] is True
    assert r["state"] == [1, 2]


def test_firmware_that_dies_before_boot_runs_is_selected_again_only_once(
        unix_target, tmp_path, bundles):
    # The bound on the fix above: an image that never reaches boot() (the
    # bootloader gives it up at every reset) is tried once more, then
    # given up and not installed again.
    r = _esp32(unix_target, tmp_path, bundles, """
Install(dev, LocalSource({e2!r})).run()
seen = []
for _ in range(2):
    esp32.reset()  # ota_1 starts and dies before boot() counts it
    running = esp32.reset()  # ESP-IDF gives it up: ota_0
    b = trial.boot(power_on())
    seen.append([running, b.slot, b.reset, b.reverted])
emit("seen", seen)
emit("again", outcome(lambda: Install(power_on(), LocalSource({e2!r})).run().outcome))
""")
    # Selected again (a reset asked for) the first time, given up the second.
    assert r["seen"] == [["ota_0", 0, True, False], ["ota_0", 0, False, True]]
    assert r["again"] == {"refused": "reverted"}


def test_power_cut_between_the_revert_and_set_boot_does_not_leave_the_failed_image_running(
        unix_target, tmp_path, bundles):
    # A bootloader without rollback: boot() gives the trial up after
    # max_attempts, records it, then set_boot()s the old partition.
    r = _esp32(unix_target, tmp_path, bundles, """
Install(dev, LocalSource({e3!r})).run()
for _ in range(3):
    reset(rollback=False)  # three trial boots of v3, never confirmed
cut_once(esp32.Partition, "set_boot")
esp32.reset(False)
try:
    trial.boot(power_on())
except PowerCut:
    emit("cut", [state(power_on())["trial"], esp32.otadata()["boot"]])
emit("boots", reset(rollback=False))
""")
    # The revert is recorded; the bootloader would still start ota_1.
    assert r["cut"] == [255, "ota_1"]
    # boot() sees the failed image running, selects the old one, resets.
    assert r["boots"] == [["ota_1", 0, False, False], ["ota_0", 0, False, False]]


def test_old_image_that_a_revert_selected_again_is_marked_valid_so_the_bootloader_keeps_it(
        unix_target, tmp_path, bundles):
    # Rollback on. confirm() marks v2 valid, then power goes before its
    # state write; v2 keeps running on trial and fails its next checks,
    # so boot() reverts by attempt count and set_boot()s v1, which the
    # bootloader then holds pending verification.
    r = _esp32(unix_target, tmp_path, bundles, """
from mpota.state.record import FileArea
Install(dev, LocalSource({e2!r})).run()
reset()
cut_once(FileArea, "write")
try:
    trial.confirm(power_on())
except PowerCut:
    pass
emit("trials", reset() + reset())
emit("revert", reset())
emit("after", [reset(), esp32.otadata()["state"]])
""")
    assert r["trials"] == [["ota_1", 1, True, False], ["ota_1", 1, True, False]]
    assert r["revert"] == [["ota_1", 0, False, True], ["ota_0", 0, False, False]]
    # Without the mark the bootloader would give v1 up at this reset and
    # start the failed v2 again.
    assert r["after"] == [[["ota_0", 0, False, False]], "valid"]


def test_server_sending_a_few_bytes_per_connection_cannot_hold_the_install(
        unix_target, tmp_path):
    # A slow loris that gets under the transport's rate floor by sending
    # 50 bytes per connection and closing: before the fix every few bytes
    # of progress forgave the failures, so the install went on for
    # (image size / 50) connections; now it ends after the retries.
    d = tmp_path
    kit.root(d)
    kit.bundle(d, "v1", kit.image(8 * kit.CHUNK, seed=1), version=1)
    kit.bundle(d, "v2", kit.image(8 * kit.CHUNK, seed=2), version=2, security_counter=2,
               sequence=2)
    r = kit.run(unix_target, """
from mpota.update.install import Install
dev = device({base!r}, retries=3)
provision(dev, {root!r}, {v1!r})
src = FlakySource({v2!r}, fail_at=50, times=100000, then=50)
emit("result", outcome(lambda: Install(dev, src).run().outcome))
emit("opens", len(src.chunk_opens()))
emit("state", state(dev)["trial"])
src = FlakySource({v2!r}, fail_at=1100, times=100000, then=1100)
emit("buffer_a_time", outcome(lambda: Install(dev, src).run().outcome))
""".format(base=str(d / "dev"), root=str(d / "root"), v1=str(d / "v1"), v2=str(d / "v2")))
    assert r["result"] == {"refused": "closed"}
    assert r["opens"] == 4  # the first open and three retries
    assert r["state"] == 255
    # A server that delivers at least a buffer per connection still gets
    # the update through by resuming.
    assert r["buffer_a_time"] == "installed"


def test_body_trickled_in_reads_longer_than_a_window_is_timed_out(unix_target):
    # 64 bytes every quarter second: never long enough a silence for the
    # socket's timeout (0.5 s), and a whole 1 KB read takes 4 s. The rate
    # floor (1024 B/s) was judged per read as if the read had taken one
    # window, so the trickle passed; now it is judged per window spent.
    import time

    from net import device, rawserver

    body = bytes(range(256)) * 16

    def trickle(server, conn, head, n):
        conn.sendall(rawserver.response(200, [("Content-Length", len(body))]))
        for i in range(0, len(body), 64):
            if server.closing.is_set():
                return False
            conn.sendall(body[i:i + 64])
            time.sleep(0.25)
        return False

    with rawserver.RawServer(trickle) as srv:
        code = ("src = HttpSource({!r}, allow_http=True, read_timeout=0.5, min_rate=1024)\n"
                "report('trickle', read_all, src, 'f', 0, 1024)\n").format(srv.url("/"))
        (r,) = device.run(unix_target, code)
    # Left alone the trickle delivers the whole body ('ok'): 'timeout' is
    # the rate floor cutting it, with no bound on elapsed time asserted.
    assert r["error"] == "timeout"
