#!/usr/bin/env bash
# Control-plane benchmark: 10,000 sites in the store (snapshot rebuild time and
# memory) and admin API read latency under 50 concurrent clients, on SQLite.
#
# Usage: bench/control.sh [--sites N] [--api-seconds S] [--api-clients N]
# Env:   RAMPART_BIN=/path/to/rampart   skip `cargo build --release -p rampart`
#
# Writes bench/results/control-<date>.md. See bench/README.md.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

for tool in wrk taskset; do
    command -v "$tool" >/dev/null || { echo "bench/control.sh: needs $tool (apt-get install wrk util-linux)" >&2; exit 69; }
done
if [ -z "${RAMPART_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release -p rampart)
    RAMPART_BIN="$ROOT/target/release/rampart"
fi
OUT="$BENCH_DIR/results/control-$(date -u +%Y-%m-%d-%H%M%S).md"
python3 "$BENCH_DIR/control.py" --bin "$RAMPART_BIN" --out "$OUT" "$@"
echo "written: $OUT"
