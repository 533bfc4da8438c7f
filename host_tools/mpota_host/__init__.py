# SPDX-License-Identifier: MIT
"""mpota host tools: keys, signing, the trust root and the `mpota` CLI.

Bundle checks are not written here: the CLI imports the firmware package's
own verifier (`mpota.bundle`), so host and device give the same verdicts.
"""
