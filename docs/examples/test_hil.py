# SPDX-License-Identifier: MIT
"""Hardware-in-the-loop tests with mpota's pytest plugin (docs/HOST_API.md):

    pytest docs/examples/test_hil.py --mpota-port /dev/ttyACM0

The emulated board also needs its filesystem and RAM flash:
    --mpota-mount FS --mpota-provision bank=flash,ram_flash=0x20000000,slot_size=65536
"""


def test_new_app_boots_on_trial_and_stays_once_confirmed(mpota_fresh_board, mpota_bundle_factory):
    board = mpota_fresh_board
    board.push(mpota_bundle_factory(2, {"main.py": "print('hello from version 2')\n"}))
    boot = board.reboot()
    assert "mpota: boot: trial of version 2" in boot.boot
    assert board.confirm().confirmed
    assert board.status().active.version == 2
