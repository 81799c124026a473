#!/usr/bin/env bash
# Rampart vs nginx vs HAProxy: one-core reverse-proxy benchmark.
#
# Usage: bench/proxy.sh [--access-log] [--duration S] [--rounds N] [--quick]
#                       [--idle-conns N] [--sites N] [--no-idle] [--no-config-load]
#                       [--wait-quiet MIN] [--keep-tmp]
# Env:   RAMPART_BIN=/path/to/rampart   skip `cargo build --release -p rampart`
#
# See bench/README.md for what is measured and how to read the table.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ACCESS_LOG=0
DURATION=10
WARMUP=2
ROUNDS=1
WRK_CONNS=50
H2_CLIENTS=10
H2_STREAMS=10
IDLE_CONNS=10000
SITES=1000
DO_IDLE=1
DO_CONFIG=1
KEEP_TMP=0
WAIT_QUIET=0
HOST=bench.test
PAYLOAD_BYTES=1400

usage() { sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --access-log) ACCESS_LOG=1 ;;
        --duration) DURATION=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --idle-conns) IDLE_CONNS=$2; shift ;;
        --sites) SITES=$2; shift ;;
        --no-idle) DO_IDLE=0 ;;
        --no-config-load) DO_CONFIG=0 ;;
        --quick) DURATION=3; WARMUP=1; IDLE_CONNS=1000; SITES=200 ;;
        --keep-tmp) KEEP_TMP=1 ;;
        --wait-quiet) WAIT_QUIET=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

# ---------------------------------------------------------------- tools
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need_pkgs=()
for pair in nginx:nginx haproxy:haproxy wrk:wrk h2load:nghttp2-client openssl:openssl \
            curl:curl ss:iproute2 taskset:util-linux python3:python3; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing: ${need_pkgs[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
ensure_rampart_bin
# The tree's revision when the binary was built (or, for RAMPART_BIN, when we started).
GIT_REV=$(git_rev)

bench_tmp ""

# ---------------------------------------------------------------- limits
raise_nofile
NOFILE=$(ulimit -n)
if [ "$DO_IDLE" -eq 1 ] && [ "$NOFILE" -lt $((IDLE_CONNS + 1000)) ]; then
    log "WARNING: open-file limit is $NOFILE (hard limit); idle test reduced to $((NOFILE - 1000)) connections"
    IDLE_CONNS=$((NOFILE - 1000))
fi

# ---------------------------------------------------------------- ports, cert, payload
read -r P_ORIGIN P_R_HTTP P_R_HTTPS P_R_ADMIN P_N_HTTP P_N_HTTPS P_H_HTTP P_H_HTTPS \
    P_C_HTTP P_C_HTTPS P_C_ADMIN <<< "$(free_ports 11)"

mkdir -p "$TMP"/{tls,www,logs,origin,nginx,haproxy,rampart/data,runs,cfgload/data}
for d in origin nginx; do mkdir -p "$TMP/$d/tmp"; done
self_signed_cert "$TMP/tls" "$HOST"
cat "$TMP/tls/cert.pem" "$TMP/tls/key.pem" > "$TMP/tls/combined.pem"
python3 "$LIB" payload "$TMP/www/index.html" --size "$PAYLOAD_BYTES"

nginx_common() { nginx_head "$1" $((NOFILE - 100)) "$NOFILE"; }

# ---------------------------------------------------------------- origin
{
    nginx_common "$TMP/origin"
    nginx_http_open "$TMP/origin"
    cat <<EOF
    open_file_cache max=16 inactive=600s;
    open_file_cache_valid 600s;
    default_type text/html;
    server {
        listen 127.0.0.1:$P_ORIGIN backlog=4096;
        server_name _;
        root $TMP/www;
        location = / { try_files /index.html =404; }
    }
}
EOF
} > "$TMP/origin/nginx.conf"

# ---------------------------------------------------------------- nginx proxy
if [ "$ACCESS_LOG" -eq 1 ]; then
    NGINX_ACCESS="access_log $TMP/logs/nginx-access.log combined buffer=64k flush=100ms;"
    RAMPART_ACCESS="$TMP/logs/rampart-access.log"
    HAPROXY_LOG_GLOBAL="log stdout format raw local0"
    HAPROXY_LOG_DEFAULTS=$'log global\n    option httplog'
else
    NGINX_ACCESS="access_log off;"
    RAMPART_ACCESS="off"
    HAPROXY_LOG_GLOBAL=""
    HAPROXY_LOG_DEFAULTS=""
fi
{
    nginx_common "$TMP/nginx"
    nginx_http_open "$TMP/nginx" "$NGINX_ACCESS"
    cat <<EOF
    upstream origin {
        server 127.0.0.1:$P_ORIGIN;
        keepalive 128;
        keepalive_requests 100000000;
        keepalive_timeout 600s;
    }
    server {
        listen 127.0.0.1:$P_N_HTTP backlog=4096;
        listen 127.0.0.1:$P_N_HTTPS ssl http2 backlog=4096;
        server_name $HOST 127.0.0.1;
        ssl_certificate $TMP/tls/cert.pem;
        ssl_certificate_key $TMP/tls/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
$(nginx_proxy_location proxy_add_x_forwarded_for)
    }
}
EOF
} > "$TMP/nginx/nginx.conf"

