//! When the hub writes what its batches queued: at once while the chat is calm, at most once per
//! [`FLUSH_LINGER`] while it is busy.
//!
//! At a steady 1,000 messages a second each message arrives alone, so flushing after every batch
//! costs one `sendto` per recipient per message (most of the server's CPU at that rate,
//! BENCHMARKS.md). Letting a busy hub gather the lines of the next few milliseconds first gives
//! each socket the lines of several messages in one write. "Busy" is a rate, not one close pair:
//! the mean gap between batches that queued lines (an average over about the last eight) is under
//! [`BUSY_BELOW`], so a class chatting at human speed, even at 100 messages a second, is written
//! at once and sees no added delay, and a busy hub adds at most `FLUSH_LINGER`. Times are passed
//! in (no clock here).

use std::time::{Duration, Instant};

/// How long a busy hub may hold lines before writing them.
pub const FLUSH_LINGER: Duration = Duration::from_millis(5);

/// The mean gap between batches under which the hub counts as busy (above 500 a second).
pub const BUSY_BELOW: Duration = Duration::from_millis(2);

/// The longest gap counted in the mean: a quiet hour weighs as one gap of 100 ms, so the pacer
/// turns busy after about thirty batches at 1,000 a second.
const LONGEST_GAP: Duration = Duration::from_millis(100);

/// Decides, after each batch, whether to write the touched outboxes now or at a due time.
#[derive(Debug)]
pub struct FlushPacer {
    linger: Duration,
    busy_below: Duration,
    last_flush: Option<Instant>,
    last_batch: Option<Instant>,
    /// Moving mean of the gaps between batches that queued lines (weight 1/8 for the newest).
    mean_gap: Duration,
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
    pub fn new(linger: Duration, busy_below: Duration) -> FlushPacer {
        FlushPacer {
            linger,
            busy_below,
            last_flush: None,
            last_batch: None,
            mean_gap: LONGEST_GAP,
            due: None,
        }
    }

    /// After a batch that queued lines at `now`: write now while the hub is calm, or if the last
    /// write is `linger` old (or a write is overdue); otherwise at the end of the linger.
    pub fn after_batch(&mut self, now: Instant) -> AfterBatch {
        if let Some(last) = self.last_batch {
            let gap = now.saturating_duration_since(last).min(LONGEST_GAP);
            self.mean_gap = (self.mean_gap * 7 + gap) / 8;
        }
        self.last_batch = Some(now);
        if self.mean_gap >= self.busy_below {
            return AfterBatch::FlushNow;
        }
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

    const LINGER: Duration = Duration::from_millis(5);
    const BUSY: Duration = Duration::from_millis(2);

    fn ms(count: u64) -> Duration {
        Duration::from_millis(count)
    }

    /// Batches `gap` apart from `start`, each written when the pacer says; the pacer after them.
    fn steady(pacer: &mut FlushPacer, start: Instant, gap: Duration, count: u32) -> Instant {
        let mut now = start;
        for _ in 0..count {
            if pacer.after_batch(now) == AfterBatch::FlushNow {
                pacer.flushed(now);
            }
            now += gap;
        }
        now
    }

    #[test]
    fn a_calm_chat_is_written_at_once() {
        let start = Instant::now();
        let mut pacer = FlushPacer::new(LINGER, BUSY);
        for message in 0..50 {
            // 100 messages a second: 10 ms apart.
            let now = start + ms(10 * message);
            assert_eq!(pacer.after_batch(now), AfterBatch::FlushNow);
            pacer.flushed(now);
            assert_eq!(pacer.due(), None);
        }
    }

    #[test]
    fn two_close_messages_in_a_calm_chat_are_not_held() {
        let start = Instant::now();
        let mut pacer = FlushPacer::new(LINGER, BUSY);
        let now = steady(&mut pacer, start, ms(10), 20);
        assert_eq!(pacer.after_batch(now), AfterBatch::FlushNow);
        pacer.flushed(now);
        let close = now + Duration::from_micros(300);
        assert_eq!(pacer.after_batch(close), AfterBatch::FlushNow);
    }

    /// A pacer after a while at 1,000 batches a second (busy), just after a write; and that time.
    fn busy_pacer() -> (FlushPacer, Instant) {
        let mut pacer = FlushPacer::new(LINGER, BUSY);
        let now = steady(&mut pacer, Instant::now(), ms(1), 80);
        pacer.flushed(now);
        (pacer, now)
    }

    #[test]
    fn a_busy_chat_is_written_once_per_linger() {
        let (mut pacer, now) = busy_pacer();
        let next = now + ms(1);
        let due = now + LINGER;
        assert_eq!(pacer.after_batch(next), AfterBatch::FlushAt(due));
        assert_eq!(pacer.due(), Some(due));
        assert_eq!(pacer.after_batch(next + ms(1)), AfterBatch::FlushAt(due));
        assert_eq!(pacer.after_batch(due), AfterBatch::FlushNow);
        pacer.flushed(due);
        assert_eq!(pacer.due(), None);
    }

    #[test]
    fn busy_then_calm_again_writes_at_once() {
        let (mut pacer, mut now) = busy_pacer();
        // The class slows down to a message every 50 ms: calm again within a few messages.
        let mut held = 0;
        for _ in 0..10 {
            now += ms(50);
            match pacer.after_batch(now) {
                AfterBatch::FlushNow => pacer.flushed(now),
                AfterBatch::FlushAt(_) => held += 1,
            }
        }
        assert_eq!(
            held, 0,
            "a batch after a gap longer than the linger is written at once"
        );
        assert!(pacer.mean_gap >= BUSY);
    }

    #[test]
    fn an_overdue_write_happens_with_the_next_batch() {
        let (mut pacer, now) = busy_pacer();
        assert!(matches!(
            pacer.after_batch(now + ms(1)),
            AfterBatch::FlushAt(_)
        ));
        // The timer was late: the next batch writes everything at once.
        assert_eq!(
            pacer.after_batch(now + LINGER + ms(1)),
            AfterBatch::FlushNow
        );
    }
}
