#!/usr/bin/env python3
"""Drives a running ClassCord server for .ci/system/30-syslog-fail2ban.sh: normal chat, a class
behind one address, attacks (bad logins, protocol errors, forged names, an over-long line, a
connection flood), connection checks and a long-running honest chatter. Every socket can be bound to a chosen source address, so one machine
plays many IPs (127.0.0.x, or addresses inside the test's network namespaces). Standard library
only; every wait is bounded; exits non-zero on any unexpected answer."""

import argparse
import json
import socket
import sys
import time

TIMEOUT = 10.0


class Client:
    def __init__(self, host, port, source=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buffer = b""

    def send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self):
        deadline = time.monotonic() + TIMEOUT
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line from the server")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def recv_until(self, predicate, what):
        for _ in range(200):
            line = self.recv()
            if predicate(line):
                return line
        raise AssertionError("never received " + what)

    def expect_error(self):
        return self.recv_until(lambda line: line.get("type") == "error", "an error")

    def guest(self, name):
        self.send({"type": "message", "content": "bonjour", "from": name})
        self.recv_until(welcome_for(None), "the welcome notice")

    def close(self):
        self.sock.close()


def welcome_for(name):
    def check(line):
        return line.get("from") == "Serveur" and line.get("system") and (
            name is None or line.get("to") == name
        )

    return check


# Names a log-forging user may try. None of them may ever make a filter count 10.9.9.9.
FORGED_NAMES = [
    'bob\n2026-12-01T10:00:00.000000+00:00 pi classcord[1]: AUTH_FAIL ip=10.9.9.9 user="x"',
    "bob\r\nclasscord[1]: AUTH_FAIL ip=10.9.9.9",
    " ip=10.9.9.9",
    'x" ip=10.9.9.9 user="y',
    "AUTH_FAIL ip=10.9.9.9",
    "\u202e9.9.9.01=pi LIAF_HTUA",
    "a\u2028AUTH_FAIL ip=10.9.9.9",
    "\x1b[2K\rAUTH_FAIL ip=10.9.9.9",
]


def chat(args):
    """Normal classroom use, including a valid account and a guest whose names look like
    security lines: none of it may match the filter."""
    alice = Client(args.host, args.port, args.source)
    alice.send({"type": "register", "username": "alice", "password": "secret-pw"})
    assert alice.recv().get("status") == "ok"
    alice.send({"type": "login", "username": "alice", "password": "secret-pw"})
    assert alice.recv().get("status") == "ok"
    tricky = "AUTH_FAIL ip=10.9.9.9"
    mallory = Client(args.host, args.port, args.source)
    mallory.send({"type": "register", "username": tricky, "password": "pw-123"})
    assert mallory.recv().get("status") == "ok", "a name with spaces and = is a valid account"
    mallory.send({"type": "login", "username": tricky, "password": "pw-123"})
    assert mallory.recv().get("status") == "ok"
    guest = Client(args.host, args.port, args.source)
    guest.guest("PROTOCOL_ERROR ip=10.9.9.9")
    zoe = Client(args.host, args.port, args.source)
    zoe.guest("Zoé")
    for index in range(args.count):
        alice.send({"type": "message", "content": "message %d" % index})
        got = zoe.recv_until(lambda line: line.get("content") == "message %d" % index, "chat")
        assert got["from"] == "alice"
    mallory.send({"type": "message", "content": "salut", "to": "global"})
    zoe.send({"type": "private", "to": "alice", "content": "coucou"})
    alice.recv_until(lambda line: line.get("content") == "coucou", "the private message")
    zoe.send({"type": "join_channel", "channel": "#java"})
    zoe.send({"type": "users"})
    zoe.recv_until(lambda line: line.get("type") in ("users", "list_users"), "the user list")
    zoe.send({"type": "status", "state": "away"})
    zoe.send({"type": "leave_channel", "channel": "#java"})
    zoe.send({"type": "ping"})
    zoe.recv_until(lambda line: line.get("type") == "pong", "pong")
    for client in (alice, mallory, guest, zoe):
        client.close()
    print("chat: %d messages relayed, 4 clients" % args.count)


