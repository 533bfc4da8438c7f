// SPDX-License-Identifier: MIT
// The unix port shaped like a CircuitPython board, for the tests of the
// agent's CircuitPython path (docs/CIRCUITPYTHON.md, "What was tested").
//
// A CircuitPython board has no `deflate`, `hashlib` (most boards), `socket`,
// `tls`, `ssl` (MicroPython's) or `machine`: they are off here, so code that
// imports them fails as on the board. The stand-ins in ../lib (`wifi`,
// `socketpool`, `ssl`, `zlib`, `dualbank`, ...) need the real network, TLS
// and inflater underneath: ../cmod/cpyhost compiles the port's own modules
// once more under private names (_host_socket, _host_tls, _host_deflate).

#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

#include "ports/unix/variants/mpconfigvariant_common.h"

#undef MICROPY_PY_SOCKET
#define MICROPY_PY_SOCKET (0)
#undef MICROPY_PY_SSL
#define MICROPY_PY_SSL (0)
#undef MICROPY_PY_MACHINE
#define MICROPY_PY_MACHINE (0)
#undef MICROPY_PY_DEFLATE
#define MICROPY_PY_DEFLATE (0)
#undef MICROPY_PY_HASHLIB
#define MICROPY_PY_HASHLIB (0)
#undef MICROPY_PY_CRYPTOLIB
#define MICROPY_PY_CRYPTOLIB (0)
// CircuitPython has io.IOBase only on boards with jpegio.
#undef MICROPY_PY_IO_IOBASE
#define MICROPY_PY_IO_IOBASE (0)
