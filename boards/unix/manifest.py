# SPDX-License-Identifier: MIT
# Frozen into both unix builds. Mirrors what stock ESP32/RP2 firmware carries
# that the agent may lean on: asyncio and mip (which pulls in requests).
# Debian's trimmed micropython-lib has no `ssl` wrapper: code uses `tls`.
include("$(MPY_DIR)/extmod/asyncio")
require("mip")
