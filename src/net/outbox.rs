//! A connection's outbound queue: encoded lines waiting to be written, bounded in bytes.
//!
//! The hub appends each frame's bytes (one `memcpy`; no shared reference count bouncing between
//! cores) and never waits. At the end of each batch of commands it flushes the outboxes it
//! touched by writing to the non-blocking socket itself: one syscall per connection per batch,
//! no task to wake. Only when the socket refuses bytes (its send buffer is full) does the
//! connection get a backlog writer task, which waits for the socket to drain, writes the backlog
//! and ends; while it runs the hub only appends, so order is kept. An idle connection therefore
//! holds no buffer and no writer task.
//!
//! Past the byte limit the queue is dropped and the connection is marked for closing: a slow
//! reader is cut off rather than slowing anybody else.

use std::io::{self, Write};
use std::sync::Mutex;

/// Bytes waiting while no writer task runs that make the hub write them at once rather than at
/// the end of its batch (a long batch must not overflow a healthy connection).
const FLUSH_NOW_BYTES: usize = 32 * 1024;

/// First allocation of an empty outbox.
const INITIAL_CAPACITY: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Queued; nothing to do now.
    Queued,
    /// Queued: flush this outbox once the batch is done.
    FlushLater,
    /// Queued, and enough is waiting: flush now.
    FlushNow,
    /// This push crossed the limit: the queue is dropped, the caller must cut the connection.
    Overflowed,
    /// Closing; the frame was dropped.
    Closed,
}

/// What the hub must do after a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flushed {
    /// Everything queued is written (or a writer task has it).
    Done,
    /// The socket is full: start a backlog writer task.
    StartWriter,
    /// Written, and the outbox is closing: shut the socket's write side.
    ShutdownWrite,
}

