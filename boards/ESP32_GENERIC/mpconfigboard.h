// SPDX-License-Identifier: MIT
// Generic ESP32 module (4 MiB flash) running mpota: see mpconfigboard.cmake.
// A variant (mpconfigvariant_*.cmake) may name the board itself.
#ifndef MICROPY_HW_BOARD_NAME
#define MICROPY_HW_BOARD_NAME "Generic ESP32 module with mpota"
#endif
#ifndef MICROPY_HW_MCU_NAME
#define MICROPY_HW_MCU_NAME "ESP32"
#endif
