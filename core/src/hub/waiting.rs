//! A session waiting for the shell: a password check, its deferred private messages after a login,
//! or a history page. Meanwhile its later lines wait here (bounded) so replies keep their order;
//! for a check and the deferred delivery, frames for it are held too, so that its login reply and
//! then its deferred messages are the very next lines it receives (docs/PROTOCOL.md §2.3 and §4.2).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Event, Frame, Hub, Inbound, Now, Output, SessionId};

/// Lines a session may send while it waits; more are dropped (and the client told so once the
/// wait is over), so a flood during a check cannot grow the hub's memory.
pub const MAX_LINES_WHILE_CHECKING: usize = 256;

/// What the session waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WaitingFor {
    /// Its `login` / `register` (`username` as asked).
    Auth { username: String },
    /// Its deferred private messages, right after a successful login (`name`: the account).
    Deferred { name: String },
    /// A history page.
    History,
}

#[derive(Debug)]
pub(super) struct Waiting {
    pub(super) reason: WaitingFor,
    queued: VecDeque<Inbound>,
    /// Lines refused because `queued` was full.
    dropped: usize,
    /// Frames for the session, held until the wait is over.
    pub(super) held: Vec<Frame>,
}

impl Waiting {
    pub(super) fn new(reason: WaitingFor) -> Waiting {
        Waiting {
            reason,
            queued: VecDeque::new(),
            dropped: 0,
            held: Vec::new(),
        }
    }

    /// Whether broadcasts to the session wait too (not for history: only replies keep order).
    pub(super) fn holds_frames(&self) -> bool {
        !matches!(self.reason, WaitingFor::History)
    }

    /// Queues a line sent during the wait, or counts it as dropped when the queue is full.
    pub(super) fn queue(&mut self, inbound: Inbound) {
        if self.queued.len() < MAX_LINES_WHILE_CHECKING {
            self.queued.push_back(inbound);
        } else {
            self.dropped += 1;
        }
    }
}

impl Hub {
    /// Puts the session in a wait (its channels' routes then hold frames for it).
    pub(super) fn start_waiting(&mut self, session: SessionId, waiting: Waiting) {
        if let Some(state) = self.sessions.get_mut(&session) {
            state.waiting = Some(Box::new(waiting));
        }
        self.invalidate_routes(session);
    }

    /// Ends the session's wait if it is the expected kind.
    pub(super) fn take_waiting(
        &mut self,
        session: SessionId,
        expected: impl Fn(&WaitingFor) -> bool,
    ) -> Option<Waiting> {
        let state = self.sessions.get_mut(&session)?;
        if !state.waiting.as_ref().is_some_and(|w| expected(&w.reason)) {
            return None;
        }
        let waiting = state.waiting.take();
        self.invalidate_routes(session);
        waiting.map(|boxed| *boxed)
    }

    /// The session is being closed by the server (kick, ban, shutdown): its wait ends without a
    /// reply from the shell. True when it was waiting for its login/register reply: the caller's
    /// text then goes out as that reply (an error line), so the reply-first rule holds.
    pub(super) fn cancel_wait(&mut self, session: SessionId) -> bool {
        let Some(waiting) = self.take_waiting(session, |_| true) else {
            return false;
        };
        match waiting.reason {
            WaitingFor::Auth { .. } => true,
            WaitingFor::Deferred { name } => {
                // Not delivered: they stay stored for the next login.
                self.deferred_loading
                    .remove(&crate::message::fold_name(&name));
                false
            }
            WaitingFor::History => false,
        }
    }

    /// After the reply: the held frames, a notice about dropped lines, then the queued lines (one
    /// of which may start a new wait: the rest then queue behind it).
    pub(super) fn resume(
        &mut self,
        session: SessionId,
        waiting: Waiting,
        now: &Now,
        out: &mut Output,
    ) {
        for frame in waiting.held {
            self.send_frame(session, frame, out);
        }
        if waiting.dropped > 0 {
            let during = match waiting.reason {
                WaitingFor::History => "la lecture de l'historique",
                _ => "la vérification du mot de passe",
            };
            let text = format!(
                "{} ligne(s) ignorée(s) : envoyées pendant {during}.",
                waiting.dropped
            );
            self.send_error(session, &text, out);
            out.log(Event::Rejected {
                session,
                reason: super::output::reasons::FLOOD_DURING_CHECK,
            });
        }
        let mut queued = waiting.queued;
        while let Some(inbound) = queued.pop_front() {
            match self
                .sessions
                .get_mut(&session)
                .and_then(|state| state.waiting.as_mut())
            {
                Some(again) => {
                    again.queue(inbound);
                    for inbound in queued.drain(..) {
                        again.queue(inbound);
                    }
                }
                None => self.process(session, inbound, now, out),
            }
        }
    }
}
