//! The chat state machine. The hub owns every session, name and channel; it consumes
//! `(session, inbound, now)` and appends to an [`Output`]: the frames to deliver (each encoded once,
//! with its recipients) and the [`Effect`]s the shell must perform (verify a password, register an
//! account, close a connection, log an event). It does no I/O and reads no clock.
//!
//! Ordering guarantees the shell relies on: frames for one session are produced in the order the
//! session must see them; while a `register`/`login` is being checked, the session's later requests
//! wait and broadcasts to it are held, so that its reply is the very next line it receives.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use serde_json::{Map, Value};

use crate::frame::JsonLine;
use crate::message::{
    check_name, fold_name, guest_name, ChannelName, ChatMessage, ChatTarget, HistoryQuery,
    NameProblem, Presence, Request, RequestError, Secret, SlashCommand, UsersAlias,
    DEFAULT_CHANNEL, MAX_PASSWORD_BYTES, SERVER_NAME,
};

/// One encoded outbound line, shared by all its recipients.
pub type Frame = Arc<[u8]>;

/// Exact error texts clients depend on (PROTOCOL.md §3).
pub const USERNAME_TAKEN: &str = "Username already exists.";
pub const LOGIN_FAILED: &str = "Login failed.";

/// A connection, numbered by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// Local wall-clock time, broken down by the shell (the core reads no clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalTime {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micros: u32,
}

impl LocalTime {
    /// `YYYY-MM-DDTHH:MM:SS.ffffff`, always six fraction digits (PROTOCOL.md §4).
    pub fn iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.micros
        )
    }
}

/// The current time, as the shell read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    pub unix_micros: u64,
    pub local: LocalTime,
}

/// What a reader hands to the hub for one line.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Request(Request),
    Invalid(RequestError),
    /// The line cap was exceeded: answer with an error, then close.
    LineTooLong {
        limit: usize,
    },
}

/// The result of an [`Effect::VerifyLogin`] or [`Effect::Register`], fed back by the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// `name` is the account's registered spelling.
    LoggedIn {
        name: String,
    },
    LoginFailed,
    /// Durably committed.
    Registered {
        name: String,
    },
    RegisterTaken,
    /// Storage or hashing failed; the client may retry.
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    LineTooLong,
    Shutdown,
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

    fn begin(&mut self, frame: Frame) {
        let at = self.recipients.len();
        self.deliveries.push(Delivery {
            frame,
            start: at,
            end: at,
        });
    }

    /// One frame for every session in `targets` but `except`; returns how many.
    fn add_delivery(
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

    fn add_recipient(&mut self, session: SessionId) {
        self.recipients.push(session);
        if let Some(last) = self.deliveries.last_mut() {
            last.end = self.recipients.len();
        }
    }

    fn log(&mut self, event: Event) {
        self.effects.push(Effect::Log(event));
    }
}

/// Hub settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// Sent as a private notice after login and to a new guest; `{nom}` is replaced by the name.
    /// Empty: no welcome.
    pub welcome: String,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            welcome: String::from(
                "Bienvenue sur ClassCord, {nom} ! Vous êtes dans #général. \
                 Tapez /join #salon pour rejoindre un autre salon.",
            ),
        }
    }
}

#[derive(Debug, Clone)]
struct Name {
    display: String,
    key: String,
}

#[derive(Debug, Clone)]
enum Identity {
    Anonymous,
    Guest(Name),
    User(Name),
}

#[derive(Debug, Default)]
struct PendingAuth {
    username: String,
    queued: VecDeque<Inbound>,
    /// Lines refused because `queued` was full.
    dropped: usize,
    held: Vec<Frame>,
}

/// Lines a session may send while its login/register is checked; more are dropped (and the
/// client told so after the reply), so a flood during a check cannot grow the hub's memory.
pub const MAX_LINES_WHILE_CHECKING: usize = 256;

#[derive(Debug)]
struct Session {
    identity: Identity,
    presence: Presence,
    /// Keys of the channels this connection is a member of.
    channels: Vec<String>,
    auth: Option<PendingAuth>,
}

impl Session {
    fn name(&self) -> Option<&Name> {
        match &self.identity {
            Identity::Anonymous => None,
            Identity::Guest(name) | Identity::User(name) => Some(name),
        }
    }
}

#[derive(Debug)]
struct NameGroup {
    display: String,
    sessions: Vec<SessionId>,
}

#[derive(Debug)]
struct Channel {
    display: String,
    members: BTreeSet<SessionId>,
    closed: bool,
    /// Where a line for this channel goes; rebuilt lazily after any change (`None` = stale), so
    /// a message costs one copy of this list instead of a lookup per member.
    routes: Option<Routes>,
}

