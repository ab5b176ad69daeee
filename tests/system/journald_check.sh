#!/usr/bin/env bash
# Part (c) of .ci/system/30-syslog-fail2ban.sh: journald alone, as on Raspberry Pi OS.
# Runs inside `unshare --mount --net` (called by that script): a tmpfs over /run hides the host's
# /run, so a real systemd-journald can own /run/systemd/journal and keep a volatile journal in
# /run/log/journal without touching the host; the network namespace has only its own loopback,
# where fail2ban's nftables rules may be added and vanish with it.
# Usage: journald_check.sh REPO WORKDIR
set -euo pipefail
REPO=$1
W=$2
BIN=$REPO/target/debug/classcord
DRIVER=(python3 "$REPO/tests/system/chat_driver.py")
FILTER=$REPO/etc/fail2ban/filter.d/classcord.conf
JOURNAL="systemd-journal[journalpath=/run/log/journal]"

fail() {
    echo "FAIL (journald): $*" >&2
    exit 1
}
. "$REPO/.ci/system/lib/wait.sh"
pids=()
cleanup() {
    set +e
    if [ -S "$W/f2b/fail2ban.sock" ]; then
        timeout 20 fail2ban-client -c "$W/f2b" stop >/dev/null 2>&1
    fi
    [ -f "$W/f2b/fail2ban.pid" ] && kill "$(cat "$W/f2b/fail2ban.pid")" 2>/dev/null
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
}
trap cleanup EXIT
trap 'exit 143' TERM INT

mkdir -p "$W"
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/systemd/journal /run/log
ip link set lo up
/lib/systemd/systemd-journald >"$W/journald.out" 2>&1 &
pids+=($!)
wait_until 10 "journald's syslog socket" test -S /run/systemd/journal/dev-log

# Started "by systemd": INVOCATION_ID set and no --log flag, so the default output is syslog.
# (/dev/log is the host's; here the journal's socket is named directly.)
cat >"$W/classcord.toml" <<EOF
[security]
login_delay_ms = 100
[log]
syslog_socket = "/run/systemd/journal/dev-log"
EOF
INVOCATION_ID=0123456789abcdef0123456789abcdef "$BIN" serve --listen 127.0.0.1:12345 \
    --data "$W/data" --config "$W/classcord.toml" 2>"$W/server.stderr" &
server=$!
pids+=("$server")
listening() {
    journalctl -D /run/log/journal -t classcord --no-pager -o cat | grep -q 'écoute sur'
}
wait_until 10 "start-up line in the journal" listening
[ ! -s "$W/server.stderr" ] || fail "the server wrote to stderr: $(cat "$W/server.stderr")"

"${DRIVER[@]}" chat --host 127.0.0.1 --port 12345 --source 127.0.0.10 --count 20
"${DRIVER[@]}" bad-logins --host 127.0.0.1 --port 12345 --source 127.0.0.2 --count 12
"${DRIVER[@]}" protocol-errors --host 127.0.0.1 --port 12345 --source 127.0.0.3 --count 25
"${DRIVER[@]}" forged --host 127.0.0.1 --port 12345 --source 127.0.0.4
"${DRIVER[@]}" long-line --host 127.0.0.1 --port 12345 --source 127.0.0.5
security_lines() {
    [ "$(journalctl -D /run/log/journal -t classcord --no-pager -o cat --facility=auth |
        wc -l)" -ge 57 ]
}
wait_until 10 "57 security lines in the journal" security_lines

# The fields journald recorded from the server's datagrams.
journalctl -D /run/log/journal -t classcord --no-pager -o json >"$W/journal.json"
python3 - "$W/journal.json" "$server" <<'EOF'
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1])]
pid = sys.argv[2]
auth = [e for e in entries if e["MESSAGE"].startswith("AUTH_FAIL ")]
conn = [e for e in entries if e["MESSAGE"].startswith("[CONNEXION] ")]
assert len(auth) == 18, len(auth)
for e in auth:
    assert (e["SYSLOG_FACILITY"], e["PRIORITY"], e["SYSLOG_PID"]) == ("4", "4", pid), e
    assert "\n" not in e["MESSAGE"] and "\u202e" not in e["MESSAGE"], e["MESSAGE"]
for e in conn:
    assert (e["SYSLOG_FACILITY"], e["PRIORITY"]) == ("16", "6"), e
