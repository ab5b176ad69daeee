//! The bounded queue between the threads that log (the hub above all) and the log writer thread.
//!
//! Pushing never waits: when a lane is full the line is dropped and counted, and the writer
//! reports the counts in a later line. Security lines have their own lane, so a burst of chat
//! lines can never push one out; if even that lane is full, the loss is counted separately and
//! reported on the security facility.
//!
//! A chat line (`[MSG]`, one per relayed message) is queued as a small record ([`ChatLine`]) and
//! formatted by the writer, not by the hub. The writer takes what is queued, then lingers
//! [`LINGER`] (or until [`LINGER_LINES`] lines wait, or a flush is asked) before its next batch:
//! under load the log costs one wake-up and one write per batch, not per line.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use log::Level;

use super::ChatLine;

/// How long the writer waits after a batch for more lines to gather.
pub const LINGER: Duration = Duration::from_millis(25);
/// Lines waiting that end the writer's linger at once (far below the lane's limit).
pub const LINGER_LINES: usize = 2048;

/// What a queued line holds: its text, or a chat record the writer formats.
#[derive(Debug)]
pub enum Body {
    Text(String),
    Chat(ChatLine),
}

impl Body {
    /// Bytes counted against the lane (a chat record: its names plus the fixed words).
    fn weight(&self) -> usize {
        match self {
            Body::Text(text) => text.len(),
            Body::Chat(chat) => chat.weight(),
        }
    }
}

/// One line waiting for the writer.
#[derive(Debug)]
pub struct Entry {
    /// Order of arrival across both lanes.
    seq: u64,
    pub level: Level,
    pub security: bool,
    pub body: Body,
}

/// How many lines and bytes a lane may hold.
#[derive(Debug, Clone, Copy)]
pub struct LaneLimit {
    pub lines: usize,
    pub bytes: usize,
}

/// Lines dropped since the last report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub lines: u64,
    pub security: u64,
}

impl Dropped {
    pub fn any(&self) -> bool {
        self.lines > 0 || self.security > 0
    }
}

#[derive(Default)]
struct Lane {
    entries: VecDeque<Entry>,
    bytes: usize,
}

impl Lane {
    fn push(&mut self, entry: Entry, limit: LaneLimit) -> bool {
        let weight = entry.body.weight();
        if self.entries.len() >= limit.lines || self.bytes + weight > limit.bytes {
            return false;
        }
        self.bytes += weight;
        self.entries.push_back(entry);
        true
    }

    fn front_seq(&self) -> Option<u64> {
        self.entries.front().map(|entry| entry.seq)
    }

    fn pop(&mut self) -> Option<Entry> {
        let entry = self.entries.pop_front()?;
        self.bytes -= entry.body.weight();
        Some(entry)
    }
}

#[derive(Default)]
struct State {
    normal: Lane,
    security: Lane,
    next_seq: u64,
    /// Lines accepted, and lines the writer has finished with (for [`LineQueue::wait_written`]).
    accepted: u64,
    written: u64,
    dropped: Dropped,
    writer_waiting: bool,
    /// The writer lingers between batches (woken early only by a full linger or a flush).
    writer_lingering: bool,
    /// Someone waits in [`LineQueue::wait_written`]: the writer stops lingering.
    flush_asked: bool,
    closed: bool,
}

pub struct LineQueue {
    state: Mutex<State>,
    /// Signalled when there is work for the writer.
    work: Condvar,
    /// Signalled when the writer has written a batch.
    progress: Condvar,
    normal_limit: LaneLimit,
    security_limit: LaneLimit,
}

