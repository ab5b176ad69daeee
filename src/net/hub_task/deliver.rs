//! Frames into outboxes, and outboxes onto sockets: each frame's bytes appended to its recipients'
//! outboxes (a slow reader past the cap is cut), one write per touched connection at the end of a
//! batch, and a backlog writer task only while a socket is full. A browser's outbox gets the same
//! line as a WebSocket text frame, encoded once per frame for all browsers.

use std::net::Shutdown;
use std::time::Instant;

use classcord_core::hub::{Output, SessionId};
use smol::channel::Sender;
use smol::Executor;

use super::{HubTask, Transport};
use crate::logging::{audit, SecurityEvent};
use crate::net::outbox::{Flushed, Push};
use crate::net::writer::{write_backlog, Stream, WriterEnd};

impl HubTask {
    pub(super) fn deliver(&mut self, output: &mut Output) {
        if self.traces.is_some() {
            self.trace_output(output);
        }
        let limit = self.outbound_limit;
        let now = Instant::now();
        let mut delivered = 0u64;
        let mut as_websocket = Vec::new();
        for (frame, recipients) in output.deliveries() {
            as_websocket.clear();
            for &session in recipients {
                let Some(peer) = self.peers.get_mut(&session) else {
                    continue;
                };
                delivered += 1;
                let bytes: &[u8] = match peer.connection.transport {
                    Transport::Tcp => frame,
                    Transport::WebSocket => {
                        if as_websocket.is_empty() {
                            crate::net::websocket::text_frame(frame, &mut as_websocket);
                        }
                        &as_websocket
                    }
                };
                match peer.outbox.push(bytes, limit) {
                    Push::Queued | Push::Closed => {}
                    Push::Backlogged { depth } => self.flood.queued(session, depth, now),
                    Push::FlushLater => self.to_flush.push(session),
                    Push::FlushNow => {
                        let flushed = peer.outbox.flush(peer.connection.stream.get_ref());
                        let stream = &peer.connection.stream;
                        after_flush(
                            flushed,
                            stream,
                            session,
                            &self.executor,
                            &self.writers_alive,
                        );
                    }
                    Push::Overflowed => {
                        crate::metrics::add(&self.metrics.counters.slow_clients, 1);
                        audit(&SecurityEvent::SlowClient {
                            ip: peer.ip(),
                            limit,
                            conn: session.0,
                        });
                        // Unblocks a writer stuck on a full socket; the reader then sees the end.
                        let _ = peer.connection.stream.get_ref().shutdown(Shutdown::Both);
                    }
                }
            }
        }
        if delivered > 0 {
            crate::metrics::add(&self.metrics.counters.deliveries, delivered);
        }
        for effect in output.effects.drain(..) {
            self.perform(effect);
        }
    }

    pub(super) fn flush_outboxes(&mut self) {
        let mut to_flush = std::mem::take(&mut self.to_flush);
        for &session in &to_flush {
            self.flush_peer(session);
        }
        to_flush.clear();
        self.to_flush = to_flush;
    }

    /// Writes a connection's queued lines; starts a backlog writer if its socket is full.
    pub(super) fn flush_peer(&mut self, session: SessionId) {
        let Some(peer) = self.peers.get_mut(&session) else {
            return;
        };
        let flushed = peer.outbox.flush(peer.connection.stream.get_ref());
        after_flush(
            flushed,
            &peer.connection.stream,
            session,
            &self.executor,
            &self.writers_alive,
        );
    }

    /// Closes a connection once what is queued for it is written (a browser gets a WebSocket
    /// close frame last).
    pub(super) fn close_peer(&mut self, session: SessionId) {
        if let Some(peer) = self.peers.get_mut(&session) {
            if peer.connection.transport == Transport::WebSocket
                && !peer.outbox.is_closed()
                && !peer.close_frame_sent
            {
                let close = crate::net::websocket::close_frame(crate::net::websocket::CLOSE_NORMAL);
                let _ = peer.outbox.push(&close, self.outbound_limit);
            }
            peer.outbox.close();
            self.flush_peer(session);
        }
    }

    /// Transport bytes from the reader (a WebSocket pong or close), in order with the frames.
    pub(super) fn push_raw(&mut self, session: SessionId, bytes: &[u8]) {
        let Some(peer) = self.peers.get_mut(&session) else {
            return;
        };
        if peer.close_frame_sent {
            return; // nothing follows a close (RFC 6455 §5.5.1)
        }
        peer.close_frame_sent = crate::net::websocket::is_close_frame(bytes);
        match peer.outbox.push(bytes, self.outbound_limit) {
            Push::Queued | Push::Closed | Push::Overflowed | Push::Backlogged { .. } => {}
            Push::FlushLater | Push::FlushNow => self.to_flush.push(session),
        }
    }
}

/// Carries out what a flush asked for: shut the write side, or start a backlog writer.
fn after_flush(
    flushed: Flushed,
    stream: &Stream,
    session: SessionId,
    executor: &Executor<'static>,
    writers_alive: &Sender<()>,
) {
    match flushed {
        Flushed::Done => {}
        Flushed::ShutdownWrite => {
            let _ = stream.get_ref().shutdown(Shutdown::Write);
        }
        Flushed::StartWriter(backlog) => {
            let stream = stream.clone();
            let alive = writers_alive.clone();
            executor
                .spawn(async move {
                    let _alive = alive;
                    if write_backlog(stream, backlog).await == WriterEnd::Failed {
                        log::debug!("[DEBUG] écriture interrompue (#{})", session.0);
                    }
                })
                .detach();
        }
    }
}
