//! A connection's outbound queue: encoded lines waiting for the writer, bounded in bytes.
//!
//! The hub appends each frame's bytes (one `memcpy`, no shared reference count bouncing between
//! cores) and never waits; the writer swaps the whole buffer out and writes it in one go, so
//! everything queued meanwhile is coalesced. Wake-ups are deferred: the hub marks the outboxes it
//! touched and wakes each writer once per batch of commands. Past the byte limit the queue is
//! dropped and the connection is marked for closing: a slow reader is cut off rather than
//! slowing anybody else.

use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    Queued,
    /// Queued, and the writer is asleep: call [`Outbox::wake`] once the batch is done.
    QueuedWakeNeeded,
    /// This push crossed the limit: the queue is dropped, the caller must close the connection.
    Overflowed,
    /// Already closing; the frame was dropped.
    Closed,
}

/// What the writer should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Batch {
    /// Bytes were swapped into the caller's buffer.
    Bytes,
    /// Closed gracefully and fully drained: flush and close.
    Finished,
    /// Overflowed: close at once.
    Overflowed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    Open,
    AfterDrain,
    Now,
}

#[derive(Debug)]
struct State {
    bytes: Vec<u8>,
    closing: Closing,
    waker: Option<Waker>,
    /// A wake is owed (set by the first push after the writer went to sleep).
    wake_owed: bool,
}

#[derive(Debug)]
pub struct Outbox {
    limit: usize,
    state: Mutex<State>,
}

/// A buffer that grew past this is released once written (idle connections stay small).
const RETAINED_CAPACITY: usize = 16 * 1024;

impl Outbox {
    pub fn new(limit: usize) -> Self {
        Outbox {
            limit,
            state: Mutex::new(State {
                bytes: Vec::new(),
                closing: Closing::Open,
                waker: None,
                wake_owed: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock aborts the process (panic = "abort"), so poisoning only
        // happens in tests; the state is still consistent then.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends one encoded line.
    pub fn push(&self, frame: &[u8]) -> Push {
        let mut state = self.lock();
        if state.closing != Closing::Open {
            return Push::Closed;
        }
        if state.bytes.len() + frame.len() > self.limit {
            state.bytes = Vec::new();
            state.closing = Closing::Now;
            wake(&mut state);
            return Push::Overflowed;
        }
        state.bytes.extend_from_slice(frame);
        if state.waker.is_some() && !state.wake_owed {
            state.wake_owed = true;
            return Push::QueuedWakeNeeded;
        }
        Push::Queued
    }

    /// Wakes the writer if it sleeps.
    pub fn wake(&self) {
        wake(&mut self.lock());
    }

    /// Close after what is queued has been written.
    pub fn close(&self) {
        let mut state = self.lock();
        if state.closing == Closing::Open {
            state.closing = Closing::AfterDrain;
        }
        wake(&mut state);
    }

    /// Bytes waiting (not counting a batch the writer already took).
    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes.len()
    }

    /// Swaps every queued byte into `into` (which must be empty), or says why there are none.
    pub fn poll_batch(&self, cx: &mut Context<'_>, into: &mut Vec<u8>) -> Poll<Batch> {
        let mut state = self.lock();
        if state.closing == Closing::Now {
            return Poll::Ready(Batch::Overflowed);
        }
        if !state.bytes.is_empty() {
            std::mem::swap(&mut state.bytes, into);
            if state.bytes.capacity() > RETAINED_CAPACITY {
                state.bytes = Vec::new();
            }
            return Poll::Ready(Batch::Bytes);
        }
        if state.closing == Closing::AfterDrain {
            return Poll::Ready(Batch::Finished);
        }
        match &state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

fn wake(state: &mut State) {
    state.wake_owed = false;
    if let Some(waker) = state.waker.take() {
        waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn coalesces_everything_queued_and_asks_for_one_wake() {
        let outbox = Outbox::new(100);
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut batch = Vec::new();
        assert_eq!(outbox.poll_batch(&mut cx, &mut batch), Poll::Pending);
        assert_eq!(outbox.push(b"a\n"), Push::QueuedWakeNeeded);
        assert_eq!(outbox.push(b"b\n"), Push::Queued);
        assert!(!flag.0.load(Ordering::SeqCst), "the wake is deferred");
        outbox.wake();
        assert!(flag.0.load(Ordering::SeqCst));
        assert_eq!(
            outbox.poll_batch(&mut cx, &mut batch),
            Poll::Ready(Batch::Bytes)
        );
        assert_eq!(batch, b"a\nb\n");
        assert_eq!(outbox.queued_bytes(), 0);
    }

    #[test]
    fn overflow_drops_the_queue_and_closes_now() {
        let outbox = Outbox::new(10);
        assert_eq!(outbox.push(b"123456\n"), Push::Queued);
        assert_eq!(outbox.push(b"123456\n"), Push::Overflowed);
        assert_eq!(outbox.push(b"1\n"), Push::Closed);
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(
            outbox.poll_batch(&mut cx, &mut Vec::new()),
            Poll::Ready(Batch::Overflowed)
        );
    }

    #[test]
    fn graceful_close_drains_first() {
        let outbox = Outbox::new(100);
        outbox.push(b"bye\n");
        outbox.close();
        assert_eq!(outbox.push(b"late\n"), Push::Closed);
        let mut cx = Context::from_waker(Waker::noop());
        let mut batch = Vec::new();
        assert_eq!(
            outbox.poll_batch(&mut cx, &mut batch),
            Poll::Ready(Batch::Bytes)
        );
        batch.clear();
        assert_eq!(
            outbox.poll_batch(&mut cx, &mut batch),
            Poll::Ready(Batch::Finished)
        );
    }
}
