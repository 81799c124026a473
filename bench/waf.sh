#!/usr/bin/env bash
# WAF cost, same run: nginx + ModSecurity v3 with the OWASP CRS, plain nginx,
# Rampart with the CRS (site `waf = { mode = "block", crs = … }`) and plain
# Rampart, each pinned to core 0 (one worker), origin and wrk on core 1, on
# (a) a benign GET with browser headers, (b) a 2 KB urlencoded POST,
# (c) a 20 KB JSON POST. CRS at PL1 with the default anomaly threshold in both.
#
# Usage: bench/waf.sh [--duration S] [--rounds N] [--keep-tmp]
# Env:   RAMPART_BIN=/path/to/rampart   skip `cargo build --release -p rampart`
#        CRS_DIR=/path/to/crs           default ../shared/crs next to the checkout
# Needs nginx, libnginx-mod-http-modsecurity, wrk, curl, taskset, python3
# (installed with apt-get when missing). Writes bench/results/waf-<date>.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
GEN="$BENCH_DIR/waf.py"
CRS_DIR=${CRS_DIR:-$(cd "$ROOT/../shared/crs" 2>/dev/null && pwd || echo /work/shared/crs)}

DURATION=10
WARMUP=2
ROUNDS=1
CONNS=20
KEEP_TMP=0
HOST=bench.test

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --keep-tmp) KEEP_TMP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

MODSEC_SO=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null || [ ! -f "$MODSEC_SO" ]; then
    log "installing nginx, ModSecurity v3's nginx module and wrk"
    DEBIAN_FRONTEND=noninteractive apt-get install -y nginx libnginx-mod-http-modsecurity wrk curl >&2
fi
require_cmds "" nginx wrk curl taskset python3
[ -f "$CRS_DIR/crs-setup.conf.example" ] || die "no CRS at $CRS_DIR (set CRS_DIR)"

ensure_rampart_bin
GIT_REV=$(git_rev)

bench_tmp -waf
raise_nofile

read -r P_ORIGIN P_MODSEC P_NGINX P_WAF P_WAF_S P_WAF_A P_PLAIN P_PLAIN_S P_PLAIN_A \
    <<< "$(free_ports 9)"
mkdir -p "$TMP"/{tls,origin/tmp,modsec/tmp,nginx/tmp,waf/data,plain/data,runs,wrk}
self_signed_cert "$TMP/tls" "$HOST"
python3 "$GEN" scripts "$TMP/wrk" "$HOST" >/dev/null
python3 "$GEN" modsec "$TMP/modsec/main.conf" "$CRS_DIR"

# The origin answers every method with the same small page (a POST's body is
# read and discarded).
{
nginx_head "$TMP/origin"
nginx_http_open "$TMP/origin"
cat <<EOF
    client_max_body_size 1m;
    client_body_buffer_size 64k;
    default_type text/html;
    server {
        listen 127.0.0.1:$P_ORIGIN backlog=4096;
        location / { return 200 "<!doctype html><title>ok</title><p>ok</p>\n"; }
    }
}
EOF
} > "$TMP/origin/nginx.conf"
proxy_conf() { # dir port with_modsec
    local load="" on=""
    if [ "$3" = 1 ]; then
        load="load_module $MODSEC_SO;"
        on="modsecurity on; modsecurity_rules_file $TMP/modsec/main.conf;"
    fi
    echo "$load"
    nginx_head "$1"
    nginx_http_open "$1"
    cat <<EOF
    client_max_body_size 1m;
    client_body_buffer_size 64k;
    upstream origin { server 127.0.0.1:$P_ORIGIN; keepalive 128; }
    server {
        listen 127.0.0.1:$2 backlog=4096;
        $on
$(nginx_proxy_location remote_addr)
    }
}
EOF
}
proxy_conf "$TMP/modsec" "$P_MODSEC" 1 > "$TMP/modsec/nginx.conf"
proxy_conf "$TMP/nginx" "$P_NGINX" 0 > "$TMP/nginx/nginx.conf"

rampart_config() { # dir http https admin waf
    rampart_node_toml "bench-$5" "$1/data" "$2" "$3" "$4"
    rampart_bench_site "$P_ORIGIN" "$TMP/tls"
    [ "$5" = waf ] && printf 'waf = { mode = "block", crs = "%s" }\n' "$CRS_DIR"
    return 0
}
rampart_config "$TMP/waf" "$P_WAF" "$P_WAF_S" "$P_WAF_A" waf > "$TMP/waf/rampart.toml"
rampart_config "$TMP/plain" "$P_PLAIN" "$P_PLAIN_S" "$P_PLAIN_A" plain > "$TMP/plain/rampart.toml"
for v in waf plain; do
    "$RAMPART_BIN" check-config --config "$TMP/$v/rampart.toml" >/dev/null 2>&1 \
        || die "$v configuration refused: $("$RAMPART_BIN" check-config --config "$TMP/$v/rampart.toml" 2>&1 | head -5)"
done
nginx -t -p "$TMP/modsec" -e "$TMP/modsec/error.log" -c "$TMP/modsec/nginx.conf" >/dev/null 2>&1 \
    || die "nginx + ModSecurity refused its configuration: $(nginx -t -p "$TMP/modsec" -e "$TMP/modsec/error.log" -c "$TMP/modsec/nginx.conf" 2>&1 | tail -5)"

start_nginx 1 "$TMP/origin"
declare -A PID_OF
for v in modsec nginx; do
    start_nginx 0 "$TMP/$v"
    PID_OF[$v]=$!
