//! Drives a `Hub` the way the server shell does — bytes through a `LineSplitter`, `decode_line`,
//! `parse_request`; password checks and store loads answered later and in any order; close on
//! `LineTooLong` — from operations decoded from arbitrary bytes (hub_ops.rs), with an in-memory
//! store (hub_store.rs), and checks the wire invariants after every hub call. Shared by
//! core/tests/properties_hub.rs (proptest, stable) and fuzz/fuzz_targets/hub.rs (`#[path]`).
//! Public API only: nothing here knows how the hub is built inside.
//!
//! Invariants (docs/PROTOCOL.md §1, §2, §4, §6), each a panic naming the rule and the last calls:
//! - every frame is one non-empty ASCII JSON object with a string `type`, ending in exactly one
//!   `\n`, with the string fields strict clients read (hub_checks.rs);
//! - recipients are live sessions, each at most once per frame;
//! - no echo: a global message, or a status line, produced by a session's own request never
//!   reaches that session (tracked by frame identity, not by name);
//! - reply first: after a VerifyLogin/Register effect nothing reaches the session until the
//!   outcome is fed back, and then first its `login`/`register` reply or an error; while its
//!   deferred lines load after a login, nothing else reaches it either;
//! - login hold: after a successful login (no `no-hold` announced), the session's lines are held;
//!   while they are, no chat or presence line reaches it except from the clock (the hold's
//!   wake-ups) or when it is being closed;
//! - history only in reply: a `history` frame goes only to the session whose request it answers;
//! - anonymity: a session that sent nothing identifying (a chat line, a `status` with `user`, a
//!   successful login) is never named, gets no frame produced by anyone else's action, and its
//!   own requests reach nobody else.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use classcord_core::frame::{decode_line, LineSplitter};
use classcord_core::hub::{
    AdminCommand, AuthOutcome, ChannelAction, Effect, Frame, Hub, HubConfig, Inbound, LocalTime,
    Now, Output, SessionId,
};
use classcord_core::message::{fold_name, parse_request, Feature, Request};

/// Like `assert!`, with the last hub calls in the message.
macro_rules! ensure {
    ($world:expr, $condition:expr, $($message:tt)+) => {
        if !$condition {
            $world.fail(format!($($message)+));
        }
    };
}

#[path = "hub_checks.rs"]
mod hub_checks;
#[path = "hub_ops.rs"]
mod hub_ops;
#[path = "hub_store.rs"]
mod hub_store;
#[path = "wire.rs"]
mod wire;

#[allow(unused_imports)]
pub use hub_ops::{decode_ops, Op, MAX_OPS};
use hub_store::{Load, Store};

/// Hub bugs found by this model and not fixed yet (reproducers, ignored until the fix, in
/// core/tests/regressions.rs). Tolerating them lets the checks go on past them; set a field to
/// `false` once its fix lands.
#[derive(Debug, Clone, Copy)]
pub struct KnownBugs {
    /// When the hub closes a session waiting for its login/register reply (shutdown, kick, a
    /// ban found at login), its closing notices reach it first, or in place of the reply: while
    /// tolerated, frames to a session closed in the same call are exempt from the reply-first
    /// rule.
    pub closing_before_reply: bool,
    /// The line rate limit answers a session flooding during its login/register check (warning,
    /// then close) before its reply: while tolerated, a waiting session's own lines may get
    /// frames.
    pub rate_limit_before_reply: bool,
}

impl KnownBugs {
    pub const NONE: KnownBugs = KnownBugs {
        closing_before_reply: false,
        rate_limit_before_reply: false,
    };
}

/// What the property tests and the fuzz target tolerate today.
pub const KNOWN_BUGS: KnownBugs = KnownBugs {
    closing_before_reply: false,
    rate_limit_before_reply: false,
};

/// Line cap of the simulated connections: small, so that over-long lines happen.
pub const LINE_CAP: usize = 600;
/// Seconds the shell lets a line stay half-sent (its `LineTimeout`).
const PARTIAL_LINE_SECS: u64 = 10;

