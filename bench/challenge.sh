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

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
LIB="$BENCH_DIR/benchlib.py"
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
log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
export PATH="$PATH:/usr/sbin:/sbin"
for cmd in nginx wrk curl taskset python3; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd is needed (scripts/test.sh installs the same tools)"
done
if [ -z "${RAMPART_BIN:-}" ]; then
    log "building rampart (cargo build --release -p rampart)"
    (cd "$ROOT" && cargo build --release -p rampart) >&2
    RAMPART_BIN="$ROOT/target/release/rampart"
fi
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$ROOT" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ] && GIT_REV="$GIT_REV+dirty"

TMP=$(mktemp -d -t rampart-bench-challenge.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true

read -r P_ORIGIN P_HTTP P_HTTPS P_ADMIN <<< "$(python3 "$LIB" freeports 4)"
mkdir -p "$TMP"/{www,origin/tmp,data,runs}
python3 "$LIB" payload "$TMP/www/index.html" --size 1400
NGINX_USER=""; [ "$(id -u)" -eq 0 ] && NGINX_USER="user root;"
cat > "$TMP/origin/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
pid $TMP/origin/nginx.pid;
error_log $TMP/origin/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/origin/tmp/body;
    proxy_temp_path $TMP/origin/tmp/proxy;
    fastcgi_temp_path $TMP/origin/tmp/fastcgi;
    uwsgi_temp_path $TMP/origin/tmp/uwsgi;
    scgi_temp_path $TMP/origin/tmp/scgi;
    keepalive_requests 100000000;
    default_type text/html;
    server { listen 127.0.0.1:$P_ORIGIN backlog=4096; root $TMP/www; location = / { try_files /index.html =404; } }
}
EOF
cat > "$TMP/rampart.toml" <<EOF
[node]
id = "bench-challenge"
data_dir = "$TMP/data"
workers = 1
shutdown_grace = "1s"

[listen]
http = "127.0.0.1:$P_HTTP"
https = "127.0.0.1:$P_HTTPS"
admin = "127.0.0.1:$P_ADMIN"

[log]
access = "off"

[proxy]
timeouts = { idle = "600s" }

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
"$RAMPART_BIN" check-config --config "$TMP/rampart.toml" >/dev/null || die "config refused"
taskset -c 1 nginx -p "$TMP/origin" -c "$TMP/origin/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
taskset -c 0 "$RAMPART_BIN" serve --config "$TMP/rampart.toml" >"$TMP/stdout.log" 2>"$TMP/stderr.log" &
PIDS+=($!); RAMPART_PID=$!
for i in $(seq 200); do curl -s -o /dev/null -H "Host: $HOST" "http://127.0.0.1:$P_HTTP/" && break; sleep 0.05; done
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

CLK_TCK=$(getconf CLK_TCK)
proc_ticks() { local s f; s=$(< "/proc/$1/stat"); s=${s##*) }; read -r -a f <<< "$s"; echo $((f[11] + f[12])); }
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
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    reqs=$(awk '/requests in/ {print $1}' "$out")
    cpu=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="${reqs:-0}" 'BEGIN { printf "%.2f", (n > 0 ? t / hz * 1e6 / n : 0) }')
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
