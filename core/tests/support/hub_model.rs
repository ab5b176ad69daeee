//! Drives a `Hub` the way the server shell does (bytes through a `LineSplitter`, `decode_line`,
//! `parse_request`; login/register effects answered later; close on `LineTooLong`) from a list of
//! operations decoded from arbitrary bytes, and checks the wire invariants after every call.
//! Shared by core/tests/properties_hub.rs (proptest, stable) and fuzz/fuzz_targets/hub.rs
//! (`#[path]` include). Public API only: nothing here knows how the hub is built inside.
//!
//! Invariants (PROTOCOL.md §1, §2, §4, §6), each a panic naming the rule:
//! - every frame is one non-empty ASCII JSON object with a string `type`, ending in exactly one
//!   `\n`; message/status/users/error frames carry the string fields strict clients read;
//! - recipients are live sessions, each at most once per frame;
//! - no echo: a global message, or a status line, produced by a session's own request never
//!   reaches that session (tracked by frame identity, not by name);
//! - reply first: after a VerifyLogin/Register effect for a session, nothing reaches it until the
//!   outcome is fed back, and then the first frame is its `login`/`register` reply or an error;
//! - anonymity: a session that sent nothing identifying (a chat line, a `status` with `user`, a
//!   successful login) is never named a guest, gets no frame produced by anyone else's action,
//!   and its own requests reach nobody else.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use classcord_core::frame::{decode_line, LineSplitter};
use classcord_core::hub::{
    AuthOutcome, Effect, Event, Frame, Hub, HubConfig, Inbound, LocalTime, Now, Output, SessionId,
};
use classcord_core::message::{parse_request, Request};
use serde_json::{json, Map, Value};

#[path = "wire.rs"]
mod wire;

/// Hub bugs found by this model and not fixed yet (reproducers, ignored until the fix, in
/// core/tests/regressions.rs). Tolerating them lets the checks go on past them; set a field to
/// `false` once its fix lands.
#[derive(Debug, Clone, Copy)]
pub struct KnownBugs {
    /// `users` (and aliases) and a `status` without `user` name an anonymous connection a guest,
    /// against PROTOCOL.md §2: while tolerated they count as identifying.
    pub naming_on_queries: bool,
    /// `shutdown` sends its notice to a session still waiting for its login/register reply,
    /// before that reply: while tolerated, shutdown frames are exempt from the reply-first rule.
    pub shutdown_before_reply: bool,
}

impl KnownBugs {
    pub const NONE: KnownBugs = KnownBugs {
        naming_on_queries: false,
        shutdown_before_reply: false,
    };
}

/// What the property tests and the fuzz target tolerate today.
pub const KNOWN_BUGS: KnownBugs = KnownBugs {
    naming_on_queries: true,
    shutdown_before_reply: true,
};

/// Line cap of the simulated connections: small, so that over-long lines happen.
pub const LINE_CAP: usize = 600;
/// Operations taken from one input (keeps one fuzz input fast).
pub const MAX_OPS: usize = 400;

const ACCOUNTS: [&str; 2] = ["alice", "Bob"];
const NAMES: [&str; 16] = [
    "alice",
    "ALICE",
    "bob",
    "Zoé",
    "Zoe\u{301}",
    "admin",
    "Serveur",
    "invité",
    "",
    " carol ",
    "a\"b",
    "🎉",
    "\u{202e}gnp.exe",
    "x\ny",
    "dave (invité)",
    "abcdefghijklmnopqrstuvwxyz0123456789",
];
const CHANNELS: [&str; 11] = [
    "général",
    "#general",
    "GENERAL",
    "#java",
    "Java",
    "#sio",
    "#",
    "a b",
    "",
    "#ja\u{301}va",
    "#x,y",
];
const STATES: [&str; 11] = [
    "online",
    "away",
    "busy",
    "do not disturb",
    "ne pas déranger",
    "absent",
    "offline",
    "invisible",
    "En ligne",
    "sleeping",
    "",
];
const CONTENTS: [&str; 12] = [
    "hi",
    "",
    "   ",
    "/join #sio",
    "/leave #sio",
    "/join",
    "/part général",
    "/leave général",
    "/JOIN Java",
    "é🎉",
    "\u{0}\u{1b}[31m",
    "/me waves",
];
const GARBAGE: [&str; 13] = [
    "{",
    "[]",
    "null",
    "\"x\"",
    "{\"type\":5}",
    "{\"type\":null}",
    "{\"type\":\"message\",\"content\":[1]}",
    "{\"type\":\"dance\"}",
    "{\"type\":\"message\"}",
    "{\"type\":\"private\",\"content\":\"x\"}",
    "{\"type\":\"history\",\"limit\":-1}",
    "{\"type\":\"status\"}",
    "\u{0}",
];