/// What a backlog writer should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Backlog {
    /// Bytes were moved into the writer's buffer.
    Bytes,
    /// Nothing left: the writer ends (the hub writes directly again).
    Idle,
    /// Nothing left and the outbox is closing: shut the write side and end.
    Finished,
    /// Overflowed or failed: end at once.
    Abort,
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
    /// A backlog writer task owns the socket's write side.
    writer_running: bool,
    /// The hub already plans to flush this outbox at the end of its batch.
    flush_planned: bool,
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
                bytes: Vec::new(),
                closing: Closing::Open,
                writer_running: false,
                flush_planned: false,
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
            return Push::Overflowed;
        }
        if state.bytes.capacity() == 0 {
            // Room for a few lines at once: fewer reallocations when a batch piles up.
            state.bytes.reserve(INITIAL_CAPACITY.max(frame.len()));
        }
        state.bytes.extend_from_slice(frame);
        if state.writer_running {
            Push::Queued
        } else if state.bytes.len() >= FLUSH_NOW_BYTES {
            Push::FlushNow
        } else if !state.flush_planned {
            state.flush_planned = true;
            Push::FlushLater
        } else {
            Push::Queued
        }
    }

    /// Writes what is queued to the non-blocking `socket`, unless a writer task owns it.
    pub fn flush(&self, mut socket: impl Write) -> Flushed {
        let mut state = self.lock();
        state.flush_planned = false;
        if state.writer_running || state.closing == Closing::Now {
            return Flushed::Done;
        }
        let mut written = 0;
        while written < state.bytes.len() {
            match socket.write(&state.bytes[written..]) {
                Ok(0) => break,
                Ok(count) => written += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break, // would block, or an error the writer task meets and reports
            }
        }
        if written == state.bytes.len() {
            // An idle connection holds no buffer (one allocation per flush is cheap next to the
            // write syscall, and keeps thousands of idle connections small).
            state.bytes = Vec::new();
            if state.closing == Closing::AfterDrain {
                state.closing = Closing::Now; // done: nothing more goes out
                return Flushed::ShutdownWrite;
            }
            return Flushed::Done;
        }
        state.bytes.drain(..written);
        state.writer_running = true;
        Flushed::StartWriter
    }

    /// Close once what is queued has been written; then flush (and shut down) as told.
    pub fn close(&self) {
        let mut state = self.lock();
        if state.closing == Closing::Open {
            state.closing = Closing::AfterDrain;
        }
    }

    /// Marks the connection dead (write failed): later pushes are dropped.
    pub fn abort(&self) {
        let mut state = self.lock();
        state.closing = Closing::Now;
        state.bytes = Vec::new();
    }

    /// Bytes waiting (not counting what a writer task already took).
    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes.len()
    }

    /// For the backlog writer: takes what is queued into `into` (empty), or says it is done.
    pub fn take_backlog(&self, into: &mut Vec<u8>) -> Backlog {
        let mut state = self.lock();
        if state.closing == Closing::Now {
            state.writer_running = false;
            return Backlog::Abort;
        }
        if !state.bytes.is_empty() {
            *into = std::mem::take(&mut state.bytes);
            return Backlog::Bytes;
        }
        state.writer_running = false;
        if state.closing == Closing::AfterDrain {
            Backlog::Finished
        } else {
            Backlog::Idle
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `room` bytes, then would block.
    struct Socket {
        taken: Vec<u8>,
        room: usize,
        writes: usize,
    }

    impl Socket {
        fn with_room(room: usize) -> Socket {
            Socket {
                taken: Vec::new(),
                room,
                writes: 0,
            }
        }
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
    fn a_batch_goes_out_in_one_direct_write() {
        let outbox = Outbox::new(100);
        assert_eq!(outbox.push(b"a\n"), Push::FlushLater);
        assert_eq!(
            outbox.push(b"b\n"),
            Push::Queued,
            "one flush planned per batch"
        );
        let mut socket = Socket::with_room(100);
        assert_eq!(outbox.flush(&mut socket), Flushed::Done);
        assert_eq!(
            (socket.taken.as_slice(), socket.writes),
            (&b"a\nb\n"[..], 1)
        );
        assert_eq!(outbox.queued_bytes(), 0);
        assert_eq!(outbox.push(b"c\n"), Push::FlushLater, "next batch");
    }

    #[test]
    fn a_big_backlog_is_flushed_at_once() {
        let outbox = Outbox::new(1 << 20);
        let line = vec![b'x'; 1000];
        let mut pushes = Vec::new();
        for _ in 0..40 {
            pushes.push(outbox.push(&line));
        }
        assert!(pushes.contains(&Push::FlushNow));
    }

    #[test]
    fn what_the_socket_refuses_goes_to_a_writer_task_in_order() {
        let outbox = Outbox::new(100);
        outbox.push(b"hello\n");
        let mut socket = Socket::with_room(3);
        assert_eq!(outbox.flush(&mut socket), Flushed::StartWriter);
        assert_eq!(
            outbox.push(b"next\n"),
            Push::Queued,
            "the writer owns the socket"
        );
        let mut socket = Socket::with_room(100);
        assert_eq!(outbox.flush(&mut socket), Flushed::Done);
        assert!(
            socket.taken.is_empty(),
            "no direct write while the writer runs"
        );
        let mut batch = Vec::new();
        assert_eq!(outbox.take_backlog(&mut batch), Backlog::Bytes);
        assert_eq!(batch, b"lo\nnext\n");
        assert_eq!(outbox.take_backlog(&mut Vec::new()), Backlog::Idle);
        assert_eq!(
            outbox.push(b"again\n"),
            Push::FlushLater,
            "the hub writes directly again"
        );
    }

    #[test]
    fn overflow_drops_the_queue_and_closes_now() {
        let outbox = Outbox::new(10);
        assert_eq!(outbox.push(b"123456\n"), Push::FlushLater);
        assert_eq!(outbox.push(b"123456\n"), Push::Overflowed);
        assert_eq!(outbox.push(b"1\n"), Push::Closed);
        assert_eq!(outbox.take_backlog(&mut Vec::new()), Backlog::Abort);
    }

    #[test]
    fn graceful_close_writes_then_shuts_the_write_side() {
        let outbox = Outbox::new(100);
        outbox.push(b"bye\n");
        outbox.close();
        assert_eq!(outbox.push(b"late\n"), Push::Closed);
        let mut socket = Socket::with_room(100);
        assert_eq!(outbox.flush(&mut socket), Flushed::ShutdownWrite);
        assert_eq!(socket.taken, b"bye\n");
    }

    #[test]
    fn graceful_close_with_a_backlog_lets_the_writer_finish() {
        let outbox = Outbox::new(100);
        outbox.push(b"long line\n");
        assert_eq!(
            outbox.flush(&mut Socket::with_room(2)),
            Flushed::StartWriter
        );
        outbox.close();
        let mut batch = Vec::new();
        assert_eq!(outbox.take_backlog(&mut batch), Backlog::Bytes);
        assert_eq!(outbox.take_backlog(&mut Vec::new()), Backlog::Finished);
    }
}
