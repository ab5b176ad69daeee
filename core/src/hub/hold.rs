//! The login hold (docs/PROTOCOL.md §2.4). Student clients often read the
//! socket with one listener on their login screen and another once their chat window is open:
//! lines that arrive in between (deferred private messages, the welcome, a classmate's message)
//! are read by the first listener and lost, or overwritten by the next line on screens that show
//! only the last one. So after a successful `login`, every line for that connection is held until
//! the client shows it is listening, by its first request after the reply (answered first), or
//! until a settle delay passes; then the held lines go out in order, a short spacing apart, and
//! delivery is direct again. A client that announces `no-hold` in `hello` is never held.
//!
//! Held lines are bounded: past the connection's outbound byte bound they all go out at once, so
//! the shell's outbox bound (and its slow-client policy) applies to them like to any other line.
//! Deferred private messages are marked delivered in the store only once released, so a client
//! that leaves during the hold finds them at its next login.

use alloc::collections::VecDeque;
use alloc::string::String;

use super::{Effect, Frame, Hub, Now, Output, SessionId, StoreRequest};

/// When held lines are released (the `[clients]` configuration section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginHold {
    /// How long lines wait after the login reply if the client sends nothing; 0: no hold.
    pub settle_ms: u32,
    /// Time between two released lines; 0: all at once.
    pub spacing_ms: u32,
    /// Once releasing, whatever is still held after this long goes out at once (a busy channel
    /// must not keep a client behind forever).
    pub release_within_ms: u32,
}

impl Default for LoginHold {
    /// Measured with five real student clients (issue 14): with the lines sent about 1.5 s after
    /// the login reply, then 0.3 s apart, every client showed every line; sent at once, four of
    /// five lost them. 3 s bounds the spacing for a long list of deferred messages.
    fn default() -> Self {
        LoginHold {
            settle_ms: 1500,
            spacing_ms: 300,
            release_within_ms: 3000,
        }
    }
}

/// A held deferred private message: counted as delivered once released.
#[derive(Debug)]
pub(super) struct DeferredMark {
    pub(super) account: String,
    pub(super) id: u64,
    pub(super) from_key: String,
}

#[derive(Debug)]
struct HeldLine {
    frame: Frame,
    deferred: Option<DeferredMark>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the client's first request, at most until `until` (µs, shell clock).
    Settling { until: u64 },
    /// Sending one line at `next`; everything left goes at `flush_at`.
    Releasing { next: u64, flush_at: u64 },
}

#[derive(Debug)]
pub(super) struct Hold {
    phase: Phase,
    lines: VecDeque<HeldLine>,
    bytes: usize,
}

impl Hold {
    /// The wake-up time this hold waits for.
    fn deadline(&self) -> u64 {
        match self.phase {
            Phase::Settling { until } => until,
            Phase::Releasing { next, .. } => next,
        }
    }
}

fn micros(ms: u32) -> u64 {
    u64::from(ms) * 1000
}

impl Hub {
    /// Starts (or restarts, for a second login on the same socket) the hold after a login reply.
    pub(super) fn start_hold(&mut self, session: SessionId, now: &Now, out: &mut Output) {
        let settle = self.config.login_hold.settle_ms;
        let Some(state) = self.sessions.get_mut(&session) else {
            return;
        };
        if settle == 0 || state.features.has(crate::message::Feature::NoHold) {
            return;
        }
        let until = now.unix_micros + micros(settle);
        match &mut state.hold {
            Some(hold) => hold.phase = Phase::Settling { until },
            None => {
                state.hold = Some(alloc::boxed::Box::new(Hold {
                    phase: Phase::Settling { until },
                    lines: VecDeque::new(),
                    bytes: 0,
                }));
                self.invalidate_routes(session);
            }
        }
        self.schedule_wake(session, until, out);
    }

    /// Whether lines for the session are being held after its login reply.
    pub fn holds_lines_for(&self, session: SessionId) -> bool {
        self.sessions
            .get(&session)
            .is_some_and(|state| state.hold.is_some())
    }

    /// Appends a frame to the session's hold, if it has one; returns the frame otherwise.
    pub(super) fn hold_frame(
        &mut self,
        session: SessionId,
        frame: Frame,
        deferred: Option<DeferredMark>,
        out: &mut Output,
    ) -> Option<(Frame, Option<DeferredMark>)> {
        let limit = self.config.hold_bytes_limit;
        let Some(hold) = self
            .sessions
            .get_mut(&session)
            .and_then(|state| state.hold.as_mut())
        else {
            return Some((frame, deferred));
        };
        hold.bytes += frame.len();
        hold.lines.push_back(HeldLine { frame, deferred });
        if hold.bytes > limit {
            // Past the bound the outbox takes them, with its own bound and slow-client policy.
            self.release_all(session, out);
        }
        None
    }

    /// After a request from a settling session: it is listening, the held lines may go.
    pub(super) fn client_is_listening(&mut self, session: SessionId, now: &Now, out: &mut Output) {
        let settling = self
            .sessions
            .get(&session)
            .and_then(|state| state.hold.as_ref())
            .is_some_and(|hold| matches!(hold.phase, Phase::Settling { .. }));
        if settling {
            self.start_release(session, now, out);
        }
    }