impl LineQueue {
    pub fn new(normal_limit: LaneLimit, security_limit: LaneLimit) -> LineQueue {
        LineQueue {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            progress: Condvar::new(),
            normal_limit,
            security_limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue inconsistent in a way that
        // matters more than losing the log: keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a line, or counts it as dropped when its lane is full. Never blocks on the writer.
    pub fn push(&self, level: Level, security: bool, text: String) {
        self.push_body(level, security, Body::Text(text));
    }

    /// Queues a chat record (info level, ordinary lane), or counts it as dropped.
    pub fn push_chat(&self, chat: ChatLine) {
        self.push_body(Level::Info, false, Body::Chat(chat));
    }

    fn push_body(&self, level: Level, security: bool, body: Body) {
        let mut state = self.lock();
        let entry = Entry {
            seq: state.next_seq,
            level,
            security,
            body,
        };
        let accepted = if security {
            state.security.push(entry, self.security_limit)
        } else {
            state.normal.push(entry, self.normal_limit)
        };
        if accepted {
            state.next_seq += 1;
            state.accepted += 1;
        } else if security {
            state.dropped.security += 1;
        } else {
            state.dropped.lines += 1;
        }
        // Only wake the writer when it sleeps: a busy writer finds the line on its next pass, a
        // lingering one when its linger ends (or now, if the lines pile up).
        let piled_up = state.writer_lingering
            && state.normal.entries.len() + state.security.entries.len() >= LINGER_LINES;
        if state.writer_waiting || piled_up {
            state.writer_waiting = false;
            state.writer_lingering = false;
            drop(state);
            self.work.notify_one();
        }
    }

    /// Moves every queued line, in arrival order, into `batch`, and takes the drop counts. Waits
    /// while there is nothing; returns `None` once the queue is closed and empty. The lanes are
    /// swapped out whole, so the lock is held for a moment however long the batch.
    pub fn take_batch(&self, batch: &mut Vec<Entry>) -> Option<Dropped> {
        let mut state = self.lock();
        loop {
            let empty = state.normal.entries.is_empty() && state.security.entries.is_empty();
            if !empty || state.dropped.any() {
                break;
            }
            if state.closed {
                return None;
            }
            state.writer_waiting = true;
            state = self
                .work
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        let mut normal = std::mem::take(&mut state.normal);
        let mut security = std::mem::take(&mut state.security);
        let dropped = std::mem::take(&mut state.dropped);
        drop(state);
        loop {
            let take_security = match (normal.front_seq(), security.front_seq()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(normal), Some(security)) => security < normal,
            };
            let lane = if take_security {
                &mut security
            } else {
                &mut normal
            };
            if let Some(entry) = lane.pop() {
                batch.push(entry);
            }
        }
        Some(dropped)
    }

    /// Called by the writer after a batch: waits up to `linger` for more lines to gather, unless
    /// enough are already waiting, a flush is asked or the queue is closed.
    pub fn linger(&self, linger: Duration) {
        let deadline = Instant::now() + linger;
        let mut state = self.lock();
        loop {
            let waiting = state.normal.entries.len() + state.security.entries.len();
            if state.closed || state.flush_asked || waiting >= LINGER_LINES {
                break;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            state.writer_lingering = true;
            state = match self.work.wait_timeout(state, left) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        state.writer_lingering = false;
    }

    /// The writer has finished with `count` lines of its batch.
    pub fn mark_written(&self, count: usize) {
        let mut state = self.lock();
        state.written += count as u64;
        if state.written >= state.accepted {
            state.flush_asked = false;
        }
        drop(state);
        self.progress.notify_all();
    }

    /// Waits (at most `timeout`) until every line accepted before the call is written.
    pub fn wait_written(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        let target = state.accepted;
        if state.written < target {
            state.flush_asked = true;
        }
        if state.writer_waiting || state.writer_lingering {
            state.writer_waiting = false;
            state.writer_lingering = false;
            self.work.notify_one();
        }
        while state.written < target {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            state = match self.progress.wait_timeout(state, left) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// No more lines: the writer ends once the queue is empty. (The server's queue lives until
    /// the process exits; tests end their writers.)
    #[cfg(test)]
    pub fn close(&self) {
        self.lock().closed = true;
        self.work.notify_one();
    }
}
