#!/usr/bin/env bash
# Benchmark smoke test: a few seconds of classcord-bench against a freshly started server.
# Checks correctness under load (zero lost, duplicated or echoed deliveries), not speed.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The build of the README test command (same features: nothing to compile after it).
cargo test --workspace --no-run -q
server=target/debug/classcord
bench=target/debug/classcord-bench
data=$(mktemp -d)
log="$data/server.log"
# The bench floods on purpose from one address: the line rate and per-address caps are off.
printf '[security]\nmessages_per_second = 0\nmax_connections_per_ip = 0\nnew_connections_per_minute = 0\n' > "$data/classcord.toml"
"$server" serve --log console --listen 127.0.0.1:0 --data "$data/db" --config "$data/classcord.toml" 2>"$log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

addr=""
for _ in $(seq 100); do
    addr=$(grep -o 'écoute sur 127\.0\.0\.1:[0-9]*' "$log" | head -n1 | sed 's/écoute sur //') || true
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { echo "server did not start"; cat "$log"; exit 1; }
echo "server on $addr (pid $pid)"

run() {
    echo "+ classcord-bench $*"
    "$bench" "$@" --addr "$addr" --pid "$pid" > "$data/out.json"
    python3 - "$data/out.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
keys = ("sent", "received", "expected_deliveries", "lost", "duplicated", "echoed", "bad_lines",
        "deliveries_per_sec", "succeeded", "failed", "held", "kib_per_connection")
print("  " + ", ".join(f"{k}={report[k]}" for k in keys if k in report))
PY
}

run fanout --clients 30 --senders 5 --rate 500 --duration 2 --check
run fanout --clients 30 --senders 30 --rate 0 --window 4 --duration 2 --check
run fanout --clients 20 --senders 4 --rate 200 --duration 1 --login --check
run fanout --clients 20 --senders 4 --rate 200 --duration 1 --channel "#smoke" --check
run idle --clients 200 --hold 1 --anonymous
run logins --count 6 --concurrency 2 --check

kill -TERM "$pid"
wait "$pid"
echo "bench smoke: 6 passed, 0 failed"
