#!/usr/bin/env bash
# System test of the logging chain with the real programs, as root:
#  (a) a private rsyslogd (own socket, spool and output dir; a system rsyslog is not touched)
#      runs the shipped etc/rsyslog.d/classcord.conf; the real server logs to its socket. A class
#      of 40 behind one address (register, a typo each, log in, restart, log in again; all
#      defaults) writes only its 40 AUTH_FAIL lines, which the jails' filter modes match 0 of.
#      Bad logins, protocol errors, log-forging names, an over-long line, a brute force and a
#      connection flood driven over loopback land in audit.log, so do the hub's RATE_LIMIT and
#      TIMEOUT lines; fail2ban-regex with the shipped filter counts exactly what was sent, only
#      the senders' addresses, the verdicts (BRUTE_FORCE, CONN_FLOOD) alone in the jails' modes,
#      and nothing in the normal-chat log; logrotate rotates the files.
#  (b) a real ban: the server in one network namespace, an attacker and an honest client in two
#      others (veth pairs created here), fail2ban-server with the shipped jails (file backend on
#      the private rsyslog's audit.log) and the shipped nftables action. A class of 40 logging in
#      from the honest address (a typo each) is not banned; the attacker's brute force on one
#      account is slowed, refused, judged (BRUTE_FORCE) and banned: its new connections fail
#      while the honest client keeps chatting; unban restores it.
#      The LAN-only nftables rules printed in SECURITE.md are loaded there too and checked.
#  (c) journald alone (Raspberry Pi OS default): a real systemd-journald in a private mount
#      namespace receives the server's syslog lines; fail2ban-regex reads its journal with the
#      shipped filter (the backend = systemd path).
# Every wait is bounded; everything started here is stopped and removed on exit, even on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
export DEBIAN_FRONTEND=noninteractive

