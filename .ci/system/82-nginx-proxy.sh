#!/usr/bin/env bash
# nginx adding TLS in front of the web port (SECURITE.md, "nginx devant la page web"): the very
# snippet of SECURITE.md (extracted from the document, only its port, certificate paths and
# upstream address changed for the test) in Debian's nginx-light, in front of a server with
# `[web] trusted_proxies`:
#   a) the chat page over https:// and its WebSocket (wss://.../ws, Origin https://...): a ping
#      answered; the server logs the client's address (127.0.0.2, from X-Forwarded-For), not
#      the proxy's;
#   b) the dashboard over https://: an operator signs in (a Secure cookie), its WebSocket
#      (wss://.../admin/ws) says hello with the operator's name; plain http:// straight to the
#      server's /admin still only redirects;
#   c) a request that claims X-Forwarded-Proto: https without coming from the proxy is redirected.
# Every wait is bounded; nginx and the server go away on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
. .ci/system/lib/wait.sh
fail() { echo "FAIL: $*"; [ -f "${work:-/nonexistent}/server.log" ] && tail -n 30 "$work/server.log"; exit 1; }
command -v nginx >/dev/null || apt-get install -y --no-install-recommends nginx-light
command -v openssl >/dev/null || apt-get install -y --no-install-recommends openssl
# The build of the README test command (same features: nothing to compile after it).
cargo test --workspace --no-run -q
binary="$PWD/target/debug/classcord"

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
web_port=$(free_port)
https_port=$(free_port)

# The snippet as SECURITE.md gives it.
awk '/^```nginx$/ { inside = 1; next } inside && /^```$/ { exit } inside { print }' SECURITE.md > "$work/snippet.conf"
grep -q 'conf.d/classcord.conf' "$work/snippet.conf" || fail "no nginx snippet found in SECURITE.md"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=localhost" -keyout "$work/nginx.key" -out "$work/nginx.crt" 2>/dev/null
sed -e "s#listen 443 ssl;#listen 127.0.0.1:$https_port ssl;#" \
    -e "s#/etc/ssl/certs/classcord.crt#$work/nginx.crt#" \
    -e "s#/etc/ssl/private/classcord.key#$work/nginx.key#" \
    -e "s#http://127.0.0.1:8080#http://127.0.0.1:$web_port#" "$work/snippet.conf" > "$work/site.conf"
grep -q "127.0.0.1:$web_port" "$work/site.conf" || fail "the snippet's upstream was not found"
mkdir -p "$work/nginx"
cat > "$work/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
    access_log $work/nginx/access.log;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    include $work/site.conf;
}
CONF
nginx -t -q -c "$work/nginx.conf" -p "$work/nginx" || fail "nginx refuses the snippet"

cat > "$work/classcord.toml" <<CONF
[web]
listen = ["127.0.0.1:$web_port"]
trusted_proxies = ["127.0.0.1/32"]
CONF
"$binary" serve --config "$work/classcord.toml" --log console --listen 127.0.0.1:0 \
    --data "$work/data" 2> "$work/server.log" &
pids+=($!)
wait_until 20 "the server's dashboard" grep -q "tableau de bord : " "$work/server.log"
nginx -c "$work/nginx.conf" -p "$work/nginx" &
pids+=($!)
wait_until 20 "nginx" curl -sk -o /dev/null "https://127.0.0.1:$https_port/"

printf 'secret-prof\nsecret-prof\n' | "$binary" admin --data "$work/data" user add prof >/dev/null
"$binary" admin --data "$work/data" operator add prof >/dev/null

python3 - "$https_port" "$web_port" <<'PY' || fail "through nginx"
import base64, json, os, socket, ssl, sys, urllib.parse

https_port, web_port = int(sys.argv[1]), int(sys.argv[2])
host = f"127.0.0.1:{https_port}"
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE

def tls():
    # From 127.0.0.2: the server must name that address (X-Forwarded-For), not the proxy's.
    raw = socket.create_connection(("127.0.0.1", https_port), timeout=10, source_address=("127.0.0.2", 0))
    return context.wrap_socket(raw, server_hostname="localhost")

def head_of(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode("latin-1")

def read_to_end(sock):
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace")

def request(text):
    sock = tls()
    sock.sendall(text.encode())
    return read_to_end(sock)

def frame(payload):
    mask = os.urandom(4)
    data = payload.encode()
    header = bytes([0x81, 0x80 | len(data)]) if len(data) < 126 else bytes([0x81, 0x80 | 126]) + len(data).to_bytes(2, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))

def read_text(sock):
    first = sock.recv(2)
    length = first[1] & 0x7f
    if length == 126:
        length = int.from_bytes(sock.recv(2), "big")
    elif length == 127:
        length = int.from_bytes(sock.recv(8), "big")
    payload = b""
    while len(payload) < length:
        payload += sock.recv(length - len(payload))
    return json.loads(payload)

def upgrade(path, extra=""):
    sock = tls()
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: https://{host}\r\n{extra}\r\n").encode())
    return sock, head_of(sock)

# a) the chat page and its WebSocket
page = request(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
assert page.startswith("HTTP/1.1 200") and "chat.js" in page, page[:200]
chat, answer = upgrade("/ws")
assert answer.startswith("HTTP/1.1 101"), answer
chat.sendall(frame(json.dumps({"type": "ping"})))
pong = read_text(chat)
assert pong.get("type") == "pong", pong
print("ok   - the chat page and its WebSocket through nginx")

# b) the dashboard
body = "name=prof&password=secret-prof"
signed = request(f"POST /admin/login HTTP/1.1\r\nHost: {host}\r\nOrigin: https://{host}\r\n"
                 f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
                 f"Connection: close\r\n\r\n{body}")
assert signed.startswith("HTTP/1.1 303"), signed[:300]
cookie = next(line.split(":", 1)[1].strip() for line in signed.split("\r\n") if line.lower().startswith("set-cookie:"))
assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
board, answer = upgrade("/admin/ws", f"Cookie: {cookie.split(';')[0]}\r\n")
assert answer.startswith("HTTP/1.1 101"), answer
hello = read_text(board)
assert hello.get("type") == "hello" and hello.get("operator") == "prof", hello
print("ok   - an operator signs in and opens the dashboard's WebSocket through nginx")

# c) plain HTTP straight to the server, even claiming a proxy's HTTPS: a redirection only
# From 127.0.0.2: not the trusted proxy (127.0.0.1/32).
plain = socket.create_connection(("127.0.0.1", web_port), timeout=10, source_address=("127.0.0.2", 0))
plain.sendall(f"GET /admin HTTP/1.1\r\nHost: 127.0.0.1:{web_port}\r\nX-Forwarded-Proto: https\r\n\r\n".encode())
got = read_to_end(plain)
assert got.startswith("HTTP/1.1 301") and "<form" not in got, got[:300]
print("ok   - a client claiming X-Forwarded-Proto: https is only redirected")
PY

grep -q '"prof" connecté au tableau de bord depuis 127.0.0.2' "$work/server.log" ||
    fail "the sign-in is not logged with the client's address (X-Forwarded-For)"
grep -q 'CONNEXION\] 127.0.0.2:[0-9]* (#[0-9]*, websocket)' "$work/server.log" ||
    fail "the chat WebSocket is not logged with the client's address (X-Forwarded-For)"
echo "nginx in front: done in $(( $(date +%s) - started ))s"
