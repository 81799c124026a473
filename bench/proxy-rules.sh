#!/usr/bin/env bash
# The cost of the security phases: the same Rampart binary as a plain proxy
# and with 100 custom rules + 5 rate limits (+ a 10,000-entry IP list) on,
# measured in one run, alternating, on one core each time.
#
# Usage: bench/proxy-rules.sh [--duration S] [--rounds N] [--no-h2] [--keep-tmp]
# Env:   RAMPART_BIN=/path/to/rampart   skip `cargo build --release -p rampart`
#        BASE_BIN=/path/to/rampart      also run this binary (e.g. built from the
#                                       commit before a change) as a plain proxy
#
# The rules and limits are realistic (scanner paths, bad user agents,
# injection patterns, country/ASN challenges, a blocklist, per-IP limits) and
# chosen so that the benchmark's `GET /` matches none of them and stays far
# below every limit: what is measured is evaluating them, not answering 403.
# Writes bench/results/proxy-rules-<date>.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
GEN="$BENCH_DIR/proxy-rules.py"

DURATION=10
WARMUP=2
ROUNDS=3
WRK_CONNS=50
H2_CLIENTS=10
H2_STREAMS=10
DO_H2=1
KEEP_TMP=0
HOST=bench.test
TARGET=0.85

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --no-h2) DO_H2=0 ;;
        --keep-tmp) KEEP_TMP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

require_cmds "bench/proxy.sh installs the same tools" nginx wrk h2load openssl curl taskset python3
ensure_rampart_bin
GIT_REV=$(git_rev)

bench_tmp -rules
raise_nofile

read -r P_ORIGIN P_A_HTTP P_A_HTTPS P_A_ADMIN P_B_HTTP P_B_HTTPS P_B_ADMIN P_C_HTTP P_C_HTTPS P_C_ADMIN \
    <<< "$(free_ports 10)"
mkdir -p "$TMP"/{tls,www,origin/tmp,plain/data,rules/data,base/data,runs}
VARIANTS=(plain rules)
[ -n "${BASE_BIN:-}" ] && VARIANTS=(base plain rules)
self_signed_cert "$TMP/tls" "$HOST"
python3 "$LIB" payload "$TMP/www/index.html" --size 1400
nginx_static_origin "$TMP/origin" "$P_ORIGIN" "$TMP/www" > "$TMP/origin/nginx.conf"

rampart_config() { # dir http https admin with_rules
    rampart_node_toml "bench-$5" "$1/data" "$2" "$3" "$4"
    if [ "$5" = rules ]; then
        printf '\n[[lists]]\nname = "blocklist"\nfile = "%s"\n' "$1/blocklist.txt"
    fi
    rampart_bench_site "$P_ORIGIN" "$TMP/tls"
    if [ "$5" = rules ]; then cat "$1/security.toml"; fi
}
python3 "$GEN" site-security "$TMP/rules/security.toml" "$TMP/rules/blocklist.txt"
rampart_config "$TMP/plain" "$P_A_HTTP" "$P_A_HTTPS" "$P_A_ADMIN" plain > "$TMP/plain/rampart.toml"
rampart_config "$TMP/rules" "$P_B_HTTP" "$P_B_HTTPS" "$P_B_ADMIN" rules > "$TMP/rules/rampart.toml"
rampart_config "$TMP/base" "$P_C_HTTP" "$P_C_HTTPS" "$P_C_ADMIN" base > "$TMP/base/rampart.toml"
declare -A BIN_OF=([plain]=$RAMPART_BIN [rules]=$RAMPART_BIN [base]=${BASE_BIN:-})
for v in plain rules; do
    "$RAMPART_BIN" check-config --config "$TMP/$v/rampart.toml" >/dev/null \
        || die "$v configuration refused: $("$RAMPART_BIN" check-config --config "$TMP/$v/rampart.toml" 2>&1 | head -5)"
done
RULES=$(grep -c '^\[\[site.rules\]\]' "$TMP/rules/security.toml")
LIMITS=$(grep -c '^\[\[site.rate_limits\]\]' "$TMP/rules/security.toml")

