// SPDX-License-Identifier: MIT
// The port's `tls` module under the private name `_host_tls`, for the
// CircuitPython stand-ins (see micropython.mk).

#include "py/mpconfig.h"

#undef MICROPY_PY_SSL
#define MICROPY_PY_SSL (1)
#define MP_QSTR_tls MP_QSTR__host_tls
#include "extmod/modtls_mbedtls.c"
