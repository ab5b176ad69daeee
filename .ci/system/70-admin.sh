#!/usr/bin/env bash
# Administration, at the system level (the Rust tests in tests/admin*.rs and tests/metrics.rs
# cover each command's effect on chat clients):
#   a) the metrics file a real server wrote parses with the reference Prometheus parser
#      (prometheus_client, in a venv cached under /var/cache/classcord-ci/) and its counters are
#      what the test did;
#   b) who may use the control socket: a member of the admin group (supplementary group from
#      /etc/group, and primary group) is let in; nobody is refused by the file mode, then, with the
#      file opened to all, by SO_PEERCRED (French refusal, ADMIN_REFUSED uid= in the log);
#   c) the interactive console under a real terminal (tmux): banner, help, Tab completion of a
#      command name and of a channel action, a command's output, two lines pasted in one go
#      (bracketed paste) and two typed ahead, a duration with a space and a bare number, the
#      oui/non question of a shutdown and of a network ban, then `shutdown maintenant`; the
#      screen and the server's ADMIN/ARRET lines are printed (the transcript in
#      FONCTIONNALITES.md);
#   d) under the packaged, hardened unit (systemd/classcord.service) in a Debian 12 root booted
#      with systemd-nspawn (cached root, see lib/debian_root.sh): /run/classcord/admin.sock with
#      mode 0660 and group classcord-admin; root and a group member administer, another user
#      cannot; `classcord user add` and `classcord backup` go through the server; `systemctl
#      reload` reloads; the socket goes away with the service.
# Every wait is bounded; the server, tmux, the container, the test users and the group go away on
# exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/system/lib/wait.sh
started=$(date +%s)
for tool in tmux:tmux setpriv:util-linux; do
    command -v "${tool%%:*}" >/dev/null ||
        apt-get install -y --no-install-recommends "${tool#*:}"
done

work=$(mktemp -d /tmp/classcord-admin-ci.XXXXXX)
chmod 0755 "$work"
server_pid=""
tmux_socket="classcord-admin-ci-$$"
group=classcord-ci-admins
prof=classcord-ci-prof
cleanup() {
    local status=$?
    tmux -L "$tmux_socket" kill-server 2>/dev/null || true
    stop_process "$server_pid"
    [ -n "${chat_pid:-}" ] && kill "$chat_pid" 2>/dev/null || true
    if declare -F stop_root >/dev/null; then stop_root; unmount_under "$work"; fi
    id "$prof" >/dev/null 2>&1 && userdel "$prof" || true
    getent group "$group" >/dev/null && groupdel "$group" || true
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

# --- a) metrics file through the reference parser ---------------------------------------------
t0=$(date +%s)
venv=/var/cache/classcord-ci/venv-prometheus
if ! "$venv/bin/python" -c 'import prometheus_client' 2>/dev/null; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" 2>/dev/null || {
        apt-get install -y --no-install-recommends python3-venv
        /usr/bin/python3 -m venv "$venv"
    }
    "$venv/bin/pip" install -q prometheus_client
fi
CLASSCORD_KEEP_METRICS="$work/classcord.prom" \
    cargo test -q --test metrics the_metrics_file_counts_what_clients_did
"$venv/bin/python" - "$work/classcord.prom" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
families = {f.name: f for f in text_string_to_metric_families(text)}
def value(name, **labels):
    family = families[name]
    for sample in family.samples:
        if sample.labels == labels and sample.name in (name, name + "_total"):
            return sample.value
    raise SystemExit(f"no sample {name} {labels}")
# The parser strips `_total` from counter family names.
expected = {
    ("classcord_messages_relayed", ()): 3,
    ("classcord_kicks", ()): 1,
    ("classcord_bans_enforced", ()): 1,
    ("classcord_logins", ()): 1,
    ("classcord_auth_failures", ()): 1,
    ("classcord_registrations", ()): 1,
    ("classcord_connections_accepted", ()): 2,
    ("classcord_connections_rejected", (("reason", "banned"),)): 1,
    ("classcord_protocol_errors", (("reason", "bad-json"),)): 1,
}
for (name, labels), want in expected.items():
    got = value(name, **dict(labels))
    assert got == want, f"{name}{dict(labels)} = {got}, expected {want}"
