#!/usr/bin/env bash
# Cluster throughput: three `rampart serve` nodes on this machine sharing one
# PostgreSQL store, once with local rate limits only and once with the shared
# Redis tier (`[shared] url`), under the same wrk load spread over the three
# nodes. The site has a rate limit far above the load, so every request is
# counted and none is refused: what is measured is the cost of counting in
# the cluster, not of answering 429.
#
#   local   three nodes, [store] on PostgreSQL, no [shared]
#   shared  the same three nodes with [shared] url = "redis://…"
#
# Per variant: aggregate req/s (sum of one wrk per node), the nodes' CPU per
# request, and for shared the Redis commands per request (INFO commandstats
# before and after the measured window) and the nodes' own counts of commands
# and round trips (`rampart_shared_ops_total`, `rampart_shared_round_trips_total`
# on /metrics).
#
# Usage: bench/cluster.sh [--duration S] [--warmup S] [--rounds N] [--conns N]
#                         [--clients N,M,…] [--only local|shared] [--out FILE] [--keep-tmp]
#   --clients     distinct client keys, one workload per number (default 1,1000):
#                 the limit counts per `header:x-client` and wrk spreads its
#                 requests over that many values; 1 = every request on one
#                 counter (a single heavy client), 1000 = many clients
# Env:   RAMPART_BIN=/path/to/rampart   skip `cargo build --release -p rampart`
# Needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin), redis-server,
# redis-cli, nginx, wrk, curl, python3. Writes bench/results/cluster-<date>.md
# (or --out).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=15
WARMUP=3
ROUNDS=1
CONNS=32
CLIENTS=1,1000
ONLY=""
OUT=""
HOST=bench.test
NODES=3
TARGET_RATIO=0.8
TARGET_OPS=0.1

usage() { sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --conns) CONNS=$2; shift ;;
        --clients) CLIENTS=$2; shift ;;
        --only) ONLY=$2; shift ;;
        --out) OUT=$2; shift ;;
        --keep-tmp) KEEP_TMP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case "$ONLY" in ""|local|shared) ;; *) die "--only takes local or shared" ;; esac
IFS=, read -r -a CLIENT_SETS <<< "$CLIENTS"
for c in "${CLIENT_SETS[@]}"; do [[ "$c" =~ ^[1-9][0-9]*$ ]] || die "--clients takes numbers such as 1,1000"; done

require_cmds "apt-get install postgresql redis-server nginx wrk curl" \
    redis-server redis-cli nginx wrk curl python3 setpriv
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL server in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
ensure_rampart_bin
GIT_REV=$(git_rev)

bench_tmp -cluster
raise_nofile

read -r P_PG P_REDIS P_ORIGIN PORTS_NODES <<< "$(free_ports $((3 + 3 * NODES)))"
read -r -a NODE_PORTS <<< "$PORTS_NODES"
node_port() { echo "${NODE_PORTS[$(( 3 * ($1 - 1) + $2 ))]}"; } # node, 0 http | 1 https | 2 admin
mkdir -p "$TMP"/{www,origin/tmp,pg,redis,runs}
python3 "$LIB" payload "$TMP/www/index.html" --size 1400

# ---------------------------------------------------------------- PostgreSQL
# As the store is off the request path, durability settings do not change
# the figures; fsync is off so the machine's disk does not either.
PG_AS=()
if [ "$(id -u)" -eq 0 ]; then
    # postgres refuses to run as root; Debian's package made this user.
    chown postgres: "$TMP/pg"
    PG_AS=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi
"${PG_AS[@]}" "$PG_BIN/initdb" -D "$TMP/pg/data" -A trust -U rampart -E UTF8 --locale=C --no-sync >/dev/null
"${PG_AS[@]}" "$PG_BIN/postgres" -D "$TMP/pg/data" -p "$P_PG" -k "$TMP/pg" \
    -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off >"$TMP/pg.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$P_PG" && break
    sleep 0.05
done
"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$P_PG" || die "postgres did not start: $(tail -5 "$TMP/pg.log")"
"$PG_BIN/createdb" -h 127.0.0.1 -p "$P_PG" -U rampart rampart
STORE_URL="postgres://rampart@127.0.0.1:$P_PG/rampart"