/// What a session waits for, as far as the rules above care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    Login,
    Register,
    /// Its deferred private lines, after a successful login.
    Deferred,
}

/// Whose action a hub call is: frames produced by one session's request are "its own".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Handle(SessionId),
    Auth(SessionId),
    Load(SessionId),
    Disconnect(SessionId),
    Admin,
    /// The periodic check, and half-sent lines timing out.
    Clock,
    Shutdown,
}

impl Call {
    fn actor(self) -> Option<SessionId> {
        match self {
            Call::Handle(session) | Call::Auth(session) | Call::Load(session) => Some(session),
            Call::Disconnect(_) | Call::Admin | Call::Clock | Call::Shutdown => None,
        }
    }
}

/// Counts for reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub calls: usize,
    pub frames: usize,
    pub deliveries: usize,
    pub logins: usize,
    pub loads: usize,
}

pub struct World {
    hub: Hub,
    out: Output,
    now: Now,
    store: Store,
    next_id: u64,
    live: Vec<SessionId>,
    /// Readers still reading (a reader stops after an over-long line).
    readers: BTreeMap<SessionId, LineSplitter>,
    /// Password checks asked for and not answered: session, login or register, username.
    checks: Vec<(SessionId, Awaiting, String)>,
    awaiting: BTreeMap<SessionId, Awaiting>,
    /// Sessions that sent something identifying or logged in.
    identified: BTreeSet<SessionId>,
    /// Sessions that announced `no-hold` in a `hello`.
    no_hold: BTreeSet<SessionId>,
    /// Sessions whose lines the hub held when the current call started.
    held_before: BTreeSet<SessionId>,
    /// Sessions that sent a line while waiting for a reply (it is handled once the wait ends,
    /// and shows the client listens: the hold may end at once).
    spoke_while_waiting: BTreeSet<SessionId>,
    /// Frames produced by a session's own global message or status (by address).
    own_frames: BTreeMap<SessionId, HashSet<usize>>,
    /// Every frame seen so far, kept alive so that an address is never reused.
    seen: HashSet<usize>,
    kept: Vec<Frame>,
    /// The last hub calls, for failure messages.
    trace: VecDeque<String>,
    known: KnownBugs,
    pub stats: Stats,
}

