#!/usr/bin/env bash
# `classcord export --format sql` loaded by the real sqlite3 (Debian's package):
#   a real server keeps hostile lines sent over TCP (quotes, "'); DROP TABLE", line ends with and
#   without CR, a line that looks like a sqlite3 dot-command, emoji, accents sent as
#   windows-1252 bytes, NUL and escape characters), in a channel, in private and globally;
#   the export (taken while the server runs, once the server has committed the 11 lines) loads without a single sqlite3 message, twice;
#   the rows match a JSON export of the same base byte for byte (compared in hex, NUL included);
#   users has no password hash unless --avec-empreintes; --channel filters like the JSON export;
#   the three queries of FONCTIONNALITES.md run and agree with the JSON export.
# Every wait is bounded; the server and the scratch folder go away on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/system/lib/wait.sh
started=$(date +%s)
command -v sqlite3 >/dev/null || apt-get install -y --no-install-recommends sqlite3

work=$(mktemp -d /tmp/classcord-sql-ci.XXXXXX)
server_pid=""
cleanup() {
    local status=$?
    stop_process "$server_pid"
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# The build of the README test command (same features: nothing to compile after it).
cargo test --workspace --no-run -q
binary=target/debug/classcord
"$binary" serve --listen 127.0.0.1:0 --data "$work/data" --log console 2> "$work/server.log" &
server_pid=$!
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/.*écoute sur 127.0.0.1:\([0-9]*\).*/\1/p' "$work/server.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/server.log"; fail "server did not start"; }

# The hostile class: raw bytes on the wire, each read bounded by a timeout.
python3 - "$port" <<'PY'
import json, socket, sys
port = int(sys.argv[1])
class Client:
    def __init__(self):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = self.sock.makefile("rb")
    def raw(self, data):
        self.sock.sendall(data + b"\n")
    def send(self, obj):
        self.raw(json.dumps(obj).encode())
    def until(self, pred):
        for _ in range(50):
            line = json.loads(self.reader.readline())
            if pred(line):
                return line
        raise SystemExit("expected line never came")
def account(name, password):
    c = Client()
    c.send({"type": "register", "username": name, "password": password})
    assert c.until(lambda m: True).get("status") == "ok"
    c.send({"type": "login", "username": name, "password": password})
    assert c.until(lambda m: True).get("status") == "ok"
    return c
alice = account("alice", "secret-alice")
obrien = account("o'brien", "secret-obrien")
account("sans-message", "secret-rien")
# A guest named with windows-1252 bytes (é = 0xE9, è = 0xE8), as Java on Windows sends them.
helene = Client()
helene.raw(b'{"type":"message","from":"h\xe9l\xe8ne","content":"caf\xe9 cr\xe8me \x80 100"}')
alice.send({"type": "join_channel", "channel": "#projet"})
obrien.send({"type": "join_channel", "channel": "#projet"})
for who in (alice, obrien):
    who.until(lambda m: m.get("type") == "join_channel")
hostile = [
    "l'apostrophe d'O'Brien",
    "'); DROP TABLE messages; --",
    "\"); DROP TABLE users; --",
    "deux\nlignes",
    "fin de ligne windows\r\nsuite",
    "ligne\n.quit\n;\nGO\n/\n.shell echo perdu",
    "emoji 😀👩‍🏫 et accents éèàçù ÉÀ",
    "nul\u0000caché et \u001b[31mrouge\u001b[0m et \u0007cloche",
    "",
]
for text in hostile:
    if text:
        alice.send({"type": "message", "channel": "#projet", "content": text})
alice.send({"type": "message", "subtype": "private", "to": "o'brien", "content": "privé : ' \" \\ \u0000"})
obrien.send({"type": "message", "content": "global d'O'Brien"})
# Everything sent has been handled once each sender's ping is answered.
for who in (alice, obrien, helene):
    who.send({"type": "ping"})
    who.until(lambda m: m.get("type") == "pong")
print("hostile lines sent")
PY

# The server commits kept lines in batches: wait (bounded) until all 11 are in the file.
expected=11
for _ in $(seq 100); do
    "$binary" export --data "$work/data" --format json --out "$work/all.json" 2>/dev/null
    [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/all.json")" = "$expected" ] && break
    sleep 0.1
done
"$binary" export --data "$work/data" --format sql --out "$work/export.sql"
"$binary" export --data "$work/data" --format sql --avec-empreintes --out "$work/hashes.sql" 2>/dev/null
"$binary" export --data "$work/data" --format json --channel projet --out "$work/projet.json" 2>/dev/null
"$binary" export --data "$work/data" --format sql --channel projet --out "$work/projet.sql" 2>/dev/null
if "$binary" export --data "$work/data" --format csv --avec-empreintes 2> "$work/err" >/dev/null; then
    fail "--avec-empreintes accepted for csv"
fi
grep -q "ne vaut que pour --format sql" "$work/err" || fail "$(cat "$work/err")"

load() { # FILE DB: loads with the sqlite3 shell; any message on stdout or stderr is a failure
    local out
    out=$(sqlite3 "$2" < "$1" 2>&1) || fail "sqlite3 refused $1: $out"
    [ -z "$out" ] || fail "sqlite3 said, loading $1: $out"
}
load "$work/export.sql" "$work/classe.db"
load "$work/export.sql" "$work/classe.db" # a second load gives the same base
load "$work/hashes.sql" "$work/hashes.db"
load "$work/projet.sql" "$work/projet.db"

# Compared in hex: NUL, CR and escape bytes included.
sqlite3 -separator '|' "$work/classe.db" "SELECT id, hex(timestamp), hex(sender),
    hex(coalesce(recipient, '')), hex(coalesce(channel, '')), hex(content)
    FROM messages ORDER BY id" > "$work/rows.txt"
sqlite3 -separator '|' "$work/projet.db" "SELECT id FROM messages ORDER BY id" > "$work/projet-ids.txt"
sqlite3 -separator '|' "$work/classe.db" "SELECT name, created, coalesce(last_seen, 'NULL') FROM users ORDER BY name" > "$work/users.txt"
sqlite3 "$work/classe.db" "SELECT name FROM pragma_table_info('users')" > "$work/columns.txt"
sqlite3 -separator '|' "$work/hashes.db" "SELECT name, substr(password_hash, 1, 10) FROM users ORDER BY name" > "$work/hashes.txt"
python3 - "$work" <<'PY'
import json, re, subprocess, sys
work = sys.argv[1]
rows = json.load(open(f"{work}/all.json"))
hexed = lambda s: s.encode("utf-8").hex().upper()
want = [f'{r["id"]}|{hexed(r["timestamp"])}|{hexed(r["from"])}|{hexed(r["to"])}|{hexed(r["channel"])}|{hexed(r["content"])}'
        for r in rows]
got = open(f"{work}/rows.txt").read().splitlines()
assert len(got) == len(want) == 11, f"{len(got)} rows in SQL, {len(want)} in JSON"
for g, w in zip(got, want):
    assert g == w, f"\nSQL  {g}\nJSON {w}"
contents = [r["content"] for r in rows]
for needle in ["'); DROP TABLE messages; --", "fin de ligne windows\r\nsuite", "nul\u0000caché",
               "\u001b[31mrouge", "ligne\n.quit\n;\nGO\n/\n.shell echo perdu", "👩‍🏫"]:
    assert any(needle in c for c in contents), f"lost: {needle!r}"
assert "café crème € 100" in contents, contents
assert any(r["from"] == "hélène" for r in rows), "windows-1252 name"
projet = [str(r["id"]) for r in json.load(open(f"{work}/projet.json"))]
assert open(f"{work}/projet-ids.txt").read().split() == projet, "--channel differs from JSON"
assert open(f"{work}/columns.txt").read().split() == ["name", "created", "last_seen"]
users = [line.split("|") for line in open(f"{work}/users.txt").read().splitlines()]
assert [u[0] for u in users] == ["alice", "o'brien", "sans-message"], users
last_alice = max((r for r in rows if r["from"] == "alice"), key=lambda r: r["id"])["timestamp"]
assert users[0][2] == last_alice, (users[0], last_alice)
assert users[2][2] == "NULL", users[2]
assert all(len(u[1]) == 19 and u[1][10] == "T" for u in users), users
hashes = open(f"{work}/hashes.txt").read().splitlines()
assert all(h.split("|")[1] == "$argon2id$" for h in hashes) and len(hashes) == 3, hashes
# The three queries of FONCTIONNALITES.md § 13, as written there (the day: the one of this run).
doc = open("FONCTIONNALITES.md", encoding="utf-8").read()
section = doc[doc.index("\n## 13."):]
queries = re.findall(r"```sql\n(.*?)```", section, re.S)
assert len(queries) == 3, f"{len(queries)} sql blocks in FONCTIONNALITES.md § 13"
def sql(query):
    done = subprocess.run(["sqlite3", "-bail", "-separator", "|", f"{work}/classe.db", query],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and not done.stderr, (query, done.stderr)
    return done.stdout.splitlines()
per_channel = {}
for r in rows:
    if r["channel"]:
        per_channel[r["channel"]] = per_channel.get(r["channel"], 0) + 1
q1 = dict(line.split("|") for line in sql(queries[0]))
assert {k: int(v) for k, v in q1.items()} == per_channel, (q1, per_channel)
q2 = sql(queries[1])
assert q2[0] == f"alice|{sum(r['from'] == 'alice' for r in rows)}" and len(q2) == 3, q2
day = rows[-1]["timestamp"][:10]
q3 = re.sub(r"'\d{4}-\d{2}-\d{2}'", f"'{day}'", queries[2]).strip().rstrip(";")
count = sql(f"SELECT COUNT(*) FROM ({q3})")
assert count == [str(sum(r["timestamp"].startswith(day) for r in rows))], count
print("--- FONCTIONNALITES.md § 13, query 1 ---\n" + "\n".join(sql(queries[0])))
print("--- query 2 ---\n" + "\n".join(q2))
print(f"SQL export: {len(got)} rows identical to the JSON export (hex), "
      f"{len(users)} accounts, filters and the three queries of FONCTIONNALITES.md agree")
PY
echo "56-export-sql: all checks passed in $(( $(date +%s) - started ))s"
