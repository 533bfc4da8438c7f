#!/bin/sh
# SPDX-License-Identifier: MIT
# Unpacks Debian's `micropython` source package into build/micropython and
# records its version. Needs the deb-src entry that setup-system.sh adds.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
dest="$top/build/micropython"
MIN_MAJOR=1
MIN_MINOR=23

[ -f "$dest/.mpota-version" ] && exit 0

work="$top/build/micropython-fetch"
rm -rf "$work" && mkdir -p "$work"
cd "$work"
echo "setup: apt-get source micropython"
if ! apt-get source -qq micropython/trixie >apt-source.log 2>&1; then
    cat apt-source.log >&2
    echo "setup: could not fetch Debian's micropython source package (is the deb-src entry there? run 'apt-get update')" >&2
    exit 1
fi
dsc=$(ls micropython_*.dsc | head -n 1)
version=$(sed -n 's/^Version: //p' "$dsc")
upstream=${version%%+*}
major=${upstream%%.*}
rest=${upstream#*.}
minor=${rest%%.*}
if [ "$major" -lt "$MIN_MAJOR" ] || { [ "$major" -eq "$MIN_MAJOR" ] && [ "$minor" -lt "$MIN_MINOR" ]; }; then
    echo "setup: MicroPython $version is older than $MIN_MAJOR.$MIN_MINOR; mpota needs $MIN_MAJOR.$MIN_MINOR or newer" >&2
    exit 1
fi
srcdir=$(find . -maxdepth 1 -type d -name 'micropython-*' | head -n 1)
rm -rf "$dest"
mv "$srcdir" "$dest"
echo "$version" > "$dest/.mpota-version"
cd "$top" && rm -rf "$work"
echo "setup: MicroPython $version unpacked in build/micropython"
