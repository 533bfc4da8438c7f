# SPDX-License-Identifier: MIT
# The unix build of tests/agent/heap_min.py --build: the standard frozen
# modules plus the agent itself, frozen (bytecode in flash on a board).
include("$(MPY_DIR)/extmod/asyncio")
require("mip")
package("mpota", base_path="../../firmware")
