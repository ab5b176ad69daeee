//! `fake-server`: NOT ClassCord. A deliberately trivial fan-out relay used as the floor
//! reference of the bench and to test the bench end to end: ONE thread, one level-triggered
//! epoll loop, non-blocking sockets. The lines of one read are handled in order: ping, hello,
//! register, login and join_channel get just enough of a reply for the bench's handshakes, an
//! empty-content message is a hello, and other messages are relayed with the extra keys the
//! real server adds (`subtype`, `timestamp`, `id`) so lines have a realistic size. The relayed
//! lines of one read are written directly to every other identified connection (one `write`
//! each); only what a socket does not accept is kept in that connection's backlog, flushed
//! when it becomes writable. So "bench against fake-server" shows the bench's own floor.

use crate::cli::{resolve_loopback, FakeServerArgs};
use crate::epoll::{Epoll, Events, Interest};
use crate::line::json_str;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Token of the listening socket (connection tokens are slab indexes).
const LISTENER: u64 = u64::MAX;
/// Bytes read per call.
const READ_BUF: usize = 64 * 1024;
/// A connection whose unread input or unsent backlog grows past this is dropped.
const MAX_BUFFERED: usize = 64 << 20;

/// A deliberate bug, to prove the bench detects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// Relay messages to their sender too.
    Echo,
    /// Drop every 100th message.
    Drop,
    /// Relay every 100th message twice.
    Dup,
}

/// The value of a top-level string field, via serde_json (handshake path only).
fn field(line: &[u8], key: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    v.get(key)?.as_str().map(str::to_owned)
}

/// The `type` of a line, found cheaply (this is a fake: the bench's own lines are regular).
fn line_type(line: &[u8]) -> &[u8] {
    const KEY: &[u8] = b"\"type\":\"";
    let Some(at) = memchr::memmem::find(line, KEY) else {
        return b"";
    };
    let rest = &line[at + KEY.len()..];
    match memchr::memchr(b'"', rest) {
        Some(end) => &rest[..end],
        None => b"",
    }
}

/// One client connection.
struct Conn {
    stream: TcpStream,
    /// Unprocessed input (an incomplete last line).
    input: Vec<u8>,
    /// Bytes the socket did not accept yet, sent in order before anything else.
    backlog: Vec<u8>,
    /// Registered for writability (the backlog is not empty).
    want_write: bool,
    /// Receives relayed messages (identified by a message or a login).
    joined: bool,
    /// To be closed at the end of this round of events.
    dead: bool,
}

impl Conn {
    /// Writes what the socket accepts now; keeps the rest in the backlog.
    fn send(&mut self, bytes: &[u8], token: u64, ep: &Epoll) {
        if self.dead || bytes.is_empty() {
            return;
        }
        let mut rest = bytes;
        if self.backlog.is_empty() {
            rest = match write_some(&self.stream, bytes) {
                Ok(n) => &bytes[n..],
                Err(_) => {
                    self.dead = true;
                    return;
                }
            };
        }
        if rest.is_empty() {
            return;
        }
        self.backlog.extend_from_slice(rest);
        if self.backlog.len() > MAX_BUFFERED {
            self.dead = true;
        } else if !self.want_write {
            self.want_write = true;
            self.dead = ep
                .modify(&self.stream, token, Interest::READ_WRITE)
                .is_err();
        }
    }

    /// Writes as much of the backlog as the socket accepts.
    fn flush(&mut self, token: u64, ep: &Epoll) {
        match write_some(&self.stream, &self.backlog) {
            Ok(n) => {
                self.backlog.drain(..n);
            }
            Err(_) => {
                self.dead = true;
                return;
            }
        }
        if self.backlog.is_empty() && self.want_write {
            self.want_write = false;
            self.dead = ep.modify(&self.stream, token, Interest::READ).is_err();
        }
    }
}

