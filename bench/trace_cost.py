#!/usr/bin/env python3
"""What the live protocol trace costs the fan-out (BENCHMARKS.md, issue 16).

Usage: python3 bench/trace_cost.py [--runs 3] [--seconds 5] [--before PATH]

Rows, interleaved run by run (so a shared machine's drifts hit them alike), each against a fresh
server with the `saturated` row's settings of benchmarks.py (200 clients, 10 senders, rate 0):
- `before`: the server binary at PATH (a build without the trace), if given;
- `no_trace`: this tree's release server, no trace running;
- `traced`: the same, with `classcord admin trace bench0` following sender 0 (its lines in and
  out, printed to /dev/null by the real console) for the whole run.
Prints the medians of deliveries/s and deliveries per server CPU-second, and the ratios.
Loopback only; every run is bounded in time.
"""

import argparse
import os
import subprocess
import sys
import time

import benchmarks

ADMIN_TIMEOUT = 10


def traced_run(args):
    """One fan-out with a trace on the first sender's name, started before it connects."""
    proc, addr = benchmarks.start_server(benchmarks.CONFIGS["server"])
    data = proc.args[proc.args.index("--data") + 1]
    log_path = os.path.join(os.path.dirname(data), "server.log")
    shown_path = os.path.join(os.path.dirname(data), "trace.txt")
    shown = open(shown_path, "wb")
    follower = subprocess.Popen(
        [benchmarks.SERVER, "admin", "--data", data, "trace", "bench0", "1", "h"],
        stdout=shown, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        deadline = time.time() + ADMIN_TIMEOUT
        while ": trace bench0" not in open(log_path, encoding="utf-8", errors="replace").read():
            if time.time() > deadline:
                raise RuntimeError("the trace did not start")
            time.sleep(0.05)
        time.sleep(0.2)
        out = subprocess.run([benchmarks.BENCH] + args + ["--addr", addr, "--pid", str(proc.pid)],
                             capture_output=True, text=True, timeout=300)
        text = out.stdout.strip()
        report = benchmarks.json.loads(text[text.index("{"):]) if "{" in text else {}
        report["exit_code"] = out.returncode
        return report
    finally:
        follower.kill()
        follower.wait()
        shown.close()
        text = open(shown_path, encoding="utf-8", errors="replace").read()
        print(f"  trace: {text.count(' >> ')} lines in, {text.count(' << ')} out, "
              f"{text.count('lignes perdues')} loss markers, "
              f"{'ENDED EARLY' if 'fin de la trace' in text else 'still running at the end'}",
              file=sys.stderr)
        benchmarks.stop(proc)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", default="5")
    parser.add_argument("--before", help="a server binary built without the trace")
    options = parser.parse_args()
    benchmarks.build_release()
    args = benchmarks.saturated(options.seconds) + ["--check"]
    ours = benchmarks.SERVER
    rows = (["before"] if options.before else []) + ["no_trace", "traced"]
    results = {row: [] for row in rows}
    for run in range(options.runs):
        for row in rows:
            print(f"run {run + 1}/{options.runs}: {row}", file=sys.stderr)
            benchmarks.SERVER = options.before if row == "before" else ours
            if row == "traced":
                report = traced_run(args)
            else:
                report = benchmarks.bench("server", args)
            benchmarks.SERVER = ours
            if report.get("exit_code") != 0 or report.get("lost", 1) != 0:
                print(f"  run not clean: {report}", file=sys.stderr)
            results[row].append(report)

    def med(row, key):
        return benchmarks.median([r.get(key) for r in results[row]])

    print("| row | deliveries/s | per server CPU-s | runs (per server CPU-s, M) |")
    print("|---|---|---|---|")
    for row in rows:
        each = " / ".join(f"{r.get('deliveries_per_server_cpu_s', 0) / 1e6:.2f}"
                          for r in results[row])
        print(f"| {row} | {med(row, 'deliveries_per_sec') / 1e6:.2f} M | "
              f"{med(row, 'deliveries_per_server_cpu_s') / 1e6:.2f} M | {each} |")
    base = med("no_trace", "deliveries_per_server_cpu_s")
    for row in rows:
        if row != "no_trace":
            ratio = med(row, "deliveries_per_server_cpu_s") / base
            print(f"{row} / no_trace (per server CPU-s): {ratio:.3f}")


if __name__ == "__main__":
    main()
