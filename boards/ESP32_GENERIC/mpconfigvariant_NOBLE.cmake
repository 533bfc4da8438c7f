# SPDX-License-Identifier: MIT
# ESP32_GENERIC without Bluetooth: room for the agent in the 1.5 MiB OTA
# slot (docs/BOARDS.md, "Size"). The port includes this file after
# mpconfigboard.cmake when the build names the variant:
#   make firmware BOARD=ESP32_GENERIC MAKE_ARGS=BOARD_VARIANT=NOBLE
# Without the port's sdkconfig.ble, ESP-IDF builds no Bluetooth controller
# or NimBLE host; MICROPY_PY_BLUETOOTH=0 leaves out MicroPython's
# `bluetooth` module, as the port's boards without Bluetooth (ESP32-S2) do.
list(REMOVE_ITEM SDKCONFIG_DEFAULTS boards/sdkconfig.ble)

list(APPEND MICROPY_DEF_BOARD
    MICROPY_HW_BOARD_NAME="Generic ESP32 module with mpota, no Bluetooth"
    MICROPY_PY_BLUETOOTH=0
)
