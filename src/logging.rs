//! Log output. While the server runs in a terminal, one human-readable line per event on stderr,
//! tagged like the Python server's (`[CONNEXION]`, `[MSG]`...). Security events carry a stable
//! token with the bare peer IP (`AUTH_FAIL ip=10.0.0.3 user="alice"`, `PROTOCOL_ERROR ip=...
//! reason=...`) that log filters such as fail2ban can match. Never a password; message contents
//! only at debug level.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

use crate::clock;

/// Lines waiting for the writer thread; a full queue makes the logging thread wait (no line is
/// dropped).
const LOG_QUEUE: usize = 16 * 1024;

enum LogMessage {
    Line(String),
    Flush(SyncSender<()>),
}

thread_local! {
    /// The `YYYY-MM-DD HH:MM:SS` prefix of the current second: one local-time breakdown per
    /// second and thread, not per line (a busy server logs every message).
    static STAMP: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

fn push_timestamp(line: &mut String) {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    STAMP.with(|stamp| {
        let mut stamp = stamp.borrow_mut();
        if stamp.0 != seconds {
            let time = clock::local_time(seconds, 0);
            stamp.1 = format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                time.year, time.month, time.day, time.hour, time.minute, time.second
            );
            stamp.0 = seconds;
        }
        line.push_str(&stamp.1);
    });
}

/// Formats on the calling thread, writes on a dedicated one: the hub never waits on stderr, and
/// under load many lines go out in one write.
struct ConsoleLogger {
    level: LevelFilter,
    lines: SyncSender<LogMessage>,
}

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level && metadata.target().starts_with("classcord")
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = String::with_capacity(128);
        push_timestamp(&mut line);
        let _ = writeln!(line, " {}", record.args());
        if let Err(error) = self.lines.send(LogMessage::Line(line)) {
            // The writer thread is gone: write directly rather than lose the line.
            if let LogMessage::Line(line) = error.0 {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
        }
    }

    fn flush(&self) {
        let (done_tx, done_rx) = sync_channel(1);
        if self.lines.send(LogMessage::Flush(done_tx)).is_ok() {
            let _ = done_rx.recv_timeout(Duration::from_secs(2));
        }
    }
}

fn write_lines(lines: Receiver<LogMessage>) {
    let mut out = BufWriter::with_capacity(64 * 1024, std::io::stderr());
    while let Ok(message) = lines.recv() {
        let mut next = Some(message);
        while let Some(message) = next.take() {
            match message {
                LogMessage::Line(line) => {
                    let _ = out.write_all(line.as_bytes());
                }
                LogMessage::Flush(done) => {
                    let _ = out.flush();
                    let _ = done.send(());
                }
            }
            next = lines.try_recv().ok();
        }
        // Nothing more queued: show what we have.
        let _ = out.flush();
    }
}

/// Installs the console logger (once; later calls are ignored).
pub fn init_console(level: LevelFilter) {
    let (sender, receiver) = sync_channel(LOG_QUEUE);
    let spawned = std::thread::Builder::new()
        .name("log".into())
        .spawn(move || write_lines(receiver));
    if spawned.is_err() {
        eprintln!("classcord : journal sans thread dédié");
    }
    if log::set_boxed_logger(Box::new(ConsoleLogger {
        level,
        lines: sender,
    }))
    .is_ok()
    {
        log::set_max_level(level);
    }
}

/// Writes out every queued line (call before exiting).
pub fn flush() {
    log::logger().flush();
}

/// The address as log filters expect it: IPv4-mapped IPv6 shown as plain IPv4.
pub fn bare_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// A user-supplied name for a log line: quotes, backslashes and control characters escaped, so a
/// crafted name cannot forge a second log line or break a filter's `user="..."` field.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars().take(64) {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_names_cannot_break_a_log_line() {
        assert_eq!(quoted("a\"b\nc"), "\"a\\\"b\\u{a}c\"");
    }

    #[test]
    fn mapped_ipv4_is_shown_bare() {
        let mapped: IpAddr = "::ffff:10.0.108.34".parse().unwrap();
        assert_eq!(bare_ip(mapped).to_string(), "10.0.108.34");
    }
}
