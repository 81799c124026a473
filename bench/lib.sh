# Shared helpers of the bench scripts: `source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`
# right after `set -euo pipefail`. Defines BENCH_DIR, ROOT, LIB (benchlib.py),
# RESULTS_DIR, CLK_TCK, NGINX_USER, PIDS (processes `cleanup` stops) and
# KEEP_TMP (0 unless the script sets it), and adds /usr/sbin to PATH because
# Debian's nginx, haproxy and redis live there.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
LIB="$BENCH_DIR/benchlib.py"
RESULTS_DIR="$BENCH_DIR/results"
KEEP_TMP=${KEEP_TMP:-0}
PIDS=()
TMP=""
export PATH="$PATH:/usr/sbin:/sbin"
CLK_TCK=$(getconf CLK_TCK)
NGINX_USER=""
[ "$(id -u)" -eq 0 ] && NGINX_USER="user root;"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

require_cmds() { # hint cmd... -> dies naming the first missing command
    local hint=$1 cmd; shift
    for cmd in "$@"; do
        command -v "$cmd" >/dev/null 2>&1 || die "$cmd is needed${hint:+ ($hint)}"
    done
}

# RAMPART_BIN from the environment, or a release build of the working tree.
# Sets RAMPART_ORIGIN to say which, for the report.
ensure_rampart_bin() {
    if [ -z "${RAMPART_BIN:-}" ]; then
        log "building rampart (cargo build --release -p rampart)"
        (cd "$ROOT" && cargo build --release -p rampart) >&2
        RAMPART_BIN="$ROOT/target/release/rampart"
        RAMPART_ORIGIN="built by the script from the working tree"
    else
        RAMPART_ORIGIN="prebuilt RAMPART_BIN=$RAMPART_BIN, modified $(date -r "$RAMPART_BIN" '+%F %T' 2>/dev/null)"
    fi
    [ -x "$RAMPART_BIN" ] || die "RAMPART_BIN=$RAMPART_BIN is not executable"
}

