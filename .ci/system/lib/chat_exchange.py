#!/usr/bin/env python3
"""A tiny ClassCord client for the deployment tests (the .deb booted under systemd-nspawn, the
arm64 binary under qemu, the container image).

  chat_exchange.py HOST PORT chat USER PASSWORD   register USER, log in, a guest joins, USER's
                                                   message reaches the guest; prints one line
  chat_exchange.py HOST PORT login USER PASSWORD  log in with an existing account (data kept)
  chat_exchange.py HOST PORT welcome NAME -       join as guest NAME, print the welcome text

Every read has a timeout; exits 1 with the reason on any unexpected line."""

import json
import socket
import sys

TIMEOUT = 10


class Client:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.reader = self.sock.makefile("rb")

    def send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def recv(self):
        line = self.reader.readline()
        if not line:
            raise SystemExit("connection closed by the server")
        return json.loads(line)

    def recv_until(self, predicate, what, limit=50):
        for _ in range(limit):
            msg = self.recv()
            if predicate(msg):
                return msg
        raise SystemExit(f"never received {what}")

    def close(self):
        self.sock.close()


def expect(cond, what):
    if not cond:
        raise SystemExit(f"unexpected: {what}")


def login(host, port, user, password):
    client = Client(host, port)
    client.send({"type": "login", "username": user, "password": password})
    reply = client.recv()
    expect(reply.get("type") == "login" and reply.get("status") == "ok", f"login reply {reply}")
    return client


def chat(host, port, user, password):
    client = Client(host, port)
    client.send({"type": "register", "username": user, "password": password})
    reply = client.recv()
    expect(reply == {"type": "register", "status": "ok"}, f"register reply {reply}")
    client.close()
    alice = login(host, port, user, password)
    guest = Client(host, port)
    guest.send({"type": "message", "from": "visiteur", "content": ""})
    guest.recv_until(lambda m: m.get("from") == "Serveur", "the guest's welcome")
    # The sender learns that the guest is online before relaying: then the guest is listening.
    alice.recv_until(lambda m: m.get("type") == "status" and m.get("state") == "online",
                     "the guest's presence")
    alice.send({"type": "message", "subtype": "global", "content": "bonjour la classe"})
    got = guest.recv_until(lambda m: m.get("type") == "message" and m.get("from") == user,
                           "the chat message")
    expect(got.get("content") == "bonjour la classe", f"message {got}")
    guest.send({"type": "ping"})
    guest.recv_until(lambda m: m.get("type") == "pong", "pong")
    alice.close()
    guest.close()
    print(f"chat exchange ok: {user} -> visiteur via {host}:{port}")


def main():
    if len(sys.argv) != 6 or sys.argv[3] not in ("chat", "login", "welcome"):
        raise SystemExit(__doc__)
    host, port, mode, user, password = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
    try:
        if mode == "chat":
            chat(host, port, user, password)
        elif mode == "welcome":
            guest = Client(host, port)
            guest.send({"type": "message", "from": user, "content": ""})
            notice = guest.recv_until(lambda m: m.get("from") == "Serveur", "the welcome")
            print(notice.get("content", ""))
            guest.close()
        else:
            login(host, port, user, password).close()
            print(f"login ok: {user} via {host}:{port}")
    except (OSError, ValueError) as error:
        raise SystemExit(f"chat exchange failed: {error}")


if __name__ == "__main__":
    main()
