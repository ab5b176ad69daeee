//! A connection's outbound queue: shared frames waiting for the writer, bounded in bytes.
//!
//! The hub pushes (never waits); the writer takes everything queued at once and writes it as one
//! batch. Past the byte limit the queue is dropped and the connection is marked for closing: a
//! slow reader is cut off rather than slowing anybody else.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use classcord_core::hub::Frame;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    Queued,
    /// This push crossed the limit: the queue is dropped, the caller must close the connection.
    Overflowed,
    /// Already closing; the frame was dropped.
    Closed,
}

/// What the writer should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Batch {
    /// Frames were moved into the caller's buffer.
    Frames,
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
    frames: VecDeque<Frame>,
    bytes: usize,
    closing: Closing,
    waker: Option<Waker>,
}

#[derive(Debug)]
pub struct Outbox {
    limit: usize,
    state: Mutex<State>,
}

impl Outbox {
    pub fn new(limit: usize) -> Self {
        Outbox {
            limit,
            state: Mutex::new(State {
                frames: VecDeque::new(),
                bytes: 0,
                closing: Closing::Open,
                waker: None,
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

    pub fn push(&self, frame: &Frame) -> Push {
        let mut state = self.lock();
        if state.closing != Closing::Open {
            return Push::Closed;
        }
        if state.bytes + frame.len() > self.limit {
            state.frames = VecDeque::new();
            state.bytes = 0;
            state.closing = Closing::Now;
            wake(&mut state);
            return Push::Overflowed;
        }
        state.bytes += frame.len();
        state.frames.push_back(frame.clone());
        wake(&mut state);
        Push::Queued
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
        self.lock().bytes
    }

    /// Moves every queued frame into `into` (which must be empty), or says why there are none.
    pub fn poll_batch(&self, cx: &mut Context<'_>, into: &mut VecDeque<Frame>) -> Poll<Batch> {
        let mut state = self.lock();
        if state.closing == Closing::Now {
            return Poll::Ready(Batch::Overflowed);
        }
        if !state.frames.is_empty() {
            std::mem::swap(&mut state.frames, into);
            state.bytes = 0;
            return Poll::Ready(Batch::Frames);
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
    if let Some(waker) = state.waker.take() {
        waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn frame(bytes: &[u8]) -> Frame {
        Arc::from(bytes)
    }

    #[test]
    fn batches_everything_queued_and_wakes_the_writer() {
        let outbox = Outbox::new(100);
        let flag = Arc::new(Flag(false.into()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut batch = VecDeque::new();
        assert_eq!(outbox.poll_batch(&mut cx, &mut batch), Poll::Pending);
        outbox.push(&frame(b"a\n"));
        outbox.push(&frame(b"b\n"));
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(
            outbox.poll_batch(&mut cx, &mut batch),
            Poll::Ready(Batch::Frames)
        );
        assert_eq!(batch.len(), 2);
        assert_eq!(outbox.queued_bytes(), 0);
    }

    #[test]
    fn overflow_drops_the_queue_and_closes_now() {
        let outbox = Outbox::new(10);
        assert_eq!(outbox.push(&frame(b"123456\n")), Push::Queued);
        assert_eq!(outbox.push(&frame(b"123456\n")), Push::Overflowed);
        assert_eq!(outbox.push(&frame(b"1\n")), Push::Closed);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert_eq!(
            outbox.poll_batch(&mut cx, &mut VecDeque::new()),
            Poll::Ready(Batch::Overflowed)
        );
    }

    #[test]
    fn graceful_close_drains_first() {
        let outbox = Outbox::new(100);
        outbox.push(&frame(b"bye\n"));
        outbox.close();
        assert_eq!(outbox.push(&frame(b"late\n")), Push::Closed);
        let mut cx = Context::from_waker(Waker::noop());
        let mut batch = VecDeque::new();
        assert_eq!(
            outbox.poll_batch(&mut cx, &mut batch),
            Poll::Ready(Batch::Frames)
        );
        batch.clear();
        assert_eq!(
            outbox.poll_batch(&mut cx, &mut batch),
            Poll::Ready(Batch::Finished)
        );
    }
}