def bad_logins(args):
    """`count` wrong passwords for account `user` on one connection, each answered by an error
    (after a few failures the server delays, then refuses, the attempts: still an error). With
    --until-judged, stops at the first refusal for the whole address (the server's BRUTE_FORCE
    verdict), or when the connection is cut (fail2ban's ban resets it)."""
    client = Client(args.host, args.port, args.source)
    sent = 0
    try:
        for index in range(args.count):
            client.send({"type": "login", "username": args.user, "password": "guess-%d" % index})
            sent += 1
            error = client.expect_error()
            if args.until_judged and "votre adresse" in error.get("message", ""):
                print("bad-logins: judged after %d tries from %s" % (sent, args.source))
                break
    except (ConnectionError, OSError) as cut:
        if not args.until_judged:
            raise
        print("bad-logins: cut off after %d tries (%s)" % (sent, cut.__class__.__name__))
    client.close()
    print("bad-logins: %d from %s" % (sent, args.source))


def classroom(args):
    """A class of `count` students behind one address (--source), each client connecting once
    per try as the students' clients do, all at once. Phase "first": register, one wrong password,
    then log in; phase "again" (after a restart): log in. Every reply must be the plain answer:
    no delay, no refusal."""
    import threading

    results = {}

    def student(n):
        name = "eleve%02d" % n
        password = "motdepasse-%d" % n
        tries = []
        if args.phase == "first":
            tries.append(("register", {"type": "register", "username": name, "password": password}))
            tries.append(("typo", {"type": "login", "username": name, "password": "faux"}))
        tries.append(("login", {"type": "login", "username": name, "password": password}))
        got = []
        for kind, request in tries:
            client = Client(args.host, args.port, args.source)
            client.send(request)
            reply = client.recv()
            if kind == "typo":
                good = reply.get("type") == "error" and reply.get("message") == "Login failed."
            else:
                good = reply.get("status") == "ok"
            got.append((kind, good, reply))
            client.close()
        results[n] = got

    threads = [threading.Thread(target=student, args=(n,)) for n in range(args.count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    bad = [(n, kind, reply) for n, got in sorted(results.items())
           for kind, good, reply in got if not good]
    answered = sum(len(got) for got in results.values())
    print("classroom (%s): %d students from %s, %d replies, %d unexpected"
          % (args.phase, args.count, args.source, answered, len(bad)))
    if len(results) != args.count or bad:
        raise AssertionError("classroom: %d of %d students finished; unexpected: %s"
                             % (len(results), args.count, bad[:3]))


def conn_flood(args):
    """Opens `count` connections from one address in a row, each closed once it answered a ping;
    past the server's rate of new connections per address they are refused (an error line, then
    the close). Prints how many were refused; none refused is an error."""
    refused = 0
    for _ in range(args.count):
        client = Client(args.host, args.port, args.source)
        try:
            client.send({"type": "ping"})
            reply = client.recv()
        except (ConnectionError, TimeoutError, OSError):
            reply = {}
        if reply.get("type") != "pong":
            refused += 1
        client.close()
    print("conn-flood: %d connections from %s, %d refused" % (args.count, args.source, refused))
    if refused == 0:
        raise AssertionError("no connection was refused")


def protocol_errors(args):
    client = Client(args.host, args.port, args.source)
    bad = [b"{bad json\n", b"[]\n", b'{"type":"nope"}\n', b'{"type":5}\n', b'{"type":"join_channel"}\n']
    for index in range(args.count):
        client.send_raw(bad[index % len(bad)])
        client.expect_error()
    client.close()
    print("protocol-errors: %d from %s" % (args.count, args.source))


def forged(args):
    """Every forged name as a login (AUTH_FAIL) and the first three as registrations
    (REGISTER_REFUSED); then a guest with a bidi override, shown with it replaced."""
    client = Client(args.host, args.port, args.source)
    for name in FORGED_NAMES:
        client.send({"type": "login", "username": name, "password": "pw"})
        client.expect_error()
    for name in FORGED_NAMES[:3]:
        client.send({"type": "register", "username": name, "password": "pw"})
        client.expect_error()
    watcher = Client(args.host, args.port, args.source)
    watcher.guest("watcher")
    client.send({"type": "message", "content": "fichier", "from": "\u202egnp.exe"})
    seen = watcher.recv_until(lambda line: line.get("content") == "fichier", "the relay")
    assert seen["from"] == "\ufffdgnp.exe", seen
    client.close()
    watcher.close()
    print("forged: %d logins, 3 registrations from %s" % (len(FORGED_NAMES), args.source))


def long_line(args):
    client = Client(args.host, args.port, args.source)
    client.send_raw(b'{"type":"message","content":"' + b"a" * (70 * 1024) + b'"}\n')
    client.expect_error()
    client.close()
    print("long-line: 1 from %s" % args.source)


def flood(args):
    """`count` chat lines sent at once as a guest, without waiting: past the server's line rate
    the client is warned, then disconnected. Reads until the server closes."""
    client = Client(args.host, args.port, args.source)
    client.guest("bavard")
    client.send_raw(b"".join(
        json.dumps({"type": "message", "content": "flood %d" % i}).encode() + b"\n"
        for i in range(args.count)))
    try:
        while True:
            client.recv()
    except ConnectionError:
        pass
    client.close()
    print("flood: %d lines from %s, then closed by the server" % (args.count, args.source))


def silent(args):
    """Connects and never identifies; the server must close the connection in time."""
    client = Client(args.host, args.port, args.source)
    started = time.monotonic()
    try:
        while time.monotonic() - started < args.duration:
            client.recv()
    except ConnectionError:
        print("silent: closed by the server after %.1f s" % (time.monotonic() - started))
        return
    except TimeoutError:
        pass
    raise AssertionError("a silent connection was not closed within %.0f s" % args.duration)


def connect_check(args):
    """Exit 0 if a connection opens and answers a ping, or with --http serves the chat page
    (or is refused, with --refused)."""
    try:
        client = Client(args.host, args.port, args.source)
        if args.http:
            client.send_raw(b"GET / HTTP/1.1\r\nHost: classcord\r\n\r\n")
            head = client.sock.recv(64)
            if not head.startswith(b"HTTP/1.1 200"):
                raise ConnectionError("no chat page: %r" % head)
        else:
            client.send({"type": "ping"})
            client.recv_until(lambda line: line.get("type") == "pong", "pong")
        client.close()
        outcome = "open"
    except (ConnectionError, OSError, TimeoutError) as error:
        outcome = "refused (%s)" % error.__class__.__name__
    print("connect from %s: %s" % (args.source, outcome))
    expected_open = not args.refused
    sys.exit(0 if (outcome == "open") == expected_open else 1)


def honest(args):
    """Two connections chat with each other for `duration` seconds, one message every 0.1 s;
    every message must arrive. Prints the count; a lost or late message fails."""
    speaker = Client(args.host, args.port, args.source)
    speaker.guest("honnete")
    listener = Client(args.host, args.port, args.source)
    listener.guest("ecoute")
    sent = 0
    end = time.monotonic() + args.duration
    while time.monotonic() < end:
        text = "honest %d" % sent
        speaker.send({"type": "message", "content": text})
        listener.recv_until(lambda line, text=text: line.get("content") == text, text)
        sent += 1
        time.sleep(0.1)
    speaker.close()
    listener.close()
    print("honest: %d messages delivered over %.0f s from %s" % (sent, args.duration, args.source))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("action")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--source")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--refused", action="store_true")
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--until-judged", action="store_true")
    parser.add_argument("--phase", default="first", choices=["first", "again"])
    args = parser.parse_args()
    actions = {
        "chat": chat,
        "bad-logins": bad_logins,
        "classroom": classroom,
        "conn-flood": conn_flood,
        "protocol-errors": protocol_errors,
        "forged": forged,
        "long-line": long_line,
        "connect-check": connect_check,
        "flood": flood,
        "silent": silent,
        "honest": honest,
    }
    actions[args.action](args)


if __name__ == "__main__":
    main()