start_nginx 1 "$TMP/origin"
declare -A PID_OF
for v in "${VARIANTS[@]}"; do
    taskset -c 0 "${BIN_OF[$v]}" serve --config "$TMP/$v/rampart.toml" >"$TMP/$v/stdout.log" 2>"$TMP/$v/stderr.log" &
    PIDS+=($!); PID_OF[$v]=$!
done
wait_http "http://127.0.0.1:$P_ORIGIN/" || die "origin did not start"
wait_http "http://127.0.0.1:$P_A_HTTP/" || die "plain rampart did not start: $(cat "$TMP/plain/stderr.log")"
wait_http "http://127.0.0.1:$P_B_HTTP/" || die "rules rampart did not start: $(cat "$TMP/rules/stderr.log")"
if [ -n "${BASE_BIN:-}" ]; then
    wait_http "http://127.0.0.1:$P_C_HTTP/" || die "base rampart did not start: $(cat "$TMP/base/stderr.log")"
fi
grep -i "left out" "$TMP/rules/stderr.log" && die "some rules did not compile (see above)"

declare -A HTTP_PORT=([plain]=$P_A_HTTP [rules]=$P_B_HTTP [base]=$P_C_HTTP)
declare -A HTTPS_PORT=([plain]=$P_A_HTTPS [rules]=$P_B_HTTPS [base]=$P_C_HTTPS)
for v in "${VARIANTS[@]}"; do
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H "Host: $HOST" "http://127.0.0.1:${HTTP_PORT[$v]}/")
    [ "$got" = "200 1400" ] || die "$v sanity check: got '$got'"
done
# The rules really are on: a scanner path is blocked by the rules instance only.
got=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1:$P_B_HTTP/wp-login.php")
[ "$got" = "403" ] || die "rules instance did not block /wp-login.php (got $got)"

RESULTS="$TMP/results.tsv"
: > "$RESULTS"
run() { # variant proto round
    local v=$1 proto=$2 round=$3 out="$TMP/runs/$1-$2-$3.txt" rps reqs t0 t1
    if [ "$proto" = h1 ]; then
        local url="http://127.0.0.1:${HTTP_PORT[$v]}/"
        taskset -c 1 wrk -t1 -c"$WRK_CONNS" -d"${WARMUP}s" -H "Host: $HOST" "$url" >/dev/null
        t0=$(proc_ticks "${PID_OF[$v]}")
        taskset -c 1 wrk -t1 -c"$WRK_CONNS" -d"${DURATION}s" --latency -H "Host: $HOST" "$url" > "$out"
        t1=$(proc_ticks "${PID_OF[$v]}")
        read -r rps reqs p99 <<< "$(wrk_summary "$out")"
    else
        local port=${HTTPS_PORT[$v]}
        local args=(-c"$H2_CLIENTS" -m"$H2_STREAMS" --connect-to="127.0.0.1:$port" "https://$HOST:$port/")
        taskset -c 1 h2load -D "$WARMUP" "${args[@]}" >/dev/null 2>&1 || true
        t0=$(proc_ticks "${PID_OF[$v]}")
        taskset -c 1 h2load -D "$DURATION" "${args[@]}" > "$out" 2>&1 || true
        t1=$(proc_ticks "${PID_OF[$v]}")
        rps=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' "$out")
        reqs=$(awk '/^requests:/ {print $8}' "$out")
        p99="-"
    fi
    local errors cpu_us
    errors=$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+|[0-9]+ failed' "$out" | head -1 || true)
    # Rampart's own CPU time per request: unlike req/s, hardly moved by other
    # processes competing for the machine.
    cpu_us=$(cpu_us_per_request $((t1 - t0)) "${reqs:-0}")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$proto" "$round" "${rps:-0}" "${p99:-?}" "${errors:-}" "$cpu_us" >> "$RESULTS"
    log "$v $proto round $round: ${rps:-?} req/s, ${cpu_us} µs CPU/request ${errors:+($errors)}"
}

