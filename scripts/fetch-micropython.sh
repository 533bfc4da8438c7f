#!/bin/sh
# SPDX-License-Identifier: MIT
# Unpacks Debian's `micropython` source package into build/micropython and
# records its version (through debian-source.sh). Needs the deb-src entry
# that setup-system.sh adds.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/debian-source.sh"
MIN_MAJOR=1
MIN_MINOR=23

check_version() {
    upstream=${1%%+*}
    major=${upstream%%.*}
    rest=${upstream#*.}
    minor=${rest%%.*}
    if [ "$major" -lt "$MIN_MAJOR" ] || { [ "$major" -eq "$MIN_MAJOR" ] && [ "$minor" -lt "$MIN_MINOR" ]; }; then
        echo "setup: MicroPython $1 is older than $MIN_MAJOR.$MIN_MINOR; mpota needs $MIN_MAJOR.$MIN_MINOR or newer" >&2
        exit 1
    fi
}

debian_source micropython micropython MicroPython
