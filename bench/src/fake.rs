//! `fake-server`: NOT ClassCord. A deliberately trivial fan-out echo (one blocking thread per
//! connection, each read batch relayed to every other identified connection in one write) used
//! to measure the bench's own ceiling and to test the bench end to end. It answers ping,
//! register, login and join_channel just enough for the bench's handshakes, treats an
//! empty-content message as a hello, and relays other messages with the extra keys the real
//! server adds (`subtype`, `timestamp`, `id`) so lines have a realistic size.

use crate::cli::{resolve_loopback, FakeServerArgs};
use crate::line::json_str;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

type Writer = Arc<Mutex<TcpStream>>;

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

struct Hub {
    members: Mutex<Vec<(u64, Writer)>>,
    next_conn: AtomicU64,
    next_msg: AtomicU64,
    fault: Fault,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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

fn handle(stream: TcpStream, hub: Arc<Hub>) -> io::Result<()> {
    let id = hub.next_conn.fetch_add(1, Ordering::Relaxed);
    stream.set_nodelay(true)?;
    let writer: Writer = Arc::new(Mutex::new(stream.try_clone()?));
    let mut reader = stream;
    let mut joined = false;
    let mut in_hub = false;
    let mut buf = vec![0u8; 64 * 1024];
    let mut have = 0;
    let mut relay = Vec::with_capacity(128 * 1024);
    let mut reply = Vec::new();
    let result = loop {
        if have == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match reader.read(&mut buf[have..]) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        have += n;
        let mut start = 0;
        while let Some(pos) = memchr::memchr(b'\n', &buf[start..have]) {
            let line = &buf[start..start + pos];
            start += pos + 1;
            match line_type(line) {
                b"ping" => reply.extend_from_slice(b"{\"type\":\"pong\"}\n"),
                b"register" => {
                    reply.extend_from_slice(b"{\"type\":\"register\",\"status\":\"ok\"}\n")
                }
                b"login" => {
                    let user = field(line, "username").unwrap_or_default();
                    reply.extend_from_slice(
                        format!(
                            "{{\"type\":\"login\",\"status\":\"ok\",\"username\":{}}}\n",
                            json_str(&user)
                        )
                        .as_bytes(),
                    );
                    joined = true;
                }
                b"join_channel" => {
                    let ch = field(line, "channel").unwrap_or_default();
                    reply.extend_from_slice(
                        format!(
                            "{{\"type\":\"join_channel\",\"channel\":{},\"status\":\"ok\"}}\n",
                            json_str(&ch)
                        )
                        .as_bytes(),
                    );
                }
                b"message" => {
                    joined = true;
                    let is_hello = memchr::memmem::find(line, b"\"content\":\"\"").is_some();
                    if let (false, Some(body)) = (is_hello, line.strip_suffix(b"}")) {
                        let mid = hub.next_msg.fetch_add(1, Ordering::Relaxed);
                        let copies = match hub.fault {
                            Fault::Drop if mid % 100 == 99 => 0,
                            Fault::Dup if mid % 100 == 99 => 2,
                            _ => 1,
                        };
                        for _ in 0..copies {
                            relay.extend_from_slice(body);
                            relay.extend_from_slice(
                                b",\"subtype\":\"global\",\"timestamp\":\"2026-01-01T00:00:00.000000\",\"id\":",
                            );
                            crate::line::push_u64(&mut relay, mid);
                            relay.extend_from_slice(b"}\n");
                        }
                    }
                }
                _ => reply.extend_from_slice(
                    b"{\"type\":\"error\",\"message\":\"fake server\",\"error\":\"fake server\"}\n",
                ),
            }
        }
        buf.copy_within(start..have, 0);
        have -= start;
        if joined && !in_hub {
            lock(&hub.members).push((id, writer.clone()));
            in_hub = true;
        }
        if !reply.is_empty() {
            lock(&writer).write_all(&reply)?;
            reply.clear();
        }
        if !relay.is_empty() {
            let targets: Vec<Writer> = lock(&hub.members)
                .iter()
                .filter(|(m, _)| *m != id || hub.fault == Fault::Echo)
                .map(|(_, w)| w.clone())
                .collect();
            for w in targets {
                // A gone receiver is not this connection's problem.
                let _ = lock(&w).write_all(&relay);
            }
            relay.clear();
        }
    };
    lock(&hub.members).retain(|(m, _)| *m != id);
    result
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
    println!("{local}");
    let _ = io::stdout().flush();
    eprintln!("fake-server: listening on {local} (NOT ClassCord: a trivial fan-out echo)");
    let hub = Arc::new(Hub {
        members: Mutex::new(Vec::new()),
        next_conn: AtomicU64::new(0),
        next_msg: AtomicU64::new(0),
        fault,
    });
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                let hub = hub.clone();
                let spawned = thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || {
                        let _ = handle(s, hub);
                    });
                if let Err(e) = spawned {
                    eprintln!("fake-server: cannot start a connection thread: {e}");
                }
            }
            Err(e) => eprintln!("fake-server: accept: {e}"),
        }
    }
    Ok(())
}
