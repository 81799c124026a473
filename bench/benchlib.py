#!/usr/bin/env python3
"""Helpers for bench/proxy.sh: free ports, output parsing, the idle-connection
client, start-up timing and the Markdown report. Standard library only."""

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time


# --------------------------------------------------------------------------
# free ports


def cmd_freeports(args):
    socks = []
    for _ in range(args.n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


# --------------------------------------------------------------------------
# payload


def cmd_payload(args):
    head = "<!doctype html>\n<html><head><title>rampart bench</title></head><body>\n"
    tail = "</body></html>\n"
    line = "<p>The quick brown fox jumps over the lazy dog 0123456789.</p>\n"
    body = head
    while len(body) + len(line) + len(tail) <= args.size:
        body += line
    body += "x" * (args.size - len(body) - len(tail)) + tail
    assert len(body) == args.size
    with open(args.path, "w") as f:
        f.write(body)


# --------------------------------------------------------------------------
# parsing wrk / h2load output

# A run during which either core was more than this % busy with work that is
# not ours (other processes, steal) is flagged as noisy.
NOISE_PCT = 10


def to_ms(value, unit):
    v = float(value)
    return {"us": v / 1000.0, "ms": v, "s": v * 1000.0, "m": v * 60000.0}[unit]


def parse_wrk(text):
    out = {"requests": 0, "rps": 0.0, "p50_ms": None, "p99_ms": None, "errors": []}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % pct, text, re.M)
        if m:
            out[key] = to_ms(m.group(1), m.group(2))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        c, r, w, t = map(int, m.groups())
        if c + r + w + t:
            out["errors"].append(f"socket errors c{c}/r{r}/w{w}/t{t}")
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m and int(m.group(1)):
        out["errors"].append(f"{m.group(1)} non-2xx/3xx")
    if out["requests"] == 0:
        out["errors"].append("no requests completed")
    return out


def parse_h2load(text, logfile):
    out = {"requests": 0, "rps": 0.0, "p50_ms": None, "p99_ms": None, "errors": [],
           "protocol": None, "cipher": None}
    m = re.search(r"finished in ([\d.]+)(\w+), ([\d.]+) req/s", text)
    if m:
        out["rps"] = float(m.group(3))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    if m:
        total, started, done, ok, failed, errored, timeout = map(int, m.groups())
        out["requests"] = done
        if failed or errored or timeout:
            out["errors"].append(f"{failed} failed/{errored} errored/{timeout} timeout")
    else:
        out["errors"].append("no h2load summary")
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if m:
        s2, s3, s4, s5 = map(int, m.groups())
        if s3 + s4 + s5:
            out["errors"].append(f"status 3xx={s3} 4xx={s4} 5xx={s5}")
    m = re.search(r"Application protocol: (\S+)", text)
    if m:
        out["protocol"] = m.group(1)
        if m.group(1) != "h2":
            out["errors"].append(f"ALPN negotiated {m.group(1)}, not h2")
    m = re.search(r"Cipher: (\S+)", text)
    if m:
        out["cipher"] = m.group(1)
    m = re.search(r"TLS Protocol: (\S+)", text)
    if m and out["cipher"]:
        out["cipher"] = f"{m.group(1)} {out['cipher']}"
    # h2load prints no percentiles; its --log-file has one line per request:
    # start time (µs since epoch) <TAB> status <TAB> duration (µs).
    lat = []
    try:
        with open(logfile) as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 3:
                    lat.append(int(parts[2]))
    except OSError:
        pass
    if lat:
        lat.sort()
        out["p50_ms"] = lat[int(0.50 * (len(lat) - 1))] / 1000.0
        out["p99_ms"] = lat[int(0.99 * (len(lat) - 1))] / 1000.0
    if out["requests"] == 0:
        out["errors"].append("no requests completed")
    return out


def cmd_parse(args):
    with open(args.output) as f:
        text = f.read()
    if args.tool == "wrk":
        res = parse_wrk(text)
    else:
        res = parse_h2load(text, args.logfile)
    res.update(proxy=args.proxy, proto=args.proto, round=args.round,
               ticks=args.ticks, clk_tck=args.clk_tck, duration=args.duration,
               other0=max(args.other[0], 0), other1=max(args.other[1], 0))
    res["noisy"] = res["other0"] > NOISE_PCT or res["other1"] > NOISE_PCT
    res["cpu_us_per_req"] = (args.ticks * 1e6 / args.clk_tck / res["requests"]) if res["requests"] and args.ticks >= 0 else None
    res["cpu_pct"] = (args.ticks / args.clk_tck / args.duration * 100.0) if args.ticks >= 0 else None
    with open(args.jsonl, "a") as f:
        f.write(json.dumps(res) + "\n")
    flag = ("  !! " + "; ".join(res["errors"])) if res["errors"] else ""
    flag += f"  (other load core0 {res['other0']}%, core1 {res['other1']}%{' NOISY' if res['noisy'] else ''})"
    cpu = f"{res['cpu_us_per_req']:.1f} µs/req" if res["cpu_us_per_req"] is not None else "n/a"
    p50 = f"{res['p50_ms']:.3f}" if res["p50_ms"] is not None else "?"
    p99 = f"{res['p99_ms']:.3f}" if res["p99_ms"] is not None else "?"
    print(f"    {args.proxy:8s} {args.proto:4s} {res['rps']:10.0f} req/s  p50 {p50} ms  p99 {p99} ms  "
          f"CPU {cpu}{flag}", file=sys.stderr)


