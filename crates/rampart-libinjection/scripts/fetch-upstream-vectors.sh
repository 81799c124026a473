#!/usr/bin/env bash
# Fetches libinjection's own test vectors (tests/test-*.txt: tokenizer,
# folding, SQLi and HTML5 cases; data/*.txt: SQLi/XSS samples and known
# false positives) for rampart-libinjection's tests, which skip without them.
#
# libinjection's repository is not reachable from here, but Debian's
# `modsecurity` source package bundles libinjection with its tests. This
# downloads that source package with apt, through the Debian mirror this
# machine is already configured with (as a deb-src twin of it, in a private
# apt state directory: the system's apt configuration is left alone), and
# extracts libinjection's tests/ and data/ into
#   <workspace>/target/libinjection-vectors/libinjection
# (or $1). The tests find them there, or wherever
# RAMPART_LIBINJECTION_VECTORS points.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-"$here/../../../target/libinjection-vectors/libinjection"}

debian_sources=$(grep -l 'debian-archive-keyring' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
if [ -z "$debian_sources" ]; then
    echo "no deb822 Debian source list under /etc/apt/sources.list.d; cannot fetch" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parts" "$work/lists/partial" "$work/download"
sed 's/^Types:.*/Types: deb-src/' "$debian_sources" >"$work/parts/debian-src.sources"

apt_opts=(
    -o "Dir::Etc::SourceList=/dev/null"
    -o "Dir::Etc::SourceParts=$work/parts"
    -o "Dir::State::Lists=$work/lists"
    -o "Debug::NoLocking=1"
)
apt-get "${apt_opts[@]}" update -qq
(cd "$work/download" && apt-get "${apt_opts[@]}" source --download-only -qq modsecurity)

orig=$(find "$work/download" -name 'modsecurity_*.orig.tar.*' | awk 'NR == 1')
# awk reads the whole listing: `head` would make tar die of SIGPIPE.
top=$(tar -tf "$orig" | awk -F/ 'NR == 1 { print $1 }')
tar -xf "$orig" -C "$work" "$top/others/libinjection/tests" "$top/others/libinjection/data"

rm -rf "$dest"
mkdir -p "$dest"
cp -r "$work/$top/others/libinjection/tests" "$work/$top/others/libinjection/data" "$dest/"
echo "libinjection test vectors from $(basename "$orig") in $dest"
