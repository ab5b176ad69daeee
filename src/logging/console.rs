//! Console output: one human-readable line per event on stderr, `YYYY-MM-DD HH:MM:SS` local time
//! then the French tag (`[CONNEXION]`, `[AUTH]`...). Also the fallback of the syslog output.

use std::cell::RefCell;
use std::io::{BufWriter, Stderr, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use super::queue::Dropped;
use super::Sink;
use crate::clock;

thread_local! {
    /// The `YYYY-MM-DD HH:MM:SS` prefix of the current second: one local-time breakdown per
    /// second and thread, not per line (a busy server logs every message).
    static STAMP: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

pub fn push_timestamp(line: &mut String) {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    push_timestamp_at(line, seconds);
}

/// The time stamp of `seconds` since the epoch (a record formatted later than it was made).
pub fn push_timestamp_at(line: &mut String, seconds: u64) {
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

/// A whole console line: time stamp, message, newline (for lines made by the writer thread).
pub fn line(message: &str) -> String {
    let mut line = String::with_capacity(message.len() + 21);
    push_timestamp(&mut line);
    line.push(' ');
    line.push_str(message);
    line.push('\n');
    line
}

/// Writes batches to stderr in one buffered write each: under load many lines go out at once.
pub struct ConsoleSink {
    out: BufWriter<Stderr>,
}

impl ConsoleSink {
    pub fn new() -> ConsoleSink {
        ConsoleSink {
            out: BufWriter::with_capacity(64 * 1024, std::io::stderr()),
        }
    }

    /// Writes a line that was formatted for another output (no time stamp yet).
    pub fn write_untimed(&mut self, message: &str) {
        let _ = self.out.write_all(line(message).as_bytes());
    }
}

impl Sink for ConsoleSink {
    fn write(&mut self, _level: log::Level, _security: bool, text: &str) {
        // Console lines come formatted, time stamp and newline included.
        let _ = self.out.write_all(text.as_bytes());
    }

    fn report_drops(&mut self, dropped: Dropped) {
        self.write_untimed(&super::drop_report("[JOURNAL] ", dropped));
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
    }
}
