#!/usr/bin/env python3
"""Helpers for bench/waf.sh: request bodies, wrk scripts, the ModSecurity
configuration and the Markdown report. Standard library only."""
import json
import os
import statistics
import sys

HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.5",
    "Accept-Encoding": "gzip, deflate, br",
}


def form_body():
    """About 2 KB of ordinary form fields (as crates/rampart-waf/benches/crs.rs)."""
    body = "name=Jane+Doe&email=jane.doe%40example.com&subject=Order+12345"
    i = 0
    while len(body) < 2000:
        body += (f"&item{i}=Blue+cotton+shirt+size+M&qty{i}=2"
                 f"&note{i}=Please+deliver+after+5pm+to+the+back+door")
        i += 1
    return body


def json_body():
    """About 20 KB of ordinary JSON (as crates/rampart-waf/benches/crs.rs)."""
    items, n, i = [], 0, 0
    while n < 20000:
        item = (f'{{"id":{i},"sku":"SKU-{i:05}","name":"Blue cotton shirt {i}","price":19.99,'
                f'"tags":["summer","cotton","men"],"stock":{{"warehouse":"north","count":{i * 7 % 113}}},'
                f'"description":"A light shirt for warm days, machine washable at 30 degrees"}}')
        n += len(item) + 1
        items.append(item)
        i += 1
    return '{"order":"A-2026-11-28","customer":"jane.doe@example.com","items":[%s]}' % ",".join(items)


WORKLOADS = {
    "get": ("GET", "/products/shirts?colour=blue&size=m&page=2", None, None),
    "form": ("POST", "/checkout", "application/x-www-form-urlencoded", form_body),
    "json": ("POST", "/api/orders", "application/json", json_body),
}


def lua_str(s):
    return json.dumps(s)  # a JSON string is a valid Lua string literal here (ASCII only)