assert families["classcord_messages_relayed"].type == "counter"
assert families["classcord_sessions"].type == "gauge"
print(f"metrics file: {len(families)} families parsed by prometheus_client, "
      f"{sum(len(f.samples) for f in families.values())} samples, counters as expected")
PY
echo "a) metrics: $(( $(date +%s) - t0 ))s"

# --- b) who may use the socket ---------------------------------------------------------------
t0=$(date +%s)
# The build of the README test command (same features: nothing to compile after it).
cargo test --workspace --no-run -q
binary="$work/classcord"
install -m 0755 target/debug/classcord "$binary"
getent group "$group" >/dev/null || groupadd "$group"
id "$prof" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin -G "$group" "$prof"
mkdir -m 0755 "$work/data"
cat > "$work/classcord.toml" <<TOML
welcome = "Bienvenue {nom} !"
[admin]
group = "$group"
TOML
"$binary" serve --listen 127.0.0.1:0 --data "$work/data" --config "$work/classcord.toml" \
    --log console 2> "$work/server.log" &
server_pid=$!
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/.*écoute sur 127.0.0.1:\([0-9]*\).*/\1/p' "$work/server.log" 2>/dev/null |
        head -1 || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/server.log"; echo "server did not start"; exit 1; }
socket="$work/data/admin.sock"
[ "$(stat -c '%a %G' "$socket")" = "660 $group" ] ||
    { stat "$socket"; echo "socket mode or group wrong"; exit 1; }
as() { setpriv "$@" "$binary" admin --socket "$socket" who; }
as --reuid="$prof" --regid=nogroup --init-groups > "$work/prof.out" ||
    { cat "$work/prof.out"; echo "a member of $group (supplementary) was refused"; exit 1; }
as --reuid=nobody --regid="$group" --clear-groups > /dev/null ||
    { echo "a process whose primary group is $group was refused"; exit 1; }
if as --reuid=nobody --regid=nogroup --clear-groups 2> "$work/nobody.err"; then
    echo "nobody was let in"; exit 1
fi
grep -q "accès refusé au socket" "$work/nobody.err" || { cat "$work/nobody.err"; exit 1; }
chmod 0666 "$socket"
if as --reuid=nobody --regid=nogroup --clear-groups 2> "$work/nobody.err"; then
    echo "nobody was let in through a world-writable socket"; exit 1
fi
grep -q "Accès refusé : seuls root" "$work/nobody.err" || { cat "$work/nobody.err"; exit 1; }
for _ in $(seq 50); do grep -q "ADMIN_REFUSED uid=65534" "$work/server.log" && break; sleep 0.1; done
grep "ADMIN_REFUSED" "$work/server.log"
chmod 0660 "$socket"
echo "b) socket access: $(( $(date +%s) - t0 ))s"

# --- c) the console under a real terminal -----------------------------------------------------
t0=$(date +%s)
# Two chat clients stay connected meanwhile: an account and a guest.
python3 - "$port" > "$work/chat.log" 2>&1 <<'PY' &
import json, socket, sys, time
port = int(sys.argv[1])
def client(*lines):
    s = socket.create_connection(("127.0.0.1", port))
    for line in lines:
        s.sendall((json.dumps(line) + "\n").encode())
        if line["type"] in ("join_channel", "users"):
            # Waits for the answer: the console then finds alice in #projet and zoé named,
            # however long the password hashing took on a busy machine.
            wanted = ('"%s"' % line["type"]).encode()
            reply = s.makefile("rb")
            while wanted not in reply.readline():
                pass
        time.sleep(0.2)
    return s
