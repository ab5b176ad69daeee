#!/usr/bin/env bash
# Run the JDK-only Java smoke client (ClassCordSmoke.java) against a freshly started server.
#
# Usage: tests/java/run.sh SERVER_BINARY        (e.g. tests/java/run.sh target/debug/classcord)
#
# Starts `SERVER_BINARY serve --listen 127.0.0.1:0 --data DIR` on a temp data dir, reads the bound
# port from its start-up log line ("... écoute sur 127.0.0.1:PORT ..."), compiles and runs the
# client, then stops the server with SIGTERM and checks it exits 0.
# Exit status: the Java client's status if it failed; otherwise 1 if the server did not start,
# did not stop within the timeout or exited non-zero; otherwise 0. The server log is printed on
# any failure.
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 SERVER_BINARY" >&2
    exit 2
fi

server=$1
if ! command -v "$server" >/dev/null 2>&1 || [ -d "$server" ]; then
    echo "run.sh: server binary '$server' not found or not executable" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

START_TIMEOUT_S=10
STOP_TIMEOUT_S=10

tmp=$(mktemp -d "${TMPDIR:-/tmp}/classcord-java.XXXXXX")
data="$tmp/data"
log="$tmp/server.log"
mkdir -p "$data" "$tmp/classes"
server_pid=""

cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

show_log() {
    echo "---- server log ($log) ----"
    cat "$log" || true
    echo "---- end of server log ----"
}

# Compile first: it does not need the server, and a compile error should not leave one running.
javac -Xlint:all -encoding UTF-8 -d "$tmp/classes" "$here/ClassCordSmoke.java"

"$server" serve --log console --listen 127.0.0.1:0 --data "$data" >"$log" 2>&1 &
server_pid=$!

port=""
deadline=$((SECONDS + START_TIMEOUT_S))
while [ -z "$port" ]; do
    port=$(LC_ALL=C sed -n 's/.*écoute sur 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1 || true)
    [ -n "$port" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        status=0
        wait "$server_pid" || status=$?
        server_pid=""
        echo "run.sh: server exited (status $status) before listening" >&2
        show_log
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "run.sh: no 'écoute sur 127.0.0.1:PORT' line in the server log within ${START_TIMEOUT_S}s" >&2
        show_log
        exit 1
    fi
    sleep 0.1
done
echo "run.sh: server pid $server_pid listening on 127.0.0.1:$port"

java_status=0
java -cp "$tmp/classes" ClassCordSmoke 127.0.0.1 "$port" || java_status=$?

# Stop the server: SIGTERM, then wait (bounded) for it to exit.
server_status=0
kill -TERM "$server_pid" 2>/dev/null || true
deadline=$((SECONDS + STOP_TIMEOUT_S))
while kill -0 "$server_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: server did not exit within ${STOP_TIMEOUT_S}s of SIGTERM; killing it" >&2
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_status=timeout
else
    wait "$server_pid" || server_status=$?
fi
server_pid=""

if [ "$server_status" != 0 ]; then
    echo "run.sh: server did not exit cleanly after SIGTERM (status $server_status)" >&2
fi
if [ "$java_status" != 0 ] || [ "$server_status" != 0 ]; then
    show_log
fi
if [ "$java_status" != 0 ]; then
    exit "$java_status"
fi
if [ "$server_status" != 0 ]; then
    exit 1
fi
echo "run.sh: server exited 0 after SIGTERM"
exit 0