impl Channel {
    fn new(display: String, closed: bool) -> Channel {
        Channel {
            display,
            members: BTreeSet::new(),
            closed,
            routes: None,
        }
    }
}

#[derive(Debug, Default)]
struct Routes {
    /// Identified members, ready to receive.
    ready: Vec<SessionId>,
    /// Identified members waiting for a login/register reply: their lines are held.
    held: Vec<SessionId>,
}

fn fresh_routes<'a>(
    channel: &'a mut Channel,
    sessions: &BTreeMap<SessionId, Session>,
) -> &'a Routes {
    channel.routes.get_or_insert_with(|| {
        let mut routes = Routes::default();
        for member in &channel.members {
            let Some(state) = sessions.get(member) else {
                continue;
            };
            if matches!(state.identity, Identity::Anonymous) {
                continue;
            }
            if state.auth.is_some() {
                routes.held.push(*member);
            } else {
                routes.ready.push(*member);
            }
        }
        routes
    })
}

/// Why a channel could not be joined or left.
enum MembershipError {
    Closed,
    LeavingDefault,
    TooManyForSession,
    TooManyChannels,
}

/// Channels one connection may be a member of (the default one included).
pub const MAX_CHANNELS_PER_SESSION: usize = 32;
/// Channels that may exist at once (memory bound against a client creating channels in a loop).
pub const MAX_CHANNELS: usize = 1000;

impl MembershipError {
    /// The French text sent to the client.
    fn text(&self, channel: &str) -> String {
        match self {
            MembershipError::Closed => format!("Le salon {channel} est fermé."),
            MembershipError::LeavingDefault => {
                format!("Impossible de quitter {channel} : c'est le salon de tous.")
            }
            MembershipError::TooManyForSession => format!(
                "Impossible de rejoindre {channel} : {MAX_CHANNELS_PER_SESSION} salons au maximum par connexion."
            ),
            MembershipError::TooManyChannels => format!(
                "Impossible de créer {channel} : le serveur a déjà {MAX_CHANNELS} salons."
            ),
        }
    }
}

/// The chat state machine.
#[derive(Debug)]
pub struct Hub {
    config: HubConfig,
    sessions: BTreeMap<SessionId, Session>,
    /// Identified sessions by folded name.
    names: BTreeMap<String, NameGroup>,
    channels: BTreeMap<String, Channel>,
    /// Folded names of registered accounts.
    accounts: BTreeSet<String>,
    next_message_id: u64,
}

