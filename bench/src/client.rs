//! One ClassCord client connection: buffered line reading (large reads, lines handed out as
//! slices of the buffer, no per-line allocation), bounded waits, and the setup handshakes
//! (guest hello, register + login with the sync-reader rule, join a channel, ping/pong).

use crate::line::json_str;
use serde_json::Value;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;
use smol::Timer;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A line longer than this is treated as a protocol failure (the server caps lines too).
const MAX_LINE: usize = 4 << 20;

/// Runs `fut`, giving up after `d`.
pub async fn timeout<T>(d: Duration, fut: impl Future<Output = T>) -> Option<T> {
    smol::future::or(async { Some(fut.await) }, async {
        Timer::after(d).await;
        None
    })
    .await
}

/// A connection with its read buffer.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// A WebSocket client's frames turned into lines (`None`: plain TCP lines).
    pub ws: Option<crate::ws::Deframer>,
}

impl Conn {
    /// Connects (bounded by `limit`) with TCP_NODELAY and a read buffer of `buf_size` bytes.
    pub async fn connect(
        addr: SocketAddr,
        limit: Duration,
        buf_size: usize,
    ) -> Result<Conn, String> {
        let stream = timeout(limit, TcpStream::connect(addr))
            .await
            .ok_or_else(|| format!("connect to {addr}: no answer within {limit:?}"))?
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("set TCP_NODELAY: {e}"))?;
        Ok(Conn {
            stream,
            buf: vec![0; buf_size.max(256)],
            start: 0,
            end: 0,
            ws: None,
        })
    }

    /// Upgrades to the chat's WebSocket (`GET /ws` on the web port `host`), bounded by `limit`;
    /// from then on lines are sent and read as text frames.
    pub async fn upgrade(&mut self, host: SocketAddr, limit: Duration) -> Result<(), String> {
        let request = crate::ws::upgrade_request(&host.to_string());
        self.send(request.as_bytes())
            .await
            .map_err(|e| format!("upgrade request: {e}"))?;
        let head_end = timeout(limit, async {
            loop {
                let held = &self.buf[self.start..self.end];
                if let Some(at) = held.windows(4).position(|w| w == b"\r\n\r\n") {
                    return Ok(at + 4);
                }
                if self.fill().await? == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "closed during the upgrade",
                    ));
                }
            }
        })
        .await
        .ok_or_else(|| format!("no upgrade answer within {limit:?}"))?
        .map_err(|e| format!("upgrade: {e}"))?;
        let head = &self.buf[self.start..self.start + head_end];
        if !head.starts_with(b"HTTP/1.1 101") {
            return Err(format!("upgrade refused: {}", show(head)));
        }
        let rest = self.buf[self.start + head_end..self.end].to_vec();
        (self.start, self.end) = (0, 0);
        let mut deframer = crate::ws::Deframer::new();
        let mut lines = Vec::new();
        deframer
            .feed(&rest, &mut lines)
            .map_err(|e| format!("upgrade: {e}"))?;
        self.append(&lines);
        self.ws = Some(deframer);
        Ok(())
    }

    /// Sends lines (as text frames on a WebSocket).
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.ws.is_some() {
            let mut framed = Vec::with_capacity(bytes.len() + 16);
            crate::ws::frame_lines(bytes, &mut framed);
            return self.stream.write_all(&framed).await;
        }
        self.stream.write_all(bytes).await
    }

    /// Appends decoded bytes to the buffer.
    fn append(&mut self, bytes: &[u8]) {
        if self.buf.len() - self.end < bytes.len() {
            self.buf.resize(self.end + bytes.len(), 0);
        }
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// Reads more bytes into the buffer. Returns 0 at end of stream. Cancel-safe: bytes are
    /// only accounted for after a read completes.
    pub async fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_LINE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("server sent a line longer than {MAX_LINE} bytes"),
                ));
            }
            let new_len = (self.buf.len() * 2).min(MAX_LINE);
            self.buf.resize(new_len, 0);
        }
        if let Some(mut deframer) = self.ws.take() {
            let mut raw = vec![0u8; 16 * 1024];
            let n = self.stream.read(&mut raw).await;
            let fed = n.as_ref().ok().map(|&n| {
                let mut lines = Vec::new();
                deframer.feed(&raw[..n], &mut lines).map(|()| lines)
            });
            self.ws = Some(deframer);
            let n = n?;
            match fed {
                Some(Ok(lines)) => self.append(&lines),
                Some(Err(e)) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
                None => {}
            }
            return Ok(n);
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// Takes the bytes read but not handed out yet (the connection is handed to a reader of
    /// its own).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let rest = self.buf[self.start..self.end].to_vec();
        (self.start, self.end) = (0, 0);
        rest
    }

    /// Hands every complete buffered line (without its `\n`) to `f`.
    pub fn for_each_line(&mut self, mut f: impl FnMut(&[u8])) {
        while let Some(pos) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
            f(&self.buf[self.start..self.start + pos]);
            self.start += pos + 1;
        }
    }

    /// The next complete line (setup path: copied out).
    pub async fn next_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(pos) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let line = self.buf[self.start..self.start + pos].to_vec();
                self.start += pos + 1;
                return Ok(line);
            }
            if self.fill().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
        }
    }

    /// The next line parsed as a JSON object, bounded by `limit`.
    pub async fn next_json(&mut self, limit: Duration) -> Result<Value, String> {
        let line = timeout(limit, self.next_line())
            .await
            .ok_or_else(|| format!("no reply within {limit:?}"))?
            .map_err(|e| format!("read: {e}"))?;
        match serde_json::from_slice::<Value>(&line) {
            Ok(v @ Value::Object(_)) => Ok(v),
            _ => Err(format!("not a JSON object: {}", show(&line))),
        }
    }

    /// Reads (and skips) lines until one of type `ty` arrives, bounded by `limit` in total.
    pub async fn await_type(&mut self, ty: &str, limit: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .next_json(left)
                .await
                .map_err(|e| format!("waiting for {ty:?}: {e}"))?;
            match v.get("type").and_then(Value::as_str) {
                Some(t) if t == ty => return Ok(v),
                // A kick or shutdown means we will not get what we wait for.
                Some("kick" | "shutdown") => return Err(format!("waiting for {ty:?}: got {v}")),
                _ => {}
            }
        }
    }

    async fn send_str(&mut self, what: &str, line: String) -> Result<(), String> {
        self.send(line.as_bytes())
            .await
            .map_err(|e| format!("send {what}: {e}"))
    }

    /// Sends a ping and waits for the pong (skipping other lines).
    pub async fn ping(&mut self, limit: Duration) -> Result<(), String> {
        self.send_str("ping", "{\"type\":\"ping\"}\n".into())
            .await?;
        self.await_type("pong", limit).await.map(|_| ())
    }

    /// Announces `no-hold` (docs/PROTOCOL.md §2.5) and waits for the server's `hello` reply.
    /// The bench reads its sockets continuously, so the login hold (§2.4) would only delay the
    /// first deliveries after a login past the end of a short run.
    pub async fn hello_no_hold(&mut self, limit: Duration) -> Result<(), String> {
        self.send_str(
            "hello",
            "{\"type\":\"hello\",\"features\":[\"no-hold\"]}\n".into(),
        )
        .await?;
        self.await_type("hello", limit).await.map(|_| ())
    }

    /// Names this connection as guest `name` with an empty-content hello (not relayed).
    pub async fn guest_hello(&mut self, name: &str) -> Result<(), String> {
        let line = format!(
            "{{\"type\":\"message\",\"from\":{},\"content\":\"\"}}\n",
            json_str(name)
        );
        self.send_str("hello", line).await
    }

    /// Registers `user`; the very next line must be the register reply (sync-reader rule).
    /// Returns how long the reply took.
    pub async fn register(
        &mut self,
        user: &str,
        pass: &str,
        limit: Duration,
    ) -> Result<Duration, String> {
        self.credentials("register", user, pass, limit, |_| true)
            .await
    }

    /// Logs in; the very next line must be the login reply naming `user`.
    pub async fn login(
        &mut self,
        user: &str,
        pass: &str,
        limit: Duration,
    ) -> Result<Duration, String> {
        self.credentials("login", user, pass, limit, |reply| {
            reply.get("username").and_then(Value::as_str) == Some(user)
        })
        .await
    }

    /// Sends a `register` or `login` line and checks that the very next line is its `ok` reply
    /// (and passes `extra_check`).
    async fn credentials(
        &mut self,
        kind: &'static str,
        user: &str,
        pass: &str,
        limit: Duration,
        extra_check: impl Fn(&Value) -> bool,
    ) -> Result<Duration, String> {
        let line = format!(
            "{{\"type\":\"{kind}\",\"username\":{},\"password\":{}}}\n",
            json_str(user),
            json_str(pass)
        );
        let t0 = Instant::now();
        self.send_str(kind, line).await?;
        let v = self
            .next_json(limit)
            .await
            .map_err(|e| format!("{kind} {user}: {e}"))?;
        if v.get("type").and_then(Value::as_str) == Some(kind)
            && v.get("status").and_then(Value::as_str) == Some("ok")
            && extra_check(&v)
        {
            Ok(t0.elapsed())
        } else {
            Err(format!("{kind} {user}: unexpected first reply {v}"))
        }
    }

    /// Joins `channel` and waits for the ok reply.
    pub async fn join_channel(&mut self, channel: &str, limit: Duration) -> Result<(), String> {
        let line = format!(
            "{{\"type\":\"join_channel\",\"channel\":{}}}\n",
            json_str(channel)
        );
        self.send_str("join_channel", line).await?;
        let v = self.await_type("join_channel", limit).await?;
        if v.get("status").and_then(Value::as_str) == Some("ok") {
            Ok(())
        } else {
            Err(format!("join_channel {channel}: {v}"))
        }
    }
}

/// A line for an error message: lossy UTF-8, at most 300 characters.
pub fn show(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    if s.chars().count() > 300 {
        let cut: String = s.chars().take(300).collect();
        format!("{cut}...")
    } else {
        s.into_owned()
    }
}
