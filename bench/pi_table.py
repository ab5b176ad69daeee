#!/usr/bin/env python3
"""A Raspberry Pi in numbers: how many students and messages per second each model can serve
(issue 17, item 4). BENCHMARKS.md explains the method; this script measures and prints the table.

Usage: python3 bench/pi_table.py [--runs 3] [--rate 50] [--server PATH] [--no-build] [--raw FILE]
                                 [--reprint RAW]

Measured here (needs valgrind, strace and perf):
1. user-space instructions of the server per delivery, counted by callgrind (repeatable whatever
   the machine's load), as the difference between a long and a short run of the same workload
   (`fanout --clients 200 --senders 10 --rate R`), so start-up, connections and shutdown cancel;
   per thread, to see how much of it is the hub task (one task: at most one core at a time);
2. the kernel's share, which valgrind does not see: the server's CPU time (/proc utime+stime) over
   the same workload without valgrind (30 s minus 5 s), and the share of it spent in the kernel
   (`perf record -e cpu-clock` samples); total = user instructions x (user + system) / user;
3. memory: RSS per idle guest (`idle` mode, 1000 guests) and the kernel's slab per TCP connection
   (/proc/meminfo `Slab`, both ends of each loopback connection are on this machine);
4. storage: fdatasync calls and bytes written by the server per second at 10, 100 and 1000 msg/s
   (`strace -f -ttt` on the server, the calls between the bench run's start and end;
   /proc/PID/io `write_bytes`), the store's default group commit (50 ms or 1000 lines).
Scaled (not measured): each Pi's cores x clock x an instructions-per-cycle range (PIS below),
argon2id hash times from ../shared/DEPLOY-NOTES.md §8, SD card IOPS classes (A1, A2).
Loopback only; every run is bounded in time; every server, valgrind, strace and perf is stopped.
"""

import argparse
import glob
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import benchmarks

CLK_TCK = os.sysconf("SC_CLK_TCK")
CLIENTS = 200
SENDERS = 10
# Published figures (see BENCHMARKS.md): cores, clock in MHz, RAM in MiB (smallest model sold),
# and each core's work per clock RELATIVE to the Cortex-A72: the Cortex-A53 scaled by Arm's
# Dhrystone figures (2.3 / 4.7 DMIPS/MHz = 0.49), the Cortex-A76 by Raspberry Pi Ltd's "2-3x the
# CPU performance of Pi 4" at 2.4 against 1.8 GHz (2.5 x 1.8 / 2.4 = 1.8 per clock).
# Instructions per cycle (IPC) of the A72 on this server's code is an ESTIMATE, given as a range:
# - high: 1.0 (a common figure for an out-of-order core on integer code);
# - low: half of what this machine's core achieved here on the same code (user instructions per
#   user-microsecond / clock), as an x86 server core does about twice an A72's work per clock;
#   syscall-heavy code on a shared VM runs at a low IPC, and so would it on a Pi.
PIS = [
    ("Zero 2 W", "4x Cortex-A53", 4, 1000, 0.49, 512),
    ("3B+", "4x Cortex-A53", 4, 1400, 0.49, 1024),
    ("4 (1.5 GHz)", "4x Cortex-A72", 4, 1500, 1.0, 2048),
    ("4 (1.8 GHz)", "4x Cortex-A72", 4, 1800, 1.0, 2048),
    ("5", "4x Cortex-A76", 4, 2400, 1.8, 4096),
]
A72_HIGH_IPC = 1.0
X86_PER_CLOCK_VS_A72 = 2.0
# RAM left to the OS, its services and the page cache (an estimate).
RESERVE_MIB = 200
# One argon2id hash at the server's default (m=19 MiB, t=2, p=1), seconds: DEPLOY-NOTES.md §8
# estimates, "Pi 3 / Zero 2 W" 0.3-0.5 (taken for the 1.4 GHz 3B+; the 1 GHz Zero 2 W scaled by
# clock), Pi 4 0.13-0.21; the Pi 5 taken as 2-3x faster than the Pi 4 (its maker's figure).
HASH_SECONDS = {"Zero 2 W": (0.42, 0.7), "3B+": (0.3, 0.5), "4 (1.5 GHz)": (0.13, 0.21),
                "4 (1.8 GHz)": (0.13, 0.21), "5": (0.04, 0.11)}
