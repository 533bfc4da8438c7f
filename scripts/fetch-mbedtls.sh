#!/bin/sh
# SPDX-License-Identifier: MIT
# Unpacks Debian's `mbedtls` source package into build/mbedtls and records
# its version: the AES behind `cryptolib` on our qemu boards (boards/qemu),
# as lib/mbedtls is behind it in stock rp2 and esp32 firmware. Debian's
# micropython source leaves lib/mbedtls empty. Same deb-src entry and suite
# as fetch-micropython.sh.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
dest="$top/build/mbedtls"
# boards/qemu/mbedtls_config_aes.h uses 3.x's configuration names.
MIN_MAJOR=3

[ -f "$dest/.mpota-version" ] && exit 0

work="$top/build/mbedtls-fetch"
rm -rf "$work" && mkdir -p "$work"
cd "$work"
echo "setup: apt-get source mbedtls"
if ! apt-get source -qq mbedtls/trixie >apt-source.log 2>&1; then
    cat apt-source.log >&2
    echo "setup: could not fetch Debian's mbedtls source package (is the deb-src entry there? run 'apt-get update')" >&2
    exit 1
fi
dsc=$(ls mbedtls_*.dsc | head -n 1)
version=$(sed -n 's/^Version: //p' "$dsc")
major=${version%%.*}
if [ "$major" -lt "$MIN_MAJOR" ]; then
    echo "setup: mbedtls $version is older than $MIN_MAJOR.0; the qemu boards need $MIN_MAJOR.x" >&2
    exit 1
fi
srcdir=$(find . -maxdepth 1 -type d -name 'mbedtls-*' | head -n 1)
rm -rf "$dest"
mv "$srcdir" "$dest"
echo "$version" > "$dest/.mpota-version"
cd "$top" && rm -rf "$work"
echo "setup: mbedtls $version unpacked in build/mbedtls"
