//! A connection's outbound queue: encoded lines waiting to be written, bounded in bytes.
//!
//! The [`Outbox`] belongs to the hub task (no lock): the hub appends each frame's bytes (one
//! `memcpy`, no reference count shared between cores) and, at the end of each batch of commands,
//! writes what piled up straight to the non-blocking socket: one syscall per connection per
//! batch, no task to wake. Only when the socket refuses bytes (its send buffer is full) is the
//! rest handed to a [`Backlog`], shared with a writer task that waits for the socket to drain,
//! writes, and ends once the backlog is empty; meanwhile the hub appends to the backlog, so order
//! is kept. An idle connection therefore holds no buffer and no writer task.
//!
//! Past the byte limit everything queued is dropped and the connection is cut: a slow reader is
//! disconnected rather than slowing anybody else.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes waiting that make the hub write them at once rather than at the end of its batch (a
/// long batch must not overflow a healthy connection).
const FLUSH_NOW_BYTES: usize = 32 * 1024;

/// First allocation of an empty outbox: room for a few lines, fewer reallocations.
const INITIAL_CAPACITY: usize = 1024;

/// A flush at least this big marks a busy connection, which keeps its buffer between batches.
const KEEP_BUFFER_AFTER: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Queued; nothing to do now.
    Queued,
    /// Queued behind a writer task (the socket is full); `depth` bytes are waiting there.
    Backlogged { depth: usize },
    /// Queued: flush this outbox once the batch is done.
    FlushLater,
    /// Queued, and enough is waiting: flush now.
    FlushNow,
    /// This push crossed the limit: everything is dropped, the caller must cut the connection.
    Overflowed,
    /// Closing or closed; the frame was dropped.
    Closed,
}

/// What the hub must do after a flush.
#[derive(Debug, Clone, PartialEq)]
pub enum Flushed {
    /// Everything queued is written, or a writer task has it.
    Done,
    /// The socket is full: start a writer task on this backlog.
    StartWriter(Arc<Backlog>),
    /// Written, and the outbox is closing: shut the socket's write side.
    ShutdownWrite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    Open,
    AfterDrain,
    Done,
}

/// The hub's side: what is waiting for the next flush.
#[derive(Debug)]
pub struct Outbox {
    pending: Vec<u8>,
    closing: Closing,
    flush_planned: bool,
    /// Set while a writer task owns the socket's write side.
    backlog: Option<Arc<Backlog>>,
    /// Bytes written to the socket so far, by the hub or by ended writer tasks.
    sent: u64,
}

/// Bytes the socket refused, shared between the hub and the connection's writer task.
#[derive(Debug, Default)]
pub struct Backlog {
    state: Mutex<BacklogState>,
}

impl PartialEq for Backlog {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

#[derive(Debug, Default)]
struct BacklogState {
    bytes: Vec<u8>,
    /// Shut the write side once written.
    close_after: bool,
    /// Cut: drop everything, end at once.
    abort: bool,
    /// The writer has ended; the hub writes directly again.
    ended: bool,
    /// Bytes the writer took and has not written yet.
    in_flight: usize,
    /// Bytes the writer wrote so far (its progress).
    written: u64,
}

/// What a backlog writer should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Bytes were moved into the writer's buffer.
    Write,
    /// Nothing left: the writer ends (the hub writes directly again).
    End,
    /// Nothing left and the connection is closing: shut the write side and end.
    ShutdownWrite,
    /// Cut: end at once.
    Abort,
}

impl Backlog {
    fn lock(&self) -> MutexGuard<'_, BacklogState> {
        // A panic while holding this lock aborts the process (panic = "abort"), so poisoning only
        // happens in tests; the state is still consistent then.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// For the writer task: takes what is queued into `into` (empty), or says it is done.
    pub fn next(&self, into: &mut Vec<u8>) -> Next {
        let mut state = self.lock();
        if state.abort {
            state.ended = true;
            return Next::Abort;
        }
        if !state.bytes.is_empty() {
            *into = std::mem::take(&mut state.bytes);
            state.in_flight = into.len();
            return Next::Write;
        }
        state.in_flight = 0;
        state.ended = true;
        if state.close_after {
            Next::ShutdownWrite
        } else {
            Next::End
        }
    }

    /// For the writer task: `count` more bytes reached the socket.
    pub fn wrote(&self, count: usize) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(count);
        state.written += count as u64;
    }

    /// For the writer task: the socket failed; nothing more will be written.
    pub fn fail(&self) {
        let mut state = self.lock();
        state.abort = true;
        state.ended = true;
        state.bytes = Vec::new();
    }
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox::new()
    }
}

