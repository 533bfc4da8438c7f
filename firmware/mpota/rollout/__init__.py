# SPDX-License-Identifier: MIT
"""Staged rollouts on the device (docs/ROLLOUT.md).

  cohort  which wave a device is in, and whether it installs now: pure
          functions, the same on the host (fleet counts) and the device
  poll    the I/O: read the repository's control document, revocation
          list, plans and canary shards, then install what cohort allows

The trust decisions on each document are bundle/trust.py's.
"""
