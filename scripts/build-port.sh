#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds one MicroPython port out of tree and prints one line about it.
#
#   [TRACK="files..."] scripts/build-port.sh NAME PORT BUILD_DIR OUTPUT [make variables...]
#
# Runs `make -C build/micropython/ports/PORT BUILD=BUILD_DIR variables...`,
# with the compiler's chatter in BUILD_DIR.log (shown only on failure).
# MicroPython's makefiles track source and header changes but not changed
# variables or .mk files, so the build directory is wiped whenever the
# variables or the TRACK files differ from the last build's.
set -eu

name=$1 port=$2 build=$3 output=$4
shift 4

top=$(cd "$(dirname "$0")/.." && pwd)
log="$build.log"
signature="$build.config"

current=$(
    printf '%s\n' "$@"
    for f in ${TRACK:-}; do cat "$f"; done
)
if [ -d "$build" ] && [ "$current" != "$(cat "$signature" 2>/dev/null)" ]; then
    rm -rf "$build"
fi
mkdir -p "$build"

before=$(stat -c %.9Y "$output" 2>/dev/null || echo none)
start=$(date +%s.%N)
if ! make -j"$(nproc)" -C "$top/build/micropython/ports/$port" BUILD="$build" "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "build: $name FAILED (full log: $log)" >&2
    exit 1
fi
printf '%s\n' "$current" >"$signature"
if [ "$before" = "$(stat -c %.9Y "$output")" ]; then
    echo "build: $name up to date"
else
    awk -v s="$start" -v e="$(date +%s.%N)" -v n="$name" -v o="${output#"$top"/}" \
        'BEGIN { printf "build: %s -> %s (%.1f s)\n", n, o, e - s }'
fi
