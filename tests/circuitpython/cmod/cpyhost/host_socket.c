// SPDX-License-Identifier: MIT
// The port's `socket` module under the private name `_host_socket`, for the
// CircuitPython stand-ins (see micropython.mk).

#include "py/mpconfig.h"

#undef MICROPY_PY_SOCKET
#define MICROPY_PY_SOCKET (1)
#define MP_QSTR_socket MP_QSTR__host_socket
#include "ports/unix/modsocket.c"
