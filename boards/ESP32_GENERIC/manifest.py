# Stock ESP32 firmware's frozen modules, plus the mpota agent. The agent is
# frozen from its source tree as it is at build time (every .py under
# firmware/mpota), so nothing here lists its files.
include("$(PORT_DIR)/boards/manifest.py")
package("mpota", base_path="../../firmware")
