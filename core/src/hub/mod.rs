//! The chat state machine. The hub owns every session, name and channel; it consumes
//! `(session, inbound, now)` and appends to an [`Output`]: the frames to deliver (each encoded once,
//! with its recipients) and the [`Effect`]s the shell must perform (verify a password, register an
//! account, close a connection, log an event). It does no I/O and reads no clock.
//!
//! Ordering guarantees the shell relies on: frames for one session are produced in the order the
//! session must see them; while a `register`/`login` is being checked, the session's later requests
//! wait and broadcasts to it are held, so that its reply is the very next line it receives.
//!
//! # Where things are
//! - this file: the state the hub owns (sessions, name groups, channels) and the entry points;
//!   [`Hub::handle`] dispatches each request to the file named after it;
//! - [`input`] / [`output`]: what the shell hands in (lines, time, auth outcomes) and gets back
//!   (frames with recipients, effects);
//! - `auth.rs`: `register`, `login`, the reply-first rule;
//! - `names.rs`: anonymous, guest or account; guest naming; `online` / `offline`;
//! - `chat.rs`: channel messages and `/join` `/leave`; `private.rs`: private messages;
//! - `presence.rs`: `status`; `queries.rs`: `users`, `who`, `channels`; `history.rs`: `history`;
//! - `records.rs`: what is kept in the store and loaded back; `waiting.rs`: a session waiting
//!   for the shell (password check, deferred lines, history page);
//! - `channels.rs`: membership, closing, channel bounds;
//! - `notices.rs`: server notices (welcome, channel moves, alerts, kicks, shutdown) and their texts;
//! - `admin.rs`: the operator's requests (who, kick, alert, channels...);
//! - `delivery.rs`: how a frame reaches sessions (direct, held during a check, channel routes);
//! - `hold.rs`: the hold after a login reply, until the client is listening;
//! - `hello.rs`: the extensions a client announces (`kick`, `shutdown`, `no-hold`, `deleted`);
//! - `moderation.rs`: muted names, slow channels, deleted lines removed from screens.
//!
//! Tests sit in `tests/`, one file per concern above, all driving the public API.

pub mod admin;
mod auth;
mod channels;
mod chat;
mod delivery;
mod hello;
mod history;
mod hold;
pub mod input;
mod limits;
mod moderation;
mod names;
mod notices;
pub mod output;
mod presence;
mod private;
mod queries;
pub mod records;
mod waiting;

#[cfg(test)]
mod tests;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

pub use auth::{LOGIN_FAILED, USERNAME_TAKEN};
pub use channels::{MAX_CHANNELS, MAX_CHANNELS_PER_SESSION};
pub use hold::LoginHold;
pub use input::{AuthOutcome, Inbound, LocalTime, Now, SessionId};
pub use output::{CloseReason, Effect, Event, Frame, Output};
pub use records::{
    ChatRecord, Destination, HistoryPage, HistoryScope, Restored, SenderKind, StoreRequest,
};
pub use waiting::MAX_LINES_WHILE_CHECKING;

use crate::frame::JsonLine;
use crate::message::{fold_name, ChannelName, Features, Presence, Request};
pub use admin::{
    AdminCommand, AdminReply, Census, ChannelAction, ChannelInfo, SessionInfo, SessionKind,
    MAX_SLOW_SECS,
};
use delivery::Routes;
use limits::{Admission, Bucket, Strikes};
pub use limits::{InvalidLines, LineRate};
pub use moderation::{describe_secs, Moderation};
pub use notices::{fill, ChannelMoves, NoticeTexts};
use waiting::{Waiting, WaitingFor};