    /// The shell's wake-up (see [`Effect::WakeAt`]; calling it on every periodic tick as well is
    /// harmless): holds whose time has come move on.
    pub fn wake(&mut self, now: &Now, out: &mut Output) {
        let timing = self.config.login_hold;
        // A deadline further ahead than any hold waits means the clock went back: due now.
        let horizon = now.unix_micros
            + micros(timing.settle_ms)
            + micros(timing.release_within_ms)
            + 10_000_000;
        let mut due = alloc::vec::Vec::new();
        while let Some(&entry) = self.wakeups.first() {
            if entry.0 > now.unix_micros {
                break;
            }
            self.wakeups.pop_first();
            due.push(entry);
        }
        while let Some(&entry) = self.wakeups.last() {
            if entry.0 <= horizon {
                break;
            }
            self.wakeups.pop_last();
            due.push(entry);
        }
        for (at, session) in due {
            let Some(hold) = self
                .sessions
                .get(&session)
                .and_then(|state| state.hold.as_ref())
            else {
                continue;
            };
            if hold.deadline() != at {
                continue; // superseded (the client spoke, or a second login restarted the hold)
            }
            if self.awaits_reply(session) {
                // A second login or register in progress: its reply comes first; look again.
                let later = now.unix_micros + micros(timing.spacing_ms.max(100));
                if let Some(hold) = self.hold_mut(session) {
                    match &mut hold.phase {
                        Phase::Settling { until } => *until = later,
                        Phase::Releasing { next, .. } => *next = later,
                    }
                }
                self.schedule_wake(session, later, out);
                continue;
            }
            match hold.phase {
                Phase::Settling { .. } => {
                    // The delay is the wait: the first line goes now, the others spaced.
                    self.release_one(session, out);
                    self.start_release(session, now, out);
                }
                Phase::Releasing { flush_at, .. } if now.unix_micros >= flush_at => {
                    self.release_all(session, out)
                }
                Phase::Releasing { flush_at, .. } => {
                    self.release_one(session, out);
                    let next = now.unix_micros + micros(self.config.login_hold.spacing_ms);
                    if let Some(hold) = self.hold_mut(session) {
                        if hold.lines.is_empty() {
                            self.end_hold(session);
                        } else {
                            hold.phase = Phase::Releasing { next, flush_at };
                            self.schedule_wake(session, next, out);
                        }
                    }
                }
            }
        }
    }

    /// The session is being closed or its hold overflowed: every held line goes now, so the
    /// closing notice is the last line it sees and nothing held is lost.
    pub(super) fn release_all(&mut self, session: SessionId, out: &mut Output) {
        if self.awaits_reply(session) {
            return; // its reply comes first; held lines then follow it (or go with the session)
        }
        while self
            .hold_mut(session)
            .is_some_and(|hold| !hold.lines.is_empty())
        {
            self.release_one(session, out);
        }
        self.end_hold(session);
    }

    /// The connection is gone: held deferred messages stay stored for the next login.
    pub(super) fn drop_hold(&mut self, hold: Option<alloc::boxed::Box<Hold>>) {
        let Some(hold) = hold else { return };
        for line in hold.lines {
            if let Some(mark) = line.deferred {
                self.deferred_loading.remove(&mark.account);
            }
        }
    }

    /// Releasing starts: the next line a spacing from now (after a request, so that its reply
    /// is read alone), then one per spacing.
    fn start_release(&mut self, session: SessionId, now: &Now, out: &mut Output) {
        let timing = self.config.login_hold;
        let Some(hold) = self.hold_mut(session) else {
            return;
        };
        if hold.lines.is_empty() || timing.spacing_ms == 0 {
            self.release_all(session, out);
            return;
        }
        let next = now.unix_micros + micros(timing.spacing_ms);
        hold.phase = Phase::Releasing {
            next,
            flush_at: now.unix_micros + micros(timing.release_within_ms),
        };
        self.schedule_wake(session, next, out);
    }

    fn release_one(&mut self, session: SessionId, out: &mut Output) {
        let Some(line) = self.hold_mut(session).and_then(|hold| {
            let line = hold.lines.pop_front()?;
            hold.bytes -= line.frame.len();
            Some(line)
        }) else {
            return;
        };
        out.begin(line.frame);
        out.add_recipient(session);
        if let Some(mark) = line.deferred {
            let last = !self.hold_mut(session).is_some_and(|hold| {
                hold.lines.iter().any(|l| {
                    l.deferred
                        .as_ref()
                        .is_some_and(|m| m.account == mark.account)
                })
            });
            self.deferred_released(mark, last, out);
        }
    }

    /// A deferred private message reached its recipient's connection: the counts drop, and once
    /// the last of the account's is out the store forgets them (oldest first, so `up_to` covers
    /// every one released before).
    pub(super) fn deferred_released(&mut self, mark: DeferredMark, last: bool, out: &mut Output) {
        for (counts, key) in [
            (&mut self.deferred_to, &mark.account),
            (&mut self.deferred_from, &mark.from_key),
        ] {
            if let Some(count) = counts.get_mut(key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    counts.remove(key);
                }
            }
        }
        out.effects.push(Effect::Store(StoreRequest::Delivered {
            account: mark.account.clone(),
            up_to: mark.id,
        }));
        if last {
            self.deferred_loading.remove(&mark.account);
        }
    }

    fn end_hold(&mut self, session: SessionId) {
        if let Some(state) = self.sessions.get_mut(&session) {
            if state.hold.take().is_some() {
                self.invalidate_routes(session);
            }
        }
    }

    /// Whether the session waits for a login/register reply or its deferred lines: nothing may
    /// reach it before those.
    fn awaits_reply(&self, session: SessionId) -> bool {
        self.sessions.get(&session).is_some_and(|state| {
            state
                .waiting
                .as_deref()
                .is_some_and(super::waiting::Waiting::holds_frames)
        })
    }

    fn hold_mut(&mut self, session: SessionId) -> Option<&mut Hold> {
        self.sessions
            .get_mut(&session)
            .and_then(|state| state.hold.as_deref_mut())
    }

    fn schedule_wake(&mut self, session: SessionId, at: u64, out: &mut Output) {
        self.wakeups.insert((at, session));
        out.effects.push(Effect::WakeAt { micros: at });
    }
}
