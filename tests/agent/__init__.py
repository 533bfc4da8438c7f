# SPDX-License-Identifier: MIT
"""Helpers for the agent tests: bundles and app images on the host side
(this package), device-side fixtures under mp/ that run on MicroPython."""
