# SPDX-License-Identifier: MIT
# Frozen into our qemu boards: nothing. They stand for a board with stock
# firmware plus our C module, and get the agent the way such a board does,
# as files (`mpota device install`, over mpremote's mount). The port's own
# default manifest would need micropython-lib's unittest, which Debian's
# trimmed source does not carry.
