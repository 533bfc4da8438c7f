#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the firmware for one board, or says in one line what is missing.
#
#   scripts/firmware.sh BOARD        (make firmware BOARD=...)
#
# CMAKE_ARGS and MAKE_ARGS in the environment (make firmware CMAKE_ARGS=...
# MAKE_ARGS=...) go to the board's own build, split at spaces: CMAKE_ARGS
# after ours on the RP2 cmake line (e.g. -DPICO_NO_PICOTOOL=1) and to the
# ESP32's idf.py (its -D options), MAKE_ARGS to the make that builds either.
# The repository's own builds (QEMU_M3, QEMU_M0, unix) take neither.
#
#   ESP32_GENERIC        ESP-IDF (idf.py on PATH, IDF_PATH) -> build/firmware/ESP32_GENERIC
#   RPI_PICO, RPI_PICO_W the Pico SDK (PICO_SDK_PATH, or lib/pico-sdk in the
#                        MicroPython tree), cmake, arm-none-eabi-gcc; pico-sdk
#                        2.x also picotool (else its cmake downloads and
#                        builds it), or CMAKE_ARGS=-DPICO_NO_PICOTOOL=1
#                        -> build/firmware/<board>/firmware.uf2 (.elf, .bin)
#   QEMU_M3, QEMU_M0, unix   the repository's own builds (make qemu, ...)
#
# ESP32 and RP2 builds also need a MicroPython 1.25 tree with the submodules
# their port uses; Debian's source package in build/micropython has none of
# them, so point MPY_DIR at a git checkout. Exit status: 0 built, 1 the build
# failed, 2 unknown board, 3 something the build needs is missing.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
board=${1:-}
mpy=${MPY_DIR:-$top/build/micropython}
out=$top/build/firmware/$board
cmod=$top/firmware/cmod/ed25519/micropython.cmake
boards="ESP32_GENERIC RPI_PICO RPI_PICO_W QEMU_M3 QEMU_M0 unix"

missing() {
    echo "firmware: $board needs $1: $2" >&2
    exit 3
}

# The MicroPython tree has the submodule (or micropython-lib package) $1.
need_lib() {
    [ -e "$mpy/$1" ] || missing "$2 in the MicroPython tree ($mpy has no $1)" \
        "use a MicroPython 1.25 git checkout after 'make -C ports/$3 submodules' (BOARD=$board), as MPY_DIR=<path>"
}

need_tool() {
    command -v "$1" >/dev/null 2>&1 || missing "$1 on PATH" "$2"
}

run() {
    log=$out.log
    mkdir -p "$out"
    echo "firmware: building $board (log: ${log#"$top"/})"
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "firmware: $board FAILED (full log: $log)" >&2
        exit 1
    fi
}

cmake_args=${CMAKE_ARGS:-}
make_args=${MAKE_ARGS:-}
own_build() {
    if [ -n "$cmake_args$make_args" ]; then
        echo "firmware: $board is the repository's own build (make $1): CMAKE_ARGS and MAKE_ARGS are for ESP32_GENERIC, RPI_PICO and RPI_PICO_W" >&2
        exit 2
    fi
    exec make -C "$top" --no-print-directory "$1"
}

case $board in
QEMU_M3) own_build qemu ;;
QEMU_M0) own_build qemu-m0 ;;
unix) own_build unix ;;

ESP32_GENERIC)
    if [ -z "${IDF_PATH:-}" ] || ! command -v idf.py >/dev/null 2>&1; then
        missing "ESP-IDF 5.2 to 5.4 (idf.py on PATH and IDF_PATH set)" \
            "install it with Espressif's install.sh esp32, then 'source \$IDF_PATH/export.sh'"
    fi
    need_lib lib/berkeley-db-1.xx/README "the berkeley-db submodule" esp32
    need_lib lib/micropython-lib/micropython/bundles/bundle-networking/manifest.py \
        "a full micropython-lib" esp32
    python3 "$top/boards/$board/fits.py" --mpy-dir "$mpy" $make_args || exit 1 # the app must fit its OTA slot
    # The port's Makefile adds to IDFPY_FLAGS what it gets from the
    # environment (its own CMAKE_ARGS it sets itself).
    # shellcheck disable=SC2086
    run env IDFPY_FLAGS="$cmake_args" make -C "$mpy/ports/esp32" BOARD="$board" \
        BOARD_DIR="$top/boards/$board" BUILD="$out" USER_C_MODULES="$cmod" $make_args
    echo "firmware: $board -> ${out#"$top"/}/firmware.bin"
    ;;

RPI_PICO | RPI_PICO_W)
    if [ -n "${PICO_SDK_PATH:-}" ]; then
        [ -f "$PICO_SDK_PATH/pico_sdk_init.cmake" ] || missing "the Pico SDK" \
            "PICO_SDK_PATH=$PICO_SDK_PATH has no pico_sdk_init.cmake; point it at a pico-sdk checkout"
        sdk_arg=-DPICO_SDK_PATH_OVERRIDE=$PICO_SDK_PATH
    else
        [ -f "$mpy/lib/pico-sdk/pico_sdk_init.cmake" ] || missing "the Pico SDK" \
            "set PICO_SDK_PATH to a pico-sdk checkout, or use a MicroPython git checkout after 'make -C ports/rp2 submodules' as MPY_DIR=<path>"
        sdk_arg=
    fi
    need_tool cmake "apt-get install cmake"
    need_tool arm-none-eabi-gcc "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"
    need_lib lib/tinyusb/src "the tinyusb submodule" rp2
    need_lib lib/mbedtls/include "the mbedtls submodule" rp2
    need_lib lib/micropython-lib/micropython/drivers "a full micropython-lib" rp2
    if [ "$board" = RPI_PICO_W ]; then
        need_lib lib/cyw43-driver/src/cyw43.h "the cyw43-driver submodule" rp2
        need_lib lib/lwip/src "the lwip submodule" rp2
        need_lib lib/btstack/src "the btstack submodule" rp2
        need_lib lib/micropython-lib/micropython/bundles/bundle-networking/manifest.py \
            "a full micropython-lib" rp2
    fi
    # The port's Makefile insists on lib/pico-sdk; cmake takes an SDK
    # elsewhere, so call it as that Makefile would. $7 and $8 are the extra
    # options, split at spaces.
    run sh -c 'cd "$1/ports/rp2" && cmake -S . -B "$2" -DPICO_BUILD_DOCS=0 -DMICROPY_BOARD="$3" \
            -DMICROPY_BOARD_DIR="$4" -DUSER_C_MODULES="$5" ${6:+"$6"} $7 && make -j"$(nproc)" -C "$2" $8' \
        sh "$mpy" "$out" "$board" "$top/boards/$board" "$cmod" "$sdk_arg" "$cmake_args" "$make_args"
    if [ -f "$out/firmware.uf2" ]; then
        echo "firmware: $board -> ${out#"$top"/}/firmware.uf2"
    else
        # pico-sdk 2.x writes the .uf2 with picotool; -DPICO_NO_PICOTOOL=1
        # leaves the .elf and the .bin (flash it with a debug probe).
        echo "firmware: $board -> ${out#"$top"/}/firmware.elf and firmware.bin (no .uf2 without picotool)"
    fi
    ;;

*)
    echo "firmware: unknown board '$board': make firmware BOARD=<one of: $boards>" >&2
    exit 2
    ;;
esac