# ---------------------------------------------------------------- haproxy
cat > "$TMP/haproxy/haproxy.cfg" <<EOF
global
    nbthread 1
    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
    maxconn $((IDLE_CONNS + 2000))
    # maxconn implies 2 fds per connection; with a low hard fd limit (20000 here)
    # HAProxy would refuse to start. The idle test needs ~1 fd per connection.
    no strict-limits
    $HAPROXY_LOG_GLOBAL

defaults
    mode http
    timeout connect 5s
    timeout client 600s
    timeout server 600s
    timeout http-request 10s
    timeout http-keep-alive 600s
    option http-keep-alive
    option forwardfor
    http-reuse always
    $HAPROXY_LOG_DEFAULTS

frontend fe
    bind 127.0.0.1:$P_H_HTTP
    bind 127.0.0.1:$P_H_HTTPS ssl crt $TMP/tls/combined.pem alpn h2,http/1.1
    maxconn $((IDLE_CONNS + 2000))
    http-request set-header X-Forwarded-Proto https if { ssl_fc }
    default_backend be

backend be
    server origin 127.0.0.1:$P_ORIGIN
EOF

# ---------------------------------------------------------------- rampart
{
    rampart_node_toml bench "$TMP/rampart/data" "$P_R_HTTP" "$P_R_HTTPS" "$P_R_ADMIN" "$RAMPART_ACCESS"
    rampart_bench_site "$P_ORIGIN" "$TMP/tls"
} > "$TMP/rampart/rampart.toml"
"$RAMPART_BIN" check-config --config "$TMP/rampart/rampart.toml" >/dev/null

# ---------------------------------------------------------------- start everything
log "temp dir $TMP; ports: origin $P_ORIGIN, rampart $P_R_HTTP/$P_R_HTTPS, nginx $P_N_HTTP/$P_N_HTTPS, haproxy $P_H_HTTP/$P_H_HTTPS"
start_nginx 1 "$TMP/origin"
PID_ORIGIN=$!
taskset -c 0 "$RAMPART_BIN" serve --config "$TMP/rampart/rampart.toml" >"$TMP/rampart/stdout.log" 2>"$TMP/rampart/stderr.log" &
PID_RAMPART=$!; PIDS+=("$PID_RAMPART")
start_nginx 0 "$TMP/nginx"
PID_NGINX=$!
if [ "$ACCESS_LOG" -eq 1 ]; then HAPROXY_OUT="$TMP/logs/haproxy-access.log"; else HAPROXY_OUT="$TMP/haproxy/stdout.log"; fi
taskset -c 0 haproxy -db -f "$TMP/haproxy/haproxy.cfg" >"$HAPROXY_OUT" 2>"$TMP/haproxy/stderr.log" &
PID_HAPROXY=$!; PIDS+=("$PID_HAPROXY")

wait_http "http://127.0.0.1:$P_ORIGIN/" || die "origin did not start: $(cat "$TMP/origin/error.log")"
wait_http "http://127.0.0.1:$P_R_HTTP/" || die "rampart did not start: $(cat "$TMP/rampart/stderr.log")"
wait_http "http://127.0.0.1:$P_N_HTTP/" || die "nginx did not start: $(cat "$TMP/nginx/error.log")"
wait_http "http://127.0.0.1:$P_H_HTTP/" || die "haproxy did not start: $(cat "$TMP/haproxy/stderr.log")"

