# SPDX-License-Identifier: MIT
"""Signed update bundles: format, trust decisions and streaming checks.

Modules, one job each (see docs/FORMAT.md for the byte-level spec):
  format    every magic, tag, limit and offset; bounded document parsers
  trust     signature thresholds, root rotation, manifest policy (no I/O)
  table     streaming SHA-256 checks and chunk table entries
  inflate   raw-deflate reader for both runtimes
  directory verify a bundle directory on a filesystem (uses the above)
"""
