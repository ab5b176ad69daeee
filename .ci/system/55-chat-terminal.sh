#!/usr/bin/env bash
# `classcord chat` under real terminals (tmux), against a real server on loopback:
#   two users exchange a global message, a private message and a channel message, and each sees
#   the other's presence; what one is typing stays on its prompt line while messages arrive and
#   across a window resize, then is sent intact; notices, private lines and presence are coloured;
#   a third client with --brut and NO_COLOR shows a refused line's raw error, without colours;
#   the server's shutdown ends every client with its notice and leaves the terminal usable.
# The screens are printed at the end. Every wait is bounded; tmux and the server go away on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/system/lib/wait.sh
started=$(date +%s)
command -v tmux >/dev/null || apt-get install -y --no-install-recommends tmux

work=$(mktemp -d /tmp/classcord-chat-ci.XXXXXX)
tmux_socket="classcord-chat-ci-$$"
server_pid=""
cleanup() {
    local status=$?
    tmux -L "$tmux_socket" kill-server 2>/dev/null || true
    stop_process "$server_pid"
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    for who in alice bob zoe; do
        echo "--- $who"; screen "$who" 2>/dev/null || true
    done
    exit 1
}

# The build of the README test command (same features: nothing to compile after it).
cargo test --workspace --no-run -q
binary="$work/classcord"
install -m 0755 target/debug/classcord "$binary"
"$binary" serve --listen 127.0.0.1:0 --data "$work/data" --log console 2> "$work/server.log" &
server_pid=$!
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/.*écoute sur 127.0.0.1:\([0-9]*\).*/\1/p' "$work/server.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/server.log"; echo "server did not start"; exit 1; }

t() { tmux -L "$tmux_socket" "$@"; }
screen() { t capture-pane -p -J -t "$1"; }
keys() { local who=$1; shift; t send-keys -t "$who" "$@"; }
wait_screen() {
    for _ in $(seq 200); do screen "$1" | grep -qF -- "$2" && return 0; sleep 0.1; done
    fail "never on $1's screen: $2"
}
# The last non-empty line: where the prompt and the typed text are.
prompt_line() { screen "$1" | sed '/^[[:space:]]*$/d' | tail -n 1; }
wait_prompt() { # SESSION TEXT: the last line becomes exactly TEXT (the editor redraws it)
    for _ in $(seq 200); do [ "$(prompt_line "$1")" = "$2" ] && return 0; sleep 0.1; done
    fail "$1's prompt line is '$(prompt_line "$1")', not '$2'"
}
# Each client runs in its own session; when it ends, the shell says how it left the terminal.
open() {
    local who=$1; shift
    t new-session -d -s "$who" -x 110 -y 30 \
        "$* ; echo \"FIN=\$?\"; stty -a | grep -qw icanon && echo TERMINAL_OK; sleep 60"
}

t0=$(date +%s)
open alice "'$binary' chat :$port --nom alice"
wait_screen alice "Bienvenue sur ClassCord, alice"
wait_screen alice "#général> "
open bob "'$binary' chat 127.0.0.1:$port --nom bob"
wait_screen bob "Bienvenue sur ClassCord, bob"
wait_screen alice "bob est en ligne"

# A global message, a private message, a channel message.
keys alice "bonjour bob" Enter
wait_screen bob "<alice> bonjour bob"
keys alice "/msg bob c'est privé" Enter
wait_screen bob "[privé] alice → bob : c'est privé"
keys bob "/join #projet" Enter
wait_screen bob "Vous avez rejoint #projet"
wait_screen bob "#projet> "
keys alice "/join projet" Enter
wait_screen alice "#projet> "
keys bob "salut le projet" Enter
wait_screen alice "#projet <bob> salut le projet"
# Presence, the other way round.
keys bob "/etat absent" Enter
wait_screen alice "bob est absent(e)"
echo "messages and presence both ways: ok"

# A line being typed while messages arrive and the window is resized.
keys bob "je tape encore"
wait_screen bob "#projet> je tape encore"
keys alice "premier pendant la frappe" Enter
wait_screen bob "<alice> premier pendant la frappe"
t resize-window -t bob -x 70 -y 20
keys alice "/msg bob deuxième, après le redimensionnement" Enter
wait_screen bob "deuxième, après le redimensionnement"
t resize-window -t bob -x 120 -y 35
keys alice "troisième" Enter
wait_screen bob "<alice> troisième"
wait_prompt bob "#projet> je tape encore"
screen bob | grep -n "troisième\|#projet> je tape encore" | tail -2 | head -1 | grep -q troisième ||
    fail "the message is not above the prompt"
keys bob Enter
wait_screen alice "#projet <bob> je tape encore"
echo "typed text kept on the prompt line across 3 messages and 2 resizes, then sent intact: ok"

# Colours by kind (the screen with its escape codes).
coloured=$(t capture-pane -p -e -t bob)
grep -qF $'\e[35m' <<< "$coloured" || fail "private line not coloured"
grep -qF $'\e[33m' <<< "$coloured" || fail "notice not coloured"
t capture-pane -p -e -t alice | grep -F "bob est absent(e)" | grep -qF $'\e[32m' ||
    fail "presence not coloured"
echo "colours by kind: ok"

# --brut and NO_COLOR: a line the server refuses, raw both ways, no colour at all.
open zoe "NO_COLOR=1 '$binary' chat :$port --nom zoe --brut"
wait_screen zoe 'S>C {"type":"hello","server":"ClassCord"'
keys zoe '{"type":"message","content":42}' Enter
wait_screen zoe 'C>S {"type":"message","content":42}'
wait_screen zoe 'S>C {"type":"error","message":"Le champ \"content\" doit \u00eatre une cha\u00eene."'
wait_screen zoe 'Erreur : Le champ "content" doit être une chaîne.'
if t capture-pane -p -e -t zoe | grep -qF $'\e[3'; then fail "colours despite NO_COLOR"; fi
echo "--brut shows the refused line and its error, NO_COLOR respected: ok"

keys bob "/quitter" Enter
wait_screen bob "FIN=0"
wait_screen bob "TERMINAL_OK"
wait_screen alice "bob s'est déconnecté(e)"

# The server stops: the clients show its notice, then end, the terminal back to normal.
keys alice "en cours de frappe"
wait_screen alice "#projet> en cours de frappe"
kill -TERM "$server_pid"
wait_screen alice "Le serveur s'arrête"
wait_screen alice "Connexion fermée : le serveur s'arrête."
wait_screen alice "FIN=0"
wait_screen alice "TERMINAL_OK"
wait_screen zoe "TERMINAL_OK"
for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
server_pid=""
echo "shutdown: notice, clean exit, terminal restored: ok"

for who in alice bob zoe; do
    echo "--- $who's screen (tmux capture-pane) ---"
    screen "$who" | sed -e '/^$/N;/^\n$/D'
done
echo "55-chat-terminal: all checks passed in $(( $(date +%s) - started ))s"