def cmd_scripts(outdir, host):
    """wrk scripts and the bodies (for curl checks) of the three workloads."""
    for name, (method, path, ctype, body) in WORKLOADS.items():
        lines = [f"wrk.method = {lua_str(method)}", f"wrk.path = {lua_str(path)}",
                 f"wrk.headers[\"Host\"] = {lua_str(host)}"]
        for k, v in HEADERS.items():
            lines.append(f"wrk.headers[{lua_str(k)}] = {lua_str(v)}")
        if body:
            text = body()
            lines.append(f"wrk.headers[\"Content-Type\"] = {lua_str(ctype)}")
            lines.append(f"wrk.body = {lua_str(text)}")
            with open(os.path.join(outdir, f"{name}.body"), "w") as f:
                f.write(text)
        with open(os.path.join(outdir, f"{name}.lua"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print(name, method, path, ctype or "-", len(body()) if body else 0)


def cmd_modsec(path, crs):
    """ModSecurity v3 at the CRS's defaults (PL1, inbound threshold 5):
    the engine and body settings of modsecurity.conf-recommended, then
    crs-setup.conf.example and rules/*.conf, read from the CRS directory."""
    conf = f"""SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecRequestBodyJsonDepthLimit 512
SecArgumentsLimit 1000
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\\+|/)|text/)xml" \\
     "id:'200000',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" \\
     "id:'200001',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_ERROR "!@eq 0" \\
"id:'200002', phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{{reqbody_error_msg}}',severity:2"
SecResponseBodyAccess Off
SecTmpDir /tmp/
SecDataDir /tmp/
SecAuditEngine Off
SecDebugLogLevel 0
SecArgumentSeparator &
SecCookieFormat 0
SecUnicodeMapFile /etc/modsecurity/unicode.mapping 20127
SecStatusEngine Off
Include {crs}/crs-setup.conf.example
Include {crs}/rules/*.conf
"""
    if not os.path.exists("/etc/modsecurity/unicode.mapping"):
        conf = conf.replace("SecUnicodeMapFile /etc/modsecurity/unicode.mapping 20127\n", "")
    with open(path, "w") as f:
        f.write(conf)


NAMES = {"modsec": "nginx + ModSecurity v3 + CRS", "nginx": "nginx (plain)",
         "waf": "Rampart + CRS", "plain": "Rampart (plain)"}
WL = {"get": "(a) benign GET", "form": "(b) 2 KB urlencoded POST", "json": "(c) 20 KB JSON POST"}


def cmd_report(results, out, meta_path):
    meta = json.load(open(meta_path))
    rows = [l.rstrip("\n").split("\t") for l in open(results) if l.strip()]
    # variant workload round rps reqs cpu_us cpu_pct errors p50 p99

    def med(v, w, col):
        xs = [float(r[col]) for r in rows if r[0] == v and r[1] == w and r[col] not in ("", "-")]
        return statistics.median(xs) if xs else 0.0

    o = []
    o.append("# WAF benchmark: Rampart + OWASP CRS vs nginx + ModSecurity v3")
    o.append("")
    o.append(f"Run: {meta['stamp']}, rampart {meta['rev']} (binary `{meta['bin']}`), CRS {meta['crs_version']} from `{meta['crs']}`, "
             f"{meta['modsec']}, nginx {meta['nginx']}; {meta['rounds']} round(s) of {meta['duration']} s (+{meta['warmup']} s warm-up) "
             f"per proxy and workload; load average before/after: {meta['load_before']} / {meta['load_after']}.")
    o.append("")
    o.append("| workload | proxy | req/s | CPU µs/req | proxy CPU % | p50 ms | p99 ms | errors |")
    o.append("|---|---|---:|---:|---:|---:|---:|---|")
    for w in WL:
        for v in NAMES:
            if not any(r[0] == v and r[1] == w for r in rows):
                continue
            errs = sorted({r[7] for r in rows if r[0] == v and r[1] == w and r[7]}) or ["ok"]
            o.append(f"| {WL[w]} | {NAMES[v]} | {med(v, w, 3):,.0f} | {med(v, w, 5):,.1f} | {med(v, w, 6):.0f} | "
                     f"{med(v, w, 8):.2f} | {med(v, w, 9):.2f} | {', '.join(errs)} |")
    o.append("")
    o.append("Ratios: req/s, and CPU µs per request inverted (other ÷ Rampart) so that higher is better for both:")
    o.append("")
    o.append("| ratio | workload | req/s ratio | CPU ratio | target |")
    o.append("|---|---|---:|---:|---|")

    def ratio(a, b, w, target, what):
        ra = med(a, w, 3) / med(b, w, 3) if med(b, w, 3) else 0
        ca = med(b, w, 5) / med(a, w, 5) if med(a, w, 5) else 0
        ok = "" if target is None else (f"≥ {target}× " + ("✓" if ra >= target else "✗"))
        o.append(f"| {what} | {WL[w]} | {ra:,.1f}× | {ca:,.1f}× | {ok} |")

    ratio("waf", "modsec", "get", 25, "Rampart+CRS ÷ nginx+ModSecurity")
    ratio("waf", "modsec", "form", 25, "Rampart+CRS ÷ nginx+ModSecurity")
    ratio("waf", "modsec", "json", 100, "Rampart+CRS ÷ nginx+ModSecurity")
    ra = med("waf", "get", 3) / med("plain", "get", 3) if med("plain", "get", 3) else 0
    ca = med("plain", "get", 5) / med("waf", "get", 5) if med("waf", "get", 5) else 0
    o.append(f"| Rampart+CRS ÷ Rampart plain | {WL['get']} | {ra:.2f} | {ca:.2f} | ≥ 0.5 {'✓' if ra >= 0.5 else '✗'} |")
    for w in ("form", "json"):
        ra = med("waf", w, 3) / med("plain", w, 3) if med("plain", w, 3) else 0
        ca = med("plain", w, 5) / med("waf", w, 5) if med("waf", w, 5) else 0
        o.append(f"| Rampart+CRS ÷ Rampart plain | {WL[w]} | {ra:.2f} | {ca:.2f} | |")
    o.append("")
    o.append("Every run:")
    o.append("")
    o.append("| proxy | workload | round | req/s | requests | CPU µs/req | proxy CPU % | errors |")
    o.append("|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        o.append(f"| {NAMES[r[0]]} | {r[1]} | {r[2]} | {float(r[3]):,.0f} | {r[4]} | {r[5]} | {r[6]} | {r[7] or '-'} |")
    text = "\n".join(o) + "\n"
    with open(out, "w") as f:
        f.write(text)
    print(text)


def main():
    cmd = sys.argv[1]
    if cmd == "scripts":
        cmd_scripts(sys.argv[2], sys.argv[3])
    elif cmd == "modsec":
        cmd_modsec(sys.argv[2], sys.argv[3])
    elif cmd == "report":
        cmd_report(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
