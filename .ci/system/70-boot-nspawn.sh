#!/usr/bin/env bash
# Real boot test of the amd64 .deb: a minimal Debian 12 root (debootstrap, cached under
# /var/cache/classcord-ci/) boots with systemd-nspawn as PID 1 on a private network; the .deb is
# installed with dpkg -i into the running system, and everything is checked from outside:
#   the unit is enabled and active (Type=notify: READY=1 arrived); the process runs as
#   classcord with no capabilities, NoNewPrivs and seccomp, its hashing threads at nice 10
#   (setpriority allowed by the filter); a chat exchange on port 12345; log lines in the journal
#   with identifier classcord; the troubleshooting commands of DOC_CONNEXION.md; SIGKILL is followed by a restart; watchdog pings keep a 6 s
#   watchdog happy, and with pings stopped (drop-in) the watchdog restarts the service; the
#   optional classcord.socket starts the service on the first connection;
#   `dpkg -r` keeps /var/lib/classcord, `dpkg --purge` removes it.
# Every wait is bounded; the container, its copy of the root and any drop-in go away on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
. cross/lib.sh
. .ci/system/lib/debian_root.sh
started=$(date +%s)
machine=classcord-ci-$$

for tool in systemd-nspawn:systemd-container debootstrap:debootstrap; do
    command -v "${tool%%:*}" >/dev/null ||
        apt-get install -y --no-install-recommends "${tool#*:}"
done
ensure_cargo_deb

target=x86_64-unknown-linux-gnu
build_release "$target"
deb=$(build_deb "$target")
echo "package: $deb ($(stat -c %s "$deb") bytes)"
# The listing is read whole first: `grep -q` would stop reading at the match, and dpkg-deb's tar,
# still listing behind it, would die of SIGPIPE (pipefail: a false failure).
listing=$(dpkg-deb -c "$deb")
grep -q "usr/share/doc/classcord/FONCTIONNALITES.pdf" <<<"$listing" || {
    echo "$listing"; echo "FAIL: the .deb lacks the PDF documentation"; exit 1; }

pristine=$(debian_root amd64)
scratch_work classcord-boot
work=$WORK
root="$work/root"
t0=$(date +%s)
cp -a "$pristine" "$root"
cp "$deb" "$root/var/tmp/classcord.deb"
echo "root copied in $(( $(date +%s) - t0 ))s"

boot_root "$root" "$machine" "$work/console.log"

fail() { echo "FAIL: $*"; in_ct journalctl -u classcord --no-pager -n 40 || true; exit 1; }
checks=0
ok() { checks=$((checks + 1)); echo "ok   $*"; }
show() { in_ct systemctl show -P "$1" classcord; }
wait_active() { # wait_active OLD_PID: active again with another main pid
    for _ in $(seq 150); do
        if [ "$(show ActiveState)" = active ] && [ "$(show MainPID)" != "$1" ] &&
            [ "$(show MainPID)" != 0 ]; then return 0; fi
        sleep 0.2
    done
    return 1
}