# --------------------------------------------------------------------------
# idle keep-alive connections


async def _one_conn(host, port, hostname, sem, conns, failures):
    async with sem:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
            writer.write(f"GET / HTTP/1.1\r\nHost: {hostname}\r\nUser-Agent: rampart-bench-idle\r\n\r\n".encode())
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            status = int(head.split(b" ", 2)[1])
            m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if m:
                await asyncio.wait_for(reader.readexactly(int(m.group(1))), 30)
            else:
                raise RuntimeError("no content-length")
            if re.search(rb"(?im)^connection:\s*close", head):
                raise RuntimeError("server closed keep-alive")
            if status != 200:
                raise RuntimeError(f"status {status}")
            conns.append((reader, writer))
        except Exception as e:  # noqa: BLE001 - we count, not crash
            failures.append(repr(e))


async def _idle(args):
    sem = asyncio.Semaphore(args.concurrency)
    conns, failures = [], []
    t0 = time.monotonic()
    await asyncio.gather(*(_one_conn("127.0.0.1", args.port, args.host, sem, conns, failures)
                           for _ in range(args.n)))
    elapsed = time.monotonic() - t0
    # Check none was closed by the server while the others were opening.
    await asyncio.sleep(1.0)
    alive = sum(1 for r, _ in conns if not r.at_eof())
    with open(args.ready + ".tmp", "w") as f:
        json.dump({"requested": args.n, "ok": len(conns), "alive": alive,
                   "failed": len(failures), "first_failures": failures[:3],
                   "open_seconds": elapsed}, f)
    os.rename(args.ready + ".tmp", args.ready)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), args.hold)
    except asyncio.TimeoutError:
        pass
    for _, w in conns:
        w.close()


def cmd_idle(args):
    asyncio.run(_idle(args))


# --------------------------------------------------------------------------
# timing commands and start-up


