//! A connection's outbound queue: encoded lines waiting for the writer, bounded in bytes.
//!
//! The hub appends each frame's bytes (one `memcpy`, no shared reference count bouncing between
//! cores) and never waits. At the end of each batch of commands the hub flushes the outboxes it
//! touched: while the socket accepts the bytes, the hub writes them itself, with one syscall per
//! connection per batch and no task to wake. Only what the socket refuses (a full send buffer) is
//! left to the connection's writer task, which waits for the socket to drain; the hub never
//! writes while that task holds bytes, so order is kept. Past the byte limit the queue is dropped
//! and the connection is marked for closing: a slow reader is cut off rather than slowing
//! anybody else.

use std::io::{self, Write};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    Queued,
    /// Queued into an outbox whose writer is idle: call [`Outbox::flush`] once the batch is done.
    QueuedFlushNeeded,
    /// Queued, and enough bytes are waiting for an idle writer: call [`Outbox::flush`] now rather
    /// than at the end of the batch (a long batch must not overflow a healthy connection).
    QueuedFlushNow,
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
    /// A flush is owed (set by the first push after the writer went idle).
    flush_owed: bool,
}

#[derive(Debug)]
pub struct Outbox {
    limit: usize,
    state: Mutex<State>,
}

/// Bytes waiting for an idle writer that make the hub write them at once.
const FLUSH_NOW_BYTES: usize = 32 * 1024;


impl Outbox {
    pub fn new(limit: usize) -> Self {
        Outbox {
            limit,
            state: Mutex::new(State {
                bytes: Vec::new(),
                closing: Closing::Open,
                waker: None,
                flush_owed: false,
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
        if state.waker.is_none() {
            return Push::Queued; // the writer is busy and will take these bytes
        }
        if state.bytes.len() >= FLUSH_NOW_BYTES {
            return Push::QueuedFlushNow;
        }
        if !state.flush_owed {
            state.flush_owed = true;
            return Push::QueuedFlushNeeded;
        }
        Push::Queued
    }

    /// Writes what is queued straight to `socket` (non-blocking) if the writer task is idle;
    /// whatever the socket does not take is handed to the writer task.
    pub fn flush(&self, mut socket: impl Write) {
        let mut state = self.lock();
        state.flush_owed = false;
        if state.waker.is_none() || state.closing == Closing::Now {
            return; // the writer is busy (it will see these bytes) or is closing the connection
        }
        let mut written = 0;
        while written < state.bytes.len() {
            match socket.write(&state.bytes[written..]) {
                Ok(0) => break,
                Ok(count) => written += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break, // would block, or an error the writer will meet and report
            }
        }
        if written == state.bytes.len() {
            // An idle connection holds no buffer (one allocation per flush is cheap next to the
            // write syscall, and keeps 10,000 idle connections small).
            state.bytes = Vec::new();
        } else {
            state.bytes.drain(..written);
            wake(&mut state);
        }
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

    /// Moves every queued byte into `into` (which must be empty), or says why there are none.
    pub fn poll_batch(&self, cx: &mut Context<'_>, into: &mut Vec<u8>) -> Poll<Batch> {
        let mut state = self.lock();
        if state.closing == Closing::Now {
            return Poll::Ready(Batch::Overflowed);
        }
        if !state.bytes.is_empty() {
            *into = std::mem::take(&mut state.bytes);
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
    state.flush_owed = false;
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

    /// A socket that takes at most `room` bytes, then would block.
    struct Socket {
        taken: Vec<u8>,
        room: usize,
        writes: usize,
    }
    impl Write for Socket {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let count = bytes.len().min(self.room - self.taken.len());
            if count == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.writes += 1;
            self.taken.extend_from_slice(&bytes[..count]);
            Ok(count)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_idle_writer_gets_everything_in_one_direct_write_without_a_wake() {
        let outbox = Outbox::new(100);
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert_eq!(outbox.poll_batch(&mut cx, &mut Vec::new()), Poll::Pending);
        assert_eq!(outbox.push(b"a\n"), Push::QueuedFlushNeeded);
        assert_eq!(outbox.push(b"b\n"), Push::Queued);
        let mut socket = Socket {
            taken: Vec::new(),
            room: 100,
            writes: 0,
        };
        outbox.flush(&mut socket);
        assert_eq!(
            (socket.taken.as_slice(), socket.writes),
            (&b"a\nb\n"[..], 1)
        );
        assert!(!flag.0.load(Ordering::SeqCst), "no task woken");
        assert_eq!(outbox.queued_bytes(), 0);
        assert_eq!(outbox.push(b"c\n"), Push::QueuedFlushNeeded, "still idle");
    }

    #[test]
    fn what_the_socket_refuses_goes_to_the_writer_in_order() {
        let outbox = Outbox::new(100);
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut batch = Vec::new();
        assert_eq!(outbox.poll_batch(&mut cx, &mut batch), Poll::Pending);
        outbox.push(b"hello\n");
        let mut socket = Socket {
            taken: Vec::new(),
            room: 3,
            writes: 0,
        };
        outbox.flush(&mut socket);
        assert!(flag.0.load(Ordering::SeqCst), "the writer takes over");
        outbox.push(b"next\n");
        assert_eq!(
            outbox.poll_batch(&mut cx, &mut batch),
            Poll::Ready(Batch::Bytes)
        );
        assert_eq!(batch, b"lo\nnext\n");
    }

    #[test]
    fn no_direct_write_while_the_writer_holds_bytes() {
        let outbox = Outbox::new(100);
        let mut cx = Context::from_waker(Waker::noop());
        outbox.push(b"first\n");
        let mut batch = Vec::new();
        assert_eq!(
            outbox.poll_batch(&mut cx, &mut batch),
            Poll::Ready(Batch::Bytes)
        );
        assert_eq!(outbox.push(b"second\n"), Push::Queued, "the writer is busy");
        let mut socket = Socket {
            taken: Vec::new(),
            room: 100,
            writes: 0,
        };
        outbox.flush(&mut socket);
        assert!(socket.taken.is_empty());
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
