#!/usr/bin/env bash
# The hourly backup units under a real systemd: a minimal Debian 12 root (debootstrap, cached under
# /var/cache/classcord-ci/) boots with systemd-nspawn as PID 1 on a private network, with the
# freshly built classcord and systemd/classcord-backup.{service,timer} installed in a copy of it.
# Checked from outside:
#   a server runs (transient unit, user classcord) and chats; classcord-backup.service, started
#   beside it, succeeds: a verified backup in /var/backups/classcord, owned by classcord, 0600,
#   holding the chat lines; the service ran sandboxed (no capabilities, NoNewPrivs, seccomp,
#   no network); a drop-in (CLASSCORD_BACKUP_KEEP=2) keeps only the two newest; it still works
#   with the server stopped; the timer is active with a next run within the hour.
# Every wait is bounded; the container and its copy of the root go away on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
machine=classcord-backup-ci-$$

for tool in systemd-nspawn:systemd-container debootstrap:debootstrap; do
    command -v "${tool%%:*}" >/dev/null ||
        apt-get install -y --no-install-recommends "${tool#*:}"
done

# The shared cached root and the nspawn helpers.
. .ci/system/lib/debian_root.sh
pristine=$(debian_root amd64)

# The build of the README test command (same features: nothing to compile after it).
cargo test --workspace --no-run -q
scratch_work classcord-backup
work=$WORK
root="$work/root"
cp -a "$pristine" "$root"
install -m 0755 target/debug/classcord "$root/usr/bin/classcord"
install -m 0644 systemd/classcord-backup.service systemd/classcord-backup.timer \
    "$root/etc/systemd/system/"

boot_root "$root" "$machine" "$work/console.log"

checks=0
ok() { checks=$((checks + 1)); echo "ok   $*"; }
fail() {
    echo "FAIL: $*"
    in_ct journalctl -u classcord-backup --no-pager -n 40 || true
    exit 1
}
backups() { in_ct sh -c 'ls /var/backups/classcord/ 2>/dev/null | grep -c "^classcord-.*\.redb$" || true'; }
run_backup() {
    in_ct systemctl start classcord-backup.service || fail "classcord-backup.service failed"
    [ "$(in_ct systemctl show -P Result classcord-backup.service)" = success ] ||
        fail "result $(in_ct systemctl show -P Result classcord-backup.service)"
}

# The service user and a database with one account, as the package would leave them.
in_ct useradd --system --home-dir /var/lib/classcord --shell /usr/sbin/nologin classcord
in_ct install -d -o classcord -g classcord -m 0750 /var/lib/classcord
printf '[passwords]\nmemory_kib = 1024\niterations = 1\n' > "$root/etc/classcord-test.toml"
echo 'mdp-alice' | in_ct runuser -u classcord -- classcord user add alice \
    --data /var/lib/classcord --config /etc/classcord-test.toml > /dev/null
in_ct systemd-run -q --unit=classcord-test --uid=classcord --gid=classcord -p Type=exec \
    /usr/bin/classcord serve --data /var/lib/classcord --listen 127.0.0.1:12345 \
    --config /etc/classcord-test.toml
for _ in $(seq 100); do
    in_ct journalctl -u classcord-test --no-pager -o cat | grep 'écoute sur' >/dev/null && break
    sleep 0.2
done
nsenter --target "$NSPAWN_LEADER" --net -- python3 - <<'EOF' || fail "chat"
import json, socket
s = socket.create_connection(("127.0.0.1", 12345), timeout=10)
f = s.makefile("rwb")
def send(o):
    f.write((json.dumps(o) + "\n").encode()); f.flush()
send({"type": "login", "username": "alice", "password": "mdp-alice"})
assert json.loads(f.readline())["status"] == "ok"
for n in range(30):
    send({"type": "message", "content": f"ligne {n} pour la sauvegarde"})
send({"type": "ping"})
while json.loads(f.readline())["type"] != "pong":
    pass
EOF
sleep 0.3
ok "server running in the container (transient unit, user classcord), 30 chat lines sent"

run_backup
[ "$(backups)" = 1 ] || fail "expected 1 backup, found $(backups)"
file=$(in_ct sh -c 'ls /var/backups/classcord/classcord-*.redb')
perms=$(in_ct stat -c '%U %a' /var/backups/classcord "$file" | tr '\n' ' ')
[ "$perms" = "classcord 750 classcord 600 " ] || fail "permissions: $perms"
ok "backup beside the running server: $file ($perms)"
journal=$(in_ct journalctl -u classcord-backup --no-pager -o cat)
grep -q 'sauvegarde vérifiée' <<<"$journal" || fail "no 'sauvegarde vérifiée' in the journal"
grep -q 'messages *30 ligne(s)' <<<"$journal" || { echo "$journal"; fail "backup does not hold the 30 lines"; }
ok "journal: verified, messages table holds the 30 lines"
in_ct install -d /tmp/verif
in_ct cp "$file" /tmp/verif/classcord.redb
lines=$(in_ct classcord export --data /tmp/verif --format jsonl 2>/dev/null | grep -c 'pour la sauvegarde')
[ "$lines" = 30 ] || fail "export of the backup: $lines lines"
ok "the backup exports the 30 lines"

# How the unit ran: read from its last invocation's properties.
props=$(in_ct systemctl show classcord-backup.service -p User -p NoNewPrivileges -p PrivateNetwork \
    -p CapabilityBoundingSet -p ProtectSystem -p RestrictAddressFamilies | sort | tr '\n' ' ')
for want in "CapabilityBoundingSet= " "NoNewPrivileges=yes" "PrivateNetwork=yes" \
    "ProtectSystem=strict" "User=classcord"; do
    grep -q "$want" <<<"$props" || fail "property $want missing: $props"
done
ok "sandbox: $props"
security=$(in_ct systemd-analyze security classcord-backup.service --no-pager | tail -n1)
echo "     online $security"

# N from a drop-in.
in_ct install -d /etc/systemd/system/classcord-backup.service.d
printf '[Service]\nEnvironment=CLASSCORD_BACKUP_KEEP=2\n' |
    in_ct tee /etc/systemd/system/classcord-backup.service.d/keep.conf > /dev/null
in_ct systemctl daemon-reload
for _ in 1 2 3; do run_backup; done
[ "$(backups)" = 2 ] || fail "drop-in keep=2: $(backups) backups left"
grep -q 'ancienne sauvegarde supprimée' <<<"$(in_ct journalctl -u classcord-backup --no-pager -o cat)" ||
    fail "no deletion reported"
ok "drop-in CLASSCORD_BACKUP_KEEP=2: 4 runs, 2 newest kept"

in_ct systemctl stop classcord-test
run_backup
ok "backup with the server stopped"

in_ct systemctl enable --now classcord-backup.timer > /dev/null 2>&1
[ "$(in_ct systemctl is-active classcord-backup.timer)" = active ] || fail "timer not active"
next=$(in_ct systemctl show -P NextElapseUSecRealtime classcord-backup.timer)
[ -n "$next" ] || fail "timer has no next run"
ok "timer enabled and active, next run: $next"

echo "backup timer: $checks checks passed in $(( $(date +%s) - started ))s"