# Process sets whose CPU is counted: nginx = master + worker.
PIDS_rampart="$PID_RAMPART"
PIDS_nginx="$PID_NGINX $(pgrep -P "$PID_NGINX" | tr '\n' ' ')"
PIDS_haproxy="$PID_HAPROXY"
PIDS_origin="$PID_ORIGIN $(pgrep -P "$PID_ORIGIN" | tr '\n' ' ')"
declare -A HTTP_PORT=([origin]=$P_ORIGIN [rampart]=$P_R_HTTP [nginx]=$P_N_HTTP [haproxy]=$P_H_HTTP)
declare -A HTTPS_PORT=([rampart]=$P_R_HTTPS [nginx]=$P_N_HTTPS [haproxy]=$P_H_HTTPS)

# Every process really is on the core we asked for (threads included).
for name in rampart nginx haproxy origin; do
    pids_var="PIDS_$name"
    for p in ${!pids_var}; do
        for t in /proc/$p/task/*; do
            aff=$(taskset -pc "${t##*/}" 2>/dev/null | sed 's/.*: //')
            want=0; [ "$name" = origin ] && want=1
            [ "$aff" = "$want" ] || die "$name thread ${t##*/} has affinity '$aff', expected $want"
        done
    done
done

# Sanity: each proxy serves the payload over HTTP/1.1 and HTTP/2+TLS.
for name in rampart nginx haproxy; do
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H "Host: $HOST" "http://127.0.0.1:${HTTP_PORT[$name]}/")
    [ "$got" = "200 $PAYLOAD_BYTES" ] || die "$name http sanity check: got '$got', want '200 $PAYLOAD_BYTES'"
    got=$(curl -sk --http2 --resolve "$HOST:${HTTPS_PORT[$name]}:127.0.0.1" -o /dev/null \
        -w '%{http_code} %{size_download} %{http_version}' "https://$HOST:${HTTPS_PORT[$name]}/")
    [ "$got" = "200 $PAYLOAD_BYTES 2" ] || die "$name https sanity check: got '$got', want '200 $PAYLOAD_BYTES 2'"
done
log "sanity checks passed (200, $PAYLOAD_BYTES bytes, h2 over TLS) for rampart, nginx, haproxy"

