# SPDX-License-Identifier: MIT
# Stock ESP32 firmware's frozen modules, plus the parts of the mpota agent
# this board uses (firmware/manifest.py): the core, bring-up over serial,
# updates over the network, app directories, and the OTA partitions.
include("$(PORT_DIR)/boards/manifest.py")
# No appdir part: bank esp32 holds firmware images only (an app is refused
# as config), and the slot needs every KB (docs/BOARDS.md, "Size").
include("../../firmware/manifest.py", esp32=True, appdir=False)
