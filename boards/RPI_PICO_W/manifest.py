# Stock RPI_PICO_W's frozen modules (networking, Bluetooth), plus the mpota
# agent, frozen from its source tree as it is at build time.
include("$(PORT_DIR)/boards/RPI_PICO_W/manifest.py")
package("mpota", base_path="../../firmware")