# ---------------------------------------------------------------- Redis
redis-server --port "$P_REDIS" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$TMP/redis" --logfile "$TMP/redis/redis.log" >/dev/null 2>&1 &
PID_REDIS=$!; PIDS+=("$PID_REDIS")
rcli() { redis-cli -h 127.0.0.1 -p "$P_REDIS" "$@"; }
for _ in $(seq 200); do [ "$(rcli ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
[ "$(rcli ping 2>/dev/null)" = PONG ] || die "redis-server did not start: $(tail -5 "$TMP/redis/redis.log")"
SHARED_URL="redis://127.0.0.1:$P_REDIS/0"

# ---------------------------------------------------------------- origin
nginx_static_origin "$TMP/origin" "$P_ORIGIN" "$TMP/www" > "$TMP/origin/nginx.conf"
start_nginx "0-$(($(nproc) - 1))" "$TMP/origin"   # unpinned, like everything here
wait_http "http://127.0.0.1:$P_ORIGIN/" || die "origin did not start: $(cat "$TMP/origin/error.log")"

# ---------------------------------------------------------------- nodes
node_toml() { # variant n
    local v=$1 n=$2
    rampart_node_toml "node-$n" "$TMP/$v-$n/data" "$(node_port "$n" 0)" "$(node_port "$n" 1)" "$(node_port "$n" 2)"
    printf '\n[store]\nurl = "%s"\n' "$STORE_URL"
    [ "$v" = shared ] && printf '\n[shared]\nurl = "%s"\n' "$SHARED_URL"
    rampart_bench_site "$P_ORIGIN"
    cat <<EOF

[[site.rate_limits]]
id = "clients"
characteristics = ["header:x-client"]
period = "10s"
requests = 1000000000
EOF
}
VARIANTS=(local shared)
[ -n "$ONLY" ] && VARIANTS=("$ONLY")
for v in "${VARIANTS[@]}"; do
    for n in $(seq "$NODES"); do
        mkdir -p "$TMP/$v-$n/data"
        node_toml "$v" "$n" > "$TMP/$v-$n/rampart.toml"
        "$RAMPART_BIN" check-config --config "$TMP/$v-$n/rampart.toml" >/dev/null 2>"$TMP/check.err" \
            || die "$v node $n configuration refused: $(head -5 "$TMP/check.err")"
    done
done

declare -A NODE_PID
start_nodes() { # variant; node 1 first: it migrates the store and provisions the site
    local v=$1 n
    for n in $(seq "$NODES"); do
        "$RAMPART_BIN" serve --config "$TMP/$v-$n/rampart.toml" >"$TMP/$v-$n/stdout.log" 2>>"$TMP/$v-$n/stderr.log" &
        NODE_PID[$n]=$!; PIDS+=($!)
        wait_http "http://127.0.0.1:$(node_port "$n" 0)/" "$HOST" 400 \
            || die "$v node $n did not start: $(tail -5 "$TMP/$v-$n/stderr.log")"
    done
    for n in $(seq "$NODES"); do
        local got
        got=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" -H 'X-Client: c1' "http://127.0.0.1:$(node_port "$n" 0)/")
        [ "$got" = 200 ] || die "$v node $n answered $got to the sanity request"
    done
}
stop_nodes() {
    local n
    for n in $(seq "$NODES"); do kill -TERM "${NODE_PID[$n]}" 2>/dev/null || true; done
    for n in $(seq "$NODES"); do
        wait "${NODE_PID[$n]}" 2>/dev/null || true
        forget_pid "${NODE_PID[$n]}"
    done
}

# Each request names one of N client keys, at random.
for c in "${CLIENT_SETS[@]}"; do
    cat > "$TMP/clients-$c.lua" <<EOF
local clients = $c
math.randomseed(os.time())
request = function()
    return wrk.format(nil, nil, { ["Host"] = "$HOST", ["X-Client"] = "c" .. math.random(clients) })
end
EOF
done

commandstats_calls() { # -> Redis commands executed so far, not counting our INFO calls
    rcli info commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" {n += $3} END {print n + 0}'
}
node_metric_sum() { # name -> the counter summed over the nodes' /metrics, or "-" when not exported
    local n total="" v
    for n in $(seq "$NODES"); do
        v=$(curl -s "http://127.0.0.1:$(node_port "$n" 2)/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $NF; f = 1} END {if (f) printf "%.0f", s}')
        [ -n "$v" ] && total=$(( ${total:-0} + v ))
    done
    echo "${total:--}"
}
per_request() { # before after requests -> (after - before) / requests, or "-"
    if [ "$1" = - ] || [ "$2" = - ]; then echo -; return; fi
    awk -v c=$(($2 - $1)) -v n="$3" 'BEGIN {printf "%.4f", (n > 0 ? c / n : 0)}'
}

RESULTS="$TMP/results.tsv"
: > "$RESULTS"
run_variant() { # variant clients round
    local v=$1 c=$2 round=$3 n pids=() wrk_pids=() t0 t1 r0 r1 c0 c1 m0 m1 q0 q1 reqs=0 rps=0 errors=0
    start_nodes "$v"
    for n in $(seq "$NODES"); do pids+=("${NODE_PID[$n]}"); done
    for n in $(seq "$NODES"); do
        wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$TMP/clients-$c.lua" "http://127.0.0.1:$(node_port "$n" 0)/" >/dev/null &
        wrk_pids+=($!)
    done
    wait "${wrk_pids[@]}"
    wrk_pids=()
    t0=$(proc_ticks "${pids[@]}"); r0=$(proc_ticks "$PID_REDIS"); c0=$(commandstats_calls)
    m0=$(node_metric_sum rampart_shared_ops_total); q0=$(node_metric_sum rampart_shared_round_trips_total)
    for n in $(seq "$NODES"); do
        wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$TMP/clients-$c.lua" \
            "http://127.0.0.1:$(node_port "$n" 0)/" > "$TMP/runs/$v-$c-$round-$n.txt" &
        wrk_pids+=($!)
    done
    wait "${wrk_pids[@]}"
    t1=$(proc_ticks "${pids[@]}"); r1=$(proc_ticks "$PID_REDIS"); c1=$(commandstats_calls)
    m1=$(node_metric_sum rampart_shared_ops_total); q1=$(node_metric_sum rampart_shared_round_trips_total)
    local per_node=() p99s=()
    for n in $(seq "$NODES"); do
        local out="$TMP/runs/$v-$c-$round-$n.txt" nr nn np ne
        read -r nr nn np <<< "$(wrk_summary "$out")"
        ne=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out")
        per_node+=("$(printf '%.0f' "$nr")"); p99s+=("$np")
        rps=$(awk -v a="$rps" -v b="$nr" 'BEGIN {printf "%.2f", a + b}')
        reqs=$((reqs + nn)); errors=$((errors + ne))
    done
    stop_nodes
    local cpu_us redis_us ops
    cpu_us=$(cpu_us_per_request $((t1 - t0)) "$reqs" 1)
    redis_us=$(cpu_us_per_request $((r1 - r0)) "$reqs" 2)
    ops=$(per_request "$c0" "$c1" "$reqs")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$c" "$round" "$rps" "$reqs" "$errors" "$cpu_us" \
        "$redis_us" "$((c1 - c0))" "$ops" "$(per_request "$m0" "$m1" "$reqs")" "$(per_request "$q0" "$q1" "$reqs")" \
        "${per_node[*]}" "${p99s[*]}" >> "$RESULTS"
    log "$v, $c client key(s), round $round: $rps req/s over $NODES nodes (${per_node[*]}), $cpu_us µs node CPU/request, $((c1 - c0)) Redis commands ($ops/request), $errors errors"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
    # Alternate the order so that drift (other load on the machine) hits both alike.
    if [ $((round % 2)) -eq 1 ]; then order=("${VARIANTS[@]}"); else order=(); for ((i = ${#VARIANTS[@]} - 1; i >= 0; i--)); do order+=("${VARIANTS[$i]}"); done; fi
    for c in "${CLIENT_SETS[@]}"; do
        for v in "${order[@]}"; do run_variant "$v" "$c" "$round"; done
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
KEYS_AFTER=$(rcli dbsize 2>/dev/null || echo "?")
for f in "$TMP"/*-[0-9]*/stderr.log; do
    n=$(grep -ciE ' (warn|error)' "$f" 2>/dev/null || true)
    if [ "${n:-0}" -gt 0 ]; then
        log "note: $n warning/error line(s) in ${f#$TMP/}:"
        grep -iE ' (warn|error)' "$f" | sed 's/^[^ ]* *//' | sort | uniq -c | sort -rn | head -5 | sed 's/^/    /' >&2
    fi
done

# ---------------------------------------------------------------- report
[ -n "$OUT" ] || OUT="$RESULTS_DIR/cluster-$(date -u +%F).md"
mkdir -p "$(dirname "$OUT")"
export STAMP="$(date -u '+%F %T UTC')" GIT_REV RAMPART_BIN RAMPART_ORIGIN DURATION WARMUP ROUNDS CONNS NODES \
    LOAD_BEFORE LOAD_AFTER KEYS_AFTER TARGET_RATIO TARGET_OPS
export PG_VERSION=$("$PG_BIN/postgres" --version | awk '{print $3}')
export REDIS_VERSION=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
export CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) NCPU=$(nproc)
python3 - "$RESULTS" "$OUT" <<'PY'
import os, statistics, sys
e = os.environ
# variant clients round req/s requests errors node_us redis_us commands commands/req ops/req round-trips/req per-node p99s
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
def med(v, c, col):
    xs = [float(r[col]) for r in rows if r[0] == v and r[1] == c and r[col] != "-"]
    return statistics.median(xs) if xs else None
def f(x, fmt):
    return "-" if x is None else format(x, fmt)
def verdict(x, ok):
    return "" if x is None else (" ✓" if ok(x) else " ✗")
out = [f"# Cluster: three nodes, shared vs local rate limits — {e['STAMP'][:10]}", ""]
out.append(f"Run: {e['STAMP']}, rampart {e['GIT_REV']} ({e['RAMPART_ORIGIN']}); PostgreSQL {e['PG_VERSION']}, Redis {e['REDIS_VERSION']}; "
           f"{e['NCPU']} × {e['CPU_MODEL']}; load average before {e['LOAD_BEFORE']}, after {e['LOAD_AFTER']}.")
out.append("")
out.append(f"{e['NODES']} `rampart serve` nodes (`workers = 1` each, one PostgreSQL store) in front of one nginx origin (1,400-byte page), "
           f"all on this machine with PostgreSQL, Redis and the load generators, unpinned. Load: one `wrk -t1 -c{e['CONNS']}` per node at once, "
           f"{e['DURATION']} s after a {e['WARMUP']} s warm-up, {e['ROUNDS']} round(s) alternating the order; the nodes are restarted for every run. "
           "The site's rate limit counts every request per `header:x-client`, with a limit of 10⁹ per 10 s, so nothing is refused; "
           "wrk draws the header from N values per request: N = 1 is one heavy client (one counter), N = 1000 many clients. "
           "*shared* adds `[shared] url = \"redis://…\"` to the same nodes; *local* has no `[shared]`.")
out.append("")
out.append("Redis commands per request: `INFO commandstats` calls over the measured window (the bench's own INFO calls left out) ÷ the requests "
           "wrk completed. A pipeline of n commands counts n. The nodes' own counts, summed over their `/metrics`: `rampart_shared_ops_total` "
           "(commands sent) and `rampart_shared_round_trips_total` (pipelines and single calls: what a request could wait on, and what a network pays). Node CPU per request is the three nodes' utime + stime over the window ÷ requests: less moved by other load "
           "on the machine than req/s; its ratio, local ÷ shared, is the share of the local-only capacity the nodes keep with shared limits.")
out.append("")
out.append("| client keys | local req/s | shared req/s | shared ÷ local (≥ " + e["TARGET_RATIO"] + ") | node µs CPU/req local / shared | capacity: CPU local ÷ shared | Redis µs CPU/req | Redis commands/req (≤ " + e["TARGET_OPS"] + ") | round trips/req |")
out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in sorted({r[1] for r in rows}, key=int):
    lr, sr = med("local", c, 3), med("shared", c, 3)
    ratio = sr / lr if (lr and sr is not None) else None
    ops = med("shared", c, 9)
    lc, sc = med("local", c, 6), med("shared", c, 6)
    capacity = lc / sc if (lc is not None and sc) else None
    out.append(f"| {c} | {f(lr, ',.0f')} | {f(sr, ',.0f')} | **{f(ratio, '.3f')}**{verdict(ratio, lambda x: x >= float(e['TARGET_RATIO']))} "
               f"| {f(lc, '.1f')} / {f(sc, '.1f')} | **{f(capacity, '.3f')}**{verdict(capacity, lambda x: x >= float(e['TARGET_RATIO']))} "
               f"| {f(med('shared', c, 7), '.2f')} "
               f"| **{f(ops, '.4f')}**{verdict(ops, lambda x: x <= float(e['TARGET_OPS']))} | {f(med('shared', c, 11), '.4f')} |")
out.append("")
if any(r[0] == "shared" and int(r[8]) == 0 for r in rows):
    out.append("**Redis saw no commands during a shared run: the nodes did not use the shared tier, so those shared figures measure nothing shared.**")
    out.append("")
out.append(f"Keys in Redis after the runs: {e['KEYS_AFTER']}.")
out.append("")
out.append("Every run:")
out.append("")
out.append("| variant | client keys | round | req/s | per node | p99 per node | requests | errors | node µs CPU/req | Redis µs CPU/req | Redis commands | commands/req | ops_total/req | round trips/req |")
out.append("|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for v, c, rnd, rps, reqs, err, cpu, rcpu, cmds, opr, mopr, rtr, per, p99 in rows:
    out.append(f"| {v} | {c} | {rnd} | {float(rps):,.0f} | {per} | {p99} | {int(reqs):,} | {err} | {cpu} | {rcpu} | {cmds} | {opr} | {mopr} | {rtr} |")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
log "written: ${OUT#$ROOT/}"