alice = client({"type": "register", "username": "alice", "password": "secret-pw"},
               {"type": "login", "username": "alice", "password": "secret-pw"},
               {"type": "join_channel", "channel": "#projet"},
               {"type": "message", "channel": "#projet", "content": "bonjour"})
zoe = client({"type": "message", "from": "zoé", "content": ""}, {"type": "users"})
print("ready", flush=True)
time.sleep(60)
PY
chat_pid=$!
wait_until 60 "alice in #projet, zoé named" grep -q ready "$work/chat.log"
tmux -L "$tmux_socket" new-session -d -x 150 -y 45 \
    "HOME=$work '$binary' admin --data '$work/data'; sleep 30"
screen() { tmux -L "$tmux_socket" capture-pane -p -J; }
wait_screen() {
    for _ in $(seq 100); do screen | grep -qF -- "$1" && return 0; sleep 0.1; done
    screen; echo "never on screen: $1"; return 1
}
keys() { tmux -L "$tmux_socket" send-keys "$@"; }
wait_screen "console d'administration"
keys "aide" Enter
wait_screen "Commandes :"
wait_screen "ban NOM|IP|RÉSEAU [durée] [raison]"
keys "wh" Tab
wait_screen "classcord> who "
keys Enter
wait_screen "2 connexion(s) :"
keys "channel cl" Tab
wait_screen "classcord> channel close "
keys "#projet" Enter
wait_screen "Salon #projet fermé (1 membre(s) prévenu(s))."
keys "kick zoé bavardage" Enter
wait_screen "1 connexion(s) fermée(s)."
keys "danse" Enter
wait_screen "Commande inconnue : « danse »"
# Two lines pasted in one go (the terminal's bracketed paste), then Enter: both run, in order.
printf 'info\nbans\n' > "$work/paste.txt"
tmux -L "$tmux_socket" load-buffer "$work/paste.txt"
tmux -L "$tmux_socket" paste-buffer -p
keys Enter
wait_screen "Aucun bannissement en cours."
# Two lines typed without waiting for the first to finish: both run too.
keys "channel create tp" Enter "channels" Enter
wait_screen "#tp       0"
keys "shutdown 10" Enter
wait_screen "Durée « 10 » sans unité"
keys "shutdown 10 min" Enter
wait_screen "Confirmer ? (oui/non)"
keys "non" Enter
wait_screen "Annulé : rien n'a été fait."
keys "ban 10.0.0.0/8 2 heures triche" Enter
wait_screen "(16 777 216 adresses) sera banni pour 2 h"
keys "oui" Enter
wait_screen "10.0.0.0/8 banni pour 2 h"
# Last: the server stopped from the console, now (the log names the operator, not a signal).
keys "shutdown maintenant" Enter
wait_screen "Le serveur va s'arrêter tout de suite"
keys "oui" Enter
wait_screen "Arrêt du serveur en cours."
for _ in $(seq 100); do grep -q "arrêt terminé" "$work/server.log" && break; sleep 0.1; done
keys "quitter" Enter
sleep 0.5
echo "--- console screen (tmux capture-pane) ---"
tmux -L "$tmux_socket" capture-pane -p -J -S - | sed -e '/^$/N;/^\n$/D'
echo "--- the server's log meanwhile (ADMIN and ARRET lines) ---"
grep -E '\[ADMIN\] uid|\[ARRET\]' "$work/server.log"
grep -q "arrêt demandé par l'administrateur (uid 0)" "$work/server.log" ||
    { echo "the stop is not logged as the operator's"; exit 1; }
if grep -q SIGTERM "$work/server.log"; then echo "the log claims a SIGTERM"; exit 1; fi
grep -q '\[ADMIN\] uid 0 : ban 10.0.0.0/8 2 h triche$' "$work/server.log" ||
    { grep ADMIN "$work/server.log"; echo "the ban is not logged in the console's words"; exit 1; }
if grep -q 'shutdown 10 min' "$work/server.log"; then
    echo "a refused shutdown reached the server"; exit 1
