//! The hub's tests: one test per docs/PROTOCOL.md rule, named after the rule, run without sockets,
//! one file per concern (named like the hub file it tests). This file holds the harness: every
//! frame any test produces is checked against docs/PROTOCOL.md §1.2 and §6.7: one ASCII JSON
//! object, `\n`-terminated.

mod admin;
mod auth;
mod channels;
mod chat;
mod deferred;
mod history;
mod hold;
mod ids;
mod input;
mod limits;
mod moderation;
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
    /// Plays the shell's store: keeps what the hub asks it to keep, answers its loads.
    store: MemoryStore,
    auto_store: bool,
    /// How far the clock moves per line sent.
    tick_micros: u64,
}

/// The hub's view of a store, in memory: the lines kept and deferred, in id order.
#[derive(Default)]
struct MemoryStore {
    kept: Vec<ChatRecord>,
    deferred: Vec<ChatRecord>,
    reserved_until: u64,
}

impl MemoryStore {
    /// Applies a write; returns true for a load (which needs an answer).
    fn apply(&mut self, request: &StoreRequest) -> bool {
        match request {
            StoreRequest::Keep(record) => self.kept.push(record.clone()),
            StoreRequest::Defer(record) => {
                self.kept.push(record.clone());
                self.deferred.push(record.clone());
            }
            StoreRequest::Delivered { account, up_to } => self.deferred.retain(|record| {
                !(record.id <= *up_to
                    && matches!(&record.destination, Destination::Private { to_key, .. } if to_key == account))
            }),
            StoreRequest::ReserveIds { until } => self.reserved_until = *until,
            StoreRequest::Membership { .. }
            | StoreRequest::ChannelClosed { .. }
            | StoreRequest::ChannelCreated { .. }
            | StoreRequest::SlowMode { .. } => {}
            StoreRequest::LoadHistory { .. } | StoreRequest::LoadDeferred { .. } => return true,
        }
        false
    }

    fn answer(&self, hub: &mut Hub, request: &StoreRequest, now: &Now, out: &mut Output) {
        match request {
            StoreRequest::LoadHistory { session, page } => {
                let matching: Vec<ChatRecord> = self
                    .kept
                    .iter()
                    .filter(|record| page.before.is_none_or(|before| record.id < before))
                    .filter(|record| match (&page.scope, &record.destination) {
                        (
                            HistoryScope::Channel { key, .. },
                            Destination::Channel { key: k, .. },
                        ) => key == k,
                        (
                            HistoryScope::Conversation { key, .. },
                            Destination::Private { conversation, .. },
                        ) => conversation.as_deref() == Some(key.as_str()),
                        _ => false,
                    })
                    .cloned()
                    .collect();
                let skip = matching.len().saturating_sub(page.limit as usize);
                let page_records = matching[skip..].to_vec();
                hub.history_loaded(*session, page.clone(), Some(page_records), now, out);
            }
            StoreRequest::LoadDeferred { session, account } => {
                let records = self
                    .deferred
                    .iter()
                    .filter(|record| {
                        matches!(&record.destination, Destination::Private { to_key, .. } if to_key == account)
                    })
                    .cloned()
                    .collect();
                hub.deferred_loaded(*session, Some(records), now, out);
            }
            _ => {}
        }
    }
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

/// The default settings without the login hold: the hold has its own tests (`hold.rs`); the
/// others look at what a login produces without waiting for it to be released.
fn unheld() -> HubConfig {
    HubConfig {
        login_hold: LoginHold {
            settle_ms: 0,
            ..LoginHold::default()
        },
        ..HubConfig::default()
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
            hub: Hub::new(unheld(), Restored::with_accounts(accounts.iter().copied())),
            out: Output::new(),
            now,
            next_id: 1,
            store: MemoryStore::default(),
            auto_store: true,
            tick_micros: 50_000,
        }
    }

    /// A hub built from a restored state and settings (restart tests).
    fn restored(config: HubConfig, restored: Restored) -> Harness {
        let mut harness = Harness::new();
        harness.hub = Hub::new(config, restored);
        harness
    }

    fn connect(&mut self) -> SessionId {
        let id = SessionId(self.next_id);
        self.next_id += 1;
        self.hub.connect(id, &self.now);
        id
    }

    /// What the hub produced; with `auto_store`, store loads are answered at once (from the
    /// lines kept so far) and what the hub then produces is added.
    fn collect(&mut self) -> Delivered {
        let mut lines = Vec::new();
        let mut effects = Vec::new();
        loop {
            for (frame, recipients) in self.out.deliveries() {
                let value = check_frame(frame);
                for &to in recipients {
                    lines.push((to, value.clone()));
                }
            }
            let produced = core::mem::take(&mut self.out.effects);
            self.out.clear();
            let mut answered = false;
            for effect in &produced {
                if let Effect::Store(request) = effect {
                    if self.store.apply(request) && self.auto_store {
                        self.store
                            .answer(&mut self.hub, request, &self.now, &mut self.out);
                        answered = true;
                    }
                }
            }
            effects.extend(produced);
            if !answered {
                break;
            }
        }
        Delivered { lines, effects }
    }

    /// Answers a load the test held back (`auto_store` off).
    fn answer(&mut self, request: &StoreRequest) -> Delivered {
        self.store
            .answer(&mut self.hub, request, &self.now, &mut self.out);
        self.collect()
    }

    /// Sends one raw line as a reader would (decode, parse, hand over). The clock advances 50 ms
    /// per line, the default rate limit's pace, so only the rate-limit tests ever reach it.
    fn send(&mut self, session: SessionId, line: &str) -> Delivered {
        self.now.unix_micros += self.tick_micros;
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

    /// Time passes, then the shell's wake-up (`Effect::WakeAt`) reaches the hub.
    fn wake_after(&mut self, micros: u64) -> Delivered {
        self.now.unix_micros += micros;
        self.hub.wake(&self.now, &mut self.out);
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
