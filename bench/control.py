#!/usr/bin/env python3
"""Control-plane benchmark: many sites in the store, snapshot rebuild time and
memory, and admin API read latency under concurrent clients.

Usage: bench/control.py --bin target/release/rampart [--sites 10000]
                        [--api-seconds 10] [--api-clients 50] [--out FILE]

Standard library only, plus `wrk` and `taskset` (Debian packages) for the API
latency run. Rampart runs pinned to core 0, the load generator to core 1.
"""

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time


def free_ports(n):
    # Below the ephemeral range, so no outgoing connection can take one first.
    ports = []
    for port in range(20000 + os.getpid() % 5000, 32000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == n:
            return ports
    raise SystemExit("no free ports")


class Rampart:
    def __init__(self, binary, workdir):
        self.binary = binary
        self.dir = workdir
        self.http, self.https, self.admin = free_ports(3)
        self.config = os.path.join(workdir, "rampart.toml")
        with open(self.config, "w") as f:
            f.write(
                f'[node]\nid = "bench"\ndata_dir = "data"\n\n'
                f'[listen]\nhttp = "127.0.0.1:{self.http}"\nhttps = "127.0.0.1:{self.https}"\n'
                f'admin = "127.0.0.1:{self.admin}"\n\n[log]\naccess = "off"\n'
            )
        self.proc = None
        self.stderr_path = os.path.join(workdir, "stderr.log")

    def start(self):
        self.stderr = open(self.stderr_path, "w")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0", self.binary, "serve", "--config", self.config],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            env={**os.environ, "RAMPART_LOG": "info"},
        )
        while time.monotonic() - started < 120:
            if self.healthz() is not None:
                return time.monotonic() - started
            time.sleep(0.01)
        raise SystemExit("rampart did not become ready")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.stderr.close()
            self.proc = None

    def healthz(self):
        try:
            return self.call("GET", "/healthz")[1]
        except OSError:
            return None

    def call(self, method, path, body=None, token=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=60)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, json.loads(data) if data else None

    def token(self):
        with open(self.stderr_path) as f:
            for line in f:
                if line.startswith("admin token: "):
                    return line.split(": ", 1)[1].strip()
        raise SystemExit("no admin token printed")

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def rebuild_times_ms(self):
        with open(self.stderr_path) as f:
            text = re.sub(r"\x1b\[[0-9;]*m", "", f.read())
        return [int(m) for m in re.findall(r"elapsed_ms=(\d+)", text)]


def populate(rampart, token, account, count, threads=8):
    def create(i):
        status, body = rampart.call(
            "POST",
            f"/api/v1/sites?account_id={account}",
            {
                "name": f"site-{i}",
                "hosts": [f"site-{i}.bench.test", f"*.site-{i}.bench.test"],
                "origins": [f"http://127.0.0.1:{10000 + i % 1000}"],
                "health": None,
            },
            token,
        )
        if status != 201:
            with open(rampart.stderr_path) as f:
                tail = f.read()[-3000:]
            raise SystemExit(f"create site-{i}: {status} {body}\n{tail}")
        return body["id"]

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        ids = list(pool.map(create, range(count)))
    return ids, time.monotonic() - started


def wait_sites(rampart, count, timeout=300):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        health = rampart.healthz()
        if health and health.get("sites") == count:
            return health
        time.sleep(0.05)
    raise SystemExit(f"edge never reached {count} sites")


def measure_rebuild(rampart, token, site_id, rounds=5):
    """Time from an API write to the edge running a snapshot that has it."""
    times = []
    for n in range(rounds):
        before = rampart.healthz()["snapshot_version"]
        started = time.monotonic()
        status, body = rampart.call(
            "PATCH", f"/api/v1/sites/{site_id}", {"retries": n % 3}, token
        )
        if status != 200:
            raise SystemExit(f"patch: {status} {body}")
        while rampart.healthz()["snapshot_version"] == before:
            time.sleep(0.002)
        times.append((time.monotonic() - started) * 1000)
    return times


