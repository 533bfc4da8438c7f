# SPDX-License-Identifier: MIT
# The CircuitPython-like unix build (mpconfigvariant.h): nothing frozen, as
# on a stock CircuitPython board.
FROZEN_MANIFEST =