/// Writes until done or the socket would block; returns the bytes written.
fn write_some(mut stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < bytes.len() {
        match stream.write(&bytes[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The relay: every connection, and the per-round scratch buffers.
struct Relay {
    ep: Epoll,
    listener: TcpListener,
    conns: Vec<Option<Conn>>,
    /// Slots freed in earlier rounds (never reused within a round: a stale event of the
    /// round must not reach a new connection).
    free: Vec<usize>,
    closing: Vec<usize>,
    next_msg: u64,
    fault: Fault,
    buf: Vec<u8>,
    reply: Vec<u8>,
    relay: Vec<u8>,
}

impl Relay {
    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((s, _)) => {
                    if let Err(e) = self.admit(s) {
                        eprintln!("fake-server: cannot set up a connection: {e}");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors, typically: try again at the next readiness report.
                    eprintln!("fake-server: accept: {e}");
                    return;
                }
            }
        }
    }

    fn admit(&mut self, stream: TcpStream) -> io::Result<()> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        let at = self.free.pop().unwrap_or(self.conns.len());
        self.ep.add(&stream, at as u64, Interest::READ)?;
        let conn = Conn {
            stream,
            input: Vec::new(),
            backlog: Vec::new(),
            want_write: false,
            joined: false,
            dead: false,
        };
        if at == self.conns.len() {
            self.conns.push(Some(conn));
        } else {
            self.conns[at] = Some(conn);
        }
        Ok(())
    }

    /// Reads what connection `at` sent and handles its complete lines.
    fn on_readable(&mut self, at: usize) {
        let Some(Some(c)) = self.conns.get_mut(at) else {
            return;
        };
        if c.dead {
            return;
        }
        let mut eof = false;
        loop {
            match (&c.stream).read(&mut self.buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    c.input.extend_from_slice(&self.buf[..n]);
                    if n < self.buf.len() || c.input.len() > MAX_BUFFERED {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    eof = true;
                    break;
                }
            }
        }
        let input = std::mem::take(&mut c.input);
        let mut start = 0;
        let mut joined = c.joined;
        for end in memchr::memchr_iter(b'\n', &input) {
            self.handle_line(&input[start..end], &mut joined);
            start = end + 1;
        }
        let c = match self.conns.get_mut(at) {
            Some(Some(c)) => c,
            _ => return,
        };
        c.joined = joined;
        c.input = input;
        c.input.drain(..start);
        if eof || c.input.len() > MAX_BUFFERED {
            c.dead = true;
        }
        let reply = std::mem::take(&mut self.reply);
        c.send(&reply, at as u64, &self.ep);
        self.reply = reply;
        self.reply.clear();
        if !self.relay.is_empty() {
            let relay = std::mem::take(&mut self.relay);
            for (k, slot) in self.conns.iter_mut().enumerate() {
                if let Some(t) = slot {
                    if t.joined && (k != at || self.fault == Fault::Echo) {
                        t.send(&relay, k as u64, &self.ep);
                    }
                }
            }
            self.relay = relay;
            self.relay.clear();
        }
    }

    /// Appends the reply to one line, or its relayed copies.
    fn handle_line(&mut self, line: &[u8], joined: &mut bool) {
        match line_type(line) {
            b"ping" => self.reply.extend_from_slice(b"{\"type\":\"pong\"}\n"),
            // The bench's logged-in clients announce `no-hold` and wait for this reply.
            b"hello" => self
                .reply
                .extend_from_slice(b"{\"type\":\"hello\",\"features\":[\"no-hold\"]}\n"),
            b"register" => self
                .reply
                .extend_from_slice(b"{\"type\":\"register\",\"status\":\"ok\"}\n"),
            b"login" => {
                let user = field(line, "username").unwrap_or_default();
                self.reply.extend_from_slice(
                    format!(
                        "{{\"type\":\"login\",\"status\":\"ok\",\"username\":{}}}\n",
                        json_str(&user)
                    )
                    .as_bytes(),
                );
                *joined = true;
            }
            b"join_channel" => {
                let ch = field(line, "channel").unwrap_or_default();
                self.reply.extend_from_slice(
                    format!(
                        "{{\"type\":\"join_channel\",\"channel\":{},\"status\":\"ok\"}}\n",
                        json_str(&ch)
                    )
                    .as_bytes(),
                );
            }
            b"message" => {
                *joined = true;
                let is_hello = memchr::memmem::find(line, b"\"content\":\"\"").is_some();
                if let (false, Some(body)) = (is_hello, line.strip_suffix(b"}")) {
                    let mid = self.next_msg;
                    self.next_msg += 1;
                    let copies = match self.fault {
                        Fault::Drop if mid % 100 == 99 => 0,
                        Fault::Dup if mid % 100 == 99 => 2,
                        _ => 1,
                    };
                    for _ in 0..copies {
                        self.relay.extend_from_slice(body);
                        self.relay.extend_from_slice(
                            b",\"subtype\":\"global\",\"timestamp\":\"2026-01-01T00:00:00.000000\",\"id\":",
                        );
                        crate::line::push_u64(&mut self.relay, mid);
                        self.relay.extend_from_slice(b"}\n");
                    }
                }
            }
            _ => self.reply.extend_from_slice(
                b"{\"type\":\"error\",\"message\":\"fake server\",\"error\":\"fake server\"}\n",
            ),
        }
    }

    fn on_writable(&mut self, at: usize) {
        if let Some(Some(c)) = self.conns.get_mut(at) {
            if !c.dead && c.want_write {
                c.flush(at as u64, &self.ep);
            }
        }
    }

    /// Closes the connections that ended or failed during this round.
    fn reap(&mut self) {
        self.closing.clear();
        for (k, slot) in self.conns.iter().enumerate() {
            if slot.as_ref().is_some_and(|c| c.dead) {
                self.closing.push(k);
            }
        }
        for &k in &self.closing {
            if let Some(c) = self.conns[k].take() {
                let _ = self.ep.delete(&c.stream);
            }
            self.free.push(k);
        }
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            self.ep.wait(&mut events, Duration::from_secs(1))?;
            for ev in events.iter() {
                if ev.token == LISTENER {
                    self.accept_all();
                    continue;
                }
                let at = ev.token as usize;
                if ev.writable {
                    self.on_writable(at);
                }
                if ev.readable {
                    self.on_readable(at);
                }
            }
            self.reap();
        }
    }
}

/// Runs the fake server forever; prints the bound address on stdout first.
pub fn run(args: &FakeServerArgs) -> Result<(), String> {
    let fault = match args.fault.as_deref() {
        None => Fault::None,
        Some("echo") => Fault::Echo,
        Some("drop") => Fault::Drop,
        Some("dup") => Fault::Dup,
        Some(other) => return Err(format!("unknown --fault {other:?} (echo, drop or dup)")),
    };
    let addr = resolve_loopback(&args.listen)?;
    let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("local address: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("listener: {e}"))?;
    let ep = Epoll::new().map_err(|e| format!("epoll_create1: {e}"))?;
    ep.add(&listener, LISTENER, Interest::READ)
        .map_err(|e| format!("epoll_ctl: {e}"))?;
    println!("{local}");
    let _ = io::stdout().flush();
    eprintln!("fake-server: listening on {local} (NOT ClassCord: a trivial fan-out relay)");
    let mut relay = Relay {
        ep,
        listener,
        conns: Vec::new(),
        free: Vec::new(),
        closing: Vec::new(),
        next_msg: 0,
        fault,
        buf: vec![0; READ_BUF],
        reply: Vec::new(),
        relay: Vec::new(),
    };
    relay.run().map_err(|e| format!("epoll_wait: {e}"))
}
