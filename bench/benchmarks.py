#!/usr/bin/env python3
"""The project's benchmark command: every row of BENCHMARKS.md, three runs each, medians.

Usage: python3 bench/benchmarks.py [--runs 3] [--quick] [--raw results.json] [--no-peers]
                                   [--before PATH]

Builds the release server and classcord-bench, then for every run starts a fresh server on a free
loopback port with its own data folder, runs classcord-bench against it and stops it. The bench's
own fake fan-out server is measured the same way, as the floor/ceiling reference of the machine.
Prints a Markdown table (medians) to stdout. Loopback only; every run is bounded in time.

The peers' rows (issue 17): the same chatload workloads (../shared/tools/chatload, built outside its
read-only folder; CHATLOAD_TARGET names that target folder) against ClassCord, chatload's trivial
relay, and InspIRCd and ngIRCd when installed (`apt-get install inspircd ngircd`), each started
fresh with its per-address limits lifted. Rows whose tool or daemon is missing are left out.

`--before PATH`: a second ClassCord binary (an older build) measured in the same run: every row
that runs a ClassCord server gets a twin `ROW@before` against PATH, run right after it, and a
last table gives each pair's headline figure and the after / before ratio.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "target", "release", "classcord")
BENCH = os.path.join(ROOT, "target", "release", "classcord-bench")


def start_server(config_text=None, binary=SERVER):
    data = tempfile.mkdtemp(prefix="classcord-bench-")
    log_path = os.path.join(data, "server.log")
    log = open(log_path, "wb")
    extra = []
    if config_text is not None:
        config = os.path.join(data, "classcord.toml")
        with open(config, "w") as out:
            out.write(config_text)
        extra = ["--config", config]
    proc = subprocess.Popen(
        [binary, "serve", "--log", "console", "--listen", "127.0.0.1:0", "--data",
         os.path.join(data, "db")] + extra,
        stdout=subprocess.DEVNULL, stderr=log)
    proc.folder = data  # removed by stop()
    deadline = time.time() + 10
    while time.time() < deadline:
        text = open(log_path, encoding="utf-8", errors="replace").read()
        found = re.search(r"écoute sur (127\.0\.0\.1:\d+)", text)
        if found:
            return proc, found.group(1)
        time.sleep(0.05)
    message = "server did not start:\n" + open(log_path).read()
    proc.kill()
    proc.wait()
    shutil.rmtree(data, ignore_errors=True)
    raise RuntimeError(message)


def start_fake():
    proc = subprocess.Popen([BENCH, "fake-server", "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    found = re.search(r"(127\.0\.0\.1:\d+)", line)
    if not found:
        proc.kill()
        raise RuntimeError("fake server did not start: " + line)
    return proc, found.group(1)


def stop(proc, sig=signal.SIGTERM, timeout=15):
    """Stops a process the scripts started (`sig`, then SIGKILL after `timeout` s) and removes
    the temporary folder recorded on it, if any."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    folder = getattr(proc, "folder", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


# Every defence on (allowlist, per-address caps and rates, line rate, deadlines, attempt limits),
# with the limits sized above the bench's own legitimate load: it sends thousands of lines a
# second per sender and opens up to 10,000 connections from one address. Every check still runs
# on every connection and every line, so the rows measure what the defences cost.
DEFENCES_ON = ("[security]\nmessages_per_second = 1000000\nmessages_burst = 1000000\n"
               "max_connections_per_ip = 20000\nnew_connections_per_minute = 1000000\n"
               "new_connections_burst = 20000\n")
# Every defence off: the baseline of the defences rows.
DEFENCES_OFF = ("[security]\nallow = [\"0.0.0.0/0\", \"::/0\"]\nmessages_per_second = 0\n"
                "max_connections_per_ip = 0\nnew_connections_per_minute = 0\n"
                "identify_timeout_secs = 0\npartial_line_timeout_secs = 0\n")
