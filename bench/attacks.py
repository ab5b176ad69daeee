#!/usr/bin/env python3
"""Chat latency of 50 honest clients while the server is attacked (issue 8's benchmark row).

Usage: python3 bench/attacks.py [--runs 3] [--seconds 10]

For each run, and for each situation (no attack, a password brute force, a connection flood),
starts a fresh release server with the default configuration on a free loopback port, runs
`classcord-bench fanout --clients 50 --senders 10 --rate 100` as the honest class (all from
127.0.0.1), and meanwhile the attack from other loopback addresses:
- brute force: 4 attackers (127.0.0.50-53) send logins with wrong passwords as fast as the
  server answers them (the attempt limits then delay and refuse them);
- connection flood: 4 attackers (127.0.0.60-63) open and close connections as fast as they can
  (the per-address rate refuses most of them).
Prints the medians of the honest chat's p50 / p99 latency and what the attackers achieved.
Loopback only; every loop is bounded in time.
"""

import argparse
import json
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import benchmarks  # noqa: E402  (same folder: server start and stop helpers)


def brute_force(addr, source, stop, counts):
    host, port = addr.rsplit(":", 1)
    while not stop.is_set():
        try:
            with socket.create_connection((host, int(port)), timeout=5,
                                          source_address=(source, 0)) as conn:
                reader = conn.makefile("rb")
                for n in range(1000):
                    if stop.is_set():
                        return
                    line = json.dumps({"type": "login", "username": "eleve1",
                                       "password": f"essai{n}"}) + "\n"
                    conn.sendall(line.encode())
                    reply = reader.readline()
                    if not reply:
                        break
                    counts["attempts"] += 1
                    if b"r\\u00e9essayez" in reply:
                        counts["refused"] += 1
        except OSError:
            counts["errors"] += 1
            time.sleep(0.01)


def connection_flood(addr, source, stop, counts):
    host, port = addr.rsplit(":", 1)
    while not stop.is_set():
        try:
            with socket.create_connection((host, int(port)), timeout=5,
                                          source_address=(source, 0)) as conn:
                conn.settimeout(0.01)
                counts["attempts"] += 1
                try:
                    if b"refus" in conn.recv(4096):
                        counts["refused"] += 1
                except OSError:
                    pass
        except OSError:
            counts["errors"] += 1


ATTACKS = {
    "none": None,
    "brute_force": (brute_force, ["127.0.0.50", "127.0.0.51", "127.0.0.52", "127.0.0.53"]),
    "connection_flood": (connection_flood, ["127.0.0.60", "127.0.0.61", "127.0.0.62",
                                            "127.0.0.63"]),
}


def one_run(attack, seconds):
    proc, addr = benchmarks.start_server("")
    stop = threading.Event()
    counts = {"attempts": 0, "refused": 0, "errors": 0}
    threads = []
    try:
        if ATTACKS[attack]:
            function, sources = ATTACKS[attack]
            for source in sources:
                thread = threading.Thread(target=function, args=(addr, source, stop, counts),
                                          daemon=True)
                thread.start()
                threads.append(thread)
            time.sleep(1)  # the attack is under way before the class chats
        out = subprocess.run([benchmarks.BENCH, "fanout", "--clients", "50", "--senders", "10",
                              "--rate", "100", "--duration", str(seconds), "--addr", addr,
                              "--pid", str(proc.pid)],
                             capture_output=True, text=True, timeout=seconds + 120)
        report = json.loads(out.stdout[out.stdout.index("{"):])
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        benchmarks.stop(proc)
    return report, dict(counts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    options = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-p", "classcord", "-p", "classcord-bench"],
                   cwd=benchmarks.ROOT, check=True)
    results = {name: [] for name in ATTACKS}
    for run in range(options.runs):
        for name in ATTACKS:
            print(f"run {run + 1}/{options.runs}: {name}", file=sys.stderr)
            results[name].append(one_run(name, options.seconds))
    print("| situation | honest chat p50 / p99 (median of %d) | lost | attackers: attempts, "
          "refused |" % options.runs)
    print("|---|---|---|---|")
    for name, runs in results.items():
        p50 = statistics.median(r["latency_us"]["p50"] for r, _ in runs) / 1000
        p99 = statistics.median(r["latency_us"]["p99"] for r, _ in runs) / 1000
        lost = sum(r.get("lost", 0) for r, _ in runs)
        attempts = statistics.median(c["attempts"] for _, c in runs)
        refused = statistics.median(c["refused"] for _, c in runs)
        print(f"| {name} | {p50:.2f} / {p99:.2f} ms | {lost} | {attempts:.0f}, {refused:.0f} |")


if __name__ == "__main__":
    main()
