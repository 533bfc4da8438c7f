# SPDX-License-Identifier: MIT
# Stock ESP32 firmware's frozen modules, plus the parts of the mpota agent
# this board uses (firmware/manifest.py): the core, bring-up over serial,
# updates over the network, app directories, and the OTA partitions.
include("$(PORT_DIR)/boards/manifest.py")
include("../../firmware/manifest.py", esp32=True)