# Chat history off: nothing goes to the store thread (the persistence baseline).
NO_HISTORY = DEFENCES_ON + "[storage]\nkeep_history = false\n"
# The peers' rows: chatload's clients register and log in from one address, 200 at once.
PEER_LIMITS = DEFENCES_ON + "registrations_burst = 1000000\nchecks_in_flight_per_ip = 10000\n"
CONFIGS = {"server": DEFENCES_ON, "server_no_history": NO_HISTORY,
           "server_no_defences": DEFENCES_OFF, "server_peers": PEER_LIMITS}

CHATLOAD_TARGET = os.environ.get(
    "CHATLOAD_TARGET", os.path.join(ROOT, "..", "shared", "tools", "chatload", "target"))
CHATLOAD = os.path.join(CHATLOAD_TARGET, "release", "chatload")
RELAY = os.path.join(CHATLOAD_TARGET, "release", "examples", "fanout_server")

# The IRC daemons with every per-client and per-address limit out of the way of the load.
NGIRCD_CONF = """[Global]
\tName = peers.localhost
\tInfo = benchmark
\tListen = 127.0.0.1
\tPorts = {port}
\tMotdPhrase = "benchmark"
\tPidFile = {folder}/ngircd.pid
[Limits]
\tMaxConnections = 0
\tMaxConnectionsIP = 0
\tMaxJoins = 0
\tMaxPenaltyTime = 0
\tPingTimeout = 600
\tPongTimeout = 120
[Options]
\tDNS = no
\tIdent = no
\tPAM = no
"""
INSPIRCD_CONF = """<server name="peers.localhost" description="benchmark" network="peers">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect name="all" allow="127.0.0.1" maxchans="100" timeout="60" pingfreq="600"
 hardsendq="67108864" softsendq="8388608" recvq="65536" threshold="1000000"
 commandrate="1000000000" fakelag="no" localmax="100000" globalmax="100000"
 maxconnwarn="no" resolvehostnames="no" useident="no" limit="100000">
<dns server="127.0.0.1" timeout="1">
<performance softlimit="100000" somaxconn="4096" clonesonconnect="no" timeskipwarn="0">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{folder}/ircd.log">
"""

