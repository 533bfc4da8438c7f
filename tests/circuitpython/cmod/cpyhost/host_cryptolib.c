// SPDX-License-Identifier: MIT
// The port's `cryptolib` module under the private name `_host_cryptolib`,
// under the `aesio` stand-in (see micropython.mk): a CircuitPython board
// has no cryptolib, so the variant turns the public one off.

#include "py/mpconfig.h"

#undef MICROPY_PY_CRYPTOLIB
#define MICROPY_PY_CRYPTOLIB (1)
#define MP_QSTR_cryptolib MP_QSTR__host_cryptolib
#include "extmod/modcryptolib.c"
