//! The network shell: the accept loop, one reader task per connection, the hub task that owns
//! the chat state, and the outboxes and backlog writers that carry its lines out. `crate::server`
//! binds the sockets and starts these parts; nothing here knows the console (the hub task
//! carries out `crate::control::HubJob`s without knowing who asked).
//!
//! - [`listener`]: sockets and the accept loop.
//! - [`reader`]: the per-connection reader task (bytes -> requests -> hub).
//! - [`framing`]: how a transport's bytes become lines (JSON lines; WebSocket in `websocket`).
//! - [`hub_task`]: the task that owns the chat state and carries out its effects.
//! - [`outbox`]: the bounded per-connection outbound queue the hub writes from.
//! - [`flood`]: back-pressure: the hub stops reading a sender whose lines deepen queues.
//! - [`writer`]: the backlog writer task, alive only while a connection's socket is full.
//! - [`websocket`]: WebSocket framing for browsers (the reader decodes, the hub task encodes).

pub mod flood;
pub mod framing;
pub mod hub_task;
pub mod listener;
pub mod outbox;
pub mod reader;
pub mod websocket;
pub mod writer;

/// Returns freed heap pages to the system (glibc keeps them otherwise).
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists, under its own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