impl Outbox {
    pub fn new() -> Self {
        Outbox {
            pending: Vec::new(),
            closing: Closing::Open,
            flush_planned: false,
            backlog: None,
            sent: 0,
        }
    }

    /// Appends one encoded line, unless that would queue more than `limit` bytes.
    pub fn push(&mut self, frame: &[u8], limit: usize) -> Push {
        if self.closing != Closing::Open {
            return Push::Closed;
        }
        if let Some(backlog) = &self.backlog {
            let mut state = backlog.lock();
            if !state.ended {
                if state.bytes.len() + frame.len() > limit {
                    state.abort = true;
                    state.bytes = Vec::new();
                    drop(state);
                    self.cut();
                    return Push::Overflowed;
                }
                state.bytes.extend_from_slice(frame);
                return Push::Backlogged {
                    depth: state.bytes.len(),
                };
            }
            self.sent += state.written;
            drop(state);
            self.backlog = None; // the writer is done: back to direct writes
        }
        if self.pending.len() + frame.len() > limit {
            self.cut();
            return Push::Overflowed;
        }
        if self.pending.capacity() == 0 {
            self.pending.reserve(INITIAL_CAPACITY.max(frame.len()));
        }
        self.pending.extend_from_slice(frame);
        if self.pending.len() >= FLUSH_NOW_BYTES {
            Push::FlushNow
        } else if !self.flush_planned {
            self.flush_planned = true;
            Push::FlushLater
        } else {
            Push::Queued
        }
    }

    fn cut(&mut self) {
        self.pending = Vec::new();
        self.closing = Closing::Done;
        self.backlog = None;
    }

    /// Writes what is pending to the non-blocking `socket`, unless a writer task owns it.
    pub fn flush(&mut self, mut socket: impl Write) -> Flushed {
        self.flush_planned = false;
        if self.closing == Closing::Done {
            return Flushed::Done;
        }
        if let Some(backlog) = &self.backlog {
            let mut state = backlog.lock();
            if !state.ended {
                if self.closing == Closing::AfterDrain {
                    state.close_after = true;
                    self.closing = Closing::Done;
                }
                return Flushed::Done;
            }
            self.sent += state.written;
            drop(state);
            self.backlog = None;
        }
        let mut written = 0;
        while written < self.pending.len() {
            match socket.write(&self.pending[written..]) {
                Ok(0) => break,
                Ok(count) => written += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break, // would block, or an error the writer task meets and reports
            }
        }
        self.sent += written as u64;
        if written == self.pending.len() {
            if written >= KEEP_BUFFER_AFTER {
                // A busy connection keeps its buffer for the next batch (no allocation and no
                // regrowth per flush); the hub releases it once the chat is quiet.
                self.pending.clear();
            } else {
                // A quiet connection holds no buffer: thousands of idle connections stay small.
                self.pending = Vec::new();
            }
            if self.closing == Closing::AfterDrain {
                self.closing = Closing::Done;
                return Flushed::ShutdownWrite;
            }
            return Flushed::Done;
        }
        self.pending.drain(..written);
        let backlog = Arc::new(Backlog::default());
        {
            let mut state = backlog.lock();
            state.bytes = std::mem::take(&mut self.pending);
            if self.closing == Closing::AfterDrain {
                state.close_after = true;
                self.closing = Closing::Done;
            }
        }
        self.backlog = Some(backlog.clone());
        Flushed::StartWriter(backlog)
    }

    /// Drops the buffer of a connection with nothing pending (called when the chat is quiet).
    pub fn release_buffer(&mut self) {
        if self.pending.is_empty() {
            self.pending = Vec::new();
        }
    }

    /// Whether a close was asked for (nothing more may be queued).
    pub fn is_closed(&self) -> bool {
        self.closing != Closing::Open
    }

    /// Close once what is queued has been written: call [`Outbox::flush`] next.
    pub fn close(&mut self) {
        if self.closing == Closing::Open {
            self.closing = Closing::AfterDrain;
        }
    }