done
for v in waf plain; do
    taskset -c 0 "$RAMPART_BIN" serve --config "$TMP/$v/rampart.toml" >"$TMP/$v/stdout.log" 2>"$TMP/$v/stderr.log" &
    PIDS+=($!); PID_OF[$v]=$!
done
declare -A PORT_OF=([modsec]=$P_MODSEC [nginx]=$P_NGINX [waf]=$P_WAF [plain]=$P_PLAIN)
wait_http "http://127.0.0.1:$P_ORIGIN/" "$HOST" 600 || die "origin did not start"
for v in modsec nginx waf plain; do
    wait_http "http://127.0.0.1:${PORT_OF[$v]}/" "$HOST" 600 || die "$v did not start: $(tail -5 "$TMP/$v/"*.log 2>/dev/null)"
done
# Every process on its core (nginx workers inherit the master's affinity).
for v in modsec nginx waf plain; do
    for p in "${PID_OF[$v]}" $(pgrep -P "${PID_OF[$v]}"); do
        aff=$(taskset -pc "$p" | awk -F': ' '{print $2}')
        [ "$aff" = 0 ] || die "$v pid $p runs on cores '$aff', not 0"
    done
done

# Sanity: benign requests pass everywhere, an attack is blocked by both WAFs.
curl_wl() { # port workload -> status
    local port=$1 w=$2
    case $w in
        get) curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1:$port/products/shirts?colour=blue&size=m&page=2" ;;
        form) curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "@$TMP/wrk/form.body" "http://127.0.0.1:$port/checkout" ;;
        json) curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" -H 'Content-Type: application/json' --data-binary "@$TMP/wrk/json.body" "http://127.0.0.1:$port/api/orders" ;;
    esac
}
for v in modsec nginx waf plain; do
    for w in get form json; do
        got=$(curl_wl "${PORT_OF[$v]}" "$w")
        [ "$got" = 200 ] || die "$v answered $got to the benign $w request"
    done
done
for v in modsec waf; do
    got=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" -A 'Mozilla/5.0' "http://127.0.0.1:${PORT_OF[$v]}/?id=1%27%20OR%20%271%27%3D%271%27%20UNION%20SELECT%20password%20FROM%20users--")
    [ "$got" = 403 ] || die "$v did not block an SQL injection (got $got)"
done
log "all four proxies answer; both WAFs block an SQL injection"

RESULTS="$TMP/results.tsv"
: > "$RESULTS"
run() { # variant workload round
    local v=$1 w=$2 round=$3 out="$TMP/runs/$1-$2-$3.txt" url="http://127.0.0.1:${PORT_OF[$1]}/"
    local script="$TMP/wrk/$w.lua" t0 t1 rps reqs errors cpu_us cpu_pct p50 p99
    taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARMUP}s" --timeout 30s -s "$script" "$url" >/dev/null
    t0=$(proc_tree_ticks "${PID_OF[$v]}")
    taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 30s --latency -s "$script" "$url" > "$out"
    t1=$(proc_tree_ticks "${PID_OF[$v]}")
    read -r rps reqs _ <<< "$(wrk_summary "$out")"
    p50=$(python3 - "$out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(p):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, t, re.M)
    if not m: return "-"
    v, u = float(m.group(1)), m.group(2)
    return "%.3f" % (v / 1000 if u == "us" else v * 1000 if u == "s" else v)
print(ms(50), ms(99))
PY
)
    p99=${p50#* }; p50=${p50% *}
    errors=$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+|Socket errors:.*' "$out" | head -1 || true)
    cpu_us=$(cpu_us_per_request $((t1 - t0)) "$reqs" 1)
    cpu_pct=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v d="$DURATION" 'BEGIN { printf "%.0f", t / hz / d * 100 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$w" "$round" "${rps:-0}" "${reqs:-0}" "$cpu_us" "$cpu_pct" "${errors:-}" "$p50" "$p99" >> "$RESULTS"
    log "$v $w round $round: ${rps:-?} req/s, ${cpu_us} µs CPU/request, proxy ${cpu_pct}% of core 0 ${errors:+($errors)}"
}

LOAD_BEFORE=$(awk '{print $1}' /proc/loadavg)
VARIANTS=(modsec nginx waf plain)
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then order=("${VARIANTS[@]}"); else order=(plain waf nginx modsec); fi
    for w in get form json; do
        for v in "${order[@]}"; do run "$v" "$w" "$round"; done
    done
done
LOAD_AFTER=$(awk '{print $1}' /proc/loadavg)

MODSEC_VER=$(dpkg-query -W -f='libmodsecurity3 ${Version}' libmodsecurity3 2>/dev/null || echo "libmodsecurity3")
NGINX_VER=$(nginx -v 2>&1 | sed 's/.*nginx\///')
CRS_VER=$(cat "$CRS_DIR/VERSION" 2>/dev/null || echo "?")
cat > "$TMP/meta.json" <<EOF
{"stamp": "$(date '+%F %T %Z')", "rev": "$GIT_REV", "bin": "$RAMPART_BIN", "crs": "$CRS_DIR",
 "crs_version": "$CRS_VER", "modsec": "$MODSEC_VER", "nginx": "$NGINX_VER", "rounds": $ROUNDS,
 "duration": $DURATION, "warmup": $WARMUP, "load_before": "$LOAD_BEFORE", "load_after": "$LOAD_AFTER"}
EOF
OUT="$BENCH_DIR/results/waf-$(date +%Y-%m-%d)-run.md"
mkdir -p "$BENCH_DIR/results"
python3 "$GEN" report "$RESULTS" "$OUT" "$TMP/meta.json"
log "written: ${OUT#$ROOT/}"