# dpkg -i on the running system: postinst creates the user, enables and starts the unit.
in_ct dpkg -i /var/tmp/classcord.deb > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
[ "$(in_ct systemctl is-enabled classcord)" = enabled ] || fail "unit not enabled"
ok "dpkg -i: classcord.service enabled"
for _ in $(seq 100); do [ "$(show ActiveState)" = active ] && break; sleep 0.2; done
[ "$(show ActiveState)" = active ] || fail "unit not active: $(show ActiveState)/$(show SubState)"
[ "$(show Type)" = notify ] || fail "unit type $(show Type)"
ok "classcord.service active (Type=notify: READY=1 received)"
# Every other packaged unit with an [Install] section (the backup timer) is enabled and started.
for unit in systemd/*.timer systemd/*.socket; do
    [ -f "$unit" ] || continue
    name=$(basename "$unit")
    [ "$(in_ct systemctl is-enabled "$name")" = enabled ] || fail "$name not enabled"
    [ "$(in_ct systemctl is-active "$name")" = active ] || fail "$name not active"
    ok "$name enabled and active"
done

pid=$(show MainPID)
uid=$(in_ct id -u classcord)
status=$(in_ct cat "/proc/$pid/status")
field() { awk -v k="$1:" '$1 == k { print $2 }' <<<"$status"; }
[ "$(field Uid)" = "$uid" ] || fail "runs as uid $(field Uid), classcord is $uid"
[ "$(in_ct stat -c %U "/proc/$pid")" = classcord ] || fail "process owner"
ok "runs as classcord (uid $uid)"
for cap in CapInh CapPrm CapEff CapBnd CapAmb; do
    [ "$(field "$cap")" = 0000000000000000 ] || fail "$cap = $(field "$cap")"
done
ok "no capabilities (CapInh/Prm/Eff/Bnd/Amb all 0)"
[ "$(field NoNewPrivs)" = 1 ] || fail "NoNewPrivs = $(field NoNewPrivs)"
[ "$(field Seccomp)" = 2 ] || fail "Seccomp = $(field Seccomp)"
ok "NoNewPrivs 1, Seccomp 2 (filter mode)"
nices=$(in_ct sh -c "for t in /proc/$pid/task/*; do
    [ \"\$(cat \$t/comm)\" = hash-0 ] && cut -d' ' -f19 \$t/stat; done; true")
[ "$nices" = 10 ] || fail "hashing thread nice = '$nices' (setpriority filtered?)"
ok "hashing thread at nice 10 (setpriority allowed by the system call filter)"
perms=$(in_ct stat -c '%U %a' /var/lib/classcord /var/lib/classcord/classcord.redb | tr '\n' ' ')
[ "$perms" = "classcord 750 classcord 600 " ] || fail "data permissions: $perms"
ok "data: /var/lib/classcord 0750, classcord.redb 0600, owned by classcord"
security=$(in_ct systemd-analyze security classcord.service --no-pager | tail -n1)
echo "     online $security"

# A chat exchange on port 12345, from the host's python in the container's network namespace.
nsenter --target "$NSPAWN_LEADER" --net -- python3 .ci/system/lib/chat_exchange.py 127.0.0.1 12345 \
    chat alice motdepasse || fail "chat exchange"
ok "chat exchange on 127.0.0.1:12345 inside the container"
journal=$(in_ct journalctl -t classcord --no-pager -o cat)
grep -q '\[LOGIN\] alice depuis 127.0.0.1' <<<"$journal" || fail "no [LOGIN] line in the journal"
grep -q 'écoute sur 0.0.0.0:12345' <<<"$journal" || fail "no listening line in the journal"
ident=$(in_ct journalctl -u classcord -o json --no-pager | grep -c '"SYSLOG_IDENTIFIER":"classcord"')
[ "$ident" -gt 3 ] || fail "journal entries with SYSLOG_IDENTIFIER=classcord: $ident"
ok "journal: $ident entries with SYSLOG_IDENTIFIER=classcord, [LOGIN] alice among them"
# The troubleshooting commands of DOC_CONNEXION.md, as written there.
listening=$(in_ct ss -tlnp | grep ':12345 ' || true)
grep '0.0.0.0:12345 .*users:(("classcord"' <<<"$listening" >/dev/null || fail "ss -tlnp: $listening"
in_ct classcord healthcheck >/dev/null || fail "classcord healthcheck in the container"
in_ct classcord check-config /etc/classcord/classcord.toml >/dev/null || fail "check-config"
in_ct systemctl status classcord --no-pager >/dev/null || fail "systemctl status"
ok "ss -tlnp shows classcord on $(grep -o '[^ ]*:12345 ' <<<"$listening" | tr -d ' ' | paste -sd,); healthcheck, check-config, status ok"
echo "     journal extract (journalctl -u classcord):"
in_ct journalctl -u classcord --no-pager -o short | head -n 20 | sed 's/^/     | /'

# SIGKILL: Restart=on-failure starts it again.
restarts=$(show NRestarts)
in_ct systemctl kill -s KILL classcord
wait_active "$pid" || fail "no restart after SIGKILL"
[ "$(show NRestarts)" -gt "$restarts" ] || fail "NRestarts did not grow"
nsenter --target "$NSPAWN_LEADER" --net -- python3 .ci/system/lib/chat_exchange.py 127.0.0.1 12345 \
    login alice motdepasse || fail "account lost after SIGKILL"
ok "SIGKILL -> restarted (NRestarts $(show NRestarts)), account still there"

# Watchdog with pings: a 6 s watchdog (pings every 3 s at most, at least at every 2 s tick)
# does not fire in 14 s.
dropin=/etc/systemd/system/classcord.service.d
in_ct mkdir -p "$dropin"
printf '[Service]\nWatchdogSec=6s\n' | in_ct tee "$dropin/50-ci-watchdog.conf" >/dev/null
in_ct systemctl daemon-reload
in_ct systemctl restart classcord
restarts=$(show NRestarts)
pid=$(show MainPID)
sleep 14
[ "$(show MainPID)" = "$pid" ] && [ "$(show NRestarts)" = "$restarts" ] ||
    fail "watchdog fired although the hub pings"
ok "WatchdogSec=6s: still the same process after 14 s (WATCHDOG=1 pings arrive)"

# Watchdog without pings: the drop-in hides WATCHDOG_USEC from the server, which then never
# pings; systemd's watchdog must kill and restart it.
printf '[Service]\nWatchdogSec=3s\nUnsetEnvironment=WATCHDOG_USEC\n' |
    in_ct tee "$dropin/50-ci-watchdog.conf" >/dev/null
in_ct systemctl daemon-reload
in_ct systemctl restart classcord
pid=$(show MainPID)
in_ct cat "/proc/$pid/environ" | tr '\0' '\n' | grep '^WATCHDOG_USEC=' >/dev/null &&
    fail "drop-in did not hide WATCHDOG_USEC"
wait_active "$pid" || fail "no restart after the watchdog timeout"
in_ct journalctl -u classcord --no-pager | grep 'Watchdog timeout' >/dev/null ||
    fail "no 'Watchdog timeout' in the journal"
ok "pings stopped: 'Watchdog timeout', restarted with a new pid"
in_ct rm -f "$dropin/50-ci-watchdog.conf"
in_ct systemctl daemon-reload
in_ct systemctl restart classcord
[ "$(show ActiveState)" = active ] || fail "not active after removing the drop-in"

# Socket activation with the optional unit shipped as an example: systemd holds port 12345 (one
# dual-stack socket), the service starts at the first connection and serves on the inherited fd.
in_ct systemctl stop classcord
in_ct cp /usr/share/doc/classcord/examples/classcord.socket /etc/systemd/system/
in_ct systemctl daemon-reload
in_ct systemctl start classcord.socket
[ "$(show ActiveState)" = inactive ] || fail "service running before the first connection"
nsenter --target "$NSPAWN_LEADER" --net -- python3 .ci/system/lib/chat_exchange.py 127.0.0.1 12345 \
    login alice motdepasse || fail "login through the activation socket"
[ "$(show ActiveState)" = active ] || fail "not started by the socket"
in_ct journalctl -u classcord --no-pager -o cat | grep 'socket transmis par systemd' >/dev/null ||
    fail "the server did not use the inherited socket"
ok "classcord.socket: started on the first connection, served on systemd's socket"
in_ct systemctl stop classcord.socket classcord
in_ct rm /etc/systemd/system/classcord.socket
in_ct systemctl daemon-reload

# remove keeps the data, purge deletes it.
in_ct dpkg -r classcord > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -r"; }
in_ct test -f /var/lib/classcord/classcord.redb || fail "dpkg -r deleted the database"
in_ct test ! -e /usr/bin/classcord || fail "dpkg -r left the binary"
[ "$(show ActiveState)" != active ] || fail "still running after dpkg -r"
ok "dpkg -r: service stopped, binary gone, /var/lib/classcord/classcord.redb kept"
in_ct dpkg --purge classcord > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg --purge"; }
in_ct test ! -e /var/lib/classcord || fail "dpkg --purge left /var/lib/classcord"
in_ct test ! -e /etc/classcord/classcord.toml || fail "dpkg --purge left the conffile"
ok "dpkg --purge: /var/lib/classcord and /etc/classcord/classcord.toml removed"

echo "boot test: $checks checks passed in $(( $(date +%s) - started ))s"
