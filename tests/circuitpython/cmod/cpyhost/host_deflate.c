// SPDX-License-Identifier: MIT
// The port's `deflate` module under the private name `_host_deflate`, for the
// CircuitPython stand-ins (see micropython.mk).

#include "py/mpconfig.h"

#undef MICROPY_PY_DEFLATE
#define MICROPY_PY_DEFLATE (1)
#define MP_QSTR_deflate MP_QSTR__host_deflate
#include "extmod/moddeflate.c"
