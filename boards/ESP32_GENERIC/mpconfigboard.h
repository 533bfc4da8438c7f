// SPDX-License-Identifier: MIT
// Generic ESP32 module (4 MiB flash) running mpota: see mpconfigboard.cmake.
#define MICROPY_HW_BOARD_NAME "Generic ESP32 module with mpota"
#define MICROPY_HW_MCU_NAME "ESP32"
