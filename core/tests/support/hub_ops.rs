//! The operations of a simulated hub run, and how arbitrary bytes decode into them: every input is
//! a valid scenario (past its end, every choice is 0). Lines are built from the protocol's
//! vocabulary (names, channels, states, contents, unknown keys) or taken as free text, so that a
//! fuzzer or proptest reaches deep states quickly. Used by hub_model.rs.

use classcord_core::frame::decode_line;
use serde_json::{json, Map, Value};

/// Operations taken from one input (keeps one fuzz input fast).
pub const MAX_OPS: usize = 400;

pub const NAMES: [&str; 16] = [
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
pub const CHANNELS: [&str; 12] = [
    "général",
    "#general",
    "GENERAL",
    "#java",
    "Java",
    "#sio",
    "#fermé",
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

/// One step of the simulated world. Session and pending-work picks are taken modulo the count.
#[derive(Debug, Clone)]
pub enum Op {
    Connect,
    /// A live session closes.
    Disconnect(u8),
    /// A session sends one line (`\n` added), cut in two reads at the given point.
    Send(u8, String, u8),
    /// A session sends raw bytes, maybe several lines or half of one.
    Raw(u8, Vec<u8>),
    /// The shell answers a pending login/register check (pick, outcome choice).
    Auth(u8, u8),
    /// The store answers a pending history or deferred-lines load (pick, success choice).
    Store(u8, u8),
    /// The administrator announces, closes or reopens a channel (what, channel pick).
    Admin(u8, u8),
    /// A session sends the same line many times in a row (a flood: 40 to 103 lines).
    Repeat(u8, String, u8),
    /// Time passes (0 to 15 s, or 11 minutes past the anonymity deadline), then the shell's
    /// periodic check runs and half-sent lines time out.
    Wait(u8),
}

/// Reads choices from the input.
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

/// Turns arbitrary bytes into operations.
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
            6 => Op::Store(input.byte(), input.byte()),
            7 => match input.byte() {
                what @ 0..=127 => Op::Admin(what, input.byte()),
                128..=191 => {
                    let session = input.byte();
                    let line = request_line(&mut input);
                    Op::Repeat(session, line, 40 + input.byte() % 64)
                }
                wait => Op::Wait(wait),
            },
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

/// A request line with optional and unknown fields, bad JSON, or free text.
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
        5 => match input.pick(&[
            "users",
            "userlist",
            "list_users",
            "channels",
            "ping",
            "who",
            "hello",
        ]) {
            "hello" => {
                let features = match input.below(4) {
                    0 => json!(["kick", "shutdown"]),
                    1 => json!(["no-hold"]),
                    2 => json!(["kick", "shutdown", "no-hold", "unknown"]),
                    _ => json!("kick"),
                };
                object.insert("features".into(), features);
                "hello"
            }
            other => other,
        },
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
            object.insert("limit".into(), json!(input.byte() % 8));
            if input.flag() {
                object.insert("channel".into(), json!(input.word(&CHANNELS)));
            }
            if input.flag() {
                object.insert("with".into(), json!(input.word(&NAMES)));
            }
            if input.flag() {
                object.insert("before".into(), json!(input.byte()));
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