fn address(frame: &Frame) -> usize {
    Arc::as_ptr(frame) as *const u8 as usize
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    pub fn new() -> World {
        World::with_known_bugs(KNOWN_BUGS)
    }

    /// The checker tolerating only the given known bugs.
    pub fn with_known_bugs(known: KnownBugs) -> World {
        let now = Now {
            unix_micros: 1_764_000_000_000_000,
            local: LocalTime {
                year: 2026,
                month: 12,
                day: 1,
                hour: 8,
                minute: 30,
                second: 0,
                micros: 7,
            },
        };
        let (store, restored) = Store::seeded();
        World {
            hub: Hub::new(HubConfig::default(), restored),
            out: Output::new(),
            now,
            store,
            next_id: 1,
            live: Vec::new(),
            readers: BTreeMap::new(),
            checks: Vec::new(),
            awaiting: BTreeMap::new(),
            identified: BTreeSet::new(),
            no_hold: BTreeSet::new(),
            held_before: BTreeSet::new(),
            spoke_while_waiting: BTreeSet::new(),
            own_frames: BTreeMap::new(),
            seen: HashSet::new(),
            kept: Vec::new(),
            trace: VecDeque::new(),
            known,
            stats: Stats::default(),
        }
    }

    fn note(&mut self, what: String) {
        if self.trace.len() == 16 {
            self.trace.pop_front();
        }
        self.trace.push_back(what);
    }

    fn fail(&self, message: String) -> ! {
        let trace: Vec<&str> = self.trace.iter().map(String::as_str).collect();
        panic!("{message}\nlast hub calls:\n  {}", trace.join("\n  "));
    }

    fn live_at(&self, pick: u8) -> Option<SessionId> {
        if self.live.is_empty() {
            None
        } else {
            Some(self.live[usize::from(pick) % self.live.len()])
        }
    }

    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::Connect => {
                let session = SessionId(self.next_id);
                self.next_id += 1;
                self.note(format!("connect {session:?}"));
                self.tick();
                self.hub.connect(session, &self.now);
                self.live.push(session);
                self.readers.insert(session, LineSplitter::new(LINE_CAP));
            }
            Op::Disconnect(pick) => {
                if let Some(session) = self.live_at(*pick) {
                    self.disconnect(session);
                }
            }
            Op::Send(pick, line, cut) => {
                if let Some(session) = self.live_at(*pick) {
                    let mut bytes = line.clone().into_bytes();
                    bytes.push(b'\n');
                    let cut = usize::from(*cut) % bytes.len();
                    self.read(session, &bytes[..cut]);
                    self.read(session, &bytes[cut..]);
                }
            }
            Op::Raw(pick, bytes) => {
                if let Some(session) = self.live_at(*pick) {
                    self.read(session, bytes);
                }
            }
            Op::Auth(pick, choice) => self.answer_check(*pick, *choice),
            Op::Store(pick, choice) => self.answer_load(*pick, *choice),
            Op::Wait(step) => self.wait(*step),
            Op::Repeat(pick, line, count) => {
                if let Some(session) = self.live_at(*pick) {
                    let mut bytes = line.clone().into_bytes();
                    bytes.push(b'\n');
                    for _ in 0..*count {
                        self.read(session, &bytes);
                    }
                }
            }
            Op::Admin(what, pick) => self.admin(*what, *pick),
        }
    }

    /// What the operator's console asks of the hub.
    fn admin(&mut self, what: u8, pick: u8) {
        let name = hub_ops::NAMES[usize::from(pick) % hub_ops::NAMES.len()].to_owned();
        let channel = hub_ops::CHANNELS[usize::from(pick) % hub_ops::CHANNELS.len()].to_owned();
        let reason = pick.is_multiple_of(2).then(|| String::from("bavardage"));
        let on_channel = |action| AdminCommand::Channel {
            action,
            name: channel.clone(),
        };
        let command = match what % 12 {
            0 => AdminCommand::Alert {
                text: String::from("Annonce : fin du cours à 17 h."),
            },
            1 => AdminCommand::Say {
                name,
                text: String::from("Merci de rester poli."),
            },
            2 => on_channel(ChannelAction::Close),
            3 => on_channel(ChannelAction::Open),
            4 => on_channel(ChannelAction::Create),
            5 => on_channel(ChannelAction::Delete),
            6 => AdminCommand::Kick { name, reason },
            7 => AdminCommand::SetBannedNames {
                names: if pick >= 240 { vec![] } else { vec![name] },
            },
            8 => AdminCommand::KickSessions {
                sessions: self.live_at(pick).into_iter().collect(),
                reason,
                banned: true,
            },
            9 => AdminCommand::ShutdownSoon {
                delay: String::from("5 minutes"),
                reason,
            },
            10 => AdminCommand::Who,
            _ => AdminCommand::Channels,
        };
        self.note(format!("admin {command:?}"));
        self.mark_held();
        let _reply = self.hub.admin(command, &self.now, &mut self.out);
        self.check(Call::Admin);
    }

    /// Remembers whose lines are held before a hub call (checked by `check`).
    fn mark_held(&mut self) {
        self.held_before = self
            .live
            .iter()
            .copied()
            .filter(|&session| self.hub.holds_lines_for(session))
            .collect();
    }

    /// A millisecond passes between two events (the rate limit refills 20 lines a second).
    fn tick(&mut self) {
        self.advance(1_000);
    }

    fn advance(&mut self, micros: u64) {
        self.now.unix_micros += micros;
        let local = &mut self.now.local;
        let total = u64::from(local.micros) + micros;
        local.micros = (total % 1_000_000) as u32;
        let seconds = u64::from(local.second) + total / 1_000_000;
        local.second = (seconds % 60) as u8;
        local.minute = ((u64::from(local.minute) + seconds / 60) % 60) as u8;
    }

    /// Time passes; then what the shell does periodically: half-sent lines time out, and the hub
    /// closes connections anonymous for too long.
    fn wait(&mut self, step: u8) {
        let seconds = if step >= 250 {
            660
        } else {
            u64::from(step % 16)
        };
        self.mark_held();
        self.advance(seconds * 1_000_000);
        self.note(format!("{seconds} s pass"));
        if seconds >= PARTIAL_LINE_SECS {
            let late: Vec<SessionId> = self
                .readers
                .iter()
                .filter(|(_, reader)| reader.buffered() > 0)
                .map(|(&session, _)| session)
                .collect();
            for session in late {
                self.readers.remove(&session);
                self.note(format!("{session:?} left a line half-sent"));
                let inbound = Inbound::LineTimeout {
                    secs: PARTIAL_LINE_SECS,
                };
                self.handle(session, inbound);
            }
        }
        self.hub.expire(&self.now, &mut self.out);
        self.hub.wake(&self.now, &mut self.out);
        self.check(Call::Clock);
    }

    /// The shell's answer to a password check, as its account store would give it.
    fn answer_check(&mut self, pick: u8, choice: u8) {
        if self.checks.is_empty() {
            return;
        }
        let (session, kind, username) = self.checks.remove(usize::from(pick) % self.checks.len());
        let account = self.store.accounts.get(&fold_name(&username)).cloned();
        let outcome = match (kind, choice % 8, account) {
            (_, 1, _) => AuthOutcome::Unavailable,
            (_, 7, _) => AuthOutcome::Refused {
                text: String::from("Trop de tentatives : réessayez dans une minute."),
            },
            (Awaiting::Login, 0, _) | (Awaiting::Login, _, None) => AuthOutcome::LoginFailed,
            (Awaiting::Login, _, Some(name)) => AuthOutcome::LoggedIn { name },
            (_, _, Some(_)) => AuthOutcome::RegisterTaken,
            (_, _, None) => AuthOutcome::Registered { name: username },
        };
        if let AuthOutcome::Registered { name } = &outcome {
            self.store.accounts.insert(fold_name(name), name.clone());
        }
        self.note(format!("auth_result {session:?} {outcome:?}"));
        let logs_in = matches!(outcome, AuthOutcome::LoggedIn { .. });
        if logs_in && self.awaiting.get(&session) == Some(&Awaiting::Login) {
            self.identified.insert(session);
            self.stats.logins += 1;
        }
        let waited_for_login =
            self.live.contains(&session) && self.awaiting.get(&session) == Some(&Awaiting::Login);
        self.mark_held();
        self.hub
            .auth_result(session, outcome, &self.now, &mut self.out);
        let closed = self.out.effects.iter().any(
            |effect| matches!(effect, Effect::Close { session: closed, .. } if *closed == session),
        );
        ensure!(
            self,
            !logs_in
                || !waited_for_login
                || closed
                || self.no_hold.contains(&session)
                || self.spoke_while_waiting.remove(&session)
                || self.hub.holds_lines_for(session),
            "{session:?} logged in without holding its lines until it listens"
        );
        self.check(Call::Auth(session));
    }

    /// The store's answer to a load: the records, or now and then a failure.
    fn answer_load(&mut self, pick: u8, choice: u8) {
        if self.store.loads.is_empty() {
            return;
        }
        let load = self
            .store
            .loads
            .remove(usize::from(pick) % self.store.loads.len());
        let fails = choice.is_multiple_of(5);
        let session = load.session();
        self.stats.loads += 1;
        self.note(format!("store answers {load:?} (fails: {fails})"));
        self.mark_held();
        match load {
            Load::History(_, page) => {
                let records = (!fails).then(|| self.store.page(&page));
                self.hub
                    .history_loaded(session, page, records, &self.now, &mut self.out);
            }
            Load::Deferred(_, account) => {
                let records = (!fails).then(|| self.store.deferred_for(&account));
                self.hub
                    .deferred_loaded(session, records, &self.now, &mut self.out);
            }
        }
        self.check(Call::Load(session));
    }

    /// What a connection's reader does with bytes from the socket.
    fn read(&mut self, session: SessionId, bytes: &[u8]) {
        let Some(reader) = self.readers.get_mut(&session) else {
            return; // stopped reading after an over-long line
        };
        let mut lines = Vec::new();
        let fed = reader.feed(bytes, |line| lines.push(line.to_vec()));
        for line in lines {
            let text = decode_line(&line);
            let shown: String = text.chars().take(160).collect();
            self.note(format!("{session:?} sends {shown:?}"));
            let inbound = match parse_request(&text) {
                Ok(request) => Inbound::Request(request),
                Err(error) => Inbound::Invalid(error),
            };
            self.handle(session, inbound);
        }
        if let Err(too_long) = fed {
            self.readers.remove(&session);
            self.note(format!("{session:?} sends an over-long line"));
            let inbound = Inbound::LineTooLong {
                limit: too_long.limit,
            };
            self.handle(session, inbound);
        }
    }

    fn handle(&mut self, session: SessionId, inbound: Inbound) {
        let identifying = match &inbound {
            Inbound::Request(Request::Chat(_)) => true,
            Inbound::Request(Request::Status { user, .. }) => user.is_some(),
            _ => false,
        };
        if identifying {
            self.identified.insert(session);
        }
        if let Inbound::Request(Request::Hello { features }) = &inbound {
            if features.has(Feature::NoHold) {
                self.no_hold.insert(session);
            }
        }
        if self.awaiting.contains_key(&session) {
            self.spoke_while_waiting.insert(session);
        }
        self.mark_held();
        self.tick();
        self.hub.handle(session, inbound, &self.now, &mut self.out);
        self.check(Call::Handle(session));
    }

    fn disconnect(&mut self, session: SessionId) {
        if !self.live.contains(&session) {
            return;
        }
        self.live.retain(|&live| live != session);
        self.readers.remove(&session);
        self.awaiting.remove(&session);
        self.note(format!("disconnect {session:?}"));
        self.mark_held();
        self.hub.disconnect(session, &mut self.out);
        self.check(Call::Disconnect(session));
        self.identified.remove(&session);
    }

    /// The server stops: everyone gets the notice (identified only) and is closed.
    pub fn shutdown(&mut self) {
        self.note("shutdown".to_owned());
        self.mark_held();
        self.hub.shutdown(&self.now, &mut self.out);
        let closed: BTreeSet<SessionId> = self
            .out
            .effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Close { session, .. } => Some(*session),
                _ => None,
            })
            .collect();
        let live: BTreeSet<SessionId> = self.live.iter().copied().collect();
        ensure!(
            self,
            closed == live,
            "shutdown closed {closed:?}, not every connection"
        );
        self.check(Call::Shutdown);
    }
}

/// Runs a whole scenario, then everyone leaves or the server shuts down.
pub fn run(ops: &[Op], shutdown_at_end: bool) -> Stats {
    let mut world = World::new();
    run_in(&mut world, ops, shutdown_at_end);
    world.stats
}

/// Runs a scenario in a given world (e.g. one tolerating no known bug).
pub fn run_in(world: &mut World, ops: &[Op], shutdown_at_end: bool) {
    for op in ops {
        world.apply(op);
    }
    if shutdown_at_end {
        world.shutdown();
    } else {
        for session in world.live.clone() {
            world.disconnect(session);
        }
        let left = world.hub.session_count();
        ensure!(
            world,
            left == 0,
            "{left} sessions left after everyone closed"
        );
    }
}
