//! Log output. While the server runs in a terminal, one human-readable line per event on stderr,
//! tagged like the Python server's (`[CONNEXION]`, `[MSG]`...). Security events carry a stable
//! token with the bare peer IP (`AUTH_FAIL ip=10.0.0.3 user="alice"`, `PROTOCOL_ERROR ip=...
//! reason=...`) that log filters such as fail2ban can match. Never a password; message contents
//! only at debug level.

use std::io::Write;
use std::net::IpAddr;

use log::{LevelFilter, Log, Metadata, Record};

use crate::clock;

struct ConsoleLogger {
    level: LevelFilter,
}

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level && metadata.target().starts_with("classcord")
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let time = clock::now().local;
        let line = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {}\n",
            time.year,
            time.month,
            time.day,
            time.hour,
            time.minute,
            time.second,
            record.args()
        );
        // One write per line so concurrent lines never interleave; a closed stderr is ignored.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Installs the console logger (once; later calls only change the level).
pub fn init_console(level: LevelFilter) {
    if log::set_boxed_logger(Box::new(ConsoleLogger { level })).is_ok() {
        log::set_max_level(level);
    }
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
