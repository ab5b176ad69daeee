//! Back-pressure as the hub task applies it (the policy is in `net::flood`): a sender's lines go
//! to the hub one at a time, each delivered at once; the first that deepens a queue parks the rest
//! and pauses the sender; a short ticker rechecks the queues and resumes it.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Instant;

use classcord_core::hub::{Inbound, Output, SessionId};
use smol::Timer;

use super::{HubCommand, HubTask};
use crate::clock;
use crate::logging::{audit, FloodAction, SecurityEvent};
use crate::net::flood::RECHECK_EVERY;

impl HubTask {
    /// Hands a sender's lines to the hub one at a time, each delivered at once: as soon as one
    /// deepens a recipient's queue, the rest is parked and the sender paused (see `flood`).
    pub(super) fn feed_lines(
        &mut self,
        session: SessionId,
        mut lines: VecDeque<Inbound>,
        output: &mut Output,
    ) {
        if let Some(parked) = self.parked.get_mut(&session) {
            // Read before the pause took effect: after what is already waiting.
            parked.extend(lines);
            return;
        }
        let now = clock::now();
        while let Some(line) = lines.pop_front() {
            self.flood.start_command();
            let traced = self.traces.as_deref().filter(|t| t.watches(session));
            let first = traced.map(|_| crate::control::trace::first_verdict(&line));
            let handled = self.hub.handle(session, line, &now, output);
            if let Some(first) = first {
                self.trace_line(session, first, handled, output);
            }
            self.deliver(output);
            output.clear();
            if self.flood.deepened() {
                if !lines.is_empty() {
                    self.parked.insert(session, lines);
                }
                self.pause_if_flooding(session);
                return;
            }
        }
    }

    /// Stops reading `sender` if its lines just deepened a recipient's queue.
    pub(super) fn pause_if_flooding(&mut self, sender: SessionId) {
        let Some(peer) = self.peers.get(&sender) else {
            return;
        };
        if self.flood.after_lines(sender, &peer.connection.gate) {
            crate::metrics::add(&self.metrics.counters.flood_pauses, 1);
            audit(&SecurityEvent::Flood {
                ip: peer.ip(),
                action: FloodAction::Paused,
                conn: sender.0,
            });
        }
        if self.flood.any_paused() && !self.recheck_running.swap(true, Ordering::AcqRel) {
            let running = self.recheck_running.clone();
            let commands = self.commands.clone();
            self.executor
                .spawn(async move {
                    while running.load(Ordering::Acquire) {
                        Timer::after(RECHECK_EVERY).await;
                        if commands.send(HubCommand::Recheck).await.is_err() {
                            return;
                        }
                    }
                })
                .detach();
        }
    }

    /// Resumes paused senders once no queue is deep; stalled readers are left to the byte cap.
    pub(super) fn recheck_floods(&mut self, output: &mut Output) {
        let peers = &self.peers;
        let outcome = self.flood.recheck(
            |session| {
                peers.get(&session).map(|peer| {
                    let (queued, sent) = peer.outbox.progress();
                    // The kernel may hold megabytes for a loopback peer: what the peer took is
                    // what was sent minus what still sits unsent in the socket.
                    let unsent = unsent_in_socket(peer.connection.stream.get_ref());
                    (queued, sent.saturating_sub(unsent))
                })
            },
            Instant::now(),
        );
        for session in outcome.stalled {
            log::debug!(
                "[DEBUG] lecteur bloqué, plus attendu par les expéditeurs (#{})",
                session.0
            );
        }
        if !outcome.resumed.is_empty() {
            log::debug!(
                "[DEBUG] lecture reprise pour {} expéditeur(s)",
                outcome.resumed.len()
            );
        }
        for session in outcome.resumed {
            if let Some(parked) = self.parked.remove(&session) {
                self.feed_lines(session, parked, output);
            }
        }
        if !self.flood.any_paused() {
            self.recheck_running.store(false, Ordering::Release);
        }
    }
}

/// Bytes written to `socket` that its peer has not taken yet (`TIOCOUTQ`; 0 if unknown).
fn unsent_in_socket(socket: &std::net::TcpStream) -> u64 {
    use std::os::fd::AsRawFd;
    let mut unsent: libc::c_int = 0;
    // SAFETY: TIOCOUTQ writes one c_int through the pointer, which points to a live c_int.
    let status = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut unsent) };
    if status == 0 {
        u64::try_from(unsent).unwrap_or(0)
    } else {
        0
    }
}