# ---------------------------------------------------------------- measurement helpers
rss_kib() { # pids... -> VmRSS kB summed
    local t=0 p v
    for p in "$@"; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
background_busy_pct() { # % of all CPUs busy over 1 s
    local a b
    a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
    local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}

RUNS_JSONL="$TMP/runs.jsonl"
TIMEFORMAT='%3U %3S'   # for `time` in measure(): user and system seconds of the client
: > "$RUNS_JSONL"

cpu_busy() { # core -> "busy total" clock ticks since boot, from /proc/stat
    local f
    read -r -a f <<< "$(grep "^cpu$1 " /proc/stat)"
    # user nice system idle iowait irq softirq steal
    echo "$((f[1] + f[2] + f[3] + f[6] + f[7] + f[8])) $((f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7] + f[8]))"
}

# measure NAME PROTO ROUND OUT -- CLIENT-COMMAND...
# Runs the client on core 1 and records the proxy's CPU ticks and, as a noise
# check, how busy each core was with work that is not ours (other processes,
# steal, unattributed softirq).
measure() {
    local name=$1 proto=$2 round=$3 out=$4; shift 5
    local pids_var="PIDS_$name" t0 t1 o0 o1 b0 T0 b1 T1 e0 E0 e1 E1 client ours0 ours1
    read -r b0 T0 <<< "$(cpu_busy 0)"; read -r b1 T1 <<< "$(cpu_busy 1)"
    o0=$(proc_ticks $PIDS_origin)
    t0=$(proc_ticks ${!pids_var})
    { time taskset -c 1 "$@" > "$out" 2>&1 ; } 2> "$out.time" || true
    t1=$(proc_ticks ${!pids_var})
    o1=$(proc_ticks $PIDS_origin)
    read -r e0 E0 <<< "$(cpu_busy 0)"; read -r e1 E1 <<< "$(cpu_busy 1)"
    client=$(awk -v hz="$CLK_TCK" '{printf "%d", ($1 + $2) * hz}' "$out.time")
    if [ "$name" = origin ]; then ours0=0; ours1=$((t1 - t0 + client))
    else ours0=$((t1 - t0)); ours1=$((o1 - o0 + client)); fi
    echo "$((t1 - t0)) $(( (e0 - b0 - ours0) * 100 / (E0 - T0 > 0 ? E0 - T0 : 1) )) $(( (e1 - b1 - ours1) * 100 / (E1 - T1 > 0 ? E1 - T1 : 1) ))"
}

run_h1() { # name round
    local name=$1 round=$2 url="http://127.0.0.1:${HTTP_PORT[$1]}/"
    local out="$TMP/runs/$name-h1-$round.txt" ticks other0 other1
    taskset -c 1 wrk -t1 -c"$WRK_CONNS" -d"${WARMUP}s" -H "Host: $HOST" "$url" >/dev/null
    read -r ticks other0 other1 <<< "$(measure "$name" h1 "$round" "$out" -- \
        wrk -t1 -c"$WRK_CONNS" -d"${DURATION}s" --latency -H "Host: $HOST" "$url")"
    python3 "$LIB" parse --tool wrk --output "$out" --proxy "$name" --proto h1 --round "$round" \
        --ticks "$ticks" --clk-tck "$CLK_TCK" --duration "$DURATION" --other "$other0" "$other1" --jsonl "$RUNS_JSONL"
}

run_h2() { # name round
    local name=$1 round=$2 port=${HTTPS_PORT[$1]}
    local out="$TMP/runs/$name-h2-$round.txt" lf="$TMP/runs/$name-h2-$round.log" ticks other0 other1
    local args=(-c"$H2_CLIENTS" -m"$H2_STREAMS" --connect-to="127.0.0.1:$port" "https://$HOST:$port/")
    taskset -c 1 h2load -D "$WARMUP" "${args[@]}" >/dev/null 2>&1 || true
    read -r ticks other0 other1 <<< "$(measure "$name" h2 "$round" "$out" -- \
        h2load -D "$DURATION" --log-file="$lf" "${args[@]}")"
    python3 "$LIB" parse --tool h2load --output "$out" --logfile "$lf" --proxy "$name" --proto h2 --round "$round" \
        --ticks "$ticks" --clk-tck "$CLK_TCK" --duration "$DURATION" --other "$other0" "$other1" --jsonl "$RUNS_JSONL"
    rm -f "$lf"
}

# ---------------------------------------------------------------- throughput runs
if [ "$WAIT_QUIET" -gt 0 ]; then
    deadline=$(( $(date +%s) + 60 * WAIT_QUIET ))
    quiet=0; n=0
    while [ "$(date +%s)" -lt "$deadline" ]; do
        b=$(background_busy_pct)
        if [ "$b" -le 5 ]; then quiet=$((quiet + 1)); else quiet=0; fi
        [ "$quiet" -ge 5 ] && break
        [ $((n++ % 12)) -eq 0 ] && [ "$quiet" -eq 0 ] && log "waiting for a quiet machine (${b}% busy)"
        sleep 4
    done
fi
BUSY=$(background_busy_pct)
[ "$BUSY" -gt 10 ] && log "WARNING: the machine was ${BUSY}% busy before the runs (other processes); results will be noisy"

for round in $(seq "$ROUNDS"); do
    log "round $round/$ROUNDS: HTTP/1.1 (wrk -t1 -c$WRK_CONNS -d${DURATION}s)"
    for name in origin rampart nginx haproxy; do run_h1 "$name" "$round"; done
    log "round $round/$ROUNDS: HTTP/2 over TLS (h2load -c$H2_CLIENTS -m$H2_STREAMS -D$DURATION)"
    for name in rampart nginx haproxy; do run_h2 "$name" "$round"; done
done

ACCESS_LINES=""
if [ "$ACCESS_LOG" -eq 1 ]; then
    sleep 1   # let buffered writers flush
    DROPPED=$(curl -s "http://127.0.0.1:$P_R_ADMIN/metrics" | awk '/^rampart_access_log_dropped_total/ {print $2}')
    ACCESS_LINES="rampart $(wc -l < "$TMP/logs/rampart-access.log" 2>/dev/null || echo 0) (+${DROPPED:-?} dropped per rampart_access_log_dropped_total), nginx $(wc -l < "$TMP/logs/nginx-access.log" 2>/dev/null || echo 0), haproxy $(wc -l < "$TMP/logs/haproxy-access.log" 2>/dev/null || echo 0)"
fi

# ---------------------------------------------------------------- idle connections
IDLE_JSONL="$TMP/idle.jsonl"
: > "$IDLE_JSONL"
if [ "$DO_IDLE" -eq 1 ]; then
    for name in rampart nginx haproxy; do
        log "idle: $IDLE_CONNS keep-alive connections to $name"
        pids_var="PIDS_$name"
        ready="$TMP/idle-$name.json"
        before=$(rss_kib ${!pids_var})
        taskset -c 1 python3 "$LIB" idle --port "${HTTP_PORT[$name]}" --host "$HOST" -n "$IDLE_CONNS" \
            --ready "$ready" --hold 900 &
        ipid=$!; PIDS+=("$ipid")
        for _ in $(seq 6000); do
            [ -f "$ready" ] && break
            kill -0 "$ipid" 2>/dev/null || break
            sleep 0.1
        done
        [ -f "$ready" ] || { log "idle client for $name failed"; echo '{"requested": '"$IDLE_CONNS"', "ok": 0, "alive": 0, "failed": '"$IDLE_CONNS"'}' > "$ready"; }
        with=$(rss_kib ${!pids_var})
        est=$(ss -Htn state established "( sport = :${HTTP_PORT[$name]} )" | wc -l)
        kill -TERM "$ipid" 2>/dev/null || true
        wait "$ipid" 2>/dev/null || true
        forget_pid "$ipid"
        sleep 3
        after=$(rss_kib ${!pids_var})
        python3 - "$ready" "$name" "$before" "$with" "$after" "$est" >> "$IDLE_JSONL" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r.update(proxy=sys.argv[2], rss_before_kib=int(sys.argv[3]), rss_with_kib=int(sys.argv[4]),
         rss_after_kib=int(sys.argv[5]), established=int(sys.argv[6]))
print(json.dumps(r))
PY
        tail -1 "$IDLE_JSONL" | sed 's/^/    /' >&2
    done
fi

# ---------------------------------------------------------------- config load time
CFG_JSONL="$TMP/cfgload.jsonl"
: > "$CFG_JSONL"
gen_config() { # file nsites tls(0/1)
    local file=$1 n=$2 tls=$3 i name
    {
        cat <<EOF
[node]
id = "cfgload"
data_dir = "$TMP/cfgload/data"
workers = 1
shutdown_grace = "1s"

[listen]
http = "127.0.0.1:$P_C_HTTP"
https = "127.0.0.1:$P_C_HTTPS"
admin = "127.0.0.1:$P_C_ADMIN"

[log]
access = "off"
EOF
        for i in $(seq -w 1 "$n"); do
            name="site$i"
            printf '\n[[site]]\nname = "%s"\nhosts = ["%s.test", "www.%s.test"]\norigins = ["http://127.0.0.1:%s"]\n' \
                "$name" "$name" "$name" "$P_ORIGIN"
            if [ "$tls" -eq 1 ]; then
                printf 'tls = { cert = "certs/%s.pem", key = "certs/%s.key" }\n' "$name" "$name"
            fi
        done
    } > "$file"
}
if [ "$DO_CONFIG" -eq 1 ]; then
    log "config load: generating 1-site, $SITES-site and $SITES-site+TLS configurations"
    mkdir -p "$TMP/cfgload/certs"
    gen_config "$TMP/cfgload/one.toml" 1 0
    gen_config "$TMP/cfgload/sites.toml" "$SITES" 0
    gen_config "$TMP/cfgload/sites-tls.toml" "$SITES" 1
    # One distinct self-signed P-256 certificate per site.
    seq -w 1 "$SITES" | xargs -P 2 -I{} openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -days 2 -keyout "$TMP/cfgload/certs/site{}.key" -out "$TMP/cfgload/certs/site{}.pem" \
        -subj "/CN=site{}.test" -addext "subjectAltName=DNS:site{}.test,DNS:www.site{}.test" 2>/dev/null
    for cfg in one sites sites-tls; do
        case $cfg in
            one) label="1 site" ;;
            sites) label="$SITES sites" ;;
            sites-tls) label="$SITES sites, each with its own TLS certificate" ;;
        esac
        f="$TMP/cfgload/$cfg.toml"
        log "config load: $label"
        chk=$(python3 "$LIB" time-cmd --runs 5 -- taskset -c 0 "$RAMPART_BIN" check-config --config "$f")
        spn=$(python3 "$LIB" spawn-time --runs 5 --admin-port "$P_C_ADMIN" -- taskset -c 0 "$RAMPART_BIN" serve --config "$f")
        python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "check": json.loads(sys.argv[2]), "spawn": json.loads(sys.argv[3])}))' \
            "$label" "$chk" "$spn" >> "$CFG_JSONL"
        tail -1 "$CFG_JSONL" | sed 's/^/    /' >&2
    done
