//! The checks run after every hub call (the rules listed in hub_model.rs), and what every frame
//! must look like (docs/PROTOCOL.md §1.2, §6): one valid line (see wire.rs) whose fields are what
//! strict clients read with `getString`. A child module of hub_model.rs, so it sees the world's
//! state.

use std::collections::BTreeSet;

use classcord_core::hub::{Effect, Event, SessionId, StoreRequest};
use serde_json::{Map, Value};

use super::{address, wire, Awaiting, Call, World};

fn string_field<'v>(object: &'v Map<String, Value>, key: &str) -> Result<&'v str, String> {
    match object.get(key) {
        Some(Value::String(text)) => Ok(text),
        _ => Err(format!("frame without string {key:?}")),
    }
}

/// The problem with a frame's fields, if any.
fn field_problem(object: &Map<String, Value>) -> Result<Option<&'static str>, String> {
    match string_field(object, "type")? {
        "message" => {
            let subtype = string_field(object, "subtype")?;
            let from = string_field(object, "from")?;
            let content = string_field(object, "content")?;
            if subtype != "global" && subtype != "private" {
                return Ok(Some("unknown subtype"));
            }
            if subtype == "private" {
                string_field(object, "to")?;
            }
            if from != "Serveur" && content.trim().is_empty() {
                return Ok(Some("blank chat line relayed"));
            }
        }
        "status" => {
            string_field(object, "user")?;
            let state = string_field(object, "state")?;
            if !["online", "away", "dnd", "invisible", "offline"].contains(&state) {
                return Ok(Some("unknown status state"));
            }
        }
        "users" | "list_users" | "who" => match object.get("users") {
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            _ => return Ok(Some("users is not an array of strings")),
        },
        "history" => match object.get("messages") {
            Some(Value::Array(items)) => {
                for item in items {
                    let Value::Object(item) = item else {
                        return Ok(Some("history item is not an object"));
                    };
                    for key in ["from", "content", "timestamp", "subtype"] {
                        string_field(item, key)?;
                    }
                    if !item.get("id").is_some_and(Value::is_u64) {
                        return Ok(Some("history item without a numeric id"));
                    }
                }
            }
            _ => return Ok(Some("history without a messages array")),
        },
        "error" => {
            let message = string_field(object, "message")?;
            if Some(message) != object.get("error").and_then(Value::as_str) {
                return Ok(Some("error without the same message and error"));
            }
        }
        _ => {}
    }
    Ok(None)
}

/// A valid line with the fields strict clients read, or what is wrong with it.
pub fn read_frame(frame: &[u8]) -> Result<Value, String> {
    let object = wire::read_line(frame)?;
    let problem = field_problem(&object);
    let line = Value::Object(object);
    match problem {
        Ok(None) => Ok(line),
        Ok(Some(what)) => Err(format!("{what}: {line}")),
        Err(what) => Err(format!("{what}: {line}")),
    }
}

