// SPDX-License-Identifier: MIT
// Microsecond counter for the nRF51 (micro:bit machine, Cortex-M0).
//
// TIMER0 runs from a 16 MHz clock; prescaler 4 divides it to 1 MHz and
// 32-bit mode lets it run for 71 minutes before wrapping. The count is
// only readable by capturing it into CC[0].

#include "clock.h"

#define TIMER0_BASE (0x40008000u)
#define TIMER0_REG(off) (*(volatile uint32_t *)(TIMER0_BASE + (off)))
#define TASKS_START TIMER0_REG(0x000u)
#define TASKS_STOP TIMER0_REG(0x004u)
#define TASKS_CLEAR TIMER0_REG(0x00cu)
#define TASKS_CAPTURE0 TIMER0_REG(0x040u)
#define MODE TIMER0_REG(0x504u)
#define BITMODE TIMER0_REG(0x508u)
#define PRESCALER TIMER0_REG(0x510u)
#define CC0 TIMER0_REG(0x540u)

#define MODE_TIMER (0u)
#define BITMODE_32BIT (3u)
#define PRESCALER_1MHZ (4u) // 16 MHz >> 4

void board_clock_init(void) {
    TASKS_STOP = 1u;
    MODE = MODE_TIMER;
    BITMODE = BITMODE_32BIT;
    PRESCALER = PRESCALER_1MHZ;
    TASKS_CLEAR = 1u;
    TASKS_START = 1u;
}

uint32_t board_clock_us32(void) {
    TASKS_CAPTURE0 = 1u;
    return CC0;
}