/// Hub settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// Sent as a private notice after login and to a new guest; `{nom}` is replaced by the name.
    /// Empty: no welcome.
    pub welcome: String,
    /// Every other notice text, and who hears about channel moves.
    pub notices: NoticeTexts,
    /// Keep relayed lines for `history` and export (deferred private lines are kept regardless).
    pub keep_history: bool,
    /// Deferred private lines one account may have waiting, and one sender may have queued.
    pub deferred_per_recipient: u32,
    pub deferred_per_sender: u32,
    /// Lines one connection may send; `None`: no limit.
    pub line_rate: Option<LineRate>,
    /// Invalid lines one connection may send before it is closed; `None`: no limit.
    pub invalid_lines: Option<InvalidLines>,
    /// Seconds a connection may stay anonymous; `None`: no limit.
    pub identify_timeout_secs: Option<u32>,
    /// The hold after a login reply (`hold.rs`).
    pub login_hold: LoginHold,
    /// Bytes one connection's held lines may take before they all go out at once (the shell's
    /// outbound queue bound).
    pub hold_bytes_limit: usize,
    /// Fewest characters a new account's password may have (`register`, and the operator's
    /// `user add` / `user passwd`).
    pub min_password_chars: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            welcome: String::from(
                "Bienvenue sur ClassCord, {nom} ! Vous êtes dans #général. \
                 Tapez /join #salon pour rejoindre un autre salon.",
            ),
            notices: NoticeTexts::default(),
            keep_history: true,
            deferred_per_recipient: 100,
            deferred_per_sender: 50,
            line_rate: Some(LineRate::default()),
            invalid_lines: Some(InvalidLines::default()),
            identify_timeout_secs: Some(600),
            login_hold: LoginHold::default(),
            hold_bytes_limit: 256 * 1024,
            // Students type short passwords; their clients must show the refusal.
            min_password_chars: 6,
        }
    }
}

/// A session's name: as shown, and folded (NFC + lower case) for comparisons. Each text is
/// allocated once and shared with the name group (one allocation for both when folding changes
/// nothing, as for most names): thousands of idle sessions each keep a name.
#[derive(Debug, Clone)]
struct Name {
    display: Arc<str>,
    key: Arc<str>,
}

impl Name {
    /// `key` must be `fold_name(display)`.
    fn new(display: &str, key: String) -> Name {
        let display: Arc<str> = Arc::from(display);
        let key = if *key == *display {
            display.clone()
        } else {
            Arc::from(key)
        };
        Name { display, key }
    }
}

/// Who a session is (docs/PROTOCOL.md §2).
#[derive(Debug, Clone)]
enum Identity {
    Anonymous,
    Guest(Name),
    User(Name),
}

/// One connection.
#[derive(Debug)]
struct Session {
    identity: Identity,
    presence: Presence,
    /// Keys of the channels this connection is a member of.
    channels: Vec<String>,
    /// Set while the session waits for the shell (password check, deferred lines, history).
    /// Boxed: rare and large, while every idle connection carries the field.
    waiting: Option<Box<Waiting>>,
    /// Lines held after its login reply until it listens (`hold.rs`). Boxed, like `waiting`.
    hold: Option<Box<hold::Hold>>,
    /// Extensions it announced with `hello`.
    features: Features,
    /// Lines it may still send, invalid lines it sent (see `limits.rs`).
    bucket: Bucket,
    strikes: Strikes,
    connected_micros: u64,
    /// Closed by the hub (rate limit, timeout, line cap, kick): later lines are ignored.
    closing: bool,
    /// Chat lines relayed from it (the console's `who`).
    messages: u64,
}

impl Session {
    /// The folded account name, for a logged-in session.
    fn account_key(&self) -> Option<String> {
        match &self.identity {
            Identity::User(name) => Some(String::from(&*name.key)),
            _ => None,
        }
    }

    fn name(&self) -> Option<&Name> {
        match &self.identity {
            Identity::Anonymous => None,
            Identity::Guest(name) | Identity::User(name) => Some(name),
        }
    }
}

/// The identified sessions sharing one name (an account open twice, or two guests).
#[derive(Debug)]
struct NameGroup {
    /// Shared with the sessions' [`Name`].
    display: Arc<str>,
    sessions: Vec<SessionId>,
}

