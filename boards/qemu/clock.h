// SPDX-License-Identifier: MIT
// A free-running microsecond counter, one per emulated SoC.
//
// QEMU drives these peripherals from its virtual clock, so under
// `-icount shift=0` (one guest nanosecond per instruction) a microsecond
// read here is exactly 1000 executed instructions.
#ifndef MPOTA_BOARD_CLOCK_H
#define MPOTA_BOARD_CLOCK_H

#include <stdint.h>

// Starts the counter; safe to call more than once.
void board_clock_init(void);

// Microseconds since board_clock_init(), wrapping at 2**32.
uint32_t board_clock_us32(void);

#endif