print("journal: %d classcord entries; AUTH_FAIL: facility 4 (auth), priority 4 (warning), "
      "SYSLOG_PID %s; [CONNEXION]: facility 16 (local0), priority 6 (info)" % (len(entries), pid))
EOF

matched() {
    fail2ban-regex "$1" "$2" | sed -n 's/^Lines: .* \([0-9][0-9]*\) matched.*/\1/p'
}
all=$(matched "$JOURNAL" "${FILTER}[mode=all]")
verdicts=$(matched "$JOURNAL" "$FILTER")
ips=$(fail2ban-regex -o ip "$JOURNAL" "${FILTER}[mode=all]" | sort -u | paste -sd, -)
echo "fail2ban-regex on the journal: all=$all verdicts=$verdicts; addresses: $ips"
# The same attacks as part (a) of the main script, without its brute force: 57 lines, none of
# them a verdict (no account is hammered once locked, no address crosses a cap).
[ "$all" = 57 ] || fail "mode=all matched $all, expected 57"
[ "$verdicts" = 0 ] || fail "the jails' filter matched $verdicts lines, expected none"
[ "$ips" = "127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5" ] || fail "unexpected addresses: $ips"

# A real ban with the shipped backend = systemd jail. Only for this test, loopback addresses may
# be banned (fail2ban ignores them by default); this namespace has no other interface.
mkdir -p "$W/f2b"
cp -r /etc/fail2ban/. "$W/f2b/"
rm -f "$W/f2b/jail.d/"* "$W/f2b/jail.local" "$W/f2b/fail2ban.local"
cp "$REPO/etc/fail2ban/filter.d/classcord.conf" "$W/f2b/filter.d/"
cp "$REPO/etc/fail2ban/action.d/classcord-nftables.conf" "$W/f2b/action.d/"
cp "$REPO/etc/fail2ban/jail.d/classcord-systemd.conf" "$W/f2b/jail.d/"
cat >"$W/f2b/jail.d/zz-loopback-test.local" <<EOF
[classcord-brute-force]
ignoreself = false
ignoreip =
EOF
cat >"$W/f2b/fail2ban.local" <<EOF
[Definition]
logtarget = $W/fail2ban.log
socket = $W/f2b/fail2ban.sock
pidfile = $W/f2b/fail2ban.pid
dbfile = :memory:
allowipv6 = auto
EOF
fail2ban-client -c "$W/f2b" start >/dev/null
wait_until 20 "fail2ban ping" fail2ban-client -c "$W/f2b" ping
jail_ready() {
    fail2ban-client -c "$W/f2b" status classcord-brute-force | grep -q 'Journal matches:.*classcord'
}
wait_until 10 "the systemd-backend jail" jail_ready
sleep 1
"${DRIVER[@]}" connect-check --host 127.0.0.1 --port 12345 --source 127.0.0.20
# A brute force on one account ("bob": "alice" is locked already): 10 failures lock it, 30 more
# tries on it are the server's BRUTE_FORCE verdict, which the jail bans.
"${DRIVER[@]}" bad-logins --host 127.0.0.1 --port 12345 --source 127.0.0.20 --count 60 \
    --user bob --until-judged
banned() {
    fail2ban-client -c "$W/f2b" status classcord-brute-force |
        grep -q 'Banned IP list:.*127\.0\.0\.20'
}
wait_until 20 "ban of 127.0.0.20 (backend = systemd)" banned
in_set() {
    nft list set inet f2b-classcord addr-set-classcord-brute-force | grep -q '127\.0\.0\.20'
}
wait_until 10 "127.0.0.20 in the nftables set" in_set
"${DRIVER[@]}" connect-check --refused --host 127.0.0.1 --port 12345 --source 127.0.0.20
"${DRIVER[@]}" connect-check --host 127.0.0.1 --port 12345 --source 127.0.0.21
fail2ban-client -c "$W/f2b" set classcord-brute-force unbanip 127.0.0.20 >/dev/null
"${DRIVER[@]}" connect-check --host 127.0.0.1 --port 12345 --source 127.0.0.20
grep -E 'classcord-brute-force\] (Ban|Unban)' "$W/fail2ban.log"
echo "journald alone: backend = systemd jail banned and unbanned 127.0.0.20"
