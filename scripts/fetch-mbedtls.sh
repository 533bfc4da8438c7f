#!/bin/sh
# SPDX-License-Identifier: MIT
# Unpacks Debian's `mbedtls` source package into build/mbedtls and records
# its version: the AES behind `cryptolib` on our qemu boards (boards/qemu),
# as lib/mbedtls is behind it in stock rp2 and esp32 firmware. Debian's
# micropython source leaves lib/mbedtls empty. Same deb-src entry and suite
# as fetch-micropython.sh (both through debian-source.sh).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/debian-source.sh"
# boards/qemu/mbedtls_config_aes.h uses 3.x's configuration names.
MIN_MAJOR=3

check_version() {
    major=${1%%.*}
    if [ "$major" -lt "$MIN_MAJOR" ]; then
        echo "setup: mbedtls $1 is older than $MIN_MAJOR.0; the qemu boards need $MIN_MAJOR.x" >&2
        exit 1
    fi
}

debian_source mbedtls mbedtls mbedtls
