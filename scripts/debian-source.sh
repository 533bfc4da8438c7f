# SPDX-License-Identifier: MIT
# Sourced by fetch-micropython.sh and fetch-mbedtls.sh: unpack one of
# Debian's source packages (trixie, from the deb-src entry setup-system.sh
# adds) into build/<dir> and record its version there.
#
#   debian_source PACKAGE DIR LABEL
#
# The caller defines check_version VERSION, which exits with a message if
# that version will not do; nothing is put in place before it passes.

debian_source() {
    package=$1
    dest="$top/build/$2"
    label=$3
    [ -f "$dest/.mpota-version" ] && return 0
    work="$dest-fetch"
    rm -rf "$work" && mkdir -p "$work"
    cd "$work"
    echo "setup: apt-get source $package"
    if ! apt-get source -qq "$package/trixie" >apt-source.log 2>&1; then
        cat apt-source.log >&2
        echo "setup: could not fetch Debian's $package source package (is the deb-src entry there? run 'apt-get update')" >&2
        exit 1
    fi
    dsc=$(ls "${package}"_*.dsc | head -n 1)
    version=$(sed -n 's/^Version: //p' "$dsc")
    check_version "$version"
    srcdir=$(find . -maxdepth 1 -type d -name "$package-*" | head -n 1)
    rm -rf "$dest"
    mv "$srcdir" "$dest"
    echo "$version" > "$dest/.mpota-version"
    cd "$top" && rm -rf "$work"
    echo "setup: $label $version unpacked in build/$2"
}
