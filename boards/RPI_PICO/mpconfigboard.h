// SPDX-License-Identifier: MIT
// Raspberry Pi Pico running mpota: the port's board settings (found through
// the port directory on the include path), then the flash split.
#include "boards/RPI_PICO/mpconfigboard.h"

// MicroPython names the machine MICROPY_HW_BOARD_NAME " with " MCU (py/mpconfig.h):
// "Raspberry Pi Pico (mpota) with RP2040".
#undef MICROPY_HW_BOARD_NAME
#define MICROPY_HW_BOARD_NAME "Raspberry Pi Pico (mpota)"

// The filesystem is what the firmware region (MPOTA_FIRMWARE_BYTES, from
// mpconfigboard.cmake) leaves of the flash.
#ifndef MPOTA_FIRMWARE_BYTES
#error "MPOTA_FIRMWARE_BYTES comes from mpconfigboard.cmake (MICROPY_DEF_BOARD)"
#endif
#undef MICROPY_HW_FLASH_STORAGE_BYTES
#define MICROPY_HW_FLASH_STORAGE_BYTES (PICO_FLASH_SIZE_BYTES - MPOTA_FIRMWARE_BYTES)
