// SPDX-License-Identifier: MIT
// Microsecond counter for the MPS2 boards (AN385: Cortex-M3).
//
// The FPGA I/O block has a 32-bit COUNTER that advances each time the
// prescale counter PSCNTR, clocked at 25 MHz, runs down from PRESCALE.
// PRESCALE = 24 makes COUNTER a 1 MHz free-running counter that needs
// neither interrupts nor a vector table entry (the port owns both).

#include "clock.h"

#define FPGAIO_BASE (0x40028000u)
#define FPGAIO_COUNTER (*(volatile uint32_t *)(FPGAIO_BASE + 0x18u))
#define FPGAIO_PRESCALE (*(volatile uint32_t *)(FPGAIO_BASE + 0x1cu))

#define PRESCALE_CLOCK_HZ (25000000u)

void board_clock_init(void) {
    FPGAIO_PRESCALE = PRESCALE_CLOCK_HZ / 1000000u - 1u;
}

uint32_t board_clock_us32(void) {
    return FPGAIO_COUNTER;
}
