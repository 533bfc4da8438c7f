# SPDX-License-Identifier: MIT
"""Host-side helpers of the `mpota device` tests: boards on pseudo-terminals
(ptyboard.py, with rawrepl.py for the unix port) and their bundles."""
