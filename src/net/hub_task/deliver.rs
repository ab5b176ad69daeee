//! Frames into outboxes, and outboxes onto sockets: each frame's bytes appended to its recipients'
//! outboxes (a slow reader past the cap is cut), one write per touched connection at the end of a
//! batch, and a backlog writer task only while a socket is full.

use std::net::Shutdown;
use std::time::Instant;

use classcord_core::hub::{Output, SessionId};
use smol::channel::Sender;
use smol::Executor;

use super::HubTask;
use crate::logging::{audit, SecurityEvent};
use crate::net::outbox::{Flushed, Push};
use crate::net::writer::{write_backlog, Stream, WriterEnd};

impl HubTask {
    pub(super) fn deliver(&mut self, output: &mut Output) {
        let limit = self.outbound_limit;
        let now = Instant::now();
        let mut delivered = 0u64;
        for (frame, recipients) in output.deliveries() {
            for &session in recipients {
                let Some(peer) = self.peers.get_mut(&session) else {
                    continue;
                };
                delivered += 1;
                match peer.outbox.push(frame, limit) {
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

    /// Closes a connection once what is queued for it is written.
    pub(super) fn close_peer(&mut self, session: SessionId) {
        if let Some(peer) = self.peers.get_mut(&session) {
            peer.outbox.close();
            self.flush_peer(session);
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
