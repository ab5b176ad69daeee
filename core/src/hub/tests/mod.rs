//! The hub's tests: one test per PROTOCOL.md rule, named after the rule, run without sockets, one
//! file per concern (named like the hub file it tests). This file holds the harness: every frame
//! any test produces is checked against §1/§7: one ASCII JSON object, `\n`-terminated.

mod auth;
mod channels;
mod chat;
mod input;
mod names;
mod notices;
mod presence;
mod private;
mod queries;
mod random;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{json, Value};

use crate::frame::decode_line;
use crate::hub::*;
use crate::message::{parse_request, ChannelName};

struct Harness {
    hub: Hub,
    out: Output,
    now: Now,
    next_id: u64,
}

/// Lines delivered by one call, per recipient, in order.
struct Delivered {
    lines: Vec<(SessionId, Value)>,
    effects: Vec<Effect>,
}

impl Delivered {
    fn to(&self, session: SessionId) -> Vec<Value> {
        self.lines
            .iter()
            .filter(|(to, _)| *to == session)
            .map(|(_, line)| line.clone())
            .collect()
    }

    fn first_to(&self, session: SessionId) -> Value {
        self.to(session)
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("nothing for {session:?}"))
    }

    fn chat_to(&self, session: SessionId) -> Vec<Value> {
        self.to(session)
            .into_iter()
            .filter(|line| {
                (line["type"] == "message" || line["type"] == "private")
                    && line["from"] != "Serveur"
            })
            .collect()
    }

    fn statuses_to(&self, session: SessionId) -> Vec<Value> {
        self.to(session)
            .into_iter()
            .filter(|line| line["type"] == "status")
            .collect()
    }

    fn closes(&self) -> Vec<(SessionId, CloseReason)> {
        self.effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Close { session, reason } => Some((*session, *reason)),
                _ => None,
            })
            .collect()
    }
}

fn check_frame(frame: &[u8]) -> Value {
    assert!(
        frame.is_ascii(),
        "non-ASCII output: {:?}",
        String::from_utf8_lossy(frame)
    );
    assert_eq!(frame.last(), Some(&b'\n'), "line not \\n-terminated");
    assert!(
        !frame[..frame.len() - 1].contains(&b'\n'),
        "embedded newline"
    );
    assert!(!frame[..frame.len() - 1].contains(&b'\r'), "CR in output");
    let value: Value = serde_json::from_slice(frame).expect("output is JSON");
    assert!(value.is_object(), "output is an object");
    value
}

impl Harness {
    fn new() -> Harness {
        Harness::with_accounts(&[])
    }

    fn with_accounts(accounts: &[&str]) -> Harness {
        let now = Now {
            unix_micros: 1_764_000_000_000_000,
            local: LocalTime {
                year: 2026,
                month: 11,
                day: 25,
                hour: 9,
                minute: 5,
                second: 7,
                micros: 42,
            },
        };
        Harness {
            hub: Hub::new(
                HubConfig::default(),
                accounts.iter().map(|a| a.to_string()),
                1,
            ),
            out: Output::new(),
            now,
            next_id: 1,
        }
    }

    fn connect(&mut self) -> SessionId {
        let id = SessionId(self.next_id);
        self.next_id += 1;
        self.hub.connect(id);
        id
    }

    fn collect(&mut self) -> Delivered {
        let mut lines = Vec::new();
        for (frame, recipients) in self.out.deliveries() {
            let value = check_frame(frame);
            for &to in recipients {
                lines.push((to, value.clone()));
            }
        }
        let effects = core::mem::take(&mut self.out.effects);
        self.out.clear();
        Delivered { lines, effects }
    }

    /// Sends one raw line as a reader would (decode, parse, hand over).
    fn send(&mut self, session: SessionId, line: &str) -> Delivered {
        let inbound = match parse_request(&decode_line(line.as_bytes())) {
            Ok(request) => Inbound::Request(request),
            Err(error) => Inbound::Invalid(error),
        };
        self.hub.handle(session, inbound, &self.now, &mut self.out);
        self.collect()
    }

    fn send_json(&mut self, session: SessionId, value: Value) -> Delivered {
        self.send(session, &value.to_string())
    }

    fn auth(&mut self, session: SessionId, outcome: AuthOutcome) -> Delivered {
        self.hub
            .auth_result(session, outcome, &self.now, &mut self.out);
        self.collect()
    }

    fn disconnect(&mut self, session: SessionId) -> Delivered {
        self.hub.disconnect(session, &mut self.out);
        self.collect()
    }

    /// login request + a successful check.
    fn login(&mut self, session: SessionId, name: &str) -> Delivered {
        let sent = self.send_json(
            session,
            json!({"type":"login","username":name,"password":"pw"}),
        );
        assert!(
            matches!(sent.effects.as_slice(), [Effect::VerifyLogin { username, .. }] if username == name),
            "login asks for a password check: {:?}",
            sent.effects
        );
        assert!(sent.lines.is_empty(), "nothing is sent before the check");
        self.auth(
            session,
            AuthOutcome::LoggedIn {
                name: name.to_string(),
            },
        )
    }

    fn user(&mut self, name: &str) -> SessionId {
        let session = self.connect();
        self.login(session, name);
        session
    }

    fn guest(&mut self, name: &str) -> SessionId {
        let session = self.connect();
        self.send_json(session, json!({"type":"message","from":name,"content":""}));
        session
    }
}
