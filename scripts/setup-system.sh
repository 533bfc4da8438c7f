#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages the build and the tests need, and fetches
# MicroPython's and mbedtls's source from Debian's `micropython` and
# `mbedtls` source packages.
# Idempotent: a second run only checks that everything is in place.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
stamp="$top/build/.system-ready"

PACKAGES="build-essential cmake pkg-config libffi-dev libmbedtls-dev dpkg-dev \
gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm softhsm2 opensc \
python3-venv nginx postgresql chromium chromium-driver valgrind"
SUITE=trixie
SRC_LIST=/etc/apt/sources.list.d/mpota-${SUITE}-src.sources

sudo_if_needed() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing_packages() {
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

# The mirror this machine already uses for Debian, read from its apt sources,
# so that no host name is ever written here.
configured_mirror() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
            /^[[:space:]]*$/ { if (deb && uri && suite) { print uri; exit } deb=0; uri=""; suite=0; next }
            /^Types:/ && / deb( |$)/ { deb=1 }
            /^URIs:/ { uri=$2 }
            /^Suites:/ && /(bookworm|trixie)( |$)/ && !/security/ { suite=1 }
            END { if (deb && uri && suite) print uri }
        ' "$f" | head -n 1
    done | head -n 1
    if [ -f /etc/apt/sources.list ]; then
        awk '$1 == "deb" && $0 !~ /security/ && $0 ~ / (bookworm|trixie) / {
                 for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' /etc/apt/sources.list
    fi
}

keyring_for() {
    grep -h '^Signed-By:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep archive | head -n 1
}

ensure_deb_src() {
    [ -f "$SRC_LIST" ] && return 0
    mirror=$(configured_mirror | head -n 1)
    if [ -z "$mirror" ]; then
        echo "setup: no Debian mirror found in /etc/apt/sources.list*; add one, then rerun" >&2
        exit 1
    fi
    keyring=$(keyring_for)
    {
        echo "# Added by mpota setup: source packages only (micropython, mbedtls; no binaries)."
        echo "Types: deb-src"
        echo "URIs: $mirror"
        echo "Suites: $SUITE"
        echo "Components: main"
        [ -n "$keyring" ] && echo "Signed-By: $keyring"
    } | sudo_if_needed tee "$SRC_LIST" >/dev/null
    echo "setup: added deb-src for $SUITE from $mirror"
}

if [ -f "$stamp" ] && [ -z "$(missing_packages)" ] && [ -f "$top/build/micropython/.mpota-version" ] \
    && [ -f "$top/build/mbedtls/.mpota-version" ]; then
    exit 0
fi

ensure_deb_src
need=$(missing_packages)
echo "setup: apt-get update"
sudo_if_needed apt-get update -qq
if [ -n "$need" ]; then
    echo "setup: installing" $need
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

"$top/scripts/fetch-micropython.sh"
"$top/scripts/fetch-mbedtls.sh"
mkdir -p "$top/build"
touch "$stamp"