# chatload workloads of issue 17 (saturated with 10 and 200 senders, a busy class at 1000 msg/s).
# chatload's clients do not announce `no-hold`: the 2.5 s pause after the last login lets
# ClassCord's login hold (docs/PROTOCOL.md §2.4) end before the first message (for every peer
# alike).
PEER_SETTLE = ["--settle-ms", "2500"]
PEER_WORKLOADS = {
    "sat": ["--clients", "200", "--senders", "10", "--rate", "0", "--window", "64",
            "--validate", "light", "--quickack"],
    "all": ["--clients", "200", "--senders", "200", "--rate", "0", "--window", "64",
            "--validate", "light", "--quickack"],
    "r1k": ["--clients", "200", "--senders", "20", "--rate", "1000"],
}
PEERS = ["classcord", "relay", "inspircd", "ngircd"]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_peer(peer, binary=SERVER):
    """Starts a peer on a free loopback port: (process, address, chatload's protocol flags)."""
    if peer == "classcord":
        proc, addr = start_server(PEER_LIMITS, binary)
        return proc, addr, ["--login"]
    port = free_port()
    folder = tempfile.mkdtemp(prefix=f"classcord-peer-{peer}-")
    if peer == "relay":
        argv, flags = [RELAY, f"127.0.0.1:{port}", "1"], ["--login"]
    elif peer == "ngircd":
        conf = os.path.join(folder, "ngircd.conf")
        with open(conf, "w") as out:
            out.write(NGIRCD_CONF.format(port=port, folder=folder))
        argv, flags = ["ngircd", "--nodaemon", "--config", conf], ["--proto", "irc"]
    else:
        conf = os.path.join(folder, "inspircd.conf")
        with open(conf, "w") as out:
            out.write(INSPIRCD_CONF.format(port=port, folder=folder))
        argv = ["inspircd", "--nofork", "--nopid", "--runasroot", f"--config={conf}"]
        flags = ["--proto", "irc"]
    proc = subprocess.Popen(argv, cwd=folder, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    proc.folder = folder  # removed by stop()
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, f"127.0.0.1:{port}", flags
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise RuntimeError(f"{peer} did not listen on 127.0.0.1:{port}")


def peer_available(peer):
    if not os.path.exists(CHATLOAD):
        return False
    if peer == "relay":
        return os.path.exists(RELAY)
    if peer in ("inspircd", "ngircd"):
        return shutil.which(peer) is not None
    return True


def peer_bench(peer, work, seconds, binary=SERVER):
    """One chatload run against a fresh `peer`: chatload's report (its `cpu` part per server)."""
    proc, addr, flags = start_peer(peer, binary)
    try:
        argv = [CHATLOAD, "fanout"] + PEER_WORKLOADS[work] + PEER_SETTLE + [
            "--duration", seconds, "--addr", addr, "--pid", str(proc.pid)] + flags
        out = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        lines = out.stdout.strip().splitlines()
        report = json.loads(lines[-1]) if lines else {}
        report["exit_code"] = out.returncode
        return report
    except (json.JSONDecodeError, subprocess.TimeoutExpired) as error:
        return {"exit_code": None, "error": str(error)}
    finally:
        stop(proc)


def bench(target, args, binary=SERVER):
    """One run of a row; `binary` is the ClassCord server to start (rows that start one)."""
    if target == "peer":
        return peer_bench(*args, binary)
    if target == "store":
        out = subprocess.run([BENCH] + args, capture_output=True, text=True, timeout=300)
        report = json.loads(out.stdout) if out.stdout.strip() else {}
        report["exit_code"] = out.returncode
        return report
    if target == "fake":
        proc, addr = start_fake()
    else:
        proc, addr = start_server(CONFIGS[target], binary)
    try:
        out = subprocess.run([BENCH] + args + ["--addr", addr, "--pid", str(proc.pid)],
                             capture_output=True, text=True, timeout=300)
        text = out.stdout.strip()
        report = json.loads(text[text.index("{"):]) if "{" in text else {}
        report["exit_code"] = out.returncode
        return report
    finally:
        stop(proc)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def build_release():
    """Builds the release server and classcord-bench, which every script here measures."""
    subprocess.run(["cargo", "build", "--release", "-p", "classcord", "-p", "classcord-bench"],
                   cwd=ROOT, check=True)


def saturated(seconds):
    """The saturated fan-out of BENCHMARKS.md: 200 clients, 10 senders, no rate limit."""
    return ["fanout", "--clients", "200", "--senders", "10", "--rate", "0", "--duration", seconds]


def headline(name):
    """The figure that sums up a row, for the before/after table: (label, report path, scale)."""
    if name.startswith("peer_"):
        return "M deliveries per server CPU-s", ("cpu", "work_per_server_cpu_s"), 1e6
    if name.startswith("latency"):
        return "p99 latency, ms", ("latency_us", "p99"), 1e3
    if name.startswith("idle"):
        return "KiB per connection", ("kib_per_connection",), 1
    if name == "logins":
        return "register + login pairs/s", ("pairs_per_sec",), 1
    return "M deliveries per server CPU-s", ("deliveries_per_server_cpu_s",), 1e6


def runs_classcord(target, args):
    """Whether a row starts a ClassCord server (and so gets a twin with --before)."""
    return target in CONFIGS or (target == "peer" and args[0] == "classcord")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="shorter runs, for a look")
    parser.add_argument("--raw", help="write every report to this JSON file")
    parser.add_argument("--only", help="comma-separated row names (default: every row)")
    parser.add_argument("--no-peers", action="store_true",
                        help="leave out the rows measured against InspIRCd, ngIRCd and the relay")
    parser.add_argument("--before", metavar="PATH",
                        help="a second ClassCord server binary, measured on the same rows")
    options = parser.parse_args()
    if options.before and not os.access(options.before, os.X_OK):
        parser.error(f"--before: {options.before} is not an executable file")
    seconds = "2" if options.quick else "5"

    build_release()

    rows = {
        "saturated": ("server", saturated(seconds)),
        "saturated_no_history": ("server_no_history", saturated(seconds)),
        "saturated_no_defences": ("server_no_defences", saturated(seconds)),
        "saturated_fake": ("fake", saturated(seconds)),
        "latency": ("server", ["fanout", "--clients", "200", "--senders", "10", "--rate", "100",
                               "--duration", seconds]),
        "latency_no_history": ("server_no_history", ["fanout", "--clients", "200", "--senders",
                                                     "10", "--rate", "100", "--duration", seconds]),
        "latency_no_defences": ("server_no_defences", ["fanout", "--clients", "200", "--senders",
                                                       "10", "--rate", "100", "--duration", seconds]),
        "latency_fake": ("fake", ["fanout", "--clients", "200", "--senders", "10", "--rate", "100",
                                  "--duration", seconds]),
        # Same offered load in flight as the 10-sender row (10 x 64 ~ 200 x 4 messages): with
        # 200 x 64 in flight, each receiver could owe ~2 MB, past the server's slow-reader limit.
        "all_senders": ("server", ["fanout", "--clients", "200", "--senders", "200", "--rate", "0",
                                   "--window", "4", "--duration", seconds]),
        "idle_guests": ("server", ["idle", "--clients", "1000", "--hold", "5"]),
        # 1,000 accounts registered then logged in from one address: the peers' registration
        # limits.
        "idle_logged_in": ("server_peers", ["idle", "--clients", "1000", "--hold", "5", "--login",
                                             "--ready-timeout", "240"]),
        "idle_10k": ("server", ["idle", "--clients", "10000", "--hold", "3", "--anonymous"]),
        "logins": ("server", ["logins", "--count", "100", "--concurrency", "10", "--chat", "50"]),
        "store": ("store", ["store", "--lines", "200000"]),
    }
    if not options.no_peers:
        for work in PEER_WORKLOADS:
            for peer in PEERS:
                if peer_available(peer):
                    rows[f"peer_{work}_{peer}"] = ("peer", (peer, work, seconds))
    if options.only:
        wanted = options.only.split(",")
        unknown = [name for name in wanted if name not in rows]
        if unknown:
            parser.error(f"unknown rows: {unknown}; known: {list(rows)}")
        rows = {name: rows[name] for name in wanted}
    binaries = {}
    for name, (target, args) in rows.items():
        binaries[name] = SERVER
        if options.before and runs_classcord(target, args):
            binaries[f"{name}@before"] = os.path.abspath(options.before)
    results = {name: [] for name in binaries}
    # Interleave the rows run by run, so slow drifts of a shared machine hit every row alike
    # (a row's `@before` twin runs right after it).
    for run in range(options.runs):
        for name, binary in binaries.items():
            target, args = rows[name.split("@")[0]]
            print(f"run {run + 1}/{options.runs}: {name}", file=sys.stderr)
            results[name].append(bench(target, args, binary))

    def med(name, *path):
        values = []
        for report in results[name]:
            value = report
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            values.append(value)
        return median(values)

    clean = all(r.get("lost", 0) == 0 and r.get("duplicated", 0) == 0 and r.get("echoed", 0) == 0
                for name in results if name.startswith(("saturated", "latency", "all_senders"))
                and not name.endswith("_fake") for r in results[name])
    size = os.path.getsize(SERVER)

    def fmt(value, digits=2, scale=1.0):
        return "n/a" if value is None else f"{value / scale:,.{digits}f}"

    def ratio(a, b, digits=0):
        return "n/a" if a is None or not b else f"{100 * a / b:,.{digits}f} %"

    def have(*names):
        return all(name in results for name in names)

    sat_cpu = med("saturated", "deliveries_per_server_cpu_s") if have("saturated") else None
    sat_rate = med("saturated", "deliveries_per_sec") if have("saturated") else None
    print(f"| row | ClassCord (median of {options.runs}) | target | reference (same run) |")
    print("|---|---|---|---|")
    if have("saturated", "saturated_fake"):
        print(f"| fan-out 200/10 saturated: deliveries per server CPU-s | "
              f"{fmt(sat_cpu, scale=1e6)} M ({fmt(sat_rate, scale=1e6)} M/s wall) | >= 10 M | "
              f"fake relay {fmt(med('saturated_fake', 'deliveries_per_server_cpu_s'), scale=1e6)} M |")
    if have("saturated", "saturated_no_history"):
        off_cpu = med("saturated_no_history", "deliveries_per_server_cpu_s")
        off_rate = med("saturated_no_history", "deliveries_per_sec")
        print(f"| persistence on vs off, saturated: per server CPU-s / wall | "
              f"{ratio(sat_cpu, off_cpu, 1)} / {ratio(sat_rate, off_rate, 1)} of off | >= 90 % | "
              f"off: {fmt(off_cpu, scale=1e6)} M per CPU-s, {fmt(off_rate, scale=1e6)} M/s |")
    if have("saturated", "saturated_no_defences"):
        off_cpu = med("saturated_no_defences", "deliveries_per_server_cpu_s")
        off_rate = med("saturated_no_defences", "deliveries_per_sec")
        print(f"| defences on vs off, saturated: per server CPU-s / wall | "
              f"{ratio(sat_cpu, off_cpu, 1)} / {ratio(sat_rate, off_rate, 1)} of off | >= 95 % | "
              f"off: {fmt(off_cpu, scale=1e6)} M per CPU-s, {fmt(off_rate, scale=1e6)} M/s |")
    if have("latency", "latency_fake"):
        print(f"| fan-out 200/10 at 100 msg/s: latency p50 / p99 | "
              f"{fmt(med('latency', 'latency_us', 'p50'), scale=1000)} / "
              f"{fmt(med('latency', 'latency_us', 'p99'), scale=1000)} ms | p99 <= 1 ms | "
              f"fake relay {fmt(med('latency_fake', 'latency_us', 'p50'), scale=1000)} / "
              f"{fmt(med('latency_fake', 'latency_us', 'p99'), scale=1000)} ms |")
    if have("latency", "latency_no_history"):
        on = med("latency", "latency_us", "p99")
        off = med("latency_no_history", "latency_us", "p99")
        print(f"| persistence on vs off, 100 msg/s: p99 | {fmt(on, scale=1000)} ms vs "
              f"{fmt(off, scale=1000)} ms: {fmt(None if on is None or off is None else on - off, scale=1000)} ms | "
              f"within 0.2 ms | |")
    if have("latency", "latency_no_defences"):
        on = med("latency", "latency_us", "p99")
        off = med("latency_no_defences", "latency_us", "p99")
        print(f"| defences on vs off, 100 msg/s: p99 | {fmt(on, scale=1000)} ms vs "
              f"{fmt(off, scale=1000)} ms: {fmt(None if on is None or off is None else on - off, scale=1000)} ms | "
              f"within 0.1 ms | |")
    if have("all_senders", "saturated"):
        all_rate = med("all_senders", "deliveries_per_sec")
        print(f"| fan-out 200/200 saturated: deliveries/s, ratio to 10 senders | "
              f"{fmt(all_rate, scale=1e6)} M/s, {ratio(all_rate, sat_rate)} | >= 90 % | |")
    if have("idle_guests"):
        print(f"| idle: KiB per connection, 1000 guests | "
              f"{fmt(med('idle_guests', 'kib_per_connection'))} KiB | <= 2.5 KiB | "
              f"anonymous RSS only: {fmt(med('idle_guests', 'anon_kib_per_connection'))} KiB |")
    if have("idle_logged_in"):
        print(f"| idle: KiB per connection, 1000 logged-in clients | "
              f"{fmt(med('idle_logged_in', 'kib_per_connection'))} KiB | <= 2.5 KiB | "
              f"anonymous RSS only: {fmt(med('idle_logged_in', 'anon_kib_per_connection'))} KiB |")
    if have("idle_10k"):
        print(f"| idle: 10,000 anonymous connections held, KiB each | "
              f"{fmt(med('idle_10k', 'held'), 0)} held, "
              f"{fmt(med('idle_10k', 'kib_per_connection'))} KiB | 10,000 | |")
    if have("logins"):
        print(f"| register + login storm (10 concurrent) with 50 chatting: pairs/s, chat p99 | "
              f"{fmt(med('logins', 'pairs_per_sec'), 1)} /s, "
              f"{fmt(med('logins', 'chat', 'latency_us', 'p99'), scale=1000)} ms | >= 40 /s, <= 5 ms | |")
    if have("store"):
        print(f"| store thread alone: lines persisted per second (durable group commit) | "
              f"{fmt(med('store', 'lines_per_sec'), 0)} /s; "
              f"{fmt(med('store', 'bytes_per_line'), 0)} bytes per line on disk | >= 100,000 /s | |")
    print(f"| release binary, stripped, x86_64 | {size:,} B ({size / 1048576:.2f} MiB) | <= 2 MiB | |")
    print(f"\nzero lost / duplicated / echoed in every fan-out run: {clean}")
    peer_rows = [name for name in results if name.startswith("peer_")]
    if peer_rows:
        print("\nAgainst the peers (chatload, same run): M deliveries per server CPU-s "
              "(M/s wall); ratios of the medians")
        print("| workload | ClassCord | trivial relay | InspIRCd | ngIRCd | vs relay | vs InspIRCd |")
        print("|---|---|---|---|---|---|---|")
        for work in PEER_WORKLOADS:
            if not any(name.startswith(f"peer_{work}_") for name in peer_rows):
                continue
            cells, per_cpu = [], {}
            for peer in PEERS:
                name = f"peer_{work}_{peer}"
                if name not in results:
                    cells.append("n/a")
                    continue
                per_cpu[peer] = med(name, "cpu", "work_per_server_cpu_s")
                wall = med(name, "deliveries_per_s")
                cells.append(f"{fmt(per_cpu[peer], scale=1e6)} ({fmt(wall, scale=1e6)})")
            mine = per_cpu.get("classcord")

            def times(other):
                base = per_cpu.get(other)
                return "n/a" if mine is None or not base else f"{mine / base:.2f}x"
            print(f"| {work} | " + " | ".join(cells) + f" | {times('relay')} | "
                  f"{times('inspircd')} |")
        peers_ok = all(r.get("ok") for name in peer_rows for r in results[name])
        print(f"\nevery peer run clean (chatload ok: no loss, no duplicate): {peers_ok}")
    twins = [name for name in results if name.endswith("@before")]
    if twins:
        print(f"\nBefore ({options.before}) and after (this tree), same run, medians of "
              f"{options.runs}")
        print("| row | figure | after | before | after / before |")
        print("|---|---|---|---|---|")
        for twin in twins:
            name = twin.split("@")[0]
            label, path, scale = headline(name)
            after, before = med(name, *path), med(twin, *path)
            times = "n/a" if after is None or not before else f"{after / before:.2f}x"
            print(f"| {name} | {label} | {fmt(after, scale=scale)} | {fmt(before, scale=scale)} "
                  f"| {times} |")
    if options.raw:
        with open(options.raw, "w") as raw:
            json.dump(results, raw, indent=1)


if __name__ == "__main__":
    main()
