#!/usr/bin/env python3
"""What the syslog path costs a relayed message, the logger's CPU included (issue 17, item 1).

Usage: python3 bench/syslog_cost.py [--runs 3] [--seconds 5] [--rate 1000] [--no-build]

Starts its own rsyslogd (`apt-get install rsyslog`; in the foreground, its socket, work folder and
files in a temporary folder, the rules of etc/rsyslog.d/classcord.conf with the paths moved
there), then, interleaved run by run, against a fresh server each time (the `saturated` row's
settings of benchmarks.py: defences on with their limits lifted, history on, log level `info`):
- `console`: the server logging to its stderr, a file (what benchmarks.py measures);
- `syslog`: the server logging to that rsyslogd (`[log] output = "syslog"`, `syslog_socket`).
Load: `fanout --clients 200 --senders 10 --rate R --duration S` (R x S messages, each delivered to
199 clients). Reads the CPU time of the server and of rsyslogd (/proc schedstat of their threads)
before and after (after: once the log file has stopped growing), and the lines and bytes the run
added to the log files.
Prints the medians per relayed message. journald is not measured (no systemd here).
Loopback only; every run is bounded in time; rsyslogd and every server are stopped.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import benchmarks

def cpu_seconds(pid):
    """CPU time of a process's live threads, in seconds, to the nanosecond: the sum of their
    /proc/PID/task/TID/schedstat run times (utime+stime in /proc/PID/stat counts 10 ms ticks,
    too coarse for rsyslogd's few tens of milliseconds)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread ended meanwhile
    return total / 1e9


def rsyslog_config(folder):
    """The repository's rsyslog rules, their files moved into `folder`, on a socket of our own."""
    rules = open(os.path.join(benchmarks.ROOT, "etc", "rsyslog.d", "classcord.conf")).read()
    rules = rules.replace("/var/log/classcord/", folder + "/")
    for needless in (' fileGroup="adm"', ' dirGroup="adm"'):
        rules = rules.replace(needless, "")
    return (f'global(workDirectory="{folder}")\n'
            'module(load="imuxsock" SysSock.Use="off")\n'
            f'input(type="imuxsock" Socket="{folder}/log.sock" RateLimit.Interval="0")\n'
            + rules +
            f'*.* action(type="omfile" file="{folder}/other.log")\n')


def start_rsyslogd(folder):
    conf = os.path.join(folder, "rsyslog.conf")
    with open(conf, "w") as out:
        out.write(rsyslog_config(folder))
    proc = subprocess.Popen(["rsyslogd", "-n", "-f", conf, "-i", os.path.join(folder, "pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket_path = os.path.join(folder, "log.sock")
    deadline = time.time() + 10
    while not os.path.exists(socket_path):
        if time.time() > deadline or proc.poll() is not None:
            benchmarks.stop(proc)
            raise RuntimeError("rsyslogd did not open its socket")
        time.sleep(0.05)
    return proc, socket_path


def log_size(paths):
    """Bytes and lines of the log files at `paths` (those that exist)."""
    size = lines = 0
    for path in paths:
        if os.path.exists(path):
            with open(path, "rb") as log:
                data = log.read()
            size += len(data)
            lines += data.count(b"\n")
    return size, lines


def settled_log_size(paths):
    """The log files' size once it has not changed for 0.5 s (10 s at most)."""
    last, since = log_size(paths), time.time()
    deadline = time.time() + 10
    while time.time() < deadline and time.time() - since < 0.5:
        time.sleep(0.1)
        now = log_size(paths)
        if now != last:
            last, since = now, time.time()
    return last


def one_run(mode, socket_path, rsyslogd, folder, load):
    if mode == "syslog":
        config = benchmarks.DEFENCES_ON + (
            f'[log]\noutput = "syslog"\nsyslog_socket = "{socket_path}"\n')
    else:
        config = benchmarks.DEFENCES_ON
    data = tempfile.mkdtemp(prefix="classcord-syslog-")
    with open(os.path.join(data, "classcord.toml"), "w") as out:
        out.write(config)
    port = benchmarks.free_port()
    stderr_path = os.path.join(data, "stderr.log")
    stderr = open(stderr_path, "wb")
    if mode == "syslog":
        paths = [os.path.join(folder, name)
                 for name in ("classcord.log", "audit.log", "debug.log", "other.log")]
    else:
        paths = [stderr_path]
    server = subprocess.Popen(
        [benchmarks.SERVER, "serve", "--log", mode, "--listen", f"127.0.0.1:{port}",
         "--data", os.path.join(data, "db"), "--config", os.path.join(data, "classcord.toml")],
        stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.time() + 10
        while True:
            try:
                benchmarks.socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("server did not listen")
                time.sleep(0.05)
        size0, lines0 = settled_log_size(paths)
        logger0 = cpu_seconds(rsyslogd.pid)
        server0 = cpu_seconds(server.pid)
        out = subprocess.run([benchmarks.BENCH] + load + ["--addr", f"127.0.0.1:{port}",
                                                           "--pid", str(server.pid)],
                             capture_output=True, text=True, timeout=300)
        server1 = cpu_seconds(server.pid)
        size1, lines1 = settled_log_size(paths)
        logger1 = cpu_seconds(rsyslogd.pid)
        text = out.stdout.strip()
        report = benchmarks.json.loads(text[text.index("{"):]) if "{" in text else {}
        sent = report.get("sent") or 0
        return {
            "mode": mode, "sent": sent, "lost": report.get("lost"),
            "received": report.get("received"),
            "server_cpu_s": server1 - server0, "logger_cpu_s": logger1 - logger0,
            "log_bytes": size1 - size0, "log_lines": lines1 - lines0,
        }
    finally:
        benchmarks.stop(server)
        stderr.close()
        shutil.rmtree(data, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", default="5")
    parser.add_argument("--rate", default="1000", help="messages per second in total")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--raw", help="write every run's figures to this JSON file")
    options = parser.parse_args()
    if shutil.which("rsyslogd") is None:
        sys.exit("rsyslogd not found: apt-get install rsyslog")
    if not options.no_build:
        benchmarks.build_release()
    load = ["fanout", "--clients", "200", "--senders", "10", "--rate", options.rate,
            "--duration", options.seconds]
    folder = tempfile.mkdtemp(prefix="classcord-rsyslog-")
    rsyslogd, socket_path = start_rsyslogd(folder)
    results = {"console": [], "syslog": []}
    try:
        for run in range(options.runs):
            for mode in results:
                print(f"run {run + 1}/{options.runs}: {mode}", file=sys.stderr)
                results[mode].append(one_run(mode, socket_path, rsyslogd, folder, load))
    finally:
        benchmarks.stop(rsyslogd, timeout=10)
        shutil.rmtree(folder, ignore_errors=True)

    def med(mode, per):
        values = [r[per[0]] / r[per[1]] for r in results[mode] if r[per[1]]]
        return statistics.median(values) if values else None

    def us(value):
        return "n/a" if value is None else f"{value * 1e6:,.2f}"

    print(f"fanout 200 clients / 10 senders at {options.rate} msg/s for {options.seconds} s, "
          f"medians of {options.runs} (CPU = run time of the process's threads over the bench run)")
    print("| mode | server CPU-us per message | rsyslogd CPU-us per message | "
          "rsyslogd CPU-us per log line | log lines per message | log bytes per message |")
    print("|---|---|---|---|---|---|")
    for mode in results:
        lines = med(mode, ("log_lines", "sent"))
        size = med(mode, ("log_bytes", "sent"))
        print(f"| {mode} | {us(med(mode, ('server_cpu_s', 'sent')))} | "
              f"{us(med(mode, ('logger_cpu_s', 'sent')))} | "
              f"{us(med(mode, ('logger_cpu_s', 'log_lines')))} | "
              f"{'n/a' if lines is None else f'{lines:.2f}'} | "
              f"{'n/a' if size is None else f'{size:.0f}'} |")
    clean = all(r["lost"] == 0 for mode in results for r in results[mode])
    print(f"\nzero lost in every run: {clean}")
    if options.raw:
        with open(options.raw, "w") as raw:
            benchmarks.json.dump(results, raw, indent=1)


if __name__ == "__main__":
    main()