/// One step of the simulated world.
#[derive(Debug, Clone)]
pub enum Op {
    Connect,
    /// A live session (index modulo the live count) closes.
    Disconnect(u8),
    /// A session sends one line (`\n` added), cut in two reads at the given point.
    Send(u8, String, u8),
    /// A session sends raw bytes, maybe several lines or half of one.
    Raw(u8, Vec<u8>),
    /// The shell answers a pending login/register check (index, outcome choice).
    Auth(u8, u8),
}

/// Reads choices from the input; past its end every choice is 0.
struct Choices<'a> {
    data: &'a [u8],
    at: usize,
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let byte = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        byte
    }
    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }
    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }
    fn pick<'t>(&mut self, table: &[&'t str]) -> &'t str {
        table[self.below(table.len())]
    }
    /// Free text taken from the input (windows-1252 when not UTF-8).
    fn text(&mut self) -> String {
        let len = self.below(24);
        let start = self.at.min(self.data.len());
        let end = (start + len).min(self.data.len());
        self.at += len;
        decode_line(&self.data[start..end]).into_owned()
    }
    /// A table entry, or now and then free text.
    fn word(&mut self, table: &[&str]) -> String {
        if self.below(8) == 0 {
            self.text()
        } else {
            self.pick(table).to_owned()
        }
    }
    fn done(&self) -> bool {
        self.at >= self.data.len()
    }
}

/// Turns arbitrary bytes into operations (total: any input is a valid scenario).
pub fn decode_ops(data: &[u8]) -> Vec<Op> {
    let mut input = Choices { data, at: 0 };
    let mut ops = Vec::new();
    while !input.done() && ops.len() < MAX_OPS {
        let op = match input.below(16) {
            0 | 1 => Op::Connect,
            2 => Op::Disconnect(input.byte()),
            3 | 4 => Op::Auth(input.byte(), input.byte()),
            5 => {
                let session = input.byte();
                let len = input.below(64);
                let bytes = (0..len).map(|_| input.byte()).collect();
                Op::Raw(session, bytes)
            }
            _ => {
                let session = input.byte();
                let line = request_line(&mut input);
                Op::Send(session, line, input.byte())
            }
        };
        ops.push(op);
    }
    ops
}