git_rev() { # the tree's revision, +dirty when the code differs from it
    local rev
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [ -n "$(git -C "$ROOT" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]; then
        rev="$rev+dirty"
    fi
    echo "$rev"
}

# ---------------------------------------------------------------- temp dir, processes
bench_tmp() { # name -> sets TMP and stops every process in PIDS on exit
    TMP=$(mktemp -d -t "rampart-bench$1.XXXXXX")
    chmod 755 "$TMP"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

cleanup() {
    set +e
    local p children=()
    for p in "${PIDS[@]}"; do
        children+=($(pgrep -P "$p" 2>/dev/null))
        kill -TERM "$p" 2>/dev/null
    done
    for _ in $(seq 50); do
        local alive=0
        for p in "${PIDS[@]}" "${children[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}" "${children[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ -n "$TMP" ]; then
        if [ "$KEEP_TMP" -eq 1 ]; then log "kept temp dir $TMP"; else rm -rf "$TMP"; fi
    fi
}

forget_pid() { # drop a reaped child from PIDS so cleanup never signals a recycled pid
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

raise_nofile() { ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; }

free_ports() { python3 "$LIB" freeports "$1"; } # n -> n free loopback ports on one line

# ---------------------------------------------------------------- measuring
proc_ticks() { # pids... -> utime+stime clock ticks summed
    local t=0 p s f
    for p in "$@"; do
        s=$(< "/proc/$p/stat") || continue
        s=${s##*) }
        read -r -a f <<< "$s"
        t=$((t + f[11] + f[12]))
    done
    echo "$t"
}

proc_tree_ticks() { proc_ticks "$1" $(pgrep -P "$1" 2>/dev/null); } # pid and its children

cpu_us_per_request() { # ticks requests [decimals] -> µs of CPU per request
    awk -v t="$1" -v hz="$CLK_TCK" -v n="${2:-0}" -v d="${3:-2}" \
        'BEGIN { printf "%.*f", d, (n > 0 ? t / hz * 1e6 / n : 0) }'
}

wait_http() { # url [host] [tries of 50 ms] -> 0 once anything answers
    local i
    for i in $(seq "${3:-200}"); do
        curl -s -o /dev/null --max-time 1 -H "Host: ${2:-$HOST}" "$1" && return 0
        sleep 0.05
    done
    return 1
}

# ---------------------------------------------------------------- fixtures
self_signed_cert() { # dir host -> dir/cert.pem, dir/key.pem (P-256, two days)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -keyout "$1/key.pem" -out "$1/cert.pem" -subj "/CN=$2" \
        -addext "subjectAltName=DNS:$2,IP:127.0.0.1" 2>/dev/null
}

nginx_head() { # dir [worker_connections] [nofile] -> the main context of an nginx.conf
    echo "$NGINX_USER"
    echo "worker_processes 1;"
    echo "pid $1/nginx.pid;"
    echo "error_log $1/error.log warn;"
    [ -n "${3:-}" ] && echo "worker_rlimit_nofile $3;"
    echo "events { worker_connections ${2:-4096}; }"
}

nginx_temp_paths() { # dir -> temp paths inside dir/tmp, so nginx never touches /var/lib/nginx
    printf '    client_body_temp_path %s/tmp/body;\n    proxy_temp_path %s/tmp/proxy;\n    fastcgi_temp_path %s/tmp/fastcgi;\n    uwsgi_temp_path %s/tmp/uwsgi;\n    scgi_temp_path %s/tmp/scgi;\n' "$1" "$1" "$1" "$1" "$1"
}

nginx_http_open() { # dir [access_log directive] -> `http {` with temp paths and long keep-alive
    cat <<EOF
http {
    ${2:-access_log off;}
$(nginx_temp_paths "$1")
    keepalive_requests 100000000;
    keepalive_timeout 600s;
EOF
}

nginx_proxy_location() { # forwarded-for variable -> `location /` proxying to the upstream `origin`
    cat <<EOF
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$$1;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
EOF
}

nginx_static_origin() { # dir port root -> an origin serving root/index.html at /
    nginx_head "$1"
    nginx_http_open "$1"
    cat <<EOF
    open_file_cache max=16 inactive=600s;
    default_type text/html;
    server {
        listen 127.0.0.1:$2 backlog=4096;
        root $3;
        location = / { try_files /index.html =404; }
    }
}
EOF
}

start_nginx() { # core dir -> nginx in the foreground of a background job, in PIDS
    mkdir -p "$2/tmp"
    taskset -c "$1" nginx -p "$2" -e "$2/error.log" -c "$2/nginx.conf" -g 'daemon off;' &
    PIDS+=($!)
}

rampart_node_toml() { # id data_dir http https admin [access] -> [node] to [proxy] of a bench node
    cat <<EOF
[node]
id = "$1"
data_dir = "$2"
workers = 1
shutdown_grace = "1s"

[listen]
http = "127.0.0.1:$3"
https = "127.0.0.1:$4"
admin = "127.0.0.1:$5"

[log]
access = "${6:-off}"

[proxy]
timeouts = { idle = "600s" }
EOF
}

rampart_bench_site() { # origin_port [tls_dir] -> the `bench` site on $HOST and 127.0.0.1
    cat <<EOF

[[site]]
name = "bench"
hosts = ["$HOST", "127.0.0.1"]
origins = ["http://127.0.0.1:$1"]
EOF
    if [ -n "${2:-}" ]; then echo "tls = { cert = \"$2/cert.pem\", key = \"$2/key.pem\" }"; fi
}

# wrk's summary lines -> "req/s requests p99" ("-" where absent)
wrk_summary() {
    awk '/^Requests\/sec:/ {r = $2} /requests in/ {n = $1} $1 == "99%" {p = $2}
         END { print (r == "" ? 0 : r), (n == "" ? 0 : n), (p == "" ? "-" : p) }' "$1"
}