BASE_DESC="${BASE_DESC:-${BASE_BIN:-}}"
BUSY_BEFORE=$(awk '{print $1}' /proc/loadavg)
PROTOS=(h1); [ "$DO_H2" -eq 1 ] && PROTOS+=(h2)
for round in $(seq "$ROUNDS"); do
    # Alternate the order so that drift (thermal, other load) hits both alike.
    if [ $((round % 2)) -eq 1 ]; then
        order=("${VARIANTS[@]}")
    else
        order=(); for ((i = ${#VARIANTS[@]} - 1; i >= 0; i--)); do order+=("${VARIANTS[$i]}"); done
    fi
    for proto in "${PROTOS[@]}"; do
        for v in "${order[@]}"; do run "$v" "$proto" "$round"; done
    done
done
BUSY_AFTER=$(awk '{print $1}' /proc/loadavg)

DATE=$(date +%Y-%m-%d)
STAMP=$(date '+%F %T %Z')
OUT="$BENCH_DIR/results/proxy-rules-$DATE.md"
mkdir -p "$BENCH_DIR/results"
python3 - "$RESULTS" "$OUT" <<PY
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
def med(v, p, col=3):
    xs = [float(r[col]) for r in rows if r[0] == v and r[1] == p]
    return statistics.median(xs) if xs else 0.0
protos = sorted({r[1] for r in rows})
out = []
out.append("# Proxy with security rules vs plain proxy")
out.append("")
out.append("Run: $STAMP, rampart $GIT_REV, binary \`$RAMPART_BIN\`; $ROUNDS round(s) of ${DURATION} s (+${WARMUP} s warm-up) per variant and protocol, alternating order; load average before/after: $BUSY_BEFORE / $BUSY_AFTER.")
out.append("")
out.append("Both instances run the same binary on core 0 (\`workers = 1\`), the origin (nginx, 1,400-byte file) and the client on core 1. The *rules* instance adds $RULES custom rules and $LIMITS rate limits (generated by \`bench/proxy-rules.py\`: scanner paths, bad user agents, injection patterns in the query, country and ASN challenges, a 10,000-entry IP blocklist, per-IP and per-prefix limits) that \`GET /\` never matches or trips. HTTP/1.1: \`wrk -t1 -c$WRK_CONNS\`; HTTP/2 over TLS: \`h2load -c$H2_CLIENTS -m$H2_STREAMS\`.")
out.append("")
out.append("**Capacity ratio** is what decides whether one core serves as many requests with the rules on: Rampart's own CPU time per request (utime + stime of the process over the measured run, divided by the requests completed), plain ÷ rules. It is barely affected by other load on the machine. The req/s ratio is the direct measurement, and is only trustworthy on a quiet machine (see the load average above).")
out.append("")
out.append("| protocol | plain µs CPU/req | rules µs CPU/req | capacity ratio | plain req/s | rules req/s | req/s ratio | target |")
out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
for p in protos:
    a, b = med("plain", p), med("rules", p)
    ca, cb = med("plain", p, 6), med("rules", p, 6)
    r = b / a if a else 0.0
    c = ca / cb if cb else 0.0
    out.append(f"| {'HTTP/1.1' if p == 'h1' else 'HTTP/2 + TLS'} | {ca:.1f} | {cb:.1f} | **{c:.3f}** | {a:,.0f} | {b:,.0f} | {r:.3f} | ≥ $TARGET {'✓' if c >= $TARGET else '✗'} |")
out.append("")
if any(r[0] == "base" for r in rows):
    out.append("*base* is \`$BASE_DESC\` as a plain proxy in the same run: the cost of the security code on a site without settings.")
    out.append("")
    out.append("| protocol | base µs CPU/req | plain µs CPU/req | plain vs base (capacity) | base req/s | plain req/s |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for p in protos:
        ca, cb = med("base", p, 6), med("plain", p, 6)
        out.append(f"| {'HTTP/1.1' if p == 'h1' else 'HTTP/2 + TLS'} | {ca:.1f} | {cb:.1f} | {ca / cb if cb else 0:.3f} | {med('base', p):,.0f} | {med('plain', p):,.0f} |")
    out.append("")
out.append("Every run (medians above):")
out.append("")
out.append("| variant | protocol | round | req/s | p99 | errors | µs CPU/req |")
out.append("|---|---|---:|---:|---|---|---:|")
for v, p, rnd, rps, p99, err, cpu in rows:
    out.append(f"| {v} | {p} | {rnd} | {float(rps):,.0f} | {p99} | {err or '-'} | {cpu} |")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
log "written: ${OUT#$ROOT/}"
