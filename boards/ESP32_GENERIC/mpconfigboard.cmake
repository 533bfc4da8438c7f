# SPDX-License-Identifier: MIT
# mpota on a generic ESP32 module with 4 MiB of flash: two OTA app slots,
# the bootloader's rollback on, the agent frozen in, the ed25519 C module
# compiled in. Build (ESP-IDF 5.x set up, see docs/BOARDS.md):
#   make -C <micropython>/ports/esp32 BOARD=ESP32_GENERIC BOARD_DIR=<repo>/boards/ESP32_GENERIC
#        USER_C_MODULES=<repo>/firmware/cmod/ed25519/micropython.cmake

# The port's defaults first (paths relative to ports/esp32, as the port's
# own boards give them), then ours. sdkconfig.mpota names the partition
# table by absolute path, so it is configured into the build directory:
# the IDF resolves a relative name against ports/esp32, not this folder.
configure_file(${CMAKE_CURRENT_LIST_DIR}/sdkconfig.mpota ${CMAKE_BINARY_DIR}/sdkconfig.mpota @ONLY)
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.ble
    ${CMAKE_BINARY_DIR}/sdkconfig.mpota
)

set(MICROPY_FROZEN_MANIFEST ${CMAKE_CURRENT_LIST_DIR}/manifest.py)

# The C module, unless the command line names modules of its own.
if(NOT USER_C_MODULES)
    get_filename_component(USER_C_MODULES
        ${CMAKE_CURRENT_LIST_DIR}/../../firmware/cmod/ed25519/micropython.cmake ABSOLUTE)
endif()