/// A channel and its members (anonymous connections included: they get nothing until named).
#[derive(Debug)]
struct Channel {
    display: String,
    members: BTreeSet<SessionId>,
    closed: bool,
    /// Created by an administrator: kept when empty.
    permanent: bool,
    /// Where a line for this channel goes; rebuilt lazily after any change (`None` = stale), so
    /// a message costs one copy of this list instead of a lookup per member.
    routes: Option<Routes>,
    /// Slow mode (`moderation.rs`); boxed: rare, and every channel carries the field.
    slow: Option<Box<moderation::SlowMode>>,
}

impl Channel {
    fn new(display: String, closed: bool) -> Channel {
        Channel {
            display,
            members: BTreeSet::new(),
            closed,
            permanent: false,
            routes: None,
            slow: None,
        }
    }
}

/// The chat state machine.
#[derive(Debug)]
pub struct Hub {
    config: HubConfig,
    /// Boxed: ids only grow, so B-tree leaves stay about half full, and a half-empty slot costs
    /// a pointer rather than a whole session.
    sessions: BTreeMap<SessionId, Box<Session>>,
    /// Identified sessions by folded name.
    names: BTreeMap<Arc<str>, NameGroup>,
    channels: BTreeMap<String, Channel>,
    /// Registered accounts: folded name -> name as registered.
    accounts: BTreeMap<String, String>,
    next_message_id: u64,
    /// Ids below this are reserved in the store (a restart starts above them).
    reserved_ids_until: u64,
    /// Deferred private lines waiting, per recipient key and per sender key.
    deferred_to: BTreeMap<String, u32>,
    deferred_from: BTreeMap<String, u32>,
    /// Accounts whose deferred lines are being loaded for a session that just logged in (a second
    /// login meanwhile does not load them twice).
    deferred_loading: BTreeSet<String>,
    /// Saved channel memberships of accounts: account key -> channel key -> display.
    memberships: BTreeMap<String, BTreeMap<String, String>>,
    /// Folded names that may not log in or be taken by a guest (set by the shell).
    banned: BTreeSet<String>,
    /// Folded names whose chat lines are refused for a while (set by the shell, `moderation.rs`).
    muted: BTreeMap<String, moderation::Mute>,
    /// Wake-ups asked of the shell (`Effect::WakeAt`): time (µs) and the session whose hold waits.
    wakeups: BTreeSet<(u64, SessionId)>,
}

/// What [`Hub::handle`] did with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Carried out now (its replies, refusals and log events are in the output).
    Processed,
    /// Queued behind a password check or a history read: carried out when that ends.
    Waiting,
    /// Ignored: over the line rate (the first one gets a warning), or the connection is closing.
    Dropped,
}

/// Ids reserved in the store at a time; a new block is asked for when half is used, so the store
/// has thousands of messages' time to commit it.
pub const ID_BLOCK: u64 = 10_000;

impl Hub {
    /// A hub starting from what the store kept. The shell must make `restored.next_message_id +
    /// ID_BLOCK` durable before serving (see [`Hub::reserved_ids_until`]).
    pub fn new(config: HubConfig, restored: Restored) -> Hub {
        let default = ChannelName::default_channel();
        let mut channels = BTreeMap::new();
        channels.insert(default.key, Channel::new(default.display, false));
        for (display, closed) in restored
            .created_channels
            .iter()
            .map(|d| (d, false))
            .chain(restored.closed_channels.iter().map(|d| (d, true)))
        {
            let Ok(name) = ChannelName::parse(display) else {
                continue;
            };
            if name.is_default() {
                continue;
            }
            let channel = channels
                .entry(name.key)
                .or_insert_with(|| Channel::new(name.display, false));
            if closed {
                channel.closed = true;
            } else {
                channel.permanent = true;
            }
        }
        for (display, secs) in &restored.slow_channels {
            let Ok(name) = ChannelName::parse(display) else {
                continue;
            };
            if *secs == 0 {
                continue;
            }
            let channel = channels
                .entry(name.key)
                .or_insert_with(|| Channel::new(name.display, false));
            channel.slow = Some(Box::new(moderation::SlowMode::new(*secs)));
        }
        let mut deferred_to = BTreeMap::new();
        let mut deferred_from = BTreeMap::new();
        for (to, from) in restored.deferred {
            *deferred_to.entry(to).or_insert(0) += 1;
            *deferred_from.entry(from).or_insert(0) += 1;
        }
        let mut memberships: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (account, display) in restored.memberships {
            if let Ok(name) = ChannelName::parse(&display) {
                memberships
                    .entry(account)
                    .or_default()
                    .insert(name.key, name.display);
            }
        }
        let next_message_id = restored.next_message_id.max(1);
        Hub {
            config,
            sessions: BTreeMap::new(),
            names: BTreeMap::new(),
            channels,
            accounts: restored
                .accounts
                .into_iter()
                .map(|name| (fold_name(&name), name))
                .collect(),
            next_message_id,
            reserved_ids_until: next_message_id + ID_BLOCK,
            deferred_to,
            deferred_from,
            deferred_loading: BTreeSet::new(),
            memberships,
            banned: BTreeSet::new(),
            muted: BTreeMap::new(),
            wakeups: BTreeSet::new(),
        }
    }

