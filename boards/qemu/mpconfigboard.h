// Configuration of our qemu boards: the port's own settings, then the
// changes we need. Selected with MP_CONFIGFILE (see board.mk), the hook
// py/mpconfig.h offers for this, so the port's files stay untouched.
#include "ports/qemu/mpconfigport.h"

// sys.stdin.buffer and sys.stdout.buffer: binary stdio, which real boards
// have and which `mpremote mount` needs to serve files from the host.
#undef MICROPY_PY_SYS_STDIO_BUFFER
#define MICROPY_PY_SYS_STDIO_BUFFER (1)
