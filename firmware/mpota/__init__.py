"""mpota: secure over-the-air updates for MicroPython and CircuitPython boards.

This is the on-device package. It also imports on CPython, where the host
tools reuse its verifier instead of keeping a second one.
"""

__version__ = "0.1.0"
