// SPDX-License-Identifier: MIT
// Configuration of our qemu boards: the port's own settings, then the
// changes we need. Selected with MP_CONFIGFILE (see board.mk), the hook
// py/mpconfig.h offers for this, so the port's files stay untouched.
#include "ports/qemu/mpconfigport.h"

// sys.stdin.buffer and sys.stdout.buffer: binary stdio, which real boards
// have and which `mpremote mount` needs to serve files from the host.
#undef MICROPY_PY_SYS_STDIO_BUFFER
#define MICROPY_PY_SYS_STDIO_BUFFER (1)

#if defined(QEMU_SOC_NRF51)
// The port leaves native code out of its micro:bit build to save flash. Our
// Cortex-M0 board stands for an RP2040 (same armv6m core), whose port has
// it, so that armv6m native .mpy modules load here as they do there.
#define MICROPY_EMIT_THUMB (1)
#define MICROPY_EMIT_THUMB_ARMV7M (0)
#define MICROPY_EMIT_INLINE_THUMB (1)
#define MICROPY_EMIT_INLINE_THUMB_FLOAT (0)
#endif

// cryptolib, as stock rp2 and esp32 firmware has it: AES-ECB and AES-CBC
// from mbedtls (see board.mk for how it is built).
#define MICROPY_PY_CRYPTOLIB (1)