fi

# ---------------------------------------------------------------- proxies' own complaints
for f in "$TMP/rampart/stderr.log" "$TMP/nginx/error.log" "$TMP/haproxy/stderr.log" "$TMP/origin/error.log"; do
    n=$(grep -ciE 'warn|error|alert|crit|emerg' "$f" 2>/dev/null || true)
    if [ "${n:-0}" -gt 0 ]; then
        log "note: $n warning/error line(s) in ${f#$TMP/}:"
        grep -iE 'warn|error|alert|crit|emerg' "$f" | sort | uniq -c | sort -rn | head -5 | sed 's/^/    /' >&2
    fi
done

# ---------------------------------------------------------------- report
DATE=$(date +%Y-%m-%d-%H%M%S)
export RAMPART_ORIGIN DATE GIT_REV ACCESS_LOG DURATION WARMUP ROUNDS WRK_CONNS H2_CLIENTS H2_STREAMS HOST PAYLOAD_BYTES BUSY ACCESS_LINES
export RAMPART_VERSION=$("$RAMPART_BIN" --version 2>&1 | head -1)
export NGINX_VERSION=$(nginx -v 2>&1 | sed 's/^nginx version: //')
export HAPROXY_VERSION=$(haproxy -v 2>&1 | head -1 | awk '{print "HAProxy " $3}')
export WRK_VERSION=$(wrk -v 2>&1 | head -1 | awk '{print $2}')
export H2LOAD_VERSION=$(h2load --version 2>&1 | head -1 | awk '{print $2}')
export CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
export NCPU=$(nproc)
export KERNEL=$(uname -r)
python3 - > "$TMP/meta.json" <<'PY'
import json, os
e = os.environ
print(json.dumps({
    "date": e["DATE"], "git_rev": e["GIT_REV"], "access_log": e["ACCESS_LOG"] == "1",
    "duration": int(e["DURATION"]), "warmup": int(e["WARMUP"]), "rounds": int(e["ROUNDS"]),
    "wrk_conns": int(e["WRK_CONNS"]), "h2_clients": int(e["H2_CLIENTS"]), "h2_streams": int(e["H2_STREAMS"]),
    "host": e["HOST"], "payload_bytes": int(e["PAYLOAD_BYTES"]), "background_busy_pct": int(e["BUSY"]),
    "rampart_version": e["RAMPART_VERSION"], "nginx_version": e["NGINX_VERSION"],
    "haproxy_version": e["HAPROXY_VERSION"], "wrk_version": e["WRK_VERSION"],
    "h2load_version": e["H2LOAD_VERSION"], "cpu_model": e["CPU_MODEL"], "ncpu": int(e["NCPU"]),
    "kernel": e["KERNEL"], "rampart_origin": e["RAMPART_ORIGIN"], "access_lines": e.get("ACCESS_LINES", ""),
}))
PY
python3 - "$IDLE_JSONL" "$CFG_JSONL" > "$TMP/extra.json" <<'PY'
import json, sys
load = lambda p: [json.loads(l) for l in open(p) if l.strip()]
print(json.dumps({"idle": load(sys.argv[1]), "config_load": load(sys.argv[2])}))
PY

mkdir -p "$RESULTS_DIR"
SUFFIX=""; [ "$ACCESS_LOG" -eq 1 ] && SUFFIX="-access-log"
OUT="$RESULTS_DIR/proxy-$DATE$SUFFIX.md"
python3 "$LIB" report --meta "$TMP/meta.json" --runs "$RUNS_JSONL" --extra "$TMP/extra.json" > "$OUT"
cp "$OUT" "$RESULTS_DIR/latest.md"
echo
cat "$OUT"
log "written: ${OUT#$ROOT/} and bench/results/latest.md"
