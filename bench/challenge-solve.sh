#!/usr/bin/env bash
# Challenge solve time in a real browser: how long a visitor waits between
# opening a challenged page and the origin receiving the request for it, in
# headless Chromium (Debian's chromium + chromium-driver), per proof-of-work
# algorithm and difficulty. Each run is a fresh visitor (cookies deleted);
# the clock starts when the test asks WebDriver to navigate and stops when
# the in-test origin receives the request that follows the interstitial's
# POST /.rampart/challenge/v1/verify → 303.
#
# Usage: bench/challenge-solve.sh [--release] [OUT.md]
# Env:   RAMPART_SOLVE_RUNS_SCALE=0.5    fewer (or more) runs per difficulty
#        RAMPART_SOLVE_ONLY=sha256:20,scrypt10:5   only these cases
#
# Runs the `solve_times_when_asked` test of
# crates/rampart/tests/challenge_solve_times.rs with RAMPART_SOLVE_BENCH set
# (without it that test returns at once). The edge is the test profile's
# binary unless --release: the server's share of a solve (page, scripts,
# one verification) is milliseconds either way, the browser's work is the
# rest. Writes OUT.md (default bench/results/challenge-solve-<date>.md).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

profile=()
out=""
for arg in "$@"; do
    case "$arg" in
        --release) profile=(--release) ;;
        -*) echo "bench/challenge-solve.sh: unknown option $arg" >&2; exit 64 ;;
        *) out="$arg" ;;
    esac
done
[ -n "$out" ] || out="$BENCH_DIR/results/challenge-solve-$(date -u +%Y-%m-%d).md"
for tool in /usr/bin/chromium /usr/bin/chromedriver; do
    [ -x "$tool" ] || { echo "bench/challenge-solve.sh: needs $tool (apt-get install chromium chromium-driver)" >&2; exit 69; }
done

table=$(mktemp)
trap 'rm -f "$table"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
(cd "$ROOT" && RAMPART_SOLVE_BENCH="$table" cargo test --locked "${profile[@]}" -p rampart \
    --test challenge_solve_times -- --exact solve_times_when_asked --nocapture)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

{
    echo "# Challenge solve time in headless Chromium — $(date -u +%Y-%m-%d)"
    echo
    echo "- command: \`bench/challenge-solve.sh ${profile[*]}\`"
    echo "  (RAMPART_SOLVE_RUNS_SCALE=${RAMPART_SOLVE_RUNS_SCALE:-1}, RAMPART_SOLVE_ONLY=${RAMPART_SOLVE_ONLY:-all})"
    echo "- started: $started; commit $(cd "$ROOT" && git rev-parse --short HEAD)"
    echo "- browser: $(/usr/bin/chromium --version 2>/dev/null | head -n 1), headless, $(nproc) cores visible (navigator.hardwareConcurrency → that many workers, at most 4)"
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load average $load_before before, $load_after after"
    echo "- time: WebDriver navigate → the origin receives the page's request (interstitial load, worker start, the work, verify, 303)"
    echo
    cat "$table"
} >"$out"
echo "written: $out"