def cmd_time_cmd(args):
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        p = subprocess.run(args.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append((time.perf_counter() - t0) * 1000)
        if p.returncode != 0:
            print(json.dumps({"error": f"exit {p.returncode}: {p.stderr.decode()[:300]}"}))
            return
    print(json.dumps({"median_ms": statistics.median(times), "min_ms": min(times), "runs": len(times)}))


def _healthz(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = s.recv(64)
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cmd_spawn_time(args):
    """Spawn the command, poll the admin port for /healthz 200, record the
    time; then SIGTERM and wait. The first run is a warm-up (page cache,
    default certificate generation) and is not counted."""
    times, rss = [], []
    for i in range(args.runs + 1):
        t0 = time.perf_counter()
        p = subprocess.Popen(args.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ok = False
        while time.perf_counter() - t0 < args.timeout:
            if p.poll() is not None:
                break
            if _healthz(args.admin_port):
                ok = True
                break
            time.sleep(0.001)
        t = (time.perf_counter() - t0) * 1000
        r = _rss_kib(p.pid)
        p.send_signal(signal.SIGTERM)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        if not ok:
            print(json.dumps({"error": f"not healthy after {t:.0f} ms: {err.decode()[-300:]}"}))
            return
        if i > 0:
            times.append(t)
            rss.append(r or 0)
    print(json.dumps({"median_ms": statistics.median(times), "min_ms": min(times),
                      "rss_kib": statistics.median(rss), "runs": len(times)}))


# --------------------------------------------------------------------------
# report


def fmt(v, digits=0, unit=""):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}{unit}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def median_of(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def cmd_report(args):
    meta = json.load(open(args.meta))
    runs = [json.loads(l) for l in open(args.runs) if l.strip()] if os.path.exists(args.runs) else []
    extra = json.load(open(args.extra)) if os.path.exists(args.extra) else {}
    L = []
    L.append(f"# Rampart proxy benchmark — {meta['date']}")
    L.append("")
    L.append(f"- access log: **{'ON (files in the temp dir)' if meta['access_log'] else 'off'}** in all three proxies")
    L.append(f"- rampart `{meta['rampart_version']}` (git {meta['git_rev']}), {meta['nginx_version']}, "
             f"{meta['haproxy_version']}, wrk {meta['wrk_version']}, h2load {meta['h2load_version']}")
    L.append(f"- rampart binary: {meta.get('rampart_origin', '?')}")
    L.append(f"- host: {meta['cpu_model']}, {meta['ncpu']} CPUs, kernel {meta['kernel']}")
    L.append(f"- proxies pinned to core 0 (one worker/thread each); origin nginx (1 worker, ~{meta['payload_bytes']} B "
             f"static response) and load generators pinned to core 1")
    L.append(f"- duration {meta['duration']} s per run after a {meta['warmup']} s warm-up, {meta['rounds']} round(s)"
             f"{' (medians shown)' if meta['rounds'] > 1 else ''}; CPU µs/req = Δ(utime+stime) of the proxy "
             f"process(es) / requests completed; CPU % = share of core 0 the proxy used")
    if meta.get("access_lines"):
        L.append(f"- access log lines written (all runs incl. warm-ups): {meta['access_lines']}")
    if meta.get("background_busy_pct", 0) > 10:
        L.append(f"- ⚠ **other processes used {meta['background_busy_pct']:.0f}% of the machine just before the run** — "
                 f"numbers are likely noisy")
    L.append("")

    any_errors = False
    any_noisy = False
    sections = [("h1", f"HTTP/1.1 keep-alive — `wrk -t1 -c{meta['wrk_conns']} -d{meta['duration']}s --latency`, Host: {meta['host']}"),
                ("h2", f"HTTP/2 over TLS — `h2load -c{meta['h2_clients']} -m{meta['h2_streams']} -D{meta['duration']}`, :authority {meta['host']}")]
    for proto, title in sections:
        rows = [r for r in runs if r["proto"] == proto]
        if not rows:
            continue
        L.append(f"## {title}")
        L.append("")
        L.append("| proxy | req/s | p50 ms | p99 ms | CPU µs/req | proxy CPU % | req/s vs nginx | CPU/req vs nginx | errors | other load c0/c1 % |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
        agg = {}
        for name in ["origin", "rampart", "nginx", "haproxy"]:
            rs = [r for r in rows if r["proxy"] == name]
            if not rs:
                continue
            errs = sorted({e for r in rs for e in r["errors"]})
            agg[name] = {k: median_of(rs, k) for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req", "cpu_pct")}
            agg[name]["errors"] = errs
            agg[name]["other"] = "; ".join(f"{r['other0']}/{r['other1']}" for r in rs)
            agg[name]["noisy"] = sum(1 for r in rs if r.get("noisy"))
            agg[name]["n"] = len(rs)
        ng = agg.get("nginx", {})
        for name, a in agg.items():
            if a["errors"]:
                any_errors = True
            label = "origin direct (no proxy)" if name == "origin" else name
            cpu = fmt(a["cpu_us_per_req"], 1) if name != "origin" else "—"
            pct = fmt(a["cpu_pct"], 0) if name != "origin" else "—"
            rr = ratio(a["rps"], ng.get("rps")) if name not in ("origin", "nginx") else ("1.00×" if name == "nginx" else "—")
            cr = ratio(a["cpu_us_per_req"], ng.get("cpu_us_per_req")) if name not in ("origin", "nginx") else ("1.00×" if name == "nginx" else "—")
            err = "⚠ " + "; ".join(a["errors"]) if a["errors"] else "ok"
            noisy = f" ⚠ {a['noisy']}/{a['n']} noisy" if a["noisy"] else ""
            if a["noisy"]:
                any_noisy = True
            L.append(f"| {label} | {fmt(a['rps'])} | {fmt(a['p50_ms'], 3)} | {fmt(a['p99_ms'], 3)} | {cpu} | {pct} | {rr} | {cr} | {err} | {a['other']}{noisy} |")
        if proto == "h2":
            ciphers = sorted({f"{r['proxy']}: {r['cipher']}" for r in rows if r.get("cipher")})
            if ciphers:
                L.append("")
                L.append("TLS: " + ", ".join(ciphers))
        L.append("")
    if any_errors:
        L.append("**⚠ At least one run had errors or non-2xx responses: the numbers of that row are not valid.**")
        L.append("")
    if any_noisy:
        L.append(f"⚠ Runs marked noisy had more than {NOISE_PCT}% of a core taken by other work (other processes, "
                 "VM steal); prefer ratios from quiet runs.")
        L.append("")
    L.append("*other load c0/c1 %*: per round, share of core 0 / core 1 busy with work that is not the proxy, "
             "the origin or the load generator (other processes, steal, unattributed softirq).")
    L.append("")

    idle = extra.get("idle")
    if idle:
        L.append(f"## Memory with {idle[0]['requested']:,} idle keep-alive client connections (HTTP/1.1, one GET each)")
        L.append("")
        L.append("| proxy | RSS before MiB | RSS with conns MiB | Δ KiB/conn | conns alive | established (ss) | RSS 3 s after close MiB | vs nginx (Δ/conn) | notes |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        ng = next((i for i in idle if i["proxy"] == "nginx"), None)
        for i in idle:
            per = (i["rss_with_kib"] - i["rss_before_kib"]) / i["ok"] if i.get("ok") else None
            i["per_conn"] = per
        for i in idle:
            notes = []
            if i.get("failed"):
                notes.append(f"⚠ {i['failed']} failed ({'; '.join(i.get('first_failures', []))[:120]})")
            if i.get("alive", 0) < i.get("requested", 0):
                notes.append(f"⚠ only {i.get('alive')} alive")
            r = ratio(i.get("per_conn"), ng.get("per_conn") if ng else None) if i["proxy"] != "nginx" else "1.00×"
            L.append(f"| {i['proxy']} | {fmt(i['rss_before_kib'] / 1024, 1)} | {fmt(i['rss_with_kib'] / 1024, 1)} | "
                     f"{fmt(i.get('per_conn'), 2)} | {i.get('alive', 0):,} | {i.get('established', 0):,} | "
                     f"{fmt(i['rss_after_kib'] / 1024, 1)} | {r} | {'; '.join(notes) or 'ok'} |")
        L.append("")
        L.append("RSS is VmRSS from /proc (nginx: master + worker). The proxies had already served the throughput runs.")
        L.append("")

    cl = extra.get("config_load")
    if cl:
        L.append("## Rampart configuration load time")
        L.append("")
        L.append("| config | `rampart check-config` median ms | spawn → admin `/healthz` 200, median ms | RSS when ready MiB |")
        L.append("|---|---:|---:|---:|")
        for c in cl:
            chk = c["check"].get("median_ms") if "error" not in c["check"] else None
            sp = c["spawn"].get("median_ms") if "error" not in c["spawn"] else None
            rss = c["spawn"].get("rss_kib") if "error" not in c["spawn"] else None
            err = c["check"].get("error") or c["spawn"].get("error")
            L.append(f"| {c['name']} | {fmt(chk, 1)} | {fmt(sp, 1)} | {fmt(rss / 1024 if rss else None, 1)} |"
                     + (f" ⚠ {err[:100]}" if err else ""))
        L.append("")
        L.append(f"Medians of {cl[0]['spawn'].get('runs', '?')} runs (after one warm-up start), pinned to core 0.")
        L.append("")
    print("\n".join(L))


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("freeports"); p.add_argument("n", type=int); p.set_defaults(f=cmd_freeports)
    p = sub.add_parser("payload"); p.add_argument("path"); p.add_argument("--size", type=int, default=1400); p.set_defaults(f=cmd_payload)
    p = sub.add_parser("parse")
    p.add_argument("--tool", choices=["wrk", "h2load"], required=True)
    p.add_argument("--output", required=True); p.add_argument("--logfile")
    p.add_argument("--proxy", required=True); p.add_argument("--proto", required=True)
    p.add_argument("--round", type=int, default=1)
    p.add_argument("--ticks", type=int, default=-1); p.add_argument("--clk-tck", type=int, default=100)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--other", type=int, nargs=2, default=[0, 0], metavar=("CORE0", "CORE1"),
                   help="%% of each core busy with work that is not ours during the run")
    p.add_argument("--jsonl", required=True)
    p.set_defaults(f=cmd_parse)
    p = sub.add_parser("idle")
    p.add_argument("--port", type=int, required=True); p.add_argument("--host", required=True)
    p.add_argument("-n", type=int, default=10000); p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--ready", required=True); p.add_argument("--hold", type=float, default=300)
    p.set_defaults(f=cmd_idle)
    p = sub.add_parser("time-cmd"); p.add_argument("--runs", type=int, default=5); p.add_argument("cmd", nargs="+"); p.set_defaults(f=cmd_time_cmd)
    p = sub.add_parser("spawn-time"); p.add_argument("--runs", type=int, default=5)
    p.add_argument("--admin-port", type=int, required=True); p.add_argument("--timeout", type=float, default=60)
    p.add_argument("cmd", nargs="+"); p.set_defaults(f=cmd_spawn_time)
    p = sub.add_parser("report"); p.add_argument("--meta", required=True); p.add_argument("--runs", required=True)
    p.add_argument("--extra", required=True); p.set_defaults(f=cmd_report)
    args = ap.parse_args()
    args.f(args)


if __name__ == "__main__":
    main()
