# SPDX-License-Identifier: MIT
# First on the path: a CircuitPython board built without zlib (CIRCUITPY_ZLIB = 0,
# e.g. the atmel-samd port).
raise ImportError("no module named 'zlib'")