/// A request line built from the protocol's vocabulary, with optional and unknown fields.
fn request_line(input: &mut Choices) -> String {
    let mut object = Map::new();
    let kind = match input.below(12) {
        0..=2 => {
            object.insert("content".into(), json!(input.word(&CONTENTS)));
            if input.flag() {
                object.insert("from".into(), json!(input.word(&NAMES)));
            }
            if input.below(4) == 0 {
                object.insert("channel".into(), json!(input.word(&CHANNELS)));
            }
            if input.below(4) == 0 {
                let subtype = input.pick(&["global", "private", "weird"]);
                object.insert("subtype".into(), json!(subtype));
                object.insert("to".into(), json!(input.word(&NAMES)));
            }
            "message"
        }
        3 => {
            object.insert("to".into(), json!(input.word(&NAMES)));
            object.insert("content".into(), json!(input.word(&CONTENTS)));
            "private"
        }
        4 => {
            object.insert("state".into(), json!(input.word(&STATES)));
            if input.flag() {
                object.insert("user".into(), json!(input.word(&NAMES)));
            }
            "status"
        }
        5 => input.pick(&["users", "userlist", "list_users", "channels", "ping", "who"]),
        6 => {
            object.insert("channel".into(), json!(input.word(&CHANNELS)));
            input.pick(&["join_channel", "leave_channel", "who"])
        }
        7 | 8 => {
            object.insert("username".into(), json!(input.word(&NAMES)));
            object.insert("password".into(), json!(input.pick(&["pw", "", "secret"])));
            input.pick(&["login", "register"])
        }
        9 => {
            object.insert("limit".into(), json!(input.byte()));
            object.insert("channel".into(), json!(input.word(&CHANNELS)));
            if input.flag() {
                object.insert("with".into(), json!(input.word(&NAMES)));
            }
            "history"
        }
        10 => return input.pick(&GARBAGE).to_owned(),
        _ => return input.text(),
    };
    object.insert("type".into(), json!(kind));
    if input.below(4) == 0 {
        let (key, value) = match input.below(5) {
            0 => ("timestamp", json!("1999-01-01")),
            1 => ("id", json!(7)),
            2 => ("system", json!(true)),
            3 => ("color", json!(input.text())),
            _ => ("nested", json!({"a": [1, -2.5, null, "é"]})),
        };
        object.insert(key.into(), value);
    }
    Value::Object(object).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthKind {
    Login,
    Register,
}

/// Whose action a hub call is: frames produced by one session's request are "its own".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Handle(SessionId),
    Auth(SessionId),
    Disconnect(SessionId),
    Shutdown,
}

impl Call {
    fn actor(self) -> Option<SessionId> {
        match self {
            Call::Handle(session) | Call::Auth(session) => Some(session),
            Call::Disconnect(_) | Call::Shutdown => None,
        }
    }
}

/// Counts for reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub calls: usize,
    pub frames: usize,
    pub deliveries: usize,
}

pub struct World {
    hub: Hub,
    out: Output,
    now: Now,
    next_id: u64,
    live: Vec<SessionId>,
    /// Readers still reading (a reader stops after an over-long line).
    readers: BTreeMap<SessionId, LineSplitter>,
    /// Checks asked for and not answered yet: session, kind, username.
    pending: Vec<(SessionId, AuthKind, String)>,
    /// Sessions waiting for their login/register reply.
    awaiting: BTreeMap<SessionId, AuthKind>,
    /// Sessions that sent something identifying or logged in.
    identified: BTreeSet<SessionId>,
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

/// Like `assert!`, with the last hub calls in the message.
macro_rules! ensure {
    ($world:expr, $condition:expr, $($message:tt)+) => {
        if !$condition {
            $world.fail(format!($($message)+));
        }
    };
}

fn address(frame: &Frame) -> usize {
    Arc::as_ptr(frame) as *const u8 as usize
}

fn string_field<'v>(object: &'v Map<String, Value>, key: &str) -> Result<&'v str, String> {
    match object.get(key) {
        Some(Value::String(text)) => Ok(text),
        _ => Err(format!("frame without string {key:?}")),
    }
}

/// A valid line (see `wire::read_line`) with the fields strict clients read (PROTOCOL.md §6).
fn read_frame(frame: &[u8]) -> Result<Value, String> {
    let object = wire::read_line(frame)?;
    let line = Value::Object(object.clone());
    let problem = |what: &str| Err(format!("{what}: {line}"));
    let fields = || -> Result<Option<&'static str>, String> {
        match string_field(&object, "type")? {
            "message" => {
                let subtype = string_field(&object, "subtype")?;
                let from = string_field(&object, "from")?;
                let content = string_field(&object, "content")?;
                if subtype != "global" && subtype != "private" {
                    return Ok(Some("unknown subtype"));
                }
                if subtype == "private" {
                    string_field(&object, "to")?;
                }
                if from != "Serveur" && content.trim().is_empty() {
                    return Ok(Some("blank chat line relayed"));
                }
            }
            "status" => {
                string_field(&object, "user")?;
                let state = string_field(&object, "state")?;
                if !["online", "away", "dnd", "invisible", "offline"].contains(&state) {
                    return Ok(Some("unknown status state"));
                }
            }
            "users" | "list_users" => match object.get("users") {
                Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
                _ => return Ok(Some("users is not an array of strings")),
            },
            "error" => {
                let message = string_field(&object, "message")?;
                if Some(message) != object.get("error").and_then(Value::as_str) {
                    return Ok(Some("error without the same message and error"));
                }
            }
            _ => {}
        }
        Ok(None)
    };
    match fields() {
        Ok(None) => Ok(line.clone()),
        Ok(Some(what)) => problem(what),
        Err(what) => problem(&what),
    }
}