started=$(date +%s.%N)
section_start=$started
section() {
    local now
    now=$(date +%s.%N)
    printf '\n--- %s (previous part: %.1f s) ---\n' "$*" "$(echo "$now - $section_start" | bc)"
    section_start=$now
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
. .ci/system/lib/wait.sh

section "packages"
need=()
command -v rsyslogd >/dev/null || need+=(rsyslog)
command -v fail2ban-server >/dev/null || need+=(fail2ban)
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
command -v python3 >/dev/null || need+=(python3)
command -v logrotate >/dev/null || need+=(logrotate)
command -v bc >/dev/null || need+=(bc)
[ -x /lib/systemd/systemd-journald ] || need+=(systemd)
/usr/bin/python3 -c 'import systemd.journal' 2>/dev/null || need+=(python3-systemd)
if [ ${#need[@]} -gt 0 ]; then
    apt-get install -y --no-install-recommends "${need[@]}"
fi
# The build of the README test command (same features: nothing to compile after it).
cargo test --workspace --no-run -q
BIN=$REPO/target/debug/classcord
DRIVER=(python3 "$REPO/tests/system/chat_driver.py")
FILTER=$REPO/etc/fail2ban/filter.d/classcord.conf

T=$(mktemp -d /tmp/classcord-syslog.XXXXXX)
chmod 755 "$T"
NS_SRV=ccsrv$$
NS_ATT=ccatt$$
NS_HON=cchon$$
pids=()
cleanup() {
    local status=$?
    set +e
    if [ -S "$T/f2b/fail2ban.sock" ]; then
        timeout 20 fail2ban-client -c "$T/f2b" stop >/dev/null 2>&1
    fi
    [ -f "$T/f2b/fail2ban.pid" ] && kill "$(cat "$T/f2b/fail2ban.pid")" 2>/dev/null
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null
    done
    [ -f "$T/rsyslogd.pid" ] && kill "$(cat "$T/rsyslogd.pid")" 2>/dev/null
    [ -f "$T/journald.pid" ] && kill "$(cat "$T/journald.pid")" 2>/dev/null
    for ns in "$NS_SRV" "$NS_ATT" "$NS_HON"; do
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$T"
    printf '\n30-syslog-fail2ban: total %.1f s, exit status %s\n' \
        "$(echo "$(date +%s.%N) - $started" | bc)" "$status"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# fail2ban-regex's "N matched" for a log and a filter (with an optional [mode=...]).
matched() {
    fail2ban-regex "$1" "$2" | sed -n 's/^Lines: .* \([0-9][0-9]*\) matched.*/\1/p'
}
# Addresses fail2ban-regex extracts, sorted and unique, comma-separated.
addresses() {
    fail2ban-regex -o ip "$1" "$2" | sort -u | paste -sd, -
}
# at_least N FILE PATTERN: true once FILE has N lines containing PATTERN ("" = any line).
# (A function, so that wait_until counts again on every try.)
at_least() {
    [ -f "$2" ] && [ "$(grep -c -F -- "$3" "$2")" -ge "$1" ]
}
# start_server CONFIG DATA STDERR [ARGS...]: a server on a free loopback port, logging to the
# private rsyslogd; sets SERVER_PID and SERVER_PORT once its start-up line is in classcord.log.
started_servers=0
start_server() {
    "$BIN" serve --listen 127.0.0.1:0 --data "$2" --config "$1" "${@:4}" 2>>"$3" &
    SERVER_PID=$!
    pids+=("$SERVER_PID")
    started_servers=$((started_servers + 1))
    wait_until 10 "start-up line of server $started_servers" \
        at_least "$started_servers" "$T/log/classcord.log" 'écoute sur'
    SERVER_PORT=$(sed -n 's/.*écoute sur 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/log/classcord.log" |
        tail -1)
}
# stop_server PID: SIGTERM, a clean exit, and the PID leaves the cleanup list.
stop_server() {
    kill "$1"
    wait "$1" || fail "server $1 exit status $?"
    local kept=() pid
    for pid in "${pids[@]}"; do
        [ "$pid" = "$1" ] || kept+=("$pid")
    done
    pids=("${kept[@]}")
}

section "(a) private rsyslogd with the shipped configuration"
mkdir -p "$T/spool" "$T/log" "$T/data"
sed "s#/var/log/classcord#$T/log#g" etc/rsyslog.d/classcord.conf >"$T/classcord-rsyslog.conf"
[ "$(grep -c "file=\"$T/log/" "$T/classcord-rsyslog.conf")" -eq 3 ] || fail "expected 3 output paths"
cat >"$T/rsyslog.conf" <<EOF
module(load="imuxsock" SysSock.Name="$T/log.sock")
global(workDirectory="$T/spool")
include(file="$T/classcord-rsyslog.conf")
*.* $T/log/other.log
EOF
rsyslogd -N1 -f "$T/rsyslog.conf"
rsyslogd -f "$T/rsyslog.conf" -i "$T/rsyslogd.pid"
wait_until 10 "rsyslog socket" test -S "$T/log.sock"

# Defaults everywhere but the wait between password attempts after 5 failures (1 s by default),
# shortened so that part (a) does not spend its time sleeping; the counts are the same.
cat >"$T/classcord.toml" <<EOF
[security]
login_delay_ms = 100
[log]
output = "syslog"
syslog_socket = "$T/log.sock"
EOF
start_server "$T/classcord.toml" "$T/data" "$T/server.stderr" --log-level debug
MAIN_PID=$SERVER_PID
PORT=$SERVER_PORT
echo "server on 127.0.0.1:$PORT, logging to $T/log.sock"

section "(a) normal chat: the filter must match nothing"
"${DRIVER[@]}" chat --host 127.0.0.1 --port "$PORT" --source 127.0.0.10 --count 40
wait_until 10 "chat lines in debug.log" grep -q '"content":"message 39"' "$T/log/debug.log"
[ ! -s "$T/log/audit.log" ] || fail "normal chat wrote security lines: $(cat "$T/log/audit.log")"
chat_lines=$(wc -l <"$T/log/classcord.log")
debug_lines=$(wc -l <"$T/log/debug.log")
for log in classcord.log debug.log; do
    n=$(matched "$T/log/$log" "${FILTER}[mode=all]")
    echo "fail2ban-regex on the normal-chat $log: $n matched"
    [ "$n" = 0 ] || fail "the filter matched $n normal-chat lines in $log"
done
echo "normal chat: $chat_lines lines in classcord.log, $debug_lines in debug.log"

section "(a) a class of 40 behind one address, all defaults, restarted: nothing for the jails"
cat >"$T/class.toml" <<EOF
[log]
output = "syslog"
syslog_socket = "$T/log.sock"
EOF
for phase in first again; do
    start_server "$T/class.toml" "$T/data-class" "$T/server-class.stderr"
    "${DRIVER[@]}" classroom --host 127.0.0.1 --port "$SERVER_PORT" --source 127.0.0.11 \
        --count 40 --phase "$phase"
    stop_server "$SERVER_PID"
done
wait_until 10 "the 40 typos in audit.log" at_least 40 "$T/log/audit.log" 'AUTH_FAIL ip=127.0.0.11 '
sleep 0.3
cp "$T/log/audit.log" "$T/classroom-audit.log"
: >"$T/log/audit.log"
lines=$(wc -l <"$T/classroom-audit.log")
[ "$lines" = 40 ] ||
    fail "the class wrote $lines security lines, not just its 40 typos: $(grep -v AUTH_FAIL "$T/classroom-audit.log" | head -3)"
for mode in brute-force flood verdicts; do
    n=$(matched "$T/classroom-audit.log" "${FILTER}[mode=$mode]")
    echo "fail2ban-regex on the class's audit.log, mode=$mode: $n matched"
    [ "$n" = 0 ] || fail "mode=$mode matched $n lines of a class"
done
n=$(matched "$T/classroom-audit.log" "${FILTER}[mode=all]")
[ "$n" = 40 ] || fail "mode=all matched $n of the class's 40 typos"
notes=$(grep -c '\[ADRESSE\] .* depuis 127\.0\.0\.11 ' "$T/log/classcord.log" || true)
[ "$notes" = 2 ] || fail "the shared address was noted $notes times, expected once per run (2)"
grep -m1 '\[ADRESSE\]' "$T/log/classcord.log"

section "(a) attacks over loopback, from distinct source addresses"
"${DRIVER[@]}" bad-logins --host 127.0.0.1 --port "$PORT" --source 127.0.0.2 --count 12
"${DRIVER[@]}" protocol-errors --host 127.0.0.1 --port "$PORT" --source 127.0.0.3 --count 25
"${DRIVER[@]}" forged --host 127.0.0.1 --port "$PORT" --source 127.0.0.4
"${DRIVER[@]}" long-line --host 127.0.0.1 --port "$PORT" --source 127.0.0.5
"${DRIVER[@]}" bad-logins --host 127.0.0.1 --port "$PORT" --source 127.0.0.9 --user carol \
    --count 60 --until-judged
# 12 bad logins on one account from one address: 3 AUTH_FAIL, then 7 delayed attempts
# (RATE_LIMIT action=delay + AUTH_FAIL each), then the account is locked: 2 RATE_LIMIT
# action=refuse (no password check, so no AUTH_FAIL) => 19 lines; 25 PROTOCOL_ERROR; 8 forged
# logins (AUTH_FAIL) + 3 forged registrations (REGISTER_REFUSED); PROTOCOL_ERROR + LINE_TOO_LONG;
# the brute force on carol: the same 17 lines for its first 10 tries, 30 refused tries on the
# locked account (RATE_LIMIT action=refuse), the verdict BRUTE_FORCE, 1 refusal for the address
# => 49 lines.
expected=106
wait_until 10 "$expected lines in audit.log" at_least "$expected" "$T/log/audit.log" ""

# The hub's own limits, on a second server with a short identification deadline: a flood past
# the line rate (RATE_LIMIT action=warn, then action=disconnect) and a silent connection (TIMEOUT).
# And a connection flood past a lowered rate of new connections (the default needs a thousand
# in a minute): refused, CONN_REJECTED each, and one CONN_FLOOD verdict.
cat >"$T/limits.toml" <<EOF
[security]
identify_timeout_secs = 2
new_connections_burst = 20
new_connections_per_minute = 1
[log]
output = "syslog"
syslog_socket = "$T/log.sock"
EOF
start_server "$T/limits.toml" "$T/data-limits" "$T/server-limits.stderr"
PORT2=$SERVER_PORT
"${DRIVER[@]}" flood --host 127.0.0.1 --port "$PORT2" --source 127.0.0.7 --count 200
"${DRIVER[@]}" silent --host 127.0.0.1 --port "$PORT2" --source 127.0.0.8 --duration 15
"${DRIVER[@]}" conn-flood --host 127.0.0.1 --port "$PORT2" --source 127.0.0.12 --count 25
stop_server "$SERVER_PID"
# 106 + RATE_LIMIT warn + RATE_LIMIT disconnect + TIMEOUT + 5 CONN_REJECTED + CONN_FLOOD
expected=115
wait_until 10 "$expected lines in audit.log" at_least "$expected" "$T/log/audit.log" ""
sleep 0.3
lines=$(wc -l <"$T/log/audit.log")
[ "$lines" -eq "$expected" ] || fail "audit.log has $lines lines, expected $expected"
echo "audit.log: $lines lines; a sample:"
grep -m3 -F 'AUTH_FAIL ip=127.0.0.4' "$T/log/audit.log"
grep -F -e 'RATE_LIMIT ip=127.0.0.2 ' -e TIMEOUT -e kind=message -e CONN_ -e BRUTE_FORCE \
    "$T/log/audit.log"
grep -q '10\.9\.9\.9' "$T/log/audit.log" || fail "the forged names did not reach audit.log"

all=$(matched "$T/log/audit.log" "${FILTER}[mode=all]")
verdicts=$(matched "$T/log/audit.log" "$FILTER")
brute=$(matched "$T/log/audit.log" "${FILTER}[mode=brute-force]")
flood=$(matched "$T/log/audit.log" "${FILTER}[mode=flood]")
ips=$(addresses "$T/log/audit.log" "${FILTER}[mode=all]")
judged=$(addresses "$T/log/audit.log" "$FILTER")
echo "fail2ban-regex on audit.log: all=$all verdicts=$verdicts brute-force=$brute flood=$flood"
echo "addresses: $ips; judged: $judged"
[ "$all" = 115 ] || fail "mode=all matched $all, expected 115"
[ "$verdicts" = 2 ] || fail "the default mode (verdicts) matched $verdicts, expected 2"
[ "$brute" = 1 ] || fail "mode=brute-force matched $brute, expected 1 (the brute force on carol)"
[ "$flood" = 1 ] || fail "mode=flood matched $flood, expected 1 (the connection flood)"
[ "$ips" = "127.0.0.12,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.7,127.0.0.8,127.0.0.9" ] ||
    fail "unexpected addresses: $ips"
[ "$judged" = "127.0.0.12,127.0.0.9" ] || fail "unexpected judged addresses: $judged"
forged_ips=$(grep -F 'ip=127.0.0.4' "$T/log/audit.log" >"$T/forged.log"; addresses "$T/forged.log" "${FILTER}[mode=all]")
[ "$forged_ips" = "127.0.0.4" ] || fail "forged names gave addresses $forged_ips"
echo "forged names: $(wc -l <"$T/forged.log") lines, every match is the sender 127.0.0.4"
[ ! -s "$T/log/other.log" ] || fail "lines escaped the classcord rules: $(head -3 "$T/log/other.log")"

section "(a) every documented token against every filter mode"
# One line per token and value family, as SecurityEvent writes them (pinned by the unit tests in
# src/logging/tests.rs), behind an rsyslog prefix. Expected: all 15; the jails' modes only the
# verdicts: brute-force 1, flood 1, verdicts 2.
{
    for line in \
        'AUTH_FAIL ip=10.0.0.1 user="alice"' \
        'REGISTER_REFUSED ip=10.0.0.2 reason=exists user="bob"' \
        'PROTOCOL_ERROR ip=10.0.0.3 reason=bad-json conn=1' \
        'LINE_TOO_LONG ip=10.0.0.3 conn=1' \
        'SLOW_CLIENT ip=10.0.0.4 limit=262144 conn=2' \
        'FLOOD ip=10.0.0.5 action=paused conn=3' \
        'RATE_LIMIT ip=10.0.0.6 kind=login action=delay conn=4 user="alice"' \
        'CONN_REJECTED ip=10.0.0.7 reason=not-allowed' \
        'CONN_REJECTED ip=10.0.0.7 reason=too-many' \
        'CONN_REJECTED ip=10.0.0.7 reason=rate' \
        'CONN_REJECTED ip=10.0.0.8 reason=server-full' \
        'TIMEOUT ip=10.0.0.9 phase=partial-line conn=5' \
        'RATE_LIMIT ip=10.0.0.10 kind=invalid action=disconnect conn=6' \
        'BRUTE_FORCE ip=10.0.0.11 reason=locked-accounts failures=10 accounts=1 locked=30 user="alice"' \
        'CONN_FLOOD ip=10.0.0.12 reason=rate open=3' \
        'LOG_DROPPED lines=3 security=0 : file du journal pleine, lignes perdues'; do
        echo "2026-12-02T08:00:00.000000+00:00 pi classcord[42]: $line"
    done
} >"$T/tokens.log"
t_all=$(matched "$T/tokens.log" "${FILTER}[mode=all]")
t_verdicts=$(matched "$T/tokens.log" "$FILTER")
t_brute=$(matched "$T/tokens.log" "${FILTER}[mode=brute-force]")
t_flood=$(matched "$T/tokens.log" "${FILTER}[mode=flood]")
# The old modes (jails kept from an older version) still load, and match the verdicts only.
t_old=$(for mode in auth conn protocol; do matched "$T/tokens.log" "${FILTER}[mode=$mode]"; done |
    paste -sd, -)
echo "tokens: all=$t_all verdicts=$t_verdicts brute-force=$t_brute flood=$t_flood; old auth,conn,protocol=$t_old"
if [ "$t_all" != 15 ] || [ "$t_verdicts" != 2 ] || [ "$t_brute" != 1 ] || [ "$t_flood" != 1 ] ||
    [ "$t_old" != "1,1,2" ]; then
    fail "token/mode table differs from SECURITE.md"
fi

section "(a) logrotate with the shipped file (postrotate: HUP to the private rsyslogd)"
sed -e "s#/var/log/classcord#$T/log#g" \
    -e "s#/usr/lib/rsyslog/rsyslog-rotate#kill -HUP \$(cat $T/rsyslogd.pid)#" \
    etc/logrotate.d/classcord >"$T/logrotate.conf"
logrotate -d -s "$T/logrotate.state" "$T/logrotate.conf" 2>"$T/logrotate.debug" ||
    fail "logrotate -d: $(cat "$T/logrotate.debug")"
! grep -qi 'error' "$T/logrotate.debug" || fail "logrotate: $(grep -i error "$T/logrotate.debug")"
logrotate -f -s "$T/logrotate.state" "$T/logrotate.conf"
[ -f "$T/log/audit.log.1" ] || fail "audit.log was not rotated"
"${DRIVER[@]}" bad-logins --host 127.0.0.1 --port "$PORT" --source 127.0.0.6 --count 1
wait_until 10 "a new line in the fresh audit.log" grep -q 'ip=127.0.0.6' "$T/log/audit.log"
[ "$(wc -l <"$T/log/audit.log.1")" -eq 115 ] || fail "rotated file changed"
echo "rotated: audit.log.1 keeps 115 lines, audit.log receives new lines"
stop_server "$MAIN_PID"
: >"$T/log/audit.log"

section "(b) network namespaces: server, attacker, honest client"
ip netns add "$NS_SRV"
ip netns add "$NS_ATT"
ip netns add "$NS_HON"
ip link add "va$$" type veth peer name "vsa$$"
ip link add "vh$$" type veth peer name "vsh$$"
ip link set "va$$" netns "$NS_ATT"
ip link set "vh$$" netns "$NS_HON"
ip link set "vsa$$" netns "$NS_SRV"
ip link set "vsh$$" netns "$NS_SRV"
ip -n "$NS_SRV" addr add 10.201.1.1/24 dev "vsa$$"
ip -n "$NS_SRV" addr add 10.201.2.1/24 dev "vsh$$"
ip -n "$NS_ATT" addr add 10.201.1.2/24 dev "va$$"
ip -n "$NS_HON" addr add 10.201.2.2/24 dev "vh$$"
for ns in "$NS_SRV" "$NS_ATT" "$NS_HON"; do
    ip -n "$ns" link set lo up
done
ip -n "$NS_SRV" link set "vsa$$" up
ip -n "$NS_SRV" link set "vsh$$" up
ip -n "$NS_ATT" link set "va$$" up
ip -n "$NS_HON" link set "vh$$" up
rm -rf "$T/data"
# All defaults here (a real classroom set-up), syslog to the private rsyslogd.
cat >"$T/ns.toml" <<EOF
[log]
output = "syslog"
syslog_socket = "$T/log.sock"
EOF
ip netns exec "$NS_SRV" "$BIN" serve --listen 0.0.0.0:12345 --data "$T/data" \
    --config "$T/ns.toml" 2>"$T/server-ns.stderr" &
pids+=($!)
wait_until 10 "server in $NS_SRV" grep -q 'écoute sur 0.0.0.0:12345' "$T/log/classcord.log"
ip netns exec "$NS_ATT" "${DRIVER[@]}" connect-check --host 10.201.1.1 --port 12345 --source 10.201.1.2
ip netns exec "$NS_ATT" "${DRIVER[@]}" connect-check --http --host 10.201.1.1 --port 8080 --source 10.201.1.2
ip netns exec "$NS_HON" "${DRIVER[@]}" connect-check --host 10.201.2.1 --port 12345 --source 10.201.2.2

section "(b) the LAN-only nftables rules of SECURITE.md (LAN = the honest client's network)"
sed -n '/<!-- nftables-lan-begin -->/,/<!-- nftables-lan-end -->/p' SECURITE.md |
    grep -v -e '^<!--' -e '^```' | sed 's#192\.168\.1\.0/24#10.201.2.0/24#' >"$T/lan.nft"
grep -q '10.201.2.0/24' "$T/lan.nft" || fail "no nftables block found in SECURITE.md"
ip netns exec "$NS_SRV" nft -c -f "$T/lan.nft"
ip netns exec "$NS_SRV" nft -f "$T/lan.nft"
ip netns exec "$NS_ATT" "${DRIVER[@]}" connect-check --refused --host 10.201.1.1 --port 12345 \
    --source 10.201.1.2
ip netns exec "$NS_ATT" "${DRIVER[@]}" connect-check --http --refused --host 10.201.1.1 --port 8080 \
    --source 10.201.1.2
ip netns exec "$NS_HON" "${DRIVER[@]}" connect-check --host 10.201.2.1 --port 12345 --source 10.201.2.2
ip netns exec "$NS_SRV" nft delete table inet classcord_lan

section "(b) fail2ban-server with the shipped jail and action, inside the server's namespace"
mkdir -p "$T/f2b"
cp -r /etc/fail2ban/. "$T/f2b/"
rm -f "$T/f2b/jail.d/"* "$T/f2b/jail.local" "$T/f2b/fail2ban.local"
cp etc/fail2ban/filter.d/classcord.conf "$T/f2b/filter.d/"
cp etc/fail2ban/action.d/classcord-nftables.conf "$T/f2b/action.d/"
sed "s#/var/log/classcord#$T/log#" etc/fail2ban/jail.d/classcord.conf >"$T/f2b/jail.d/classcord.conf"
cat >"$T/f2b/fail2ban.local" <<EOF
[Definition]
logtarget = $T/fail2ban.log
socket = $T/f2b/fail2ban.sock
pidfile = $T/f2b/fail2ban.pid
dbfile = :memory:
allowipv6 = auto
EOF
ip netns exec "$NS_SRV" fail2ban-client -c "$T/f2b" -t >/dev/null
ip netns exec "$NS_SRV" fail2ban-client -c "$T/f2b" start
wait_until 20 "fail2ban ping" fail2ban-client -c "$T/f2b" ping
fail2ban-client -c "$T/f2b" status

section "(b) a class of 40 behind the honest address, a typo each: fail2ban bans nothing"
ip netns exec "$NS_HON" "${DRIVER[@]}" classroom --host 10.201.2.1 --port 12345 \
    --source 10.201.2.2 --count 40
wait_until 10 "the class's typos in audit.log" at_least 40 "$T/log/audit.log" 'AUTH_FAIL ip=10.201.2.2 '
# The polling backend reads the file about once a second: give it time to (not) count them.
sleep 3
for jail in classcord-brute-force classcord-flood; do
    fail2ban-client -c "$T/f2b" status "$jail" | tee "$T/jail-$jail.txt"
    grep -q 'Total failed:[[:space:]]*0$' "$T/jail-$jail.txt" || fail "$jail counted the class"
    grep -q 'Total banned:[[:space:]]*0$' "$T/jail-$jail.txt" || fail "$jail banned the class"
done
ip netns exec "$NS_HON" "${DRIVER[@]}" connect-check --host 10.201.2.1 --port 12345 --source 10.201.2.2

section "(b) honest chat running, a brute force on one account from the attacker"
ip netns exec "$NS_HON" "${DRIVER[@]}" honest --host 10.201.2.1 --port 12345 --source 10.201.2.2 \
    --duration 12 >"$T/honest.out" 2>&1 &
honest_pid=$!
pids+=("$honest_pid")
sleep 1
attack_start=$(date +%s.%N)
ip netns exec "$NS_ATT" "${DRIVER[@]}" bad-logins --host 10.201.1.1 --port 12345 --source 10.201.1.2 \
    --count 60 --until-judged
banned() {
    fail2ban-client -c "$T/f2b" status classcord-brute-force |
        grep -q 'Banned IP list:.*10\.201\.1\.2'
}
wait_until 20 "ban of 10.201.1.2" banned
ban_after=$(echo "$(date +%s.%N) - $attack_start" | bc)
printf 'banned %.1f s after the first bad login\n' "$ban_after"
grep -F 'BRUTE_FORCE ip=10.201.1.2 ' "$T/log/audit.log" || fail "no verdict line"
# fail2ban lists the address a moment before its action has run.
in_set() {
    ip netns exec "$NS_SRV" nft list set inet f2b-classcord addr-set-classcord-brute-force |
        grep -q '10\.201\.1\.2'
}
wait_until 10 "10.201.1.2 in the nftables set" in_set
ip netns exec "$NS_SRV" nft list table inet f2b-classcord | tee "$T/nft.txt"
grep -Eq 'tcp dport \{ (12345, 8080|8080, 12345) \} ip saddr @addr-set-classcord-brute-force reject' "$T/nft.txt" ||
    fail "the ban rule is not limited to the chat and web ports (12345, 8080)"
grep -q '10.201.1.2' "$T/nft.txt" || fail "the banned address is not in the set"
! nft list tables 2>/dev/null | grep -q f2b-classcord || fail "rules leaked into the root namespace"
ip netns exec "$NS_ATT" "${DRIVER[@]}" connect-check --refused --host 10.201.1.1 --port 12345 \
    --source 10.201.1.2
ip netns exec "$NS_ATT" "${DRIVER[@]}" connect-check --http --refused --host 10.201.1.1 --port 8080 \
    --source 10.201.1.2
ip netns exec "$NS_HON" "${DRIVER[@]}" connect-check --host 10.201.2.1 --port 12345 --source 10.201.2.2
wait "$honest_pid" || fail "honest client: $(cat "$T/honest.out")"
cat "$T/honest.out"
pids=("${pids[0]}")

section "(b) unban restores the attacker's address"
fail2ban-client -c "$T/f2b" set classcord-brute-force unbanip 10.201.1.2
ip netns exec "$NS_ATT" "${DRIVER[@]}" connect-check --host 10.201.1.1 --port 12345 --source 10.201.1.2

section "(b) log extract of the blocked attack"
grep -F '10.201.1.2' "$T/log/classcord.log" | head -2
grep -F '10.201.1.2' "$T/log/audit.log" | sed -n '1,12p;/BRUTE_FORCE/p'
grep -E 'classcord-brute-force\] (Found|Ban|Unban)' "$T/fail2ban.log" | tail -12
timeout 20 fail2ban-client -c "$T/f2b" stop
! ip netns exec "$NS_SRV" nft list table inet f2b-classcord >/dev/null 2>&1 ||
    fail "fail2ban stop left its table"
kill "${pids[0]}"
wait "${pids[0]}" || true
pids=()
for ns in "$NS_SRV" "$NS_ATT" "$NS_HON"; do
    ip netns del "$ns"
done
kill "$(cat "$T/rsyslogd.pid")"
rm -f "$T/rsyslogd.pid"

section "(c) journald alone: a private systemd-journald, fail2ban-regex on its journal"
timeout 180 unshare --mount --net --propagation private \
    bash "$REPO/tests/system/journald_check.sh" "$REPO" "$T/journald"
section "done"