impl Hub {
    /// `accounts`: registered names (from the store); `next_message_id`: first id to hand out.
    pub fn new(
        config: HubConfig,
        accounts: impl IntoIterator<Item = String>,
        next_message_id: u64,
    ) -> Hub {
        let default = ChannelName::default_channel();
        let mut channels = BTreeMap::new();
        channels.insert(default.key, Channel::new(default.display, false));
        Hub {
            config,
            sessions: BTreeMap::new(),
            names: BTreeMap::new(),
            channels,
            accounts: accounts.into_iter().map(|name| fold_name(&name)).collect(),
            next_message_id: next_message_id.max(1),
        }
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// A new connection: anonymous, member of the default channel.
    pub fn connect(&mut self, session: SessionId) {
        let default = ChannelName::default_channel().key;
        if let Some(channel) = self.channels.get_mut(&default) {
            channel.members.insert(session);
        }
        self.sessions.insert(
            session,
            Session {
                identity: Identity::Anonymous,
                presence: Presence::Online,
                channels: alloc::vec![default],
                auth: None,
            },
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
        if let Some(name) = gone.name() {
            self.leave_name_group(session, name, out);
        }
    }

    /// One line from a session.
    pub fn handle(&mut self, session: SessionId, inbound: Inbound, now: &Now, out: &mut Output) {
        let Some(state) = self.sessions.get_mut(&session) else {
            return;
        };
        if let Some(pending) = &mut state.auth {
            if pending.queued.len() < MAX_LINES_WHILE_CHECKING {
                pending.queued.push_back(inbound);
            } else {
                pending.dropped += 1;
            }
            return;
        }
        self.process(session, inbound, now, out);
    }

    /// The outcome of a password check or a registration.
    pub fn auth_result(
        &mut self,
        session: SessionId,
        outcome: AuthOutcome,
        now: &Now,
        out: &mut Output,
    ) {
        let Some(pending) = self
            .sessions
            .get_mut(&session)
            .and_then(|state| state.auth.take())
        else {
            return;
        };
        self.invalidate_routes(session);
        match outcome {
            AuthOutcome::Registered { name } => {
                let mut reply = JsonLine::new("register");
                reply.push_str("status", "ok");
                self.send_direct(session, reply.finish(), out);
                self.accounts.insert(fold_name(&name));
                out.log(Event::Registered { session, name });
            }
            AuthOutcome::RegisterTaken => {
                self.send_error(session, USERNAME_TAKEN, out);
                out.log(Event::RegisterRefused {
                    session,
                    username: pending.username,
                    reason: "exists",
                });
            }
            AuthOutcome::LoggedIn { name } => {
                let mut reply = JsonLine::new("login");
                reply.push_str("status", "ok").push_str("username", &name);
                self.send_direct(session, reply.finish(), out);
                self.accounts.insert(fold_name(&name));
                self.become_user(session, &name, out);
                out.log(Event::LoggedIn {
                    session,
                    name: name.clone(),
                });
                self.welcome(session, &name, now, out);
            }
            AuthOutcome::LoginFailed => {
                self.send_error(session, LOGIN_FAILED, out);
                out.log(Event::LoginFailed {
                    session,
                    username: pending.username,
                });
            }
            AuthOutcome::Unavailable => {
                self.send_error(
                    session,
                    "Service momentanément indisponible, réessayez.",
                    out,
                );
            }
        }
        for frame in pending.held {
            self.send_frame(session, frame, out);
        }
        if pending.dropped > 0 {
            let text = format!(
                "{} ligne(s) ignorée(s) : envoyées pendant la vérification du mot de passe.",
                pending.dropped
            );
            self.send_error(session, &text, out);
            out.log(Event::Rejected {
                session,
                reason: "flood-during-check",
            });
        }
        let mut queued = pending.queued;
        while let Some(inbound) = queued.pop_front() {
            match self
                .sessions
                .get_mut(&session)
                .and_then(|state| state.auth.as_mut())
            {
                Some(again) => {
                    again.queued.push_back(inbound);
                    again.queued.extend(queued.drain(..));
                }
                None => self.process(session, inbound, now, out),
            }
        }
    }

    /// Server shutdown: a French notice and a `shutdown` line to every identified session, then
    /// every connection is closed.
    pub fn shutdown(&mut self, text: &str, now: &Now, out: &mut Output) {
        let notice = self.notice_frame(text, None, None, now);
        let mut line = JsonLine::new("shutdown");
        line.push_str("message", text);
        let shutdown: Frame = Arc::from(line.finish());
        let identified: Vec<SessionId> = self.identified_sessions(None).collect();
        for frame in [notice, shutdown] {
            out.begin(frame);
            for &session in &identified {
                out.add_recipient(session);
            }
        }
        for &session in self.sessions.keys() {
            out.effects.push(Effect::Close {
                session,
                reason: CloseReason::Shutdown,
            });
        }
    }

    /// A server notice to every identified session (admin alert).
    pub fn announce(&mut self, text: &str, now: &Now, out: &mut Output) {
        let frame = self.notice_frame(text, None, None, now);
        self.send_to_channel(&frame, DEFAULT_CHANNEL, None, out);
    }

    /// Closes or reopens a channel (admin). Members stay; messages to a closed channel get a
    /// notice. Returns false when the channel does not exist (closing creates it, to reserve it).
    pub fn set_channel_closed(
        &mut self,
        channel: &ChannelName,
        closed: bool,
        now: &Now,
        out: &mut Output,
    ) -> bool {
        if channel.is_default() {
            return false;
        }
        if !closed && !self.channels.contains_key(&channel.key) {
            return false;
        }
        let entry = self
            .channels
            .entry(channel.key.clone())
            .or_insert_with(|| Channel::new(channel.display.clone(), closed));
        entry.closed = closed;
        let display = entry.display.clone();
        let empty = entry.members.is_empty();
        let text = if closed {
            format!("Le salon {display} a été fermé par l'administrateur.")
        } else {
            format!("Le salon {display} est rouvert.")
        };
        let frame = self.notice_frame(&text, None, Some(&display), now);
        self.send_to_channel(&frame, &channel.key, None, out);
        if !closed && empty {
            self.channels.remove(&channel.key);
        }
        true
    }

    fn process(&mut self, session: SessionId, inbound: Inbound, now: &Now, out: &mut Output) {
        match inbound {
            Inbound::Invalid(error) => {
                self.send_error(session, &format!("{error}"), out);
                out.log(Event::Rejected {
                    session,
                    reason: error.reason(),
                });
            }
            Inbound::LineTooLong { limit } => {
                let text =
                    format!("Ligne trop longue (maximum {limit} octets) : connexion fermée.");
                self.send_error(session, &text, out);
                out.log(Event::Rejected {
                    session,
                    reason: "line-too-long",
                });
                out.effects.push(Effect::Close {
                    session,
                    reason: CloseReason::LineTooLong,
                });
            }
            Inbound::Request(request) => self.request(session, request, now, out),
        }
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
        }
    }

    fn register(
        &mut self,
        session: SessionId,
        username: String,
        password: Secret,
        out: &mut Output,
    ) {
        let username: String = nfc(&username);
        let refusal = match check_name(&username) {
            // Reserved names behave as taken accounts: guest-retry flows match "already exists".
            Err(NameProblem::Reserved) => Some((String::from(USERNAME_TAKEN), "reserved")),
            Err(problem) => Some((
                format!("Nom d'utilisateur invalide : {problem}."),
                "invalid-name",
            )),
            Ok(()) if password.expose().is_empty() => Some((
                String::from("Mot de passe vide : choisissez un mot de passe."),
                "empty-password",
            )),
            Ok(()) if password.expose().len() > MAX_PASSWORD_BYTES => Some((
                format!("Mot de passe trop long ({MAX_PASSWORD_BYTES} octets maximum)."),
                "password-too-long",
            )),
            Ok(()) => None,
        };
        if let Some((text, reason)) = refusal {
            self.send_error(session, &text, out);
            out.log(Event::RegisterRefused {
                session,
                username,
                reason,
            });
            return;
        }
        self.start_auth(session, &username);
        out.effects.push(Effect::Register {
            session,
            username,
            password,
        });
    }

    fn login(&mut self, session: SessionId, username: String, password: Secret, out: &mut Output) {
        let username = nfc(&username);
        if check_name(&username).is_err() || password.expose().len() > MAX_PASSWORD_BYTES {
            self.send_error(session, LOGIN_FAILED, out);
            out.log(Event::LoginFailed { session, username });
            return;
        }
        self.start_auth(session, &username);
        out.effects.push(Effect::VerifyLogin {
            session,
            username,
            password,
        });
    }

    fn start_auth(&mut self, session: SessionId, username: &str) {
        if let Some(state) = self.sessions.get_mut(&session) {
            state.auth = Some(PendingAuth {
                username: String::from(username),
                ..PendingAuth::default()
            });
        }
        self.invalidate_routes(session);
    }

    fn chat(&mut self, session: SessionId, message: ChatMessage, now: &Now, out: &mut Output) {
        self.ensure_identified(session, message.from.as_deref(), now, out);
        if let Some(command) = SlashCommand::parse(&message.content) {
            self.slash_command(session, command, now, out);
            return;
        }
        if message.content.trim().is_empty() {
            // An empty "hello" only names the guest; nothing is relayed.
            return;
        }
        let Some(sender) = self.sessions.get(&session).and_then(Session::name).cloned() else {
            return;
        };
        match &message.target {
            ChatTarget::Channel(channel) => {
                let channel = channel.clone().unwrap_or_else(ChannelName::default_channel);
                if let Err(error) = self.join(session, &channel, now, out) {
                    let refused = error.text(&self.channel_display(&channel));
                    let text = format!("{refused} Message non envoyé.");
                    self.private_notice(session, &sender.display, &text, now, out);
                    return;
                }
                let id = self.take_message_id();
                let Some(display) = self.channels.get(&channel.key).map(|c| c.display.clone())
                else {
                    return;
                };
                let frame = encode_chat(&message, &sender.display, None, Some(&display), id, now);
                let recipients = self.send_to_channel(&frame, &channel.key, Some(session), out);
                let length = message.content.len();
                out.log(Event::Message {
                    session,
                    from: sender.display,
                    target: display,
                    length,
                    recipients,
                    frame,
                });
            }
            ChatTarget::User(to) => {
                let key = fold_name(to);
                let Some(group) = self.names.get(&key) else {
                    let text = if self.accounts.contains(&key) {
                        format!("{to} n'est pas connecté·e : message non remis.")
                    } else {
                        format!("Utilisateur « {to} » inconnu : message non remis.")
                    };
                    self.private_notice(session, &sender.display, &text, now, out);
                    return;
                };
                let recipient = group.display.clone();
                let targets = group.sessions.clone();
                let id = self.take_message_id();
                let frame = encode_chat(&message, &sender.display, Some(&recipient), None, id, now);
                let recipients = self.send_many(&frame, targets, out);
                let length = message.content.len();
                out.log(Event::Message {
                    session,
                    from: sender.display,
                    target: recipient,
                    length,
                    recipients,
                    frame,
                });
            }
        }
    }

    fn slash_command(
        &mut self,
        session: SessionId,
        command: SlashCommand,
        now: &Now,
        out: &mut Output,
    ) {
        let (joining, channel) = match command {
            SlashCommand::Join(channel) => (true, channel),
            SlashCommand::Leave(channel) => (false, channel),
        };
        let channel = match channel {
            Ok(channel) => channel,
            Err(error) => {
                self.send_error(session, &format!("{error}"), out);
                out.log(Event::Rejected {
                    session,
                    reason: error.reason(),
                });
                return;
            }
        };
        let done = if joining {
            self.change_membership(session, &channel, true, now, out)
        } else {
            self.change_membership(session, &channel, false, now, out)
        };
        if done {
            let Some(name) = self.sessions.get(&session).and_then(Session::name).cloned() else {
                return;
            };
            let display = self.channel_display(&channel);
            let text = if joining {
                format!("Vous avez rejoint {display}.")
            } else {
                format!("Vous avez quitté {display}.")
            };
            self.private_notice(session, &name.display, &text, now, out);
        }
    }

    fn status(
        &mut self,
        session: SessionId,
        state: Presence,
        user: Option<String>,
        now: &Now,
        out: &mut Output,
    ) {
        let anonymous = self
            .sessions
            .get(&session)
            .is_some_and(|state| matches!(state.identity, Identity::Anonymous));
        if anonymous && user.is_none() {
            // Accepted silently: only a `user` (or a first message) names a guest (PROTOCOL.md §2).
            return;
        }
        let was_anonymous = self.ensure_identified(session, user.as_deref(), now, out);
        let Some(current) = self.sessions.get_mut(&session) else {
            return;
        };
        current.presence = state;
        let Some(name) = current.name().map(|name| name.display.clone()) else {
            return;
        };
        if was_anonymous && state == Presence::Online {
            return; // the guest announcement already said "online"
        }
        let frame = status_frame(&name, state.as_str());
        self.send_to_channel(&frame, DEFAULT_CHANNEL, Some(session), out);
    }

    /// Queries never name anyone (PROTOCOL.md §2): an anonymous requester gets the identified
    /// names and stays anonymous.
    fn users(&mut self, session: SessionId, alias: UsersAlias, out: &mut Output) {
        let own = self.own_key(session);
        let names: Vec<&str> = self
            .names
            .iter()
            .filter(|(key, group)| {
                Some(key.as_str()) == own.as_deref() || self.group_visible(group)
            })
            .map(|(_, group)| group.display.as_str())
            .collect();
        let mut reply = JsonLine::new(alias.reply_type());
        reply.push_str_array("users", names);
        self.send_direct(session, reply.finish(), out);
    }

    fn who(&mut self, session: SessionId, channel: Option<ChannelName>, out: &mut Output) {
        let channel = channel.unwrap_or_else(ChannelName::default_channel);
        let Some(found) = self.channels.get(&channel.key) else {
            self.send_error(
                session,
                &format!("Salon inconnu : {}.", channel.display),
                out,
            );
            return;
        };
        let own = self.own_key(session);
        let mut names: BTreeMap<&str, &str> = BTreeMap::new();
        for member in &found.members {
            let Some(state) = self.sessions.get(member) else {
                continue;
            };
            let Some(name) = state.name() else { continue };
            let visible = state.presence != Presence::Invisible || Some(&name.key) == own.as_ref();
            if visible {
                names.insert(&name.key, &name.display);
            }
        }
        let mut reply = JsonLine::new("who");
        reply
            .push_str("channel", &found.display)
            .push_str_array("users", names.into_values());
        self.send_direct(session, reply.finish(), out);
    }

    fn channels(&mut self, session: SessionId, out: &mut Output) {
        let listing: Vec<(&str, u64, bool)> = self
            .channels
            .values()
            .map(|channel| {
                (
                    channel.display.as_str(),
                    self.visible_names_in(channel),
                    channel.closed,
                )
            })
            .collect();
        let mut reply = JsonLine::new("channels");
        reply.push_object_array("channels", listing, |object, (name, members, closed)| {
            object.push_str("name", name).push_u64("members", members);
            if closed {
                object.push_bool("closed", true);
            }
        });
        self.send_direct(session, reply.finish(), out);
    }

    /// History is stored by a later part of the server; until then the reply is an empty list.
    fn history(&mut self, session: SessionId, query: HistoryQuery, out: &mut Output) {
        let channel = query.channel.unwrap_or_else(ChannelName::default_channel);
        let mut reply = JsonLine::new("history");
        reply.push_str("channel", &self.channel_display(&channel));
        if let Some(with) = &query.with {
            reply.push_str("with", with);
        }
        reply.push_str_array("messages", []);
        self.send_direct(session, reply.finish(), out);
    }

    /// Makes an anonymous session a guest (PROTOCOL.md §2) and welcomes it. Returns whether it
    /// was anonymous.
    fn ensure_identified(
        &mut self,
        session: SessionId,
        requested: Option<&str>,
        now: &Now,
        out: &mut Output,
    ) -> bool {
        match self.name_guest(session, requested, out) {
            Some(name) => {
                self.welcome(session, &name, now, out);
                true
            }
            None => false,
        }
    }

    /// Makes an anonymous session a guest and announces it; returns the guest's name, or `None`
    /// when the session was already identified.
    fn name_guest(
        &mut self,
        session: SessionId,
        requested: Option<&str>,
        out: &mut Output,
    ) -> Option<String> {
        let state = self.sessions.get_mut(&session)?;
        if !matches!(state.identity, Identity::Anonymous) {
            return None;
        }
        let mut display = guest_name(requested);
        let mut key = fold_name(&display);
        if self.accounts.contains(&key) {
            // A registered name belongs to its account: a guest asking for it is marked, so it
            // can neither pose as the owner nor receive the owner's private messages.
            display = format!("{display} (invité)");
            key = fold_name(&display);
        }
        state.identity = Identity::Guest(Name {
            display: display.clone(),
            key,
        });
        self.invalidate_routes(session);
        self.join_name_group(session, out);
        out.log(Event::GuestNamed {
            session,
            name: display.clone(),
        });
        Some(display)
    }

    fn become_user(&mut self, session: SessionId, account: &str, out: &mut Output) {
        let key = fold_name(account);
        let Some(state) = self.sessions.get_mut(&session) else {
            return;
        };
        let previous = core::mem::replace(
            &mut state.identity,
            Identity::User(Name {
                display: String::from(account),
                key: key.clone(),
            }),
        );
        self.invalidate_routes(session);
        let Some(state) = self.sessions.get_mut(&session) else {
            return;
        };
        match previous {
            Identity::Guest(old) | Identity::User(old) if old.key == key => {
                // Same name again: membership in the name group is unchanged.
            }
            Identity::Guest(old) | Identity::User(old) => {
                state.presence = Presence::Online;
                self.leave_name_group(session, &old, out);
                self.join_name_group(session, out);
            }
            Identity::Anonymous => {
                state.presence = Presence::Online;
                self.join_name_group(session, out);
            }
        }
    }

    /// Adds an identified session to its name group; the first session of a name is announced.
    fn join_name_group(&mut self, session: SessionId, out: &mut Output) {
        let Some(name) = self.sessions.get(&session).and_then(Session::name).cloned() else {
            return;
        };
        let group = self
            .names
            .entry(name.key.clone())
            .or_insert_with(|| NameGroup {
                display: name.display.clone(),
                sessions: Vec::new(),
            });
        group.sessions.push(session);
        if group.sessions.len() == 1 {
            let frame = status_frame(&name.display, "online");
            self.send_to_channel(&frame, DEFAULT_CHANNEL, Some(session), out);
        }
    }

    /// Removes a session from a name group; `offline` goes out when the name's last session leaves.
    fn leave_name_group(&mut self, session: SessionId, name: &Name, out: &mut Output) {
        let Some(group) = self.names.get_mut(&name.key) else {
            return;
        };
        group.sessions.retain(|&member| member != session);
        if group.sessions.is_empty() {
            let display = group.display.clone();
            self.names.remove(&name.key);
            let frame = status_frame(&display, "offline");
            self.send_to_channel(&frame, DEFAULT_CHANNEL, Some(session), out);
        }
    }

    /// Joins (creating the channel if needed) or leaves a channel, and tells the client if that
    /// fails. Returns whether the membership is as asked afterwards.
    fn change_membership(
        &mut self,
        session: SessionId,
        channel: &ChannelName,
        joining: bool,
        now: &Now,
        out: &mut Output,
    ) -> bool {
        let changed = if joining {
            self.join(session, channel, now, out)
        } else {
            self.leave(session, channel, now, out)
        };
        match changed {
            Ok(()) => true,
            Err(error) => {
                let text = error.text(&self.channel_display(channel));
                self.send_error(session, &text, out);
                false
            }
        }
    }

    fn join(
        &mut self,
        session: SessionId,
        channel: &ChannelName,
        now: &Now,
        out: &mut Output,
    ) -> Result<(), MembershipError> {
        if !self.channels.contains_key(&channel.key) && self.channels.len() >= MAX_CHANNELS {
            return Err(MembershipError::TooManyChannels);
        }
        if let Some(state) = self.sessions.get(&session) {
            if state.channels.len() >= MAX_CHANNELS_PER_SESSION
                && !state.channels.contains(&channel.key)
            {
                return Err(MembershipError::TooManyForSession);
            }
        }
        let entry = self
            .channels
            .entry(channel.key.clone())
            .or_insert_with(|| Channel::new(channel.display.clone(), false));
        if entry.closed {
            return Err(MembershipError::Closed);
        }
        if !entry.members.insert(session) {
            return Ok(());
        }
        entry.routes = None;
        let display = entry.display.clone();
        let Some(state) = self.sessions.get_mut(&session) else {
            return Ok(());
        };
        state.channels.push(channel.key.clone());
        if let Some(name) = state.name().map(|name| name.display.clone()) {
            out.log(Event::ChannelJoined {
                session,
                channel: display.clone(),
            });
            let text = format!("{name} a rejoint {display}.");
            self.channel_notice(&channel.key, session, &text, now, out);
        }
        Ok(())
    }

    fn leave(
        &mut self,
        session: SessionId,
        channel: &ChannelName,
        now: &Now,
        out: &mut Output,
    ) -> Result<(), MembershipError> {
        if channel.is_default() {
            return Err(MembershipError::LeavingDefault);
        }
        let Some(state) = self.sessions.get_mut(&session) else {
            return Ok(());
        };
        let before = state.channels.len();
        state.channels.retain(|key| key != &channel.key);
        if state.channels.len() == before {
            return Ok(());
        }
        let name = state.name().map(|name| name.display.clone());
        let display = self.channel_display(channel);
        self.remove_member(&channel.key, session);
        if let Some(name) = name {
            out.log(Event::ChannelLeft {
                session,
                channel: display.clone(),
            });
            self.channel_notice(
                &channel.key,
                session,
                &format!("{name} a quitté {display}."),
                now,
                out,
            );
        }
        Ok(())
    }

    fn remove_member(&mut self, key: &str, session: SessionId) {
        let Some(channel) = self.channels.get_mut(key) else {
            return;
        };
        channel.members.remove(&session);
        channel.routes = None;
        if channel.members.is_empty() && !channel.closed && key != DEFAULT_CHANNEL {
            self.channels.remove(key);
        }
    }

    fn membership_reply(
        &mut self,
        session: SessionId,
        kind: &str,
        channel: &ChannelName,
        out: &mut Output,
    ) {
        let mut reply = JsonLine::new(kind);
        reply
            .push_str("channel", &self.channel_display(channel))
            .push_str("status", "ok");
        self.send_direct(session, reply.finish(), out);
    }

    fn channel_display(&self, channel: &ChannelName) -> String {
        self.channels
            .get(&channel.key)
            .map_or_else(|| channel.display.clone(), |found| found.display.clone())
    }

    /// A notice to the other identified members of a channel (not the default one: everybody is
    /// there, presence lines already tell).
    fn channel_notice(
        &mut self,
        key: &str,
        except: SessionId,
        text: &str,
        now: &Now,
        out: &mut Output,
    ) {
        if key == DEFAULT_CHANNEL {
            return;
        }
        let Some(channel) = self.channels.get(key) else {
            return;
        };
        let frame = self.notice_frame(text, None, Some(&channel.display), now);
        self.send_to_channel(&frame, key, Some(except), out);
    }

    fn private_notice(
        &mut self,
        session: SessionId,
        to: &str,
        text: &str,
        now: &Now,
        out: &mut Output,
    ) {
        let frame = self.notice_frame(text, Some(to), None, now);
        self.send_frame(session, frame, out);
    }

    fn welcome(&mut self, session: SessionId, name: &str, now: &Now, out: &mut Output) {
        if self.config.welcome.is_empty() {
            return;
        }
        let text = self.config.welcome.replace("{nom}", name);
        self.private_notice(session, name, &text, now, out);
    }

    /// `{"type":"message","subtype":...,"from":"Serveur","content":...,"system":true}`.
    fn notice_frame(
        &self,
        text: &str,
        to: Option<&str>,
        channel: Option<&str>,
        now: &Now,
    ) -> Frame {
        let mut line = message_line(SERVER_NAME, text, to, channel, now);
        line.push_bool("system", true);
        Arc::from(line.finish())
    }

    fn send_error(&mut self, session: SessionId, text: &str, out: &mut Output) {
        let mut line = JsonLine::new("error");
        line.push_str("message", text).push_str("error", text);
        self.send_direct(session, line.finish(), out);
    }

    /// A direct reply: never held, it is what the session is waiting for.
    fn send_direct(&mut self, session: SessionId, bytes: Vec<u8>, out: &mut Output) {
        out.begin(Arc::from(bytes));
        out.add_recipient(session);
    }

    fn send_frame(&mut self, session: SessionId, frame: Frame, out: &mut Output) {
        self.send_many(&frame, [session], out);
    }

    /// Delivers `frame` to identified sessions among `targets`; a session awaiting its auth reply
    /// gets it later. Returns the number of recipients.
    /// Delivers `frame` to the identified members of a channel but `except`, from the cached
    /// routes. Returns the number of recipients.
    fn send_to_channel(
        &mut self,
        frame: &Frame,
        key: &str,
        except: Option<SessionId>,
        out: &mut Output,
    ) -> usize {
        let Some(channel) = self.channels.get_mut(key) else {
            return 0;
        };
        let routes = fresh_routes(channel, &self.sessions);
        let count = out.add_delivery(frame, &routes.ready, except);
        if routes.held.is_empty() {
            return count;
        }
        let held: Vec<SessionId> = routes
            .held
            .iter()
            .copied()
            .filter(|&s| Some(s) != except)
            .collect();
        let held_count = held.len();
        for session in held {
            if let Some(pending) = self
                .sessions
                .get_mut(&session)
                .and_then(|state| state.auth.as_mut())
            {
                pending.held.push(frame.clone());
            }
        }
        count + held_count
    }

    /// The session's identity or auth state changed: its channels' routes are stale.
    fn invalidate_routes(&mut self, session: SessionId) {
        let Some(state) = self.sessions.get(&session) else {
            return;
        };
        for key in &state.channels {
            if let Some(channel) = self.channels.get_mut(key) {
                channel.routes = None;
            }
        }
    }

    fn send_many(
        &mut self,
        frame: &Frame,
        targets: impl IntoIterator<Item = SessionId>,
        out: &mut Output,
    ) -> usize {
        out.begin(frame.clone());
        let mut count = 0;
        for target in targets {
            let Some(state) = self.sessions.get_mut(&target) else {
                continue;
            };
            if matches!(state.identity, Identity::Anonymous) {
                continue;
            }
            count += 1;
            match &mut state.auth {
                Some(pending) => pending.held.push(frame.clone()),
                None => out.add_recipient(target),
            }
        }
        count
    }

    fn identified_sessions(
        &self,
        except: Option<SessionId>,
    ) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions
            .iter()
            .filter(move |(id, state)| Some(**id) != except && state.name().is_some())
            .map(|(id, _)| *id)
    }