impl World {
    /// Checks everything the last hub call produced, then clears the output.
    pub(super) fn check(&mut self, call: Call) {
        self.stats.calls += 1;
        let actor = call.actor();
        let mut new_waits = Vec::new();
        let mut closes = Vec::new();
        for effect in &self.out.effects {
            match effect {
                Effect::VerifyLogin {
                    session, username, ..
                } => new_waits.push((*session, Awaiting::Login, Some(username.clone()))),
                Effect::Register {
                    session, username, ..
                } => new_waits.push((*session, Awaiting::Register, Some(username.clone()))),
                Effect::Store(request) => {
                    if let StoreRequest::LoadDeferred { session, .. } = request {
                        new_waits.push((*session, Awaiting::Deferred, None));
                    }
                    self.store.apply(request);
                }
                Effect::Close { session, .. } => closes.push(*session),
                Effect::Log(Event::GuestNamed { session, name }) => ensure!(
                    self,
                    self.identified.contains(session),
                    "{session:?} named guest {name:?} without sending anything identifying"
                ),
                Effect::Log(Event::Message { session, frame, .. }) => {
                    let object =
                        wire::read_line(frame).unwrap_or_else(|problem| self.fail(problem));
                    if object.get("subtype").and_then(Value::as_str) == Some("global") {
                        self.own_frames
                            .entry(*session)
                            .or_default()
                            .insert(address(frame));
                    }
                }
                Effect::Log(_) | Effect::WakeAt { .. } => {}
            }
        }
        let mut first_seen: BTreeSet<SessionId> = BTreeSet::new();
        let mut ended_by_close = BTreeSet::new();
        let mut received: BTreeSet<SessionId> = BTreeSet::new();
        for (frame, recipients) in self.out.deliveries() {
            let line = read_frame(frame).unwrap_or_else(|problem| self.fail(problem));
            self.stats.frames += 1;
            self.stats.deliveries += recipients.len();
            let kind = line["type"].as_str().unwrap_or_default();
            let at = address(frame);
            if self.seen.insert(at) {
                self.kept.push(frame.clone());
                if let (Some(actor), "status") = (actor, kind) {
                    self.own_frames.entry(actor).or_default().insert(at);
                }
            }
            let distinct: BTreeSet<&SessionId> = recipients.iter().collect();
            ensure!(
                self,
                distinct.len() == recipients.len(),
                "a session gets one frame twice: {line}"
            );
            if kind == "history" {
                ensure!(
                    self,
                    recipients.iter().all(|&to| Some(to) == actor),
                    "history pushed: {line}"
                );
            }
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
                let exempt = (closes.contains(&to) && self.known.closing_before_reply)
                    || (call == Call::Handle(to) && self.known.rate_limit_before_reply);
                // A kick, a ban or the shutdown ends a wait: a login/register still unanswered
                // gets the server's text as its reply (an error line), deferred lines stay stored.
                let closing_now =
                    closes.contains(&to) && matches!(call, Call::Admin | Call::Shutdown);
                if let (Some(&waits), false, true) = (self.awaiting.get(&to), exempt, closing_now) {
                    if waits != Awaiting::Deferred && first_seen.insert(to) {
                        ensure!(
                            self,
                            kind == "error",
                            "first line to {to:?}, closed while waiting for {waits:?}, is not an error reply: {line}"
                        );
                    }
                    ended_by_close.insert(to);
                } else if let (Some(&waits), false) = (self.awaiting.get(&to), exempt) {
                    let answer = match waits {
                        Awaiting::Login | Awaiting::Register => Call::Auth(to),
                        Awaiting::Deferred => Call::Load(to),
                    };
                    ensure!(
                        self,
                        call == answer,
                        "{to:?} got a frame while waiting for {waits:?}: {line}"
                    );
                    if waits != Awaiting::Deferred && first_seen.insert(to) {
                        let ok = line["status"] == "ok";
                        let reply = match waits {
                            Awaiting::Login => {
                                kind == "login" && ok && line["username"].is_string()
                            }
                            _ => kind == "register" && ok,
                        };
                        ensure!(
                            self,
                            reply || kind == "error",
                            "first line after {waits:?} is not its reply: {line}"
                        );
                    }
                }
                if ended_by_close.contains(&to) {
                    // The reply to its own login/register, then why it is closed.
                    received.insert(to);
                    continue;
                }
                if call == Call::Admin && closes.contains(&to) {
                    // A kick or an address ban tells the connection why, even an anonymous one.
                    received.insert(to);
                    continue;
                }
                let still_held = self.held_before.contains(&to) && self.hub.holds_lines_for(to);
                if still_held && call != Call::Clock && !closes.contains(&to) {
                    ensure!(
                        self,
                        kind != "message" && kind != "status",
                        "{to:?} got a line while its lines are held after login: {line}"
                    );
                }
                if call == Call::Clock {
                    // The periodic check tells a connection why it is being closed; the login
                    // hold's wake-ups release held lines.
                    ensure!(
                        self,
                        (closes.contains(&to) && kind == "error") || self.held_before.contains(&to),
                        "{to:?} got a frame from the clock: {line}"
                    );
                    received.insert(to);
                    continue;
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
        for session in ended_by_close {
            self.awaiting.remove(&session);
        }
        if let Call::Auth(session) | Call::Load(session) = call {
            if let Some(waits) = self.awaiting.remove(&session) {
                ensure!(
                    self,
                    received.contains(&session) || self.hub.holds_lines_for(session),
                    "{session:?} got nothing when its {waits:?} ended"
                );
            }
        }
        for (session, waits, username) in new_waits {
            ensure!(
                self,
                self.live.contains(&session),
                "{waits:?} asked for closed {session:?}"
            );
            self.awaiting.insert(session, waits);
            if let Some(username) = username {
                self.checks.push((session, waits, username));
            }
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