CONCURRENT_HASHES = 2  # [passwords] max_concurrent_hashes, default
CLASS = 30
SCHOOL = 600
# SD card classes: minimum random 4 KiB write IOPS (SD Association, Application Performance Class).
SD_IOPS = {"A1": 500, "A2": 2000}


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def fanout(rate, seconds, clients=CLIENTS, senders=SENDERS):
    # A long drain timeout: under valgrind the server is tens of times slower.
    return ["fanout", "--clients", str(clients), "--senders", str(senders), "--rate", str(rate),
            "--duration", str(seconds), "--drain-timeout", "30"]


def run_bench(args, addr, pid, timeout=600):
    out = subprocess.run([benchmarks.BENCH] + args + ["--addr", addr, "--pid", str(pid)],
                         capture_output=True, text=True, timeout=timeout)
    text = out.stdout.strip()
    report = benchmarks.json.loads(text[text.index("{"):]) if "{" in text else {}
    report["exit_code"] = out.returncode
    return report


def start(prefix, config=benchmarks.DEFENCES_ON, wait=120):
    """The release server under `prefix` (valgrind, strace or nothing) on a free port."""
    data = tempfile.mkdtemp(prefix="classcord-pi-")
    with open(os.path.join(data, "classcord.toml"), "w") as out:
        out.write(config)
    log_path = os.path.join(data, "server.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        prefix(data) + [benchmarks.SERVER, "serve", "--log", "console", "--listen",
                        "127.0.0.1:0", "--data", os.path.join(data, "db"), "--config",
                        os.path.join(data, "classcord.toml")],
        stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + wait
    while time.time() < deadline:
        found = re.search(r"écoute sur (127\.0\.0\.1:\d+)",
                          open(log_path, encoding="utf-8", errors="replace").read())
        if found:
            return proc, found.group(1), data
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError("server did not start:\n" + open(log_path).read()[-2000:])


def stop(proc, timeout=120):
    """A server under valgrind or strace may take long to stop."""
    benchmarks.stop(proc, timeout=timeout)


def server_pid(proc):
    """The server's pid: valgrind runs it in its own process; strace forks it as a child."""
    if proc.args[0] != "strace":
        return proc.pid
    deadline = time.time() + 10
    while time.time() < deadline:
        children = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise RuntimeError("strace started no server")


def callgrind_threads(data):
    """Instructions per thread of one callgrind run: {thread number: Ir}."""
    threads = {}
    for path in glob.glob(os.path.join(data, "callgrind.out*")):
        text = open(path, encoding="utf-8", errors="replace").read()
        number = re.search(r"^thread: (\d+)", text, re.M)
        total = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
        if number and total:
            threads[int(number.group(1))] = int(total.group(1))
    return threads


def hub_inclusive(data):
    """Instructions of the hub task. It is the future the main thread runs (`Parts::serve`
    block_on), which also runs spawned tasks (`RawTask::run`: readers...) when they are ready:
    hub = serve's inclusive count minus the tasks', on that thread. 0 if the binary is stripped."""
    def inclusive(text, name):
        found = re.search(r"^\s*([\d,]+)\s.*" + re.escape(name) + r" ", text, re.M)
        return int(found.group(1).replace(",", "")) if found else 0
    for path in glob.glob(os.path.join(data, "callgrind.out*")):
        out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                             capture_output=True, text=True, timeout=120).stdout
        serve = inclusive(out, "classcord::server::Parts::serve")
        if serve:
            return serve - inclusive(out, "async_task::raw::RawTask<F,T,S,M>::run")
    return 0


def counted(seconds, rate):
    """One callgrind run: total instructions, the hub task's, and the bench report."""
    def prefix(data):
        return ["valgrind", "--tool=callgrind", "--separate-threads=yes",
                f"--callgrind-out-file={data}/callgrind.out", "--"]
    proc, addr, data = start(prefix)
    try:
        report = run_bench(fanout(rate, seconds), addr, proc.pid)
    finally:
        stop(proc)
    threads = callgrind_threads(data)
    hub = hub_inclusive(data)
    shutil.rmtree(data, ignore_errors=True)
    return {"ir": sum(threads.values()), "threads": threads, "hub_ir": hub, "report": report}


