# SPDX-License-Identifier: MIT
"""Firmware updates on a CircuitPython espressif board: the two OTA
partitions through `dualbank` (slots/dualbank.py), on build/unix-cpy with
the dualbank stand-in (tests/circuitpython/lib/dualbank.py: ESP-IDF's
rules over two partition files). Each run of the target is one boot of
the board: the stand-in reads the boot partition once, as a reset does.
Trial, confirm and rollback are the agent's own (CircuitPython builds
ESP-IDF without bootloader rollback): counted in code.py, reverted by
dualbank.switch() back to the partition that still holds the old image."""

import pytest

import targets
from agent import kit
from bundles import espapp

PARTITION = 65536


def _fw(version):
    return espapp.image("9.2.{}".format(version), ram=kit.image(20000, seed=version),
                        chip_id=espapp.CHIP_ESP32S3)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    d = tmp_path_factory.mktemp("cpy-dualbank")
    kit.root(d)
    for v in (1, 2, 3):
        kit.bundle(d, "v{}".format(v), _fw(v), version=v, security_counter=v, sequence=v,
                   compress="deflate")
    return d


@pytest.fixture
def board(tmp_path, monkeypatch):
    """A board running firmware 1 from ota_0, as flashed with esptool."""
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "ota_0.bin").write_bytes(_fw(1).ljust(PARTITION, b"\xff"))
    (flash / "otadata").write_text("0")
    monkeypatch.setenv("CPY_STANDIN_FLASH", str(flash))
    monkeypatch.setenv("CPY_STANDIN_PARTITION", str(PARTITION))
    return flash


def _boot(cpy, tmp_path, tree, code):
    head = """
import dualbank
from mpota import trial
from mpota.source.local import LocalSource
from mpota.update.install import Install
dev = device({base!r}, bank="dualbank", target="firmware", slot_size={size})
emit("running", dualbank._running())
""".format(base=str(tmp_path / "dev"), size=PARTITION)
    return kit.run(cpy, head + code.format(**{k: str(tree / k) for k in ("root", "v1", "v2", "v3")}),
                   extra_path=list(targets.CPY_PATH), timeout=300)


def test_dualbank_firmware_update_trial_confirm_then_failed_trial_rolls_back(
        cpy, tmp_path, tree, board):
    r = _boot(cpy, tmp_path, tree, """
emit("provision", report(provision(dev, {root!r}, {v1!r})))
emit("install", report(Install(dev, LocalSource({v2!r})).run()))
emit("boot_partition", dualbank._boot())
emit("state", state(dev))
""")
    assert r["provision"]["outcome"] == "adopted"
    assert r["install"]["outcome"] == "installed" and r["install"]["slot"] == 1
    assert r["boot_partition"] == 1 and r["state"]["trial"] == 1
    assert (board / "ota_1.bin").read_bytes()[:len(_fw(2))] == _fw(2)

    # Reset: firmware 2 runs on trial; its health check confirms it.
    r = _boot(cpy, tmp_path, tree, """
b = trial.boot(dev)
emit("boot", [b.slot, b.trial, b.version, b.reset])
emit("confirm", trial.confirm(dev))
emit("state", state(dev))
""")
    assert r["running"] == 1 and r["boot"] == [1, True, 2, False]
    assert r["confirm"] is True
    assert r["state"]["active"] == 1 and r["state"]["min_counter"] == 2

    # Firmware 3 goes into ota_0 and never confirms: three trial boots,
    # then the fourth goes back to ota_1 by switch() and a reset.
    r = _boot(cpy, tmp_path, tree, """
emit("install", report(Install(dev, LocalSource({v3!r})).run()))
""")
    assert r["install"]["slot"] == 0 and (board / "otadata").read_text() == "0"
    for attempt in (1, 2, 3):
        r = _boot(cpy, tmp_path, tree, """
b = trial.boot(dev)
emit("boot", [b.slot, b.trial, b.version, b.reset])
""")
        assert r["running"] == 0 and r["boot"] == [0, True, 3, False]
    r = _boot(cpy, tmp_path, tree, """
b = trial.boot(dev)
emit("boot", [b.slot, b.trial, b.reverted, b.reset])
emit("state", state(dev))
emit("again", outcome(lambda: report(Install(dev, LocalSource({v3!r})).run())))
""")
    assert r["boot"] == [1, False, True, True]
    assert (board / "otadata").read_text() == "1"
    assert r["state"]["active"] == 1 and r["state"]["active_version"] == 2
    assert r["again"] == {"refused": "reverted"}
    r = _boot(cpy, tmp_path, tree, """
b = trial.boot(dev)
emit("boot", [b.slot, b.trial, b.version])
""")
    assert r["running"] == 1 and r["boot"] == [1, False, 2]


def test_dualbank_image_with_the_running_version_string_is_refused_unbootable(
        cpy, tmp_path, tree, board, tmp_path_factory):
    # ESP-IDF's rule through dualbank: the same version string as the
    # running firmware is "Firmware is duplicate"; nothing is switched.
    d = tmp_path_factory.mktemp("dup")
    img = espapp.image("9.2.1", ram=kit.image(20000, seed=9), chip_id=espapp.CHIP_ESP32S3)
    dup = kit.bundle(d, "dup", img, version=5, security_counter=5, sequence=5)
    r = _boot(cpy, tmp_path, tree, """
provision(dev, {root!r}, {v1!r})
emit("install", outcome(lambda: report(Install(dev, LocalSource(%r)).run())))
emit("state", state(dev))
""" % str(dup))
    assert r["install"] == {"refused": "unbootable"}
    assert (board / "otadata").read_text() == "0" and r["state"]["trial"] == 255