def api_latency(rampart, token, ids, seconds, clients):
    script = os.path.join(rampart.dir, "reads.lua")
    paths = ", ".join(f'"/api/v1/sites/{i}"' for i in ids[:200])
    with open(script, "w") as f:
        f.write(
            f"local paths = {{{paths}}}\nlocal n = 0\n"
            "request = function()\n  n = n + 1\n"
            "  return wrk.format('GET', paths[(n % #paths) + 1])\nend\n"
        )
    out = subprocess.run(
        [
            "taskset", "-c", "1", "wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds}s",
            "--latency", "-s", script, "-H", f"Authorization: Bearer {token}",
            f"http://127.0.0.1:{rampart.admin}",
        ],
        capture_output=True, text=True, check=True,
    ).stdout
    result = {"raw": out}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", out, re.M)
        if m:
            value, unit = float(m.group(1)), m.group(2)
            result[f"p{pct}_ms"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] = int(m.group(1)) if m else 0
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--sites", type=int, default=10000)
    parser.add_argument("--api-seconds", type=int, default=10)
    parser.add_argument("--api-clients", type=int, default=50)
    parser.add_argument("--out")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rampart-control-bench-") as workdir:
        rampart = Rampart(os.path.abspath(args.bin), workdir)
        try:
            results = run(rampart, args)
        finally:
            rampart.stop()
    report(args, *results)


def run(rampart, args):
    rampart.start()
    token = rampart.token()
    rss_empty = rampart.rss_mib()
    _, account = rampart.call("POST", "/api/v1/accounts", {"name": "bench"}, token)
    ids, populate_s = populate(rampart, token, account["id"], args.sites)
    wait_sites(rampart, args.sites)
    rebuild_ms = measure_rebuild(rampart, token, ids[len(ids) // 2])
    latency = api_latency(rampart, token, ids, args.api_seconds, args.api_clients)
    server_rebuild_ms = rampart.rebuild_times_ms()[-len(rebuild_ms):]
    rampart.stop()

    # A fresh process on the full store: start-up compile and memory with
    # no garbage from the population phase.
    start_s = rampart.start()
    wait_sites(rampart, args.sites)
    rss_full = rampart.rss_mib()
    rampart.stop()
    return populate_s, rebuild_ms, latency, start_s, rss_empty, rss_full, server_rebuild_ms


def report(args, populate_s, rebuild_ms, latency, start_s, rss_empty, rss_full, server_rebuild_ms):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Control plane benchmark, {now}, commit {commit}",
        "",
        "Machine: 2 shared cores; rampart pinned to core 0, wrk to core 1. SQLite store (embedded default).",
        "",
        "| Measure | Result | Target |",
        "|---|---:|---:|",
        f"| Sites in the store | {args.sites} | 10,000 |",
        f"| Populating through the API (8 clients) | {populate_s:.1f} s ({args.sites / populate_s:.0f} sites/s) | |",
        f"| Snapshot rebuild after one API write, median of {len(rebuild_ms)} (write to edge) | {statistics.median(rebuild_ms):.0f} ms | < 2,000 ms |",
        f"| Snapshot rebuild, slowest of those | {max(rebuild_ms):.0f} ms | |",
        f"| Restart with {args.sites} sites: start to healthy | {start_s * 1000:.0f} ms | |",
        f"| RSS with no sites | {rss_empty:.1f} MiB | |",
        f"| RSS after a fresh start with {args.sites} sites | {rss_full:.1f} MiB | |",
        f"| Snapshot memory (difference) | {rss_full - rss_empty:.1f} MiB | < 200 MiB |",
        f"| API site reads, {args.api_clients} concurrent clients: p50 | {latency.get('p50_ms', float('nan')):.2f} ms | |",
        f"| API site reads, {args.api_clients} concurrent clients: p99 | {latency.get('p99_ms', float('nan')):.2f} ms | < 50 ms |",
        f"| API site reads: throughput | {latency['rps']:.0f} req/s | |",
        f"| API site reads: non-2xx responses | {latency['errors']} | 0 |",
        "",
        "The same rebuilds as the server logged them (compile every site and swap, ms): "
        + ", ".join(str(t) for t in server_rebuild_ms),
        "",
        "<details><summary>wrk output</summary>",
        "",
        "```",
        latency["raw"].strip(),
        "```",
        "</details>",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