    fn own_key(&self, session: SessionId) -> Option<String> {
        self.sessions
            .get(&session)
            .and_then(Session::name)
            .map(|name| name.key.clone())
    }

    fn group_visible(&self, group: &NameGroup) -> bool {
        group.sessions.iter().any(|member| {
            self.sessions
                .get(member)
                .is_some_and(|state| state.presence != Presence::Invisible)
        })
    }

    fn visible_names_in(&self, channel: &Channel) -> u64 {
        let mut keys: BTreeSet<&str> = BTreeSet::new();
        for member in &channel.members {
            if let Some(state) = self.sessions.get(member) {
                if let Some(name) = state.name() {
                    if state.presence != Presence::Invisible {
                        keys.insert(&name.key);
                    }
                }
            }
        }
        keys.len() as u64
    }

    fn take_message_id(&mut self) -> u64 {
        let id = self.next_message_id;
        self.next_message_id += 1;
        id
    }
}

fn nfc(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfc().collect()
}

fn status_frame(user: &str, state: &str) -> Frame {
    let mut line = JsonLine::new("status");
    line.push_str("user", user).push_str("state", state);
    Arc::from(line.finish())
}

/// The common head of every chat line (relayed or server notice). Always `type: "message"`:
/// every client family handles it; `subtype` tells private (with `to`) from global.
fn message_line(
    from: &str,
    content: &str,
    to: Option<&str>,
    channel: Option<&str>,
    now: &Now,
) -> JsonLine {
    let mut line = JsonLine::new("message");
    line.push_str("subtype", if to.is_some() { "private" } else { "global" })
        .push_str("from", from)
        .push_str("content", content);
    if let Some(to) = to {
        line.push_str("to", to);
    }
    if let Some(channel) = channel {
        line.push_str("channel", channel);
    }
    line.push_str("timestamp", &now.local.iso());
    line
}

/// The relayed line: the sender's object with the server-owned keys set (PROTOCOL.md §4).
fn encode_chat(
    message: &ChatMessage,
    from: &str,
    to: Option<&str>,
    channel: Option<&str>,
    id: u64,
    now: &Now,
) -> Frame {
    let mut line = message_line(from, &message.content, to, channel, now);
    line.push_u64("id", id);
    push_extra(&mut line, &message.extra);
    Arc::from(line.finish())
}

fn push_extra(line: &mut JsonLine, extra: &Map<String, Value>) {
    for (key, value) in extra {
        line.push_value(key, value);
    }
}
