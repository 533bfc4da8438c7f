# SPDX-License-Identifier: MIT
# Raspberry Pi Pico W (RP2040 and CYW43 radio, 2 MiB flash) running mpota:
# the port's RPI_PICO_W with the agent frozen in, the ed25519 C module
# compiled in, and the flash split moved to make room for both.
# Build: see README.md.
include(${MICROPY_PORT_DIR}/boards/RPI_PICO_W/mpconfigboard.cmake)

# Flash layout (docs/BOARDS.md): stock RPI_PICO_W gives the firmware
# 1200 KiB; ours gives it 128 KiB more, as on RPI_PICO.
set(MPOTA_FIRMWARE_KIB 1328)
math(EXPR MPOTA_FIRMWARE_BYTES "${MPOTA_FIRMWARE_KIB} * 1024")
list(APPEND MICROPY_DEF_BOARD MPOTA_FIRMWARE_BYTES=${MPOTA_FIRMWARE_BYTES})
include(${CMAKE_CURRENT_LIST_DIR}/../RPI_PICO/fits.cmake)

set(GEN_PINS_BOARD_CSV ${MICROPY_PORT_DIR}/boards/RPI_PICO_W/pins.csv)
set(GEN_PINS_CSV_ARG --board-csv ${GEN_PINS_BOARD_CSV})

# Replaces the manifest the port's board file just set (it names the board
# folder, which is now this one).
set(MICROPY_FROZEN_MANIFEST ${CMAKE_CURRENT_LIST_DIR}/manifest.py)

if(NOT USER_C_MODULES)
    get_filename_component(USER_C_MODULES
        ${CMAKE_CURRENT_LIST_DIR}/../../firmware/cmod/ed25519/micropython.cmake ABSOLUTE)
endif()
