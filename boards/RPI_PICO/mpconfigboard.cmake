# SPDX-License-Identifier: MIT
# Raspberry Pi Pico (RP2040, 2 MiB flash) running mpota: the port's RPI_PICO
# with the agent frozen in, the ed25519 C module compiled in, and the flash
# split moved to make room for both. Build: see README.md.
include(${MICROPY_PORT_DIR}/boards/RPI_PICO/mpconfigboard.cmake)

# Flash layout (docs/BOARDS.md): the firmware gets the first
# MPOTA_FIRMWARE_KIB, the littlefs filesystem the rest. Stock RPI_PICO
# gives the firmware 640 KiB; the frozen agent and the C module need about
# 64 KiB more today, and 128 KiB more leaves room for the agent to grow.
set(MPOTA_FIRMWARE_KIB 768)
math(EXPR MPOTA_FIRMWARE_BYTES "${MPOTA_FIRMWARE_KIB} * 1024")
list(APPEND MICROPY_DEF_BOARD MPOTA_FIRMWARE_BYTES=${MPOTA_FIRMWARE_BYTES})
include(${CMAKE_CURRENT_LIST_DIR}/fits.cmake)

# The port's pin names (LED and GPn) rather than a copy of its pins.csv.
set(GEN_PINS_BOARD_CSV ${MICROPY_PORT_DIR}/boards/RPI_PICO/pins.csv)
set(GEN_PINS_CSV_ARG --board-csv ${GEN_PINS_BOARD_CSV})

set(MICROPY_FROZEN_MANIFEST ${CMAKE_CURRENT_LIST_DIR}/manifest.py)

# The C module, unless the command line names modules of its own.
if(NOT USER_C_MODULES)
    get_filename_component(USER_C_MODULES
        ${CMAKE_CURRENT_LIST_DIR}/../../firmware/cmod/ed25519/micropython.cmake ABSOLUTE)
endif()