def kernel_share(perf_data):
    """Share of perf's cpu-clock samples taken in the kernel (`[kernel.kallsyms]`)."""
    out = subprocess.run(["perf", "report", "-i", perf_data, "--stdio", "--sort", "dso"],
                         capture_output=True, text=True, timeout=120).stdout
    for line in out.splitlines():
        found = re.match(r"\s*([\d.]+)%\s+\[kernel\.kallsyms\]", line)
        if found:
            return float(found.group(1)) / 100
    return None


def native(seconds, rate):
    """One run without valgrind: the server's CPU time over the bench run (utime+stime), and the
    kernel's share of it sampled by `perf record -e cpu-clock` (software clock: works without
    hardware counters; /proc's tick-based utime/stime split is too erratic for this)."""
    proc, addr, data = start(lambda data: [], wait=15)
    perf_data = os.path.join(data, "perf.data")
    perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-p",
                             str(proc.pid), "-o", perf_data],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        user0, sys0 = cpu_ticks(proc.pid)
        report = run_bench(fanout(rate, seconds), addr, proc.pid)
        user1, sys1 = cpu_ticks(proc.pid)
    finally:
        benchmarks.stop(perf, signal.SIGINT, timeout=30)
        stop(proc)
    share = kernel_share(perf_data)
    shutil.rmtree(data, ignore_errors=True)
    return {"user": user1 - user0, "sys": sys1 - sys0, "kernel_share": share, "report": report}


def slab_kib():
    for line in open("/proc/meminfo"):
        if line.startswith("Slab:"):
            return int(line.split()[1])
    return 0


def memory(clients=1000):
    """RSS per idle guest (the bench's `idle` mode) and the peak kernel slab per connection."""
    proc, addr, data = start(lambda data: [], wait=15)
    peak, done = [slab_kib()], threading.Event()
    base = peak[0]

    def sample():
        while not done.wait(0.1):
            peak[0] = max(peak[0], slab_kib())
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        report = run_bench(["idle", "--clients", str(clients), "--hold", "2"], addr, proc.pid)
    finally:
        done.set()
        sampler.join()
        stop(proc)
        shutil.rmtree(data, ignore_errors=True)
    return {"kib_per_connection": report.get("kib_per_connection"),
            "rss_before_kib": report.get("rss_before_kib"),
            "slab_kib_per_connection": (peak[0] - base) / (2 * clients)}


