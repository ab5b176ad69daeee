//! When the hub writes what its batches queued: at once while the chat is calm, at most once per
//! [`FlushPacer::linger`] while it is busy.
//!
//! At a steady 1,000 messages a second each message arrives alone, so flushing after every batch
//! costs one `sendto` per recipient per message (half the server's CPU at that rate, BENCHMARKS.md).
//! Letting a busy hub gather the lines of the next few milliseconds first gives each socket the
//! lines of several messages in one write. A calm chat never waits: the first batch after a
//! quiet moment (no flush for `linger`) is written at once, so a class chatting at human speed
//! sees no added delay, and a busy one at most `linger`. Times are passed in (no clock here).

use std::time::{Duration, Instant};

/// How long a busy hub may hold lines before writing them.
pub const FLUSH_LINGER: Duration = Duration::from_millis(2);

/// Decides, after each batch, whether to write the touched outboxes now or at a due time.
#[derive(Debug)]
pub struct FlushPacer {
    linger: Duration,
    last_flush: Option<Instant>,
    due: Option<Instant>,
}

/// What the hub does after a batch that queued lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterBatch {
    /// Write now.
    FlushNow,
    /// Write when the next command arrives after this time, or at this time.
    FlushAt(Instant),
}

impl FlushPacer {
    pub fn new(linger: Duration) -> FlushPacer {
        FlushPacer {
            linger,
            last_flush: None,
            due: None,
        }
    }

    /// After a batch that queued lines at `now`: write now if the last write is `linger` old
    /// (or a write is overdue), otherwise at the end of the linger.
    pub fn after_batch(&mut self, now: Instant) -> AfterBatch {
        let due = match (self.due, self.last_flush) {
            (Some(due), _) => due,
            (None, Some(last)) => last + self.linger,
            (None, None) => now,
        };
        if now >= due {
            AfterBatch::FlushNow
        } else {
            self.due = Some(due);
            AfterBatch::FlushAt(due)
        }
    }

    /// The lines were written at `now`.
    pub fn flushed(&mut self, now: Instant) {
        self.last_flush = Some(now);
        self.due = None;
    }

    /// When lines are waiting, the time they must be written by.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINGER: Duration = Duration::from_millis(2);

    #[test]
    fn a_calm_chat_is_written_at_once() {
        let start = Instant::now();
        let mut pacer = FlushPacer::new(LINGER);
        for message in 0..5 {
            // 100 messages a second: 10 ms apart.
            let now = start + Duration::from_millis(10 * message);
            assert_eq!(pacer.after_batch(now), AfterBatch::FlushNow);
            pacer.flushed(now);
            assert_eq!(pacer.due(), None);
        }
    }

    #[test]
    fn a_busy_chat_is_written_once_per_linger() {
        let start = Instant::now();
        let mut pacer = FlushPacer::new(LINGER);
        assert_eq!(pacer.after_batch(start), AfterBatch::FlushNow);
        pacer.flushed(start);
        // 1,000 messages a second: the next ones wait for the end of the linger.
        let due = start + LINGER;
        let one_ms = start + Duration::from_millis(1);
        assert_eq!(pacer.after_batch(one_ms), AfterBatch::FlushAt(due));
        assert_eq!(pacer.due(), Some(due));
        let almost = start + Duration::from_micros(1_900);
        assert_eq!(pacer.after_batch(almost), AfterBatch::FlushAt(due));
        assert_eq!(pacer.after_batch(due), AfterBatch::FlushNow);
        pacer.flushed(due);
        assert_eq!(pacer.due(), None);
    }

    #[test]
    fn an_overdue_write_happens_with_the_next_batch() {
        let start = Instant::now();
        let mut pacer = FlushPacer::new(LINGER);
        pacer.flushed(start);
        assert!(matches!(
            pacer.after_batch(start + Duration::from_millis(1)),
            AfterBatch::FlushAt(_)
        ));
        // The timer was late: the next batch writes everything at once.
        let late = start + Duration::from_millis(5);
        assert_eq!(pacer.after_batch(late), AfterBatch::FlushNow);
    }

    #[test]
    fn no_linger_never_waits() {
        let start = Instant::now();
        let mut pacer = FlushPacer::new(Duration::ZERO);
        pacer.flushed(start);
        assert_eq!(pacer.after_batch(start), AfterBatch::FlushNow);
    }
}
