#!/usr/bin/env python3
"""Fan-out with half the clients on WebSocket against all on TCP (BENCHMARKS.md, issue 16).

Usage: python3 bench/websocket_fanout.py [--runs 3] [--seconds 3]

Two rows, interleaved run by run (so a shared machine's drifts hit them alike), each against a
fresh release server with the `saturated` row's settings of benchmarks.py (200 clients, 10
senders, rate 0, defences on) and its web port on loopback:
- `tcp`: every client on the chat port;
- `half_websocket`: clients 1, 3, 5... connect to the web port as the chat page does (WebSocket
  on /ws, one JSON object per text frame, masked frames from the client), the others on TCP;
  so half the senders and half the receivers are browsers.
Prints the medians of deliveries/s and deliveries per server CPU-second, and the ratio.
Loopback only; every run is bounded in time.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import benchmarks


def start_server():
    """A release server with its chat and web ports on free loopback ports."""
    data = tempfile.mkdtemp(prefix="classcord-bench-ws-")
    log_path = os.path.join(data, "server.log")
    log = open(log_path, "wb")
    config = os.path.join(data, "classcord.toml")
    with open(config, "w") as out:
        out.write(benchmarks.DEFENCES_ON)
    proc = subprocess.Popen(
        [benchmarks.SERVER, "serve", "--log", "console", "--listen", "127.0.0.1:0",
         "--web-listen", "127.0.0.1:0", "--data", os.path.join(data, "db"), "--config", config],
        stdout=subprocess.DEVNULL, stderr=log)
    proc.folder = data  # removed by benchmarks.stop()
    deadline = time.time() + 10
    while time.time() < deadline:
        text = open(log_path, encoding="utf-8", errors="replace").read()
        chat = re.search(r"écoute sur (127\.0\.0\.1:\d+)", text)
        web = re.search(r"page web sur (127\.0\.0\.1:\d+)", text)
        if chat and web:
            return proc, chat.group(1), web.group(1)
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start:\n" + open(log_path).read())


def run(args):
    proc, addr, web = start_server()
    try:
        out = subprocess.run([benchmarks.BENCH] + args(web) + ["--addr", addr,
                                                              "--pid", str(proc.pid)],
                             capture_output=True, text=True, timeout=300)
        text = out.stdout.strip()
        report = benchmarks.json.loads(text[text.index("{"):]) if "{" in text else {}
        report["exit_code"] = out.returncode
        if out.returncode != 0:
            print(f"  bench failed: {out.stderr.strip()[-500:]}", file=sys.stderr)
        return report
    finally:
        benchmarks.stop(proc)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", default="3")
    options = parser.parse_args()
    benchmarks.build_release()
    base = benchmarks.saturated(options.seconds) + ["--check"]
    rows = {
        "tcp": lambda web: base,
        "half_websocket": lambda web: base + ["--web-addr", web, "--websocket-every", "2"],
    }
    results = {row: [] for row in rows}
    for number in range(options.runs):
        for row, args in rows.items():
            print(f"run {number + 1}/{options.runs}: {row}", file=sys.stderr)
            report = run(args)
            if report.get("exit_code") != 0 or report.get("lost", 1) != 0:
                print(f"  run not clean: {report}", file=sys.stderr)
            results[row].append(report)

    def med(row, key):
        return benchmarks.median([r.get(key) for r in results[row]])

    print("| row | deliveries/s | per server CPU-s | per bench CPU-s | latency p50 | "
          "runs (per server CPU-s, M) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        each = " / ".join(f"{(r.get('deliveries_per_server_cpu_s') or 0) / 1e6:.2f}"
                          for r in results[row])
        p50 = benchmarks.median([(r.get("latency_us") or {}).get("p50") for r in results[row]])
        print(f"| {row} | {(med(row, 'deliveries_per_sec') or 0) / 1e6:.2f} M | "
              f"{(med(row, 'deliveries_per_server_cpu_s') or 0) / 1e6:.2f} M | "
              f"{(med(row, 'deliveries_per_bench_cpu_s') or 0) / 1e6:.2f} M | "
              f"{(p50 or 0) / 1000:.1f} ms | {each} |")
    for key in ("deliveries_per_server_cpu_s", "deliveries_per_sec",
                "deliveries_per_bench_cpu_s"):
        ratio = med("half_websocket", key) / med("tcp", key)
        print(f"half_websocket / tcp ({key}): {ratio:.3f}")


if __name__ == "__main__":
    main()
