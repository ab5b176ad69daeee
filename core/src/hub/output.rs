//! What the hub hands back to the shell: each frame encoded once with its recipients, and the
//! effects to carry out (check a password, register an account, close a connection, log an event).

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::input::SessionId;
use super::records::StoreRequest;
use crate::message::Secret;

/// One encoded outbound line, shared by all its recipients.
pub type Frame = Arc<[u8]>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    LineTooLong,
    Shutdown,
    /// Too many lines, after a warning.
    RateLimit,
    /// Too many invalid lines.
    InvalidLines,
    /// Anonymous for too long.
    Timeout,
    /// Kicked or banned by an administrator.
    Kick,
}

/// Work the shell performs for the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Check the password, then call [`Hub::auth_result`].
    VerifyLogin {
        session: SessionId,
        username: String,
        password: Secret,
    },
    /// Hash, commit durably, then call [`Hub::auth_result`].
    Register {
        session: SessionId,
        username: String,
        password: Secret,
    },
    /// Close the connection once the frames already queued for it are written.
    Close {
        session: SessionId,
        reason: CloseReason,
    },
    Log(Event),
    /// Keep, load or forget something in the store (see [`StoreRequest`]).
    Store(StoreRequest),
    /// Call [`Hub::wake`](super::Hub::wake) once the clock reads `micros` (µs since the Unix
    /// epoch, the clock of [`Now::unix_micros`](super::Now)); an early or extra call is harmless.
    WakeAt {
        micros: u64,
    },
}

/// Something worth a log line. Carries no password; message contents only through `frame`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    GuestNamed {
        session: SessionId,
        name: String,
    },
    LoggedIn {
        session: SessionId,
        name: String,
    },
    LoginFailed {
        session: SessionId,
        username: String,
    },
    Registered {
        session: SessionId,
        name: String,
    },
    RegisterRefused {
        session: SessionId,
        username: String,
        reason: &'static str,
    },
    /// A relayed chat line; `frame` is what recipients get (contents: debug level only).
    Message {
        session: SessionId,
        from: String,
        target: String,
        /// Length of the content, in bytes.
        length: usize,
        recipients: usize,
        frame: Frame,
    },
    /// A private line for an absent account was stored for its next login.
    Deferred {
        session: SessionId,
        from: String,
        to: String,
        length: usize,
    },
    /// Lines dropped by the rate limit: the warning (`disconnected: false`), then the close.
    RateLimited {
        session: SessionId,
        disconnected: bool,
    },
    /// Closed for sending too many invalid lines (`HubConfig::invalid_lines`).
    InvalidLines {
        session: SessionId,
    },
    /// Closed for staying anonymous too long, or for a line left unfinished too long.
    TimedOut {
        session: SessionId,
        partial_line: bool,
    },
    /// Closed by an administrator (`banned`: a ban, at once or when the name tried to log in).
    Kicked {
        session: SessionId,
        banned: bool,
    },
    ChannelDeleted {
        channel: String,
    },
    /// A chat line refused by moderation: a muted name, or too soon in a slow channel.
    Moderated {
        session: SessionId,
        name: String,
        rule: super::Moderation,
    },
    /// A line was rejected with an error reply.
    Rejected {
        session: SessionId,
        reason: &'static str,
    },
    ChannelJoined {
        session: SessionId,
        channel: String,
    },
    ChannelLeft {
        session: SessionId,
        channel: String,
    },
}

/// The `reason` words of [`Event::Rejected`] and [`Event::RegisterRefused`], each written once
/// here (SECURITE.md §3.2 and docs/PROTOCOL.md §8 list them; tests/docs holds the lists together).
pub mod reasons {
    /// A line over the cap (the connection closes).
    pub const LINE_TOO_LONG: &str = "line-too-long";
    /// Lines dropped because too many waited behind a password check or a history read.
    pub const FLOOD_DURING_CHECK: &str = "flood-during-check";
    /// A private line for an absent account past the deferred bounds.
    pub const DEFERRED_LIMIT: &str = "deferred-limit";
    /// Every [`Event::Rejected`](super::Event::Rejected) reason the hub writes itself; the others
    /// are [`RequestError::REASONS`](crate::message::RequestError::REASONS).
    pub const REJECTED: [&str; 3] = [LINE_TOO_LONG, FLOOD_DURING_CHECK, DEFERRED_LIMIT];

    pub const EXISTS: &str = "exists";
    pub const RESERVED: &str = "reserved";
    pub const INVALID_NAME: &str = "invalid-name";
    pub const EMPTY_PASSWORD: &str = "empty-password";
    pub const PASSWORD_TOO_SHORT: &str = "password-too-short";
    pub const PASSWORD_TOO_LONG: &str = "password-too-long";
    /// Every [`Event::RegisterRefused`](super::Event::RegisterRefused) reason.
    pub const REGISTER_REFUSED: [&str; 6] = [
        EXISTS,
        RESERVED,
        INVALID_NAME,
        EMPTY_PASSWORD,
        PASSWORD_TOO_SHORT,
        PASSWORD_TOO_LONG,
    ];
}

/// Frames to deliver and effects to perform. Reuse one across calls (call [`Output::clear`]).
#[derive(Debug, Default)]
pub struct Output {
    deliveries: Vec<Delivery>,
    recipients: Vec<SessionId>,
    pub effects: Vec<Effect>,
}

#[derive(Debug)]
struct Delivery {
    frame: Frame,
    start: usize,
    end: usize,
}

impl Output {
    pub fn new() -> Self {
        Output::default()
    }

    pub fn clear(&mut self) {
        self.deliveries.clear();
        self.recipients.clear();
        self.effects.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.deliveries.is_empty() && self.effects.is_empty()
    }

    /// Each frame with its recipients, in production order.
    pub fn deliveries(&self) -> impl Iterator<Item = (&Frame, &[SessionId])> {
        self.deliveries.iter().map(|delivery| {
            (
                &delivery.frame,
                &self.recipients[delivery.start..delivery.end],
            )
        })
    }

    pub(super) fn begin(&mut self, frame: Frame) {
        let at = self.recipients.len();
        self.deliveries.push(Delivery {
            frame,
            start: at,
            end: at,
        });
    }

    /// One frame for every session in `targets` but `except`; returns how many.
    pub(super) fn add_delivery(
        &mut self,
        frame: &Frame,
        targets: &[SessionId],
        except: Option<SessionId>,
    ) -> usize {
        self.begin(frame.clone());
        let before = self.recipients.len();
        match except.and_then(|except| targets.iter().position(|&s| s == except)) {
            Some(at) => {
                self.recipients.extend_from_slice(&targets[..at]);
                self.recipients.extend_from_slice(&targets[at + 1..]);
            }
            None => self.recipients.extend_from_slice(targets),
        }
        if let Some(last) = self.deliveries.last_mut() {
            last.end = self.recipients.len();
        }
        self.recipients.len() - before
    }

    pub(super) fn add_recipient(&mut self, session: SessionId) {
        self.recipients.push(session);
        if let Some(last) = self.deliveries.last_mut() {
            last.end = self.recipients.len();
        }
    }

    pub(super) fn log(&mut self, event: Event) {
        self.effects.push(Effect::Log(event));
    }
}
