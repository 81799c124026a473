#!/usr/bin/env bash
# Serving the challenge interstitial vs proxying a page, and siteverify over
# HTTP, on one Rampart instance pinned to core 0 (`workers = 1`), with the
# origin (nginx, 1,400-byte page) and the client (wrk) on core 1.
#
#   plain      GET /            proxied to the origin
#   challenge  GET /challenged  answered with a freshly signed interstitial
#   siteverify POST /.rampart/captcha/v1/siteverify with a (spent) token:
#              body parse, secret lookup, token MAC, spent-set check, JSON
#
# Usage: bench/challenge.sh [--duration S] [--rounds N]
# Env:   RAMPART_BIN=/path/to/rampart   skip `cargo build --release -p rampart`
# Writes bench/results/challenge-page-<date>.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=10
WARMUP=2
ROUNDS=3
CONNS=50
HOST=bench.test
SECRET=rs_bench-secret-0123456789abcdefghijklmnopq

while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
require_cmds "scripts/test.sh installs the same tools" nginx wrk curl taskset python3
ensure_rampart_bin
GIT_REV=$(git_rev)

bench_tmp -challenge
raise_nofile

read -r P_ORIGIN P_HTTP P_HTTPS P_ADMIN <<< "$(free_ports 4)"
mkdir -p "$TMP"/{www,origin/tmp,data,runs}
python3 "$LIB" payload "$TMP/www/index.html" --size 1400
nginx_static_origin "$TMP/origin" "$P_ORIGIN" "$TMP/www" > "$TMP/origin/nginx.conf"
{
rampart_node_toml bench-challenge "$TMP/data" "$P_HTTP" "$P_HTTPS" "$P_ADMIN"
cat <<EOF

[[site]]
name = "bench"
hosts = ["$HOST"]
origins = ["http://127.0.0.1:$P_ORIGIN"]

[[site.rules]]
id = "challenged"
expression = 'http.request.uri.path eq "/challenged"'
action = "challenge"

[[site.captcha]]
sitekey = "rk_benchmarkkey"
secret = "$SECRET"
EOF
} > "$TMP/rampart.toml"
"$RAMPART_BIN" check-config --config "$TMP/rampart.toml" >/dev/null || die "config refused"
start_nginx 1 "$TMP/origin"
taskset -c 0 "$RAMPART_BIN" serve --config "$TMP/rampart.toml" >"$TMP/stdout.log" 2>"$TMP/stderr.log" &
PIDS+=($!); RAMPART_PID=$!
wait_http "http://127.0.0.1:$P_HTTP/" || die "rampart did not start: $(cat "$TMP/stderr.log")"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1:$P_HTTP/")" = 200 ] || die "plain sanity"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1:$P_HTTP/challenged")" = 403 ] || die "challenge sanity"

# A real token, spent once so that every benchmarked verification takes the
# whole path and answers timeout-or-duplicate.
TOKEN=$(python3 - "$P_HTTP" "$HOST" <<'PY'
import hashlib, json, sys, urllib.request
port, host = sys.argv[1], sys.argv[2]
def call(path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers={"Host": host, "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
ch = call("/.rampart/captcha/v1/challenge?sitekey=rk_benchmarkkey")
c, bits = ch["challenge"], ch["difficulty"]
n = 0
while True:
    h = hashlib.sha256(f"{c}:{n}".encode()).digest()
    if int.from_bytes(h, "big") >> (256 - bits) == 0:
        break
    n += 1
print(call("/.rampart/captcha/v1/solve", json.dumps({"sitekey": "rk_benchmarkkey", "challenge": c, "nonce": str(n)}).encode())["token"])
PY
)
BODY="secret=$SECRET&response=$TOKEN"
first=$(curl -s -H "Host: $HOST" --data "$BODY" "http://127.0.0.1:$P_HTTP/.rampart/captcha/v1/siteverify")
case "$first" in *'"success":true'*) ;; *) die "siteverify sanity: $first" ;; esac
cat > "$TMP/post.lua" <<EOF
wrk.method = "POST"
wrk.body = "$BODY"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
EOF

