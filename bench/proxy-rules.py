#!/usr/bin/env python3
"""Configuration for bench/proxy-rules.sh: 100 realistic custom rules and 5
rate limits that normal traffic does not trip, plus a 10,000-entry IP list.
Standard library only.

Usage: proxy-rules.py site-security OUT_TOML LIST_FILE
Writes the `[[lists]]` table and the site's `[[site.rules]]` /
`[[site.rate_limits]]` tables (to be appended after the site's keys) and the
list file. The rules are what a real site accumulates: scanner paths, bad
user agents, injection patterns in the query, method and header checks,
country and ASN blocks, a big blocklist; a few `log` and `challenge` rules
among the blocks. None matches `GET /` from wrk or h2load.
"""

import ipaddress
import random
import sys

SCANNER_PATHS = [
    r"^/wp-(admin|login|includes)",
    r"\.php[0-9]?$",
    r"/\.git/",
    r"/\.env$",
    r"^/phpmyadmin",
    r"^/cgi-bin/",
    r"\.(bak|old|orig|swp)$",
    r"^/actuator/",
    r"^/server-status",
    r"/etc/passwd",
    r"^/\.well-known/security\.txt\.bak",
    r"^/vendor/phpunit",
    r"^/boaform/",
    r"^/HNAP1",
    r"^/solr/admin",
]
BAD_AGENTS = [
    "sqlmap", "nikto", "masscan", "zgrab", "nmap", "dirbuster", "gobuster",
    "wpscan", "acunetix", "nessus", "openvas", "havij", "python-requests/0",
    "libwww-perl", "fuzz faster", "nuclei", "httpx - open-source", "jorgee",
    "morfeus", "zmeu",
]
QUERY_BITS = [
    "union select", "<script", "../", "%00", "information_schema", "sleep(",
    "benchmark(", "etc/passwd", "onerror=", "javascript:", "base64_decode",
    "${jndi:", "cmd.exe", "/bin/sh", "xp_cmdshell",
]
COUNTRIES = ["KP", "IR", "SY", "CU", "RU", "BY", "VE", "MM"]
ASNS = [4134, 4837, 9009, 16276, 14061, 24940, 51167, 63949, 202425, 211252]


def rules():
    out = []

    def add(expr, action="block", extra=""):
        out.append((f"r{len(out):03d}", expr, action, extra))

    for p in SCANNER_PATHS:
        add(f"http.request.uri.path matches {toml_str(p)}")
    for a in BAD_AGENTS:
        add(f"lower(http.user_agent) contains {toml_str(a)}")
    for q in QUERY_BITS:
        add(f"lower(url_decode(http.request.uri.query)) contains {toml_str(q)}")
    for m in ["TRACE", "TRACK", "DEBUG", "PROPFIND", "MOVE"]:
        add(f'http.request.method eq "{m}"')
    for c in COUNTRIES:
        add(f'ip.src.country eq "{c}"', "challenge")
    for asn in ASNS:
        add(f"ip.src.asnum eq {asn}", "challenge")
    add("ip.src in $blocklist")
    add('any(http.request.headers["x-forwarded-host"][*] contains "evil")')
    add('len(http.request.headers["cookie"]) > 20')
    add('http.request.body.size > 50000000')
    add('any(http.request.uri.args["id"][*] contains "\'")')
    add('starts_with(http.request.uri.path, "/admin") and not ip.src in {10.0.0.0/8 192.168.0.0/16}')
    add('http.host ne "bench.test" and http.host ne "127.0.0.1"', "log")
    add('len(http.request.uri) > 4000', "log")
    add('http.referer contains "casino"', "log")
    add('http.request.uri.path eq "/old-shop"', "redirect", 'redirect_url = "/shop"\nstatus = 301')
    i = 0
    while len(out) < 100:
        # Per-campaign path blocks, as sites collect them over time.
        add(f'http.request.uri.path eq "/campaign-{i}/exploit"')
        i += 1
    return out


def toml_str(s):
    # A rules-language raw string: regexes keep their backslashes as written.
    return 'r#"' + s + '"#'


def rule_toml(rid, expr, action, extra):
    lines = ["[[site.rules]]", f'id = "{rid}"', f"expression = {toml_expr(expr)}", f'action = "{action}"']
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def toml_expr(expr):
    # Expressions contain double quotes; a TOML multi-line literal string
    # takes them as they are.
    return "'''" + expr + "'''"


LIMITS = [
    ("per-ip", "true", '["ip"]', "10s", 1000000000),
    ("login", 'http.request.uri.path eq "/login"', '["ip"]', "1m", 10),
    ("api-key", 'starts_with(http.request.uri.path, "/api/")', '["header:x-api-key"]', "1m", 6000),
    ("per-prefix", "true", '["ip_prefix", "path"]', "1m", 1000000000),
    ("search", 'http.request.uri.path eq "/search"', '["ip", "query_arg:q"]', "10s", 30),
]


def limit_toml(lid, expr, chars, period, requests):
    return (
        f'[[site.rate_limits]]\nid = "{lid}"\nexpression = {toml_expr(expr)}\n'
        f"characteristics = {chars}\nperiod = \"{period}\"\nrequests = {requests}\n"
    )


def blocklist(path, n=10000):
    rnd = random.Random(7)
    nets = set()
    while len(nets) < n:
        # Public-looking /24s and /32s, never loopback (the benchmark's client).
        a = rnd.choice([23, 45, 62, 77, 91, 103, 141, 176, 185, 193, 203])
        net = ipaddress.ip_network(f"{a}.{rnd.randrange(256)}.{rnd.randrange(256)}.0/24")
        nets.add(str(net) if rnd.random() < 0.5 else str(net.network_address + rnd.randrange(1, 255)))
    with open(path, "w") as f:
        f.write("# benchmark blocklist\n")
        f.write("\n".join(sorted(nets)) + "\n")


def main():
    if len(sys.argv) != 4 or sys.argv[1] != "site-security":
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out, list_file = sys.argv[2], sys.argv[3]
    blocklist(list_file)
    with open(out, "w") as f:
        for rid, expr, action, extra in rules():
            f.write("\n" + rule_toml(rid, expr, action, extra))
        for limit in LIMITS:
            f.write("\n" + limit_toml(*limit))


if __name__ == "__main__":
    main()