    /// Bytes waiting for a flush (not counting a writer task's backlog).
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    /// Everything not yet written (pending bytes, a writer task's backlog and what it holds),
    /// and how many bytes were written to the socket so far.
    pub fn progress(&self) -> (usize, u64) {
        let (backlog, written) = self.backlog.as_ref().map_or((0, 0), |backlog| {
            let state = backlog.lock();
            if state.ended {
                (0, state.written)
            } else {
                (state.bytes.len() + state.in_flight, state.written)
            }
        });
        (self.pending.len() + backlog, self.sent + written)
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

    const LIMIT: usize = 100;

    #[test]
    fn a_batch_goes_out_in_one_direct_write() {
        let mut outbox = Outbox::new();
        assert_eq!(outbox.push(b"a\n", LIMIT), Push::FlushLater);
        assert_eq!(
            outbox.push(b"b\n", LIMIT),
            Push::Queued,
            "one flush planned per batch"
        );
        let mut socket = Socket::with_room(100);
        assert_eq!(outbox.flush(&mut socket), Flushed::Done);
        assert_eq!(
            (socket.taken.as_slice(), socket.writes),
            (&b"a\nb\n"[..], 1)
        );
        assert_eq!(outbox.pending_bytes(), 0);
        assert_eq!(
            outbox.pending.capacity(),
            0,
            "an idle connection holds no buffer"
        );
        assert_eq!(outbox.push(b"c\n", LIMIT), Push::FlushLater, "next batch");
    }

    #[test]
    fn a_busy_connection_keeps_its_buffer_until_released() {
        let mut outbox = Outbox::new();
        outbox.push(&[b'x'; 5000], 1 << 20);
        assert_eq!(outbox.flush(&mut Socket::with_room(10_000)), Flushed::Done);
        assert!(outbox.pending.capacity() >= 5000);
        outbox.release_buffer();
        assert_eq!(outbox.pending.capacity(), 0);
    }

    #[test]
    fn a_big_pile_is_flushed_at_once() {
        let mut outbox = Outbox::new();
        let line = vec![b'x'; 1000];
        let pushes: Vec<Push> = (0..40).map(|_| outbox.push(&line, 1 << 20)).collect();
        assert!(pushes.contains(&Push::FlushNow));
    }

    #[test]
    fn what_the_socket_refuses_goes_to_a_writer_in_order() {
        let mut outbox = Outbox::new();
        outbox.push(b"hello\n", LIMIT);
        let Flushed::StartWriter(backlog) = outbox.flush(&mut Socket::with_room(3)) else {
            panic!("a writer should take over");
        };
        assert_eq!(
            outbox.push(b"next\n", LIMIT),
            Push::Backlogged { depth: 3 + 5 },
            "appended to the backlog"
        );
        assert_eq!(outbox.progress(), (8, 3));
        let mut socket = Socket::with_room(100);
        assert_eq!(outbox.flush(&mut socket), Flushed::Done);
        assert!(
            socket.taken.is_empty(),
            "no direct write while the writer runs"
        );
        let mut batch = Vec::new();
        assert_eq!(backlog.next(&mut batch), Next::Write);
        assert_eq!(batch, b"lo\nnext\n");
        assert_eq!(backlog.next(&mut Vec::new()), Next::End);
        assert_eq!(
            outbox.push(b"again\n", LIMIT),
            Push::FlushLater,
            "direct writes again"
        );
    }

    #[test]
    fn overflow_drops_everything_and_refuses_more() {
        let mut outbox = Outbox::new();
        assert_eq!(outbox.push(b"123456\n", 10), Push::FlushLater);
        assert_eq!(outbox.push(b"123456\n", 10), Push::Overflowed);
        assert_eq!(outbox.push(b"1\n", 10), Push::Closed);
        assert_eq!(outbox.pending_bytes(), 0);
    }

    #[test]
    fn overflow_of_a_backlog_aborts_its_writer() {
        let mut outbox = Outbox::new();
        outbox.push(b"0123456789\n", 20);
        let Flushed::StartWriter(backlog) = outbox.flush(&mut Socket::with_room(1)) else {
            panic!("a writer should take over");
        };
        assert_eq!(outbox.push(b"0123456789\n", 20), Push::Overflowed);
        assert_eq!(backlog.next(&mut Vec::new()), Next::Abort);
    }

    #[test]
    fn graceful_close_writes_then_shuts_the_write_side() {
        let mut outbox = Outbox::new();
        outbox.push(b"bye\n", LIMIT);
        outbox.close();
        assert_eq!(outbox.push(b"late\n", LIMIT), Push::Closed);
        let mut socket = Socket::with_room(100);
        assert_eq!(outbox.flush(&mut socket), Flushed::ShutdownWrite);
        assert_eq!(socket.taken, b"bye\n");
        assert_eq!(outbox.flush(&mut socket), Flushed::Done, "only once");
    }

    #[test]
    fn graceful_close_with_a_backlog_lets_the_writer_finish() {
        let mut outbox = Outbox::new();
        outbox.push(b"long line\n", LIMIT);
        let Flushed::StartWriter(backlog) = outbox.flush(&mut Socket::with_room(2)) else {
            panic!("a writer should take over");
        };
        outbox.close();
        assert_eq!(outbox.flush(&mut Socket::with_room(100)), Flushed::Done);
        let mut batch = Vec::new();
        assert_eq!(backlog.next(&mut batch), Next::Write);
        assert_eq!(backlog.next(&mut Vec::new()), Next::ShutdownWrite);
    }
}
