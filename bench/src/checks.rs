//! What one fan-out receiver saw, and the check of every line it got: the line must be one
//! ASCII-only JSON object with a string `type`; bench messages must carry the right `from`, a
//! well-formed content of this run, and are accounted per sender (new / duplicate, echo,
//! latency). Other lines are counted by kind; unacceptable ones are `bad_lines` with the first
//! one kept as a sample.

use crate::client::show;
use crate::line::{parse_content, scan, Content, ScanError, Val};
use crate::run::Shared;
use crate::stats::{Histogram, Seen, SeqTracker};
use std::collections::BTreeMap;

/// What one receiver saw.
#[derive(Debug, Default)]
pub struct RecvStats {
    pub me: usize,
    pub trackers: Vec<SeqTracker>,
    pub unique: u64,
    pub latency: Histogram,
    pub echoed: u64,
    pub bad_lines: u64,
    pub wrong_from: u64,
    pub foreign: u64,
    pub server_errors: u64,
    pub status_lines: u64,
    pub pongs: u64,
    pub other_messages: u64,
    pub other_lines: u64,
    pub last_rx_ns: u64,
    pub disconnected: Option<String>,
    pub samples: BTreeMap<&'static str, String>,
}

impl RecvStats {
    /// Empty statistics of client `me` in a run with `senders` senders.
    pub fn new(me: usize, senders: usize) -> RecvStats {
        RecvStats {
            me,
            trackers: vec![SeqTracker::default(); senders],
            ..RecvStats::default()
        }
    }

    fn sample(&mut self, what: &'static str, line: &[u8]) {
        self.samples.entry(what).or_insert_with(|| show(line));
    }

    fn bad(&mut self, why: &'static str, line: &[u8]) {
        self.bad_lines += 1;
        if !self.samples.contains_key("bad_line") {
            self.samples
                .insert("bad_line", format!("{why}: {}", show(line)));
        }
    }

    /// Classifies one server line received at `now_ns`.
    pub fn on_line(&mut self, line: &[u8], now_ns: u64, shared: &Shared) {
        if line.is_empty() {
            return self.bad("empty line", line);
        }
        if line.last() == Some(&b'\r') {
            return self.bad("CRLF line ending", line);
        }
        let f = match scan(line) {
            Ok(f) => f,
            Err(e) => return self.bad(scan_error_text(e), line),
        };
        let Some(Val::Str(ty)) = f.ty else {
            return self.bad("missing or non-string type", line);
        };
        match &*ty.decoded() {
            b"message" => {}
            b"status" => {
                self.status_lines += 1;
                return;
            }
            b"pong" => {
                self.pongs += 1;
                return;
            }
            b"error" | b"kick" | b"shutdown" => {
                self.server_errors += 1;
                self.sample("server_error", line);
                return;
            }
            _ => {
                self.other_lines += 1;
                return;
            }
        }
        let (Some(Val::Str(from)), Some(Val::Str(content))) = (f.from, f.content) else {
            return self.bad("message without string from/content", line);
        };
        let content = content.decoded();
        let (sender, seq, t_ns) = match parse_content(&content) {
            Content::Other => {
                self.other_messages += 1;
                self.sample("other_message", line);
                return;
            }
            Content::Malformed => return self.bad("malformed bench content", line),
            Content::Bench { run, .. } if run != shared.run.as_slice() => {
                self.foreign += 1;
                return;
            }
            Content::Bench {
                sender, seq, t_ns, ..
            } => (sender as usize, seq, t_ns),
        };
        if sender >= shared.senders {
            return self.bad("sender index out of range", line);
        }
        if !from.eq_bytes(shared.names[sender].as_bytes()) {
            self.wrong_from += 1;
            self.sample("wrong_from", line);
            return;
        }
        if sender == self.me {
            self.echoed += 1;
            self.sample("echoed", line);
            return;
        }
        match self.trackers[sender].observe(seq) {
            Seen::New => {
                self.unique += 1;
                self.latency.record(now_ns.saturating_sub(t_ns));
                self.last_rx_ns = now_ns;
            }
            Seen::Duplicate => {}
        }
    }
}

fn scan_error_text(e: ScanError) -> &'static str {
    match e {
        ScanError::Syntax(_) => "not a JSON object",
        ScanError::NonAscii(_) => "non-ASCII byte in output",
        ScanError::DuplicateKey => "duplicate key",
        ScanError::TooDeep => "nesting too deep",
    }
}