fi
grep -q "who" "$work/.classcord_admin_history" || { echo "no history file"; exit 1; }
echo "c) console: $(( $(date +%s) - t0 ))s"

# --- d) the packaged unit under a real systemd --------------------------------------------------
t0=$(date +%s)
command -v systemd-nspawn >/dev/null || apt-get install -y --no-install-recommends systemd-container
. .ci/system/lib/debian_root.sh
pristine=$(debian_root amd64)
root="$work/root"
cp -a "$pristine" "$root"
install -m 0755 target/debug/classcord "$root/usr/bin/classcord"
install -m 0644 systemd/classcord.service "$root/etc/systemd/system/classcord.service"
install -d "$root/etc/classcord"
printf 'welcome = "Bonjour {nom}"\n[passwords]\nmemory_kib = 1024\niterations = 1\n' \
    > "$root/etc/classcord/classcord.toml"
boot_root "$root" classcord-admin-ci-$$ "$work/console.log"
fail() {
    echo "FAIL: $*"
    in_ct id classcord || true
    in_ct sh -c 'grep Groups /proc/$(systemctl show -P MainPID classcord)/status' || true
    in_ct journalctl -u classcord --no-pager -n 30 || true
    exit 1
}
# The service user and the admin group from the packaged sysusers file.
install -m 0644 systemd/classcord.sysusers "$root/usr/lib/sysusers.d/classcord.conf"
in_ct systemd-sysusers
in_ct useradd --no-create-home --shell /bin/sh -G classcord-admin prof
in_ct systemctl start classcord || fail "the service did not start"
sock=/run/classcord/admin.sock
for _ in $(seq 100); do in_ct test -S "$sock" && break; sleep 0.1; done
[ "$(in_ct stat -c '%a %U %G' "$sock")" = "660 classcord classcord-admin" ] ||
    fail "socket: $(in_ct stat -c '%a %U %G' "$sock")"
in_ct classcord admin who | grep -q "Aucune connexion" || fail "root cannot administer"
in_ct runuser -u prof -- classcord admin who | grep -q "Aucune connexion" ||
    fail "a member of classcord-admin cannot administer"
if in_ct runuser -u nobody -- classcord admin who 2> "$work/ct-nobody.err"; then
    fail "nobody administers"
fi
grep -q "accès refusé" "$work/ct-nobody.err" || fail "nobody: $(cat "$work/ct-nobody.err")"
echo 'mdp-alice' | in_ct classcord user add alice --data /var/lib/classcord |
    grep -q "Compte « alice » créé" || fail "user add through the server"
in_ct classcord backup --data /var/lib/classcord --out /root/copie.redb |
    grep -q "sauvegarde vérifiée" || fail "backup through the server"
[ "$(in_ct stat -c '%U %a' /root/copie.redb)" = "root 600" ] || fail "backup file owner/mode"
in_ct sed -i 's/Bonjour/Salut/' /etc/classcord/classcord.toml
in_ct systemctl reload classcord || fail "systemctl reload"
for _ in $(seq 50); do
    in_ct journalctl -u classcord --no-pager -o cat | grep "Appliqué tout de suite : welcome" >/dev/null && break
    sleep 0.1
done
in_ct journalctl -u classcord --no-pager -o cat | grep -E "ADMIN|socket d'administration" || true
in_ct journalctl -u classcord --no-pager -o cat | grep "Appliqué tout de suite : welcome" >/dev/null ||
    fail "reload not applied"
in_ct journalctl -u classcord --no-pager -o cat | grep '\[ADMIN\] uid 0 : backup$' >/dev/null ||
    fail "the backup did not go through the server"
in_ct systemctl stop classcord
in_ct test ! -e "$sock" || fail "socket left after stop"
echo "d) packaged unit under systemd (root, group member, nobody, user add, backup, reload): $(( $(date +%s) - t0 ))s"
echo "70-admin: all checks passed in $(( $(date +%s) - started ))s"
