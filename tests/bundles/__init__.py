# SPDX-License-Identifier: MIT
"""Helpers for the bundle and CLI tests (keys, roots, bundles, tampering)."""