RESULTS="$TMP/results.tsv"; : > "$RESULTS"
run() { # variant round
    local v=$1 out="$TMP/runs/$1-$2.txt" url args=() t0 t1
    case "$v" in
        plain) url="http://127.0.0.1:$P_HTTP/" ;;
        challenge) url="http://127.0.0.1:$P_HTTP/challenged" ;;
        siteverify) url="http://127.0.0.1:$P_HTTP/.rampart/captcha/v1/siteverify"; args=(-s "$TMP/post.lua") ;;
    esac
    taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARMUP}s" "${args[@]}" -H "Host: $HOST" "$url" >/dev/null
    t0=$(proc_ticks "$RAMPART_PID")
    taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "${args[@]}" -H "Host: $HOST" "$url" > "$out"
    t1=$(proc_ticks "$RAMPART_PID")
    local rps reqs cpu
    read -r rps reqs _ <<< "$(wrk_summary "$out")"
    cpu=$(cpu_us_per_request $((t1 - t0)) "$reqs")
    printf '%s\t%s\t%s\t%s\n' "$v" "$2" "${rps:-0}" "$cpu" >> "$RESULTS"
    log "$v round $2: ${rps:-?} req/s, $cpu µs CPU/request"
}
LOAD_BEFORE=$(awk '{print $1}' /proc/loadavg)
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then order=(plain challenge siteverify); else order=(siteverify challenge plain); fi
    for v in "${order[@]}"; do run "$v" "$round"; done
done
LOAD_AFTER=$(awk '{print $1}' /proc/loadavg)
PAGE_BYTES=$(curl -s -H "Host: $HOST" "http://127.0.0.1:$P_HTTP/challenged" | wc -c)

OUT="$BENCH_DIR/results/challenge-page-$(date +%F).md"
python3 - "$RESULTS" "$OUT" <<PY
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
def med(v, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == v)
pr, cr, sr = med("plain", 2), med("challenge", 2), med("siteverify", 2)
pc, cc, sc = med("plain", 3), med("challenge", 3), med("siteverify", 3)
out = ["# Challenge page and siteverify vs plain proxy", "",
 f"Run: $(date '+%F %T %Z'), rampart $GIT_REV; $ROUNDS round(s) of ${DURATION} s (+${WARMUP} s warm-up) each, alternating order; load average before/after: $LOAD_BEFORE / $LOAD_AFTER. Rampart on core 0 (\`workers = 1\`), nginx origin and \`wrk -t1 -c$CONNS\` on core 1. The interstitial is $PAGE_BYTES bytes, signed afresh per request.", "",
 "| variant | req/s | µs CPU/req | vs plain (req/s) | vs plain (CPU) | target |", "|---|---:|---:|---:|---:|---|",
 f"| plain proxy, GET / | {pr:,.0f} | {pc:.1f} | 1 | 1 | |",
 f"| challenge page | {cr:,.0f} | {cc:.1f} | {cr/pr:.2f} | {pc/cc:.2f} | ≥ plain proxy's req/s {'✓' if cr >= pr else '✗'} |",
 f"| siteverify over HTTP | {sr:,.0f} | {sc:.1f} | {sr/pr:.2f} | {pc/sc:.2f} | ≥ 20,000/s on one core {'✓' if sr >= 20000 else '✗'} |", "",
 "CPU ratios are plain ÷ variant (above 1 = cheaper than proxying). Every run:", "",
 "| variant | round | req/s | µs CPU/req |", "|---|---:|---:|---:|"]
out += [f"| {v} | {r} | {float(x):,.0f} | {c} |" for v, r, x, c in rows]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
log "written: ${OUT#$ROOT/}"
