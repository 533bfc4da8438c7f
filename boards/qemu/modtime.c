// SPDX-License-Identifier: MIT
// The `time` module of our qemu boards.
//
// The qemu port is built with MICROPY_PY_TIME (0) because it has no tick
// source. This module supplies one (clock.h) with the names and wrap-around
// rules of the `time` module on real ports, so code that times itself on an
// RP2040 runs unchanged here, and under `-icount shift=0` its microseconds
// count instructions (1 us = 1000 instructions).

#include "py/mphal.h"
#include "py/runtime.h"
#include "py/smallint.h"
#include "clock.h"

#define TICKS_MASK (MICROPY_PY_TIME_TICKS_PERIOD - 1)
#define TICKS_HALF (MICROPY_PY_TIME_TICKS_PERIOD / 2)

// ARM semihosting operation: host wall-clock seconds since 1970.
#define SEMIHOSTING_SYS_TIME (0x11u)
#define SECONDS_1970_TO_2000 (946684800u)

static bool clock_started;
static uint32_t clock_last_raw;
static uint64_t clock_elapsed_us;
static uint64_t clock_elapsed_ms;
static uint32_t clock_spare_us;

// Widens the 32-bit hardware count on every read. The board has no
// interrupt to spare, so this stays right as long as the clock is read at
// least once per wrap (71 minutes); every ticks and sleep call reads it.
// Milliseconds are kept apart so that no 64-bit division is needed (the
// libgcc helper for it brings unwind tables the port's linker script lacks).
static void board_clock_poll(void) {
    if (!clock_started) {
        board_clock_init();
        clock_last_raw = board_clock_us32();
        clock_started = true;
    }
    uint32_t now = board_clock_us32();
    uint32_t delta = now - clock_last_raw;
    clock_last_raw = now;
    clock_elapsed_us += delta;
    clock_spare_us += delta % 1000u;
    clock_elapsed_ms += delta / 1000u + clock_spare_us / 1000u;
    clock_spare_us %= 1000u;
}

mp_uint_t mp_hal_ticks_us(void) {
    board_clock_poll();
    return (mp_uint_t)clock_elapsed_us;
}

mp_uint_t mp_hal_ticks_ms(void) {
    board_clock_poll();
    return (mp_uint_t)clock_elapsed_ms;
}

void mp_hal_delay_us(mp_uint_t us) {
    mp_uint_t start = mp_hal_ticks_us();
    while (mp_hal_ticks_us() - start < us) {
        mp_handle_pending(true);
    }
}

void mp_hal_delay_ms(mp_uint_t ms) {
    // Whole seconds first, so that the microsecond count cannot overflow.
    for (; ms >= 1000u; ms -= 1000u) {
        mp_hal_delay_us(1000000u);
    }
    mp_hal_delay_us(ms * 1000u);
}

static uint32_t semihosting_time(void) {
    register uint32_t r0 __asm__ ("r0") = SEMIHOSTING_SYS_TIME;
    register uint32_t r1 __asm__ ("r1") = 0;
    __asm__ volatile ("bkpt 0xab" : "+r" (r0) : "r" (r1) : "memory");
    return r0;
}

static mp_obj_t board_time_ticks_ms(void) {
    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_ms() & TICKS_MASK);
}
static MP_DEFINE_CONST_FUN_OBJ_0(board_time_ticks_ms_obj, board_time_ticks_ms);

static mp_obj_t board_time_ticks_us(void) {
    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_us() & TICKS_MASK);
}
static MP_DEFINE_CONST_FUN_OBJ_0(board_time_ticks_us_obj, board_time_ticks_us);

static mp_obj_t board_time_ticks_diff(mp_obj_t end_in, mp_obj_t start_in) {
    // Both are ticks values, so the subtraction wraps like the counter does.
    mp_uint_t end = MP_OBJ_SMALL_INT_VALUE(end_in);
    mp_uint_t start = MP_OBJ_SMALL_INT_VALUE(start_in);
    mp_int_t diff = ((end - start + TICKS_HALF) & TICKS_MASK) - TICKS_HALF;
    return MP_OBJ_NEW_SMALL_INT(diff);
}
static MP_DEFINE_CONST_FUN_OBJ_2(board_time_ticks_diff_obj, board_time_ticks_diff);

static mp_obj_t board_time_ticks_add(mp_obj_t ticks_in, mp_obj_t delta_in) {
    mp_uint_t ticks = MP_OBJ_SMALL_INT_VALUE(ticks_in);
    mp_uint_t delta = mp_obj_get_int(delta_in);
    // A delta of half a period or more could not be undone by ticks_diff.
    if (delta + TICKS_HALF - 1 >= MICROPY_PY_TIME_TICKS_PERIOD - 1) {
        mp_raise_msg(&mp_type_OverflowError, MP_ERROR_TEXT("ticks interval overflow"));
    }
    return MP_OBJ_NEW_SMALL_INT((ticks + delta) & TICKS_MASK);
}
static MP_DEFINE_CONST_FUN_OBJ_2(board_time_ticks_add_obj, board_time_ticks_add);

static mp_int_t non_negative(mp_obj_t arg) {
    mp_int_t value = mp_obj_get_int(arg);
    if (value < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("negative sleep"));
    }
    return value;
}

static mp_obj_t board_time_sleep_ms(mp_obj_t ms_in) {
    mp_hal_delay_ms(non_negative(ms_in));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(board_time_sleep_ms_obj, board_time_sleep_ms);

static mp_obj_t board_time_sleep_us(mp_obj_t us_in) {
    mp_hal_delay_us(non_negative(us_in));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(board_time_sleep_us_obj, board_time_sleep_us);

static mp_obj_t board_time_sleep(mp_obj_t seconds_in) {
    mp_float_t seconds = mp_obj_get_float(seconds_in);
    if (seconds < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("negative sleep"));
    }
    if (seconds < MICROPY_FLOAT_CONST(1000.0)) {
        mp_hal_delay_us((mp_uint_t)(seconds * MICROPY_FLOAT_CONST(1000000.0)));
    } else {
        mp_hal_delay_ms((mp_uint_t)(seconds * MICROPY_FLOAT_CONST(1000.0)));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(board_time_sleep_obj, board_time_sleep);

static mp_obj_t board_time_time(void) {
    uint32_t seconds = semihosting_time();
    #if !MICROPY_EPOCH_IS_1970
    seconds -= SECONDS_1970_TO_2000;
    #endif
    return mp_obj_new_int_from_uint(seconds);
}
static MP_DEFINE_CONST_FUN_OBJ_0(board_time_time_obj, board_time_time);

static const mp_rom_map_elem_t board_time_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_time) },
    { MP_ROM_QSTR(MP_QSTR_ticks_ms), MP_ROM_PTR(&board_time_ticks_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_us), MP_ROM_PTR(&board_time_ticks_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_diff), MP_ROM_PTR(&board_time_ticks_diff_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_add), MP_ROM_PTR(&board_time_ticks_add_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep_ms), MP_ROM_PTR(&board_time_sleep_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep_us), MP_ROM_PTR(&board_time_sleep_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep), MP_ROM_PTR(&board_time_sleep_obj) },
    { MP_ROM_QSTR(MP_QSTR_time), MP_ROM_PTR(&board_time_time_obj) },
};
static MP_DEFINE_CONST_DICT(board_time_globals, board_time_globals_table);

const mp_obj_module_t board_time_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&board_time_globals,
};

MP_REGISTER_MODULE(MP_QSTR_time, board_time_module);