impl World {
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

    /// The checker tolerating only the given known bugs.
    pub fn with_known_bugs(known: KnownBugs) -> World {
        World {
            known,
            ..World::new()
        }
    }

    pub fn new() -> World {
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
        World {
            hub: Hub::new(HubConfig::default(), ACCOUNTS.map(String::from), 1),
            out: Output::new(),
            now,
            next_id: 1,
            live: Vec::new(),
            readers: BTreeMap::new(),
            pending: Vec::new(),
            awaiting: BTreeMap::new(),
            identified: BTreeSet::new(),
            own_frames: BTreeMap::new(),
            seen: HashSet::new(),
            kept: Vec::new(),
            trace: VecDeque::new(),
            known: KNOWN_BUGS,
            stats: Stats::default(),
        }
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
                self.hub.connect(session);
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
            Op::Auth(pick, choice) => {
                if self.pending.is_empty() {
                    return;
                }
                let (session, kind, username) =
                    self.pending.remove(usize::from(*pick) % self.pending.len());
                let outcome = match (kind, choice % 4) {
                    (AuthKind::Login, 0) => AuthOutcome::LoginFailed,
                    (AuthKind::Login, 1) => AuthOutcome::Unavailable,
                    (AuthKind::Login, _) => AuthOutcome::LoggedIn { name: username },
                    (AuthKind::Register, 0) => AuthOutcome::RegisterTaken,
                    (AuthKind::Register, 1) => AuthOutcome::Unavailable,
                    (AuthKind::Register, _) => AuthOutcome::Registered { name: username },
                };
                self.note(format!("auth_result {session:?} {outcome:?}"));
                let logs_in = matches!(outcome, AuthOutcome::LoggedIn { .. });
                if logs_in && self.awaiting.get(&session) == Some(&AuthKind::Login) {
                    self.identified.insert(session);
                }
                self.hub
                    .auth_result(session, outcome, &self.now, &mut self.out);
                self.check(Call::Auth(session));
            }
        }
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
            let inbound = match parse_request(&decode_line(&line)) {
                Ok(request) => Inbound::Request(request),
                Err(error) => Inbound::Invalid(error),
            };
            self.handle(session, inbound);
        }
        if let Err(too_long) = fed {
            self.readers.remove(&session);
            self.note(format!("{session:?} sends an over-long line"));
            self.handle(
                session,
                Inbound::LineTooLong {
                    limit: too_long.limit,
                },
            );
        }
    }

    fn handle(&mut self, session: SessionId, inbound: Inbound) {
        let identifying = match &inbound {
            Inbound::Request(Request::Chat(_)) => true,
            Inbound::Request(Request::Status { user, .. }) => {
                user.is_some() || self.known.naming_on_queries
            }
            Inbound::Request(Request::Users(_)) => self.known.naming_on_queries,
            _ => false,
        };
        if identifying {
            self.identified.insert(session);
        }
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
        self.hub.disconnect(session, &mut self.out);
        self.check(Call::Disconnect(session));
        self.identified.remove(&session);
    }

    /// The server stops: everyone gets the notice (identified only) and is closed.
    pub fn shutdown(&mut self) {
        self.note("shutdown".to_owned());
        self.hub
            .shutdown("Arrêt du serveur.", &self.now, &mut self.out);
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

    /// Checks everything the last hub call produced, then clears the output.
    fn check(&mut self, call: Call) {
        self.stats.calls += 1;
        let actor = call.actor();
        let mut new_checks = Vec::new();
        let mut closes = Vec::new();
        for effect in &self.out.effects {
            match effect {
                Effect::VerifyLogin {
                    session, username, ..
                } => new_checks.push((*session, AuthKind::Login, username.clone())),
                Effect::Register {
                    session, username, ..
                } => new_checks.push((*session, AuthKind::Register, username.clone())),
                Effect::Close { session, .. } => closes.push(*session),
                Effect::Log(Event::GuestNamed { session, name }) => ensure!(
                    self,
                    self.identified.contains(session),
                    "{session:?} named guest {name:?} without sending anything identifying"
                ),
                Effect::Log(Event::Message { session, frame, .. }) => {
                    let object =
                        wire::read_line(frame).unwrap_or_else(|problem| self.fail(problem));
                    if object.get("subtype") == Some(&json!("global")) {
                        self.own_frames
                            .entry(*session)
                            .or_default()
                            .insert(address(frame));
                    }
                }
                Effect::Log(_) => {}
            }
        }
        let mut replied: BTreeSet<SessionId> = BTreeSet::new();
        let mut received: BTreeSet<SessionId> = BTreeSet::new();
        for (frame, recipients) in self.out.deliveries() {
            let line = read_frame(frame).unwrap_or_else(|problem| self.fail(problem));
            self.stats.frames += 1;
            self.stats.deliveries += recipients.len();
            let at = address(frame);
            if self.seen.insert(at) {
                self.kept.push(frame.clone());
                if let (Some(actor), Some("status")) = (actor, line["type"].as_str()) {
                    self.own_frames.entry(actor).or_default().insert(at);
                }
            }
            let distinct: BTreeSet<&SessionId> = recipients.iter().collect();
            ensure!(
                self,
                distinct.len() == recipients.len(),
                "a session gets one frame twice: {line}"
            );
            for &to in recipients {
                ensure!(
                    self,
                    self.live.contains(&to),
                    "frame for closed {to:?}: {line}"
                );
                let echo = self
                    .own_frames
                    .get(&to)
                    .is_some_and(|own| own.contains(&at));
                ensure!(self, !echo, "echo to its sender {to:?}: {line}");
                let exempt = call == Call::Shutdown && self.known.shutdown_before_reply;
                if let (Some(&kind), false) = (self.awaiting.get(&to), exempt) {
                    ensure!(
                        self,
                        call == Call::Auth(to),
                        "{to:?} got a frame before its {kind:?} reply: {line}"
                    );
                    if replied.insert(to) {
                        let reply = line["type"].as_str();
                        let ok = match kind {
                            AuthKind::Login => {
                                reply == Some("login") && line["username"].is_string()
                            }
                            AuthKind::Register => reply == Some("register"),
                        };
                        ensure!(
                            self,
                            reply == Some("error") || (ok && line["status"] == "ok"),
                            "first line after {kind:?} is not its reply: {line}"
                        );
                    }
                }
                if !self.identified.contains(&to) {
                    ensure!(
                        self,
                        actor == Some(to),
                        "unsolicited frame to anonymous {to:?}: {line}"
                    );
                }
                if let Some(actor) = actor {
                    if !self.identified.contains(&actor) {
                        ensure!(
                            self,
                            to == actor,
                            "anonymous {actor:?}'s request reached {to:?}: {line}"
                        );
                    }
                }
                if let Call::Disconnect(gone) = call {
                    ensure!(
                        self,
                        self.identified.contains(&gone),
                        "anonymous {gone:?} left loudly"
                    );
                }
                received.insert(to);
            }
        }
        if let Call::Auth(session) = call {
            if self.awaiting.remove(&session).is_some() {
                ensure!(
                    self,
                    received.contains(&session),
                    "{session:?} got no reply to its check"
                );
            }
        }
        for (session, kind, username) in new_checks {
            ensure!(
                self,
                self.live.contains(&session),
                "check asked for closed {session:?}"
            );
            self.awaiting.insert(session, kind);
            self.pending.push((session, kind, username));
        }
        self.out.clear();
        for session in closes {
            if call != Call::Shutdown {
                // The shell closes the socket; the reader then reports the disconnection.
                self.disconnect(session);
            }
        }
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

/// Runs a whole scenario, then everyone leaves or the server shuts down.
pub fn run(ops: &[Op], shutdown_at_end: bool) -> Stats {
    let mut world = World::new();
    run_in(&mut world, ops, shutdown_at_end);
    world.stats
}

/// Runs a scenario in a given world (e.g. with strict rules).
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