def storage(rate, seconds=5):
    """fdatasync/fsync calls and bytes written per second by the server at `rate` msg/s, counted
    between the start and the end of the bench run (start-up and shutdown commits left out)."""
    def prefix(data):
        return ["strace", "-f", "-qq", "-ttt", "-o", f"{data}/strace.txt",
                "-e", "trace=fdatasync,fsync,sync_file_range"]
    proc, addr, data = start(prefix, wait=20)
    pid = server_pid(proc)

    def written():
        for line in open(f"/proc/{pid}/io"):
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
        return 0
    try:
        time.sleep(0.5)
        before, started = written(), time.time()
        report = run_bench(fanout(rate, seconds, clients=20, senders=5), addr, pid)
        # The last batch's commit is at most one commit interval (50 ms) after the last line.
        time.sleep(0.2)
        after, ended = written(), time.time()
    finally:
        # Stop the server itself: strace, signalled, would detach and leave it running.
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        stop(proc)
    calls = 0
    for line in open(os.path.join(data, "strace.txt")):
        fields = line.split()
        if len(fields) >= 3 and "sync" in fields[2] and started <= float(fields[1]) <= ended:
            calls += 1
    shutil.rmtree(data, ignore_errors=True)
    window = ended - started
    return {"rate": rate, "sent": report.get("sent"), "syncs": calls,
            "syncs_per_s": calls / window, "write_kib_per_s": (after - before) / 1024 / window,
            "syncs_per_message": calls / report["sent"] if report.get("sent") else None}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=50, help="msg/s of the fan-out workloads")
    parser.add_argument("--short", type=int, default=4, help="seconds of the short workload")
    parser.add_argument("--long", type=int, default=12, help="seconds of the long workload")
    # Without valgrind, longer: /proc counts CPU time in ticks of 10 ms.
    parser.add_argument("--native-short", type=int, default=5)
    parser.add_argument("--native-long", type=int, default=30)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--raw", help="write every measurement to this JSON file")
    parser.add_argument("--server", default=benchmarks.SERVER,
                        help="server binary; one built with CARGO_PROFILE_RELEASE_STRIP=false "
                             "(same code, symbols kept) lets callgrind name the hub task")
    parser.add_argument("--reprint", metavar="RAW",
                        help="print the table from a --raw file of an earlier run, measure nothing")
    options = parser.parse_args()
    if options.reprint:
        with open(options.reprint) as raw:
            print_table(benchmarks.json.load(raw), options)
        return
    benchmarks.SERVER = os.path.abspath(options.server)
    for tool in ("valgrind", "callgrind_annotate", "strace", "perf"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (apt-get install valgrind strace linux-perf)")
    if not options.no_build:
        benchmarks.build_release()

    raw = {"counted": [], "native": [], "memory": [], "storage": []}
    for run in range(options.runs):
        for seconds in (options.short, options.long):
            print(f"run {run + 1}/{options.runs}: callgrind {seconds} s", file=sys.stderr)
            raw["counted"].append(dict(counted(seconds, options.rate), seconds=seconds))
        for seconds in (options.native_short, options.native_long):
            print(f"run {run + 1}/{options.runs}: native {seconds} s", file=sys.stderr)
            raw["native"].append(dict(native(seconds, options.rate), seconds=seconds))
        if run == 0:
            print("memory", file=sys.stderr)
            raw["memory"].append(memory())
        for rate in (10, 100, 1000):
            print(f"run {run + 1}/{options.runs}: storage at {rate} msg/s", file=sys.stderr)
            raw["storage"].append(storage(rate))
    if options.raw:
        with open(options.raw, "w") as out:
            benchmarks.json.dump(raw, out, indent=1)
    print_table(raw, options)


def differences(rows, value):
    """Per run: (value(long) - value(short), deliveries(long) - deliveries(short), messages);
    `rows` alternate short and long runs."""
    pairs = []
    for short, long in zip(rows[0::2], rows[1::2]):
        assert short["seconds"] < long["seconds"]
        deliveries = long["report"].get("received", 0) - short["report"].get("received", 0)
        messages = long["report"].get("sent", 0) - short["report"].get("sent", 0)
        pairs.append((value(long) - value(short), deliveries, messages))
    return pairs


def print_table(raw, options):
    counted = differences(raw["counted"], lambda r: r["ir"])
    hub = differences(raw["counted"], lambda r: r["hub_ir"])
    cpu = differences(raw["native"], lambda r: r["user"] + r["sys"])
    kernel = median([r["kernel_share"] for r in raw["native"] if r["seconds"] > options.native_short])
    ir_per_delivery = median([ir / d for ir, d, _ in counted if d])
    ir_per_message = median([ir / m for ir, _, m in counted if m])
    hub_share = median([h / ir for (h, _, _), (ir, _, _) in zip(hub, counted) if ir])
    cpu_us = median([c * 1e6 / d for c, d, _ in cpu if d])
    user_us, sys_us = cpu_us * (1 - kernel), cpu_us * kernel
    kernel_factor = 1 / (1 - kernel)
    total_per_delivery = ir_per_delivery * kernel_factor
    here_rate = ir_per_delivery / user_us  # instructions per user-microsecond here
    kib = median([m["kib_per_connection"] for m in raw["memory"]])
    slab = median([m["slab_kib_per_connection"] for m in raw["memory"]])
    base_mib = median([m["rss_before_kib"] for m in raw["memory"]]) / 1024
    clean = all(r["report"].get("lost", 1) == 0 for r in raw["counted"] + raw["native"])

    print(f"Measured here ({options.rate} msg/s, {CLIENTS} clients, {SENDERS} senders; long "
          f"{options.long} s minus short {options.short} s; medians of {options.runs}):")
    print(f"- user-space instructions per delivery: {ir_per_delivery:,.0f} "
          f"(per message: {ir_per_message:,.0f}); under the hub task: {100 * hub_share:.0f} %")
    print(f"- server CPU per delivery without valgrind: {cpu_us:.2f} us, {100 * kernel:.0f} % of it "
          f"in the kernel (perf samples): user {user_us:.2f} us + system {sys_us:.2f} us; "
          f"kernel factor (user+sys)/user = {kernel_factor:.2f}")
    print(f"- total instructions per delivery (user x kernel factor): {total_per_delivery:,.0f}; "
          f"this machine runs {here_rate:,.0f} of them per user-microsecond")
    print(f"- idle guest: {kib:.2f} KiB RSS + {slab:.2f} KiB kernel slab per connection; "
          f"server at rest {base_mib:.1f} MiB RSS")
    print(f"- zero lost in every fan-out run: {clean}")
    hub_share = hub_share or 1.0  # a stripped server: the whole process counted as the hub
    print("\nStorage (20 clients, 5 senders, 5 s; default group commit 50 ms / 1000 lines):")
    print("| msg/s | fdatasync+fsync per s | KiB written per s | per message |")
    print("|---|---|---|---|")
    for rate in (10, 100, 1000):
        rows = [s for s in raw["storage"] if s["rate"] == rate]
        syncs = median([s["syncs_per_s"] for s in rows])
        kib_s = median([s["write_kib_per_s"] for s in rows])
        print(f"| {rate} | {syncs:.1f} | {kib_s:,.0f} | {syncs / rate:.3f} sync, "
              f"{kib_s * 1024 / rate:,.0f} B |")
    sync_max = max(median([s["syncs_per_s"] for s in raw["storage"] if s["rate"] == rate])
                   for rate in (10, 100, 1000))

    # The hub task's core: its own user instructions, and (conservatively) all of the kernel's
    # work, most of which is its per-recipient sendto calls.
    hub_per_delivery = ir_per_delivery * (hub_share + kernel_factor - 1)
    here_ipc = here_rate / cpu_mhz()
    a72_ipc = (here_ipc / X86_PER_CLOCK_VS_A72, A72_HIGH_IPC)
    print(f"- the hub task's core: {hub_per_delivery:,.0f} instructions per delivery (its user "
          f"share plus all of the kernel's work)")
    print(f"- this machine's core: {cpu_mhz():,.0f} MHz, so {here_ipc:.2f} instructions per cycle "
          f"on this code; A72 IPC taken as {a72_ipc[0]:.2f} (low) to {a72_ipc[1]:.2f} (high)")
    print(f"\nScaled to each Pi (ESTIMATES: published cores and clocks, per-clock ratios and an "
          f"IPC range; x86 and Arm instruction counts taken as equal). low-high ranges. A class: "
          f"{CLASS} students, each message to {CLASS - 1}; the school: {SCHOOL} connected, each "
          f"message to all.")
    print("| Pi | cores | instr/us per core | deliveries/s (hub core) | msg/s in a class | "
          f"msg/s school-wide | idle students in RAM | {CLASS} logins at once | "
          f"{SCHOOL} logins at once | SD syncs/s (A1 min IOPS) |")
    print("|---|---|---|---|---|---|---|---|---|---|")

    def span(values, digits=0):
        return "-".join(f"{v:,.{digits}f}" for v in values)
    for name, cores_text, cores, mhz, per_clock, ram in PIS:
        rates = [mhz * ipc * per_clock for ipc in a72_ipc]
        deliveries = [min(r * 1e6 * cores / total_per_delivery, r * 1e6 / hub_per_delivery)
                      for r in rates]
        students = (ram - RESERVE_MIB - base_mib) * 1024 / (kib + slab)
        low, high = HASH_SECONDS[name]
        rounds = CLASS / CONCURRENT_HASHES
        school_rounds = SCHOOL / CONCURRENT_HASHES
        print(f"| {name} | {cores_text} | {span(rates)} | {span(deliveries)} | "
              f"{span([d / (CLASS - 1) for d in deliveries])} | "
              f"{span([d / (SCHOOL - 1) for d in deliveries])} | {students:,.0f} | "
              f"{rounds * low:.1f}-{rounds * high:.1f} s | "
              f"{school_rounds * low:.0f}-{school_rounds * high:.0f} s | "
              f"{sync_max:.0f} ({SD_IOPS['A1']}) |")


def cpu_mhz():
    """This machine's clock as /proc/cpuinfo reports it (first core)."""
    for line in open("/proc/cpuinfo"):
        if line.startswith("cpu MHz"):
            return float(line.split(":")[1])
    return float("nan")


if __name__ == "__main__":
    main()
