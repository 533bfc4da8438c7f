# SPDX-License-Identifier: MIT
"""Network helpers for the transport tests: `mpota serve` as a real
process, a tiny misbehaving server, and device-side snippets run under
the MicroPython unix build."""
