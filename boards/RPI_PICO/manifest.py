# Stock RPI_PICO's frozen modules, plus the mpota agent, frozen from its
# source tree as it is at build time (every .py under firmware/mpota).
include("$(PORT_DIR)/boards/manifest.py")
package("mpota", base_path="../../firmware")