    /// The first id a restart may use once the store has the start-up reservation.
    pub fn reserved_ids_until(&self) -> u64 {
        self.reserved_ids_until
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The name `session` goes by (as shown), once it is a guest or logged in: the shell's log
    /// lines and console read it here rather than keeping a copy per connection.
    pub fn session_name(&self, session: SessionId) -> Option<&str> {
        let name = self.sessions.get(&session)?.name()?;
        Some(&name.display)
    }

    /// The folded form of [`Hub::session_name`] (`fold_name` of it), for comparisons.
    pub fn session_key(&self, session: SessionId) -> Option<&str> {
        let name = self.sessions.get(&session)?.name()?;
        Some(&name.key)
    }

    /// A new connection: anonymous, member of the default channel.
    pub fn connect(&mut self, session: SessionId, now: &Now) {
        let default = ChannelName::default_channel().key;
        if let Some(channel) = self.channels.get_mut(&default) {
            channel.members.insert(session);
        }
        self.sessions.insert(
            session,
            Box::new(Session {
                identity: Identity::Anonymous,
                presence: Presence::Online,
                channels: alloc::vec![default],
                waiting: None,
                hold: None,
                features: Features::default(),
                bucket: Bucket::full(&self.config.line_rate.unwrap_or_default(), now.unix_micros),
                strikes: Strikes::default(),
                connected_micros: now.unix_micros,
                closing: false,
                messages: 0,
            }),
        );
    }

    /// The connection is gone: leave channels, and announce `offline` if it was the name's last.
    pub fn disconnect(&mut self, session: SessionId, out: &mut Output) {
        let Some(gone) = self.sessions.remove(&session) else {
            return;
        };
        for key in &gone.channels {
            self.remove_member(key, session);
        }
        if let Some(WaitingFor::Deferred { name }) = gone.waiting.as_deref().map(|w| &w.reason) {
            // Not delivered: they stay stored for the next login.
            self.deferred_loading.remove(&fold_name(name));
        }
        let name = gone.name().cloned();
        self.drop_hold(gone.hold);
        if let Some(name) = &name {
            self.leave_name_group(session, name, out);
        }
    }

    /// One line from a session; what became of it is returned (the protocol trace shows it).
    pub fn handle(
        &mut self,
        session: SessionId,
        inbound: Inbound,
        now: &Now,
        out: &mut Output,
    ) -> Handled {
        if self
            .sessions
            .get(&session)
            .is_none_or(|state| state.closing)
        {
            return Handled::Dropped;
        }
        // An over-long line closes the connection anyway: it is not charged. Nor are lines sent
        // while a reply is awaited: that queue has its own bound (and a warning now would come
        // before the reply).
        let waiting = self
            .sessions
            .get(&session)
            .is_some_and(|state| state.waiting.is_some());
        let charged = !waiting
            && !matches!(
                inbound,
                Inbound::LineTooLong { .. } | Inbound::LineTimeout { .. }
            );
        if charged && matches!(self.admit(session, now, out), Admission::Refused) {
            return Handled::Dropped;
        }
        let Some(state) = self.sessions.get_mut(&session) else {
            return Handled::Dropped;
        };
        if let Some(waiting) = &mut state.waiting {
            waiting.queue(inbound);
            return Handled::Waiting;
        }
        self.process(session, inbound, now, out);
        Handled::Processed
    }

    fn process(&mut self, session: SessionId, inbound: Inbound, now: &Now, out: &mut Output) {
        match inbound {
            Inbound::Invalid(error) => {
                self.send_error(session, &format!("{error}"), out);
                out.log(Event::Rejected {
                    session,
                    reason: error.reason(),
                });
                self.strike(session, now, out);
            }
            Inbound::LineTooLong { limit } => {
                let text =
                    format!("Ligne trop longue (maximum {limit} octets) : connexion fermée.");
                let event = Event::Rejected {
                    session,
                    reason: output::reasons::LINE_TOO_LONG,
                };
                self.close_with_error(session, &text, CloseReason::LineTooLong, event, out);
            }
            Inbound::LineTimeout { secs } => {
                let text = format!(
                    "Ligne commencée mais pas terminée depuis {secs} secondes : connexion fermée."
                );
                let event = Event::TimedOut {
                    session,
                    partial_line: true,
                };
                self.close_with_error(session, &text, CloseReason::Timeout, event, out);
            }
            Inbound::Request(request) => self.request(session, request, now, out),
        }
        self.client_is_listening(session, now, out);
    }

    fn request(&mut self, session: SessionId, request: Request, now: &Now, out: &mut Output) {
        match request {
            Request::Register { username, password } => {
                self.register(session, username, password, out)
            }
            Request::Login { username, password } => self.login(session, username, password, out),
            Request::Chat(message) => self.chat(session, message, now, out),
            Request::Status { state, user } => self.status(session, state, user, now, out),
            Request::Users(alias) => self.users(session, alias, out),
            Request::Who { channel } => self.who(session, channel, out),
            Request::JoinChannel { channel } => {
                if self.change_membership(session, &channel, true, now, out) {
                    self.membership_reply(session, "join_channel", &channel, out);
                }
            }
            Request::LeaveChannel { channel } => {
                if self.change_membership(session, &channel, false, now, out) {
                    self.membership_reply(session, "leave_channel", &channel, out);
                }
            }
            Request::Channels => self.channels(session, out),
            Request::History(query) => self.history(session, query, out),
            Request::Ping => self.send_direct(session, JsonLine::new("pong").finish(), out),
            Request::Hello { features } => self.hello(session, features, out),
        }
    }

    /// Closes a session with a reason the client reads first (an error line), logging `event`.
    /// Its later lines are ignored.
    pub(super) fn close_with_error(
        &mut self,
        session: SessionId,
        text: &str,
        reason: CloseReason,
        event: Event,
        out: &mut Output,
    ) {
        self.release_all(session, out);
        self.send_error(session, text, out);
        out.log(event);
        out.effects.push(Effect::Close { session, reason });
        if let Some(state) = self.sessions.get_mut(&session) {
            state.closing = true;
        }
    }

    /// The next wire id. Half-way through the reserved block, the store is asked to reserve the
    /// next one, so ids never repeat after a restart (docs/PROTOCOL.md §4.1).
    pub(super) fn take_message_id(&mut self, out: &mut Output) -> u64 {
        let id = self.next_message_id;
        self.next_message_id += 1;
        if self.next_message_id + ID_BLOCK / 2 > self.reserved_ids_until {
            self.reserved_ids_until += ID_BLOCK;
            out.effects.push(Effect::Store(StoreRequest::ReserveIds {
                until: self.reserved_ids_until,
            }));
        }
        id
    }
}

pub(super) fn nfc(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfc().collect()
}
