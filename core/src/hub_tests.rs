//! One test per PROTOCOL.md rule, named after the rule, run on the hub without sockets.
//! Every frame any test produces is checked against §1/§7: one ASCII JSON object, `\n`-terminated.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};
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

// ---- §2 Session states -------------------------------------------------------------------------

#[test]
fn anonymous_connection_receives_nothing_unsolicited() {
    let mut h = Harness::new();
    let anonymous = h.connect();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(alice, json!({"type":"message","content":"hi"}));
    assert!(sent.to(anonymous).is_empty());
    assert_eq!(sent.chat_to(bob).len(), 1);
    let sent = h.send_json(alice, json!({"type":"status","state":"away"}));
    assert!(sent.to(anonymous).is_empty());
    assert!(h.disconnect(bob).to(anonymous).is_empty());
}

#[test]
fn login_reply_is_the_next_line_even_while_others_chat() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let carol = h.user("carol");
    // Re-login of an identified session: broadcasts during the check are held back.
    h.send_json(
        carol,
        json!({"type":"login","username":"carol","password":"pw"}),
    );
    let during = h.send_json(alice, json!({"type":"message","content":"pendant"}));
    assert!(
        during.to(carol).is_empty(),
        "held while the password is checked"
    );
    let after = h.auth(
        carol,
        AuthOutcome::LoggedIn {
            name: "carol".into(),
        },
    );
    let lines = after.to(carol);
    assert_eq!(lines[0]["type"], "login");
    assert_eq!(lines[0]["status"], "ok");
    assert!(
        lines.iter().any(|line| line["content"] == "pendant"),
        "held line delivered after the reply"
    );
}

#[test]
fn register_reply_is_the_next_line_even_while_others_chat() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let guest = h.guest("zoe");
    let sent = h.send_json(
        guest,
        json!({"type":"register","username":"zoe","password":"x"}),
    );
    assert!(matches!(sent.effects.as_slice(), [Effect::Register { .. }]));
    assert!(h
        .send_json(alice, json!({"type":"message","content":"hey"}))
        .to(guest)
        .is_empty());
    let after = h.auth(guest, AuthOutcome::Registered { name: "zoe".into() });
    assert_eq!(
        after.first_to(guest),
        json!({"type":"register","status":"ok"})
    );
    assert_eq!(after.chat_to(guest).len(), 1);
}

#[test]
fn requests_sent_right_after_login_wait_for_its_reply() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let alice = h.connect();
    h.send_json(
        alice,
        json!({"type":"login","username":"alice","password":"pw"}),
    );
    let queued = h.send_json(
        alice,
        json!({"type":"message","from":"mallory","content":"after login"}),
    );
    assert!(queued.lines.is_empty() && queued.effects.is_empty());
    let after = h.auth(
        alice,
        AuthOutcome::LoggedIn {
            name: "alice".into(),
        },
    );
    let relayed = after.chat_to(bob);
    assert_eq!(relayed.len(), 1);
    assert_eq!(
        relayed[0]["from"], "alice",
        "processed as the logged-in user"
    );
}

#[test]
fn a_flood_while_the_password_is_checked_is_bounded() {
    let mut h = Harness::new();
    let session = h.connect();
    h.send_json(
        session,
        json!({"type":"login","username":"alice","password":"pw"}),
    );
    for _ in 0..MAX_LINES_WHILE_CHECKING + 10 {
        assert!(h
            .send_json(session, json!({"type":"ping"}))
            .lines
            .is_empty());
    }
    let after = h.auth(
        session,
        AuthOutcome::LoggedIn {
            name: "alice".into(),
        },
    );
    let lines = after.to(session);
    assert_eq!(lines[0]["type"], "login", "the reply still comes first");
    let pongs = lines.iter().filter(|line| line["type"] == "pong").count();
    assert_eq!(pongs, MAX_LINES_WHILE_CHECKING);
    assert!(lines.iter().any(
        |line| line["type"] == "error" && line["message"].as_str().unwrap().starts_with("10 ")
    ));
}

#[test]
fn guest_is_named_by_message_from() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let guest = h.connect();
    let sent = h.send_json(
        guest,
        json!({"type":"message","from":"Zoé","content":"salut"}),
    );
    assert_eq!(sent.chat_to(bob)[0]["from"], "Zoé");
}

#[test]
fn guest_is_named_by_status_user() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let guest = h.connect();
    let sent = h.send_json(
        guest,
        json!({"type":"status","user":"Léo","state":"online"}),
    );
    assert_eq!(
        sent.statuses_to(bob),
        vec![json!({"type":"status","user":"Léo","state":"online"})]
    );
}

#[test]
fn guest_without_a_name_is_invite() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let guest = h.connect();
    let sent = h.send_json(guest, json!({"type":"message","content":"coucou"}));
    assert_eq!(sent.chat_to(bob)[0]["from"], "invité");
    let guest2 = h.connect();
    let listing = h.send_json(guest2, json!({"type":"users"}));
    let users = listing
        .to(guest2)
        .into_iter()
        .find(|line| line["type"] == "users")
        .unwrap();
    assert!(users["users"]
        .as_array()
        .unwrap()
        .contains(&json!("invité")));
}

#[test]
fn guest_name_is_fixed_for_the_connection() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let guest = h.guest("zoe");
    let sent = h.send_json(
        guest,
        json!({"type":"message","from":"other","content":"x"}),
    );
    assert_eq!(sent.chat_to(bob)[0]["from"], "zoe");
}

#[test]
fn guest_is_announced_online_before_its_first_message() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let guest = h.connect();
    let sent = h.send_json(
        guest,
        json!({"type":"message","from":"zoe","content":"hello"}),
    );
    let lines = sent.to(bob);
    assert_eq!(
        lines[0],
        json!({"type":"status","user":"zoe","state":"online"})
    );
    assert_eq!(lines[1]["content"], "hello");
}

#[test]
fn empty_content_hello_names_and_announces_but_is_not_relayed() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let guest = h.connect();
    let sent = h.send_json(guest, json!({"type":"message","from":"zoe","content":""}));
    assert_eq!(sent.statuses_to(bob).len(), 1);
    assert!(sent.chat_to(bob).is_empty());
}

#[test]
fn logged_in_user_from_never_overrides_the_account_name() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(
        alice,
        json!({"type":"message","from":"admin","content":"x"}),
    );
    assert_eq!(sent.chat_to(bob)[0]["from"], "alice");
    let sent = h.send_json(
        alice,
        json!({"type":"status","user":"admin","state":"away"}),
    );
    assert_eq!(sent.statuses_to(bob)[0]["user"], "alice");
}

#[test]
fn private_messages_go_to_every_session_of_a_name() {
    let mut h = Harness::new();
    let alice1 = h.user("alice");
    let alice2 = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(bob, json!({"type":"private","to":"alice","content":"psst"}));
    assert_eq!(sent.chat_to(alice1).len(), 1);
    assert_eq!(sent.chat_to(alice2).len(), 1);
    assert!(sent.to(bob).is_empty());
}

#[test]
fn two_guests_may_share_a_name() {
    let mut h = Harness::new();
    let g1 = h.guest("zoe");
    let g2 = h.guest("zoe");
    let bob = h.user("bob");
    let sent = h.send_json(bob, json!({"type":"private","to":"zoe","content":"x"}));
    assert_eq!(sent.chat_to(g1).len() + sent.chat_to(g2).len(), 2);
}

#[test]
fn offline_is_sent_only_when_the_last_session_of_a_name_closes() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let alice1 = h.user("alice");
    let alice2 = h.user("alice");
    assert!(h.disconnect(alice1).statuses_to(bob).is_empty());
    let last = h.disconnect(alice2);
    assert_eq!(
        last.statuses_to(bob),
        vec![json!({"type":"status","user":"alice","state":"offline"})]
    );
}

#[test]
fn second_session_of_a_name_is_not_announced_again() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    h.user("alice");
    let alice2 = h.connect();
    h.send_json(
        alice2,
        json!({"type":"login","username":"alice","password":"pw"}),
    );
    let after = h.auth(
        alice2,
        AuthOutcome::LoggedIn {
            name: "alice".into(),
        },
    );
    assert!(after.statuses_to(bob).is_empty());
}

#[test]
fn reserved_names_cannot_be_registered() {
    let mut h = Harness::new();
    for name in [
        "Serveur", "server", "admin", "ADMIN", "global", "Global", "invité", "SERVEUR",
    ] {
        let session = h.connect();
        let sent = h.send_json(
            session,
            json!({"type":"register","username":name,"password":"pw"}),
        );
        assert!(
            sent.effects
                .iter()
                .all(|effect| !matches!(effect, Effect::Register { .. })),
            "{name}"
        );
        assert_eq!(sent.first_to(session)["message"], USERNAME_TAKEN, "{name}");
    }
}

#[test]
fn guest_cannot_take_a_registered_account_name() {
    let mut h = Harness::with_accounts(&["alice"]);
    let bob = h.user("bob");
    let impostor = h.connect();
    let sent = h.send_json(
        impostor,
        json!({"type":"message","from":"Alice","content":"c'est moi"}),
    );
    assert_eq!(sent.chat_to(bob)[0]["from"], "Alice (invité)");
    let private = h.send_json(
        bob,
        json!({"type":"private","to":"alice","content":"secret"}),
    );
    assert!(
        private.chat_to(impostor).is_empty(),
        "the owner's private messages stay private"
    );
}

#[test]
fn private_request_is_relayed_as_a_message_line() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(alice, json!({"type":"private","to":"bob","content":"x"}));
    assert_eq!(sent.chat_to(bob)[0]["type"], "message");
    assert_eq!(sent.chat_to(bob)[0]["subtype"], "private");
}

#[test]
fn reserved_guest_name_becomes_invite() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let guest = h.connect();
    let sent = h.send_json(
        guest,
        json!({"type":"message","from":"Serveur","content":"fake notice"}),
    );
    let relayed = sent.chat_to(bob);
    assert_eq!(relayed.len(), 1, "relayed, and not as Serveur");
    assert_eq!(relayed[0]["from"], "invité");
    assert!(relayed[0].get("system").is_none());
}

// ---- §3 Messages the server accepts ------------------------------------------------------------

#[test]
fn register_replies_ok_and_does_not_log_in() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let session = h.connect();
    h.send_json(
        session,
        json!({"type":"register","username":"zoe","password":"pw"}),
    );
    let after = h.auth(session, AuthOutcome::Registered { name: "zoe".into() });
    assert_eq!(
        after.to(session),
        vec![json!({"type":"register","status":"ok"})]
    );
    assert!(
        after.statuses_to(bob).is_empty(),
        "registering does not announce anyone"
    );
    let sent = h.send_json(session, json!({"type":"message","content":"hi"}));
    assert_eq!(
        sent.chat_to(bob)[0]["from"],
        "invité",
        "still not logged in"
    );
}

#[test]
fn duplicate_username_error_says_already_exists() {
    let mut h = Harness::new();
    let session = h.connect();
    h.send_json(
        session,
        json!({"type":"register","username":"alice","password":"pw"}),
    );
    let after = h.auth(session, AuthOutcome::RegisterTaken);
    let error = after.first_to(session);
    assert_eq!(
        error,
        json!({"type":"error","message":"Username already exists.","error":"Username already exists."})
    );
}

#[test]
fn bad_credentials_error_is_login_failed() {
    let mut h = Harness::new();
    let session = h.connect();
    h.send_json(
        session,
        json!({"type":"login","username":"alice","password":"bad"}),
    );
    let after = h.auth(session, AuthOutcome::LoginFailed);
    assert_eq!(
        after.first_to(session),
        json!({"type":"error","message":"Login failed.","error":"Login failed."})
    );
    assert!(after.effects.iter().any(
        |e| matches!(e, Effect::Log(Event::LoginFailed { username, .. }) if username == "alice")
    ));
}

#[test]
fn login_with_an_impossible_name_fails_without_a_check() {
    let mut h = Harness::new();
    let session = h.connect();
    let sent = h.send_json(
        session,
        json!({"type":"login","username":"","password":"x"}),
    );
    assert_eq!(sent.first_to(session)["message"], LOGIN_FAILED);
    assert!(!sent
        .effects
        .iter()
        .any(|e| matches!(e, Effect::VerifyLogin { .. })));
}

#[test]
fn login_ok_has_type_status_and_username_then_online_to_others() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let alice = h.connect();
    let after = h.login(alice, "alice");
    assert_eq!(
        after.first_to(alice),
        json!({"type":"login","status":"ok","username":"alice"})
    );
    assert_eq!(
        after.statuses_to(bob),
        vec![json!({"type":"status","user":"alice","state":"online"})]
    );
    assert!(after.statuses_to(alice).is_empty());
}

#[test]
fn relogin_on_the_same_socket_is_allowed() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let session = h.user("alice");
    let after = h.login(session, "carol");
    assert_eq!(after.first_to(session)["username"], "carol");
    let statuses = after.statuses_to(bob);
    assert!(statuses.contains(&json!({"type":"status","user":"alice","state":"offline"})));
    assert!(statuses.contains(&json!({"type":"status","user":"carol","state":"online"})));
}

#[test]
fn a_guest_who_logs_in_takes_the_account_name() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let guest = h.guest("zoé");
    let after = h.login(guest, "alice");
    assert_eq!(after.first_to(guest)["type"], "login", "the reply first");
    let statuses = after.statuses_to(bob);
    assert!(statuses.contains(&json!({"type":"status","user":"zoé","state":"offline"})));
    assert!(statuses.contains(&json!({"type":"status","user":"alice","state":"online"})));
    let sent = h.send_json(
        guest,
        json!({"type":"message","from":"zoé","content":"moi"}),
    );
    assert_eq!(sent.chat_to(bob)[0]["from"], "alice");
}

#[test]
fn register_from_a_guest_or_a_user_keeps_their_identity() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let guest = h.guest("zoé");
    let alice = h.user("alice");
    for (session, name) in [(guest, "zoé"), (alice, "alice")] {
        let asked = h.send_json(
            session,
            json!({"type":"register","username":format!("new-{name}"),"password":"pw"}),
        );
        assert!(asked.lines.is_empty(), "nothing before the commit");
        let after = h.auth(
            session,
            AuthOutcome::Registered {
                name: format!("new-{name}"),
            },
        );
        assert_eq!(
            after.to(session),
            vec![json!({"type":"register","status":"ok"})]
        );
        assert!(after.to(bob).is_empty(), "registering announces nothing");
        let sent = h.send_json(session, json!({"type":"message","content":"encore moi"}));
        assert_eq!(sent.chat_to(bob)[0]["from"], name, "same name as before");
    }
}

#[test]
fn client_timestamp_is_overwritten() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(
        alice,
        json!({"type":"message","content":"x","timestamp":"1999"}),
    );
    assert_eq!(
        sent.chat_to(bob)[0]["timestamp"],
        "2026-11-25T09:05:07.000042"
    );
}

#[test]
fn status_is_broadcast_to_others_never_to_the_sender() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(alice, json!({"type":"status","state":"away"}));
    assert_eq!(
        sent.statuses_to(bob),
        vec![json!({"type":"status","user":"alice","state":"away"})]
    );
    assert!(sent.to(alice).is_empty());
}

#[test]
fn status_values_are_normalised() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    for (sent_state, relayed) in [
        ("do not disturb", "dnd"),
        ("offline", "invisible"),
        ("absent", "away"),
        ("en ligne", "online"),
    ] {
        let sent = h.send_json(alice, json!({"type":"status","state":sent_state}));
        assert_eq!(sent.statuses_to(bob)[0]["state"], relayed, "{sent_state}");
    }
}

#[test]
fn unknown_status_is_an_error_and_not_relayed() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(alice, json!({"type":"status","state":"sleeping"}));
    assert!(sent.to(bob).is_empty());
    assert_eq!(sent.first_to(alice)["type"], "error");
}

#[test]
fn users_reply_is_deduplicated_strings_with_requester_and_without_invisible_others() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    h.user("alice");
    let bob = h.user("bob");
    h.send_json(bob, json!({"type":"status","state":"invisible"}));
    let reply = h.send_json(alice, json!({"type":"users"})).first_to(alice);
    assert_eq!(reply, json!({"type":"users","users":["alice"]}));
    let own = h.send_json(bob, json!({"type":"users"})).first_to(bob);
    assert_eq!(
        own,
        json!({"type":"users","users":["alice","bob"]}),
        "the requester sees itself"
    );
}

#[test]
fn users_aliases_and_reply_types() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    assert_eq!(
        h.send_json(alice, json!({"type":"userlist"}))
            .first_to(alice)["type"],
        "users"
    );
    assert_eq!(
        h.send_json(alice, json!({"type":"list_users"}))
            .first_to(alice)["type"],
        "list_users"
    );
}

/// Regression (issue 6): two client families send `users` as soon as their window opens, then
/// chat with `from: "Invité3660"`. Naming them `invité` at the `users` request made every such
/// guest `[invité]`, all sharing one name.
#[test]
fn guests_who_ask_for_the_user_list_first_keep_their_own_name() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let first = h.connect();
    let second = h.connect();
    for guest in [first, second] {
        let listing = h.send_json(guest, json!({"type":"users"}));
        assert_eq!(
            listing.to(guest),
            vec![json!({"type":"users","users":["bob"]})],
            "only the reply, no welcome"
        );
        assert!(listing.to(bob).is_empty(), "no online announcement");
        assert!(!named_anyone(&listing), "nobody named");
    }
    for round in 0..2 {
        let sent = h.send_json(
            first,
            json!({"type":"message","subtype":"global","from":"Invité3660","content":format!("salut {round}")}),
        );
        assert_eq!(sent.chat_to(bob)[0]["from"], "Invité3660");
        assert!(
            sent.to(second).is_empty(),
            "an anonymous connection gets no broadcast"
        );
        if round == 0 {
            assert_eq!(
                sent.statuses_to(bob),
                vec![json!({"type":"status","user":"Invité3660","state":"online"})],
                "announced before the first message"
            );
            let welcome = sent.to(first);
            assert_eq!(welcome.len(), 1);
            assert!(welcome[0]["content"]
                .as_str()
                .unwrap()
                .contains("Invité3660"));
        }
    }
    let named = h.send_json(
        second,
        json!({"type":"message","from":"Invité812","content":"coucou"}),
    );
    assert_eq!(named.chat_to(first)[0]["from"], "Invité812");
    let listing = h.send_json(bob, json!({"type":"users"})).first_to(bob);
    assert_eq!(
        listing,
        json!({"type":"users","users":["bob","Invité3660","Invité812"]})
    );
    let private = h.send_json(
        bob,
        json!({"type":"private","to":"Invité3660","content":"à toi seul"}),
    );
    assert_eq!(private.chat_to(first).len(), 1);
    assert!(private.chat_to(second).is_empty(), "one guest, one name");
}

fn named_anyone(delivered: &Delivered) -> bool {
    delivered.effects.iter().any(|effect| {
        matches!(
            effect,
            Effect::Log(Event::GuestNamed { .. } | Event::LoggedIn { .. })
        )
    })
}

/// Every request an anonymous connection can send that must not identify it (the table in
/// docs/ARCHITECTURE.md): the reply (if any) and nothing else, then a later message still names
/// the guest as it asks.
#[test]
fn queries_from_an_anonymous_connection_name_nobody() {
    let cases: [(Value, &[&str]); 12] = [
        (json!({"type":"users"}), &["users"]),
        (json!({"type":"userlist"}), &["users"]),
        (json!({"type":"list_users"}), &["list_users"]),
        (json!({"type":"who"}), &["who"]),
        (json!({"type":"who","channel":"#java"}), &["error"]),
        (json!({"type":"channels"}), &["channels"]),
        (json!({"type":"history"}), &["history"]),
        (json!({"type":"history","with":"bob"}), &["history"]),
        (json!({"type":"ping"}), &["pong"]),
        (json!({"type":"status","state":"away"}), &[]),
        (json!({"type":"bogus"}), &["error"]),
        (
            json!({"type":"join_channel","channel":"#java"}),
            &["join_channel"],
        ),
    ];
    for (request, replies) in cases {
        let mut h = Harness::new();
        let bob = h.user("bob");
        let anonymous = h.connect();
        let sent = h.send_json(anonymous, request.clone());
        let types: Vec<Value> = sent
            .to(anonymous)
            .iter()
            .map(|l| l["type"].clone())
            .collect();
        let expected: Vec<Value> = replies.iter().map(|t| json!(t)).collect();
        assert_eq!(types, expected, "replies to {request}");
        assert!(sent.to(bob).is_empty(), "{request} announced something");
        assert!(!named_anyone(&sent), "{request} named the connection");
        let named = h.send_json(
            anonymous,
            json!({"type":"message","from":"Zoé","content":"bonjour"}),
        );
        assert_eq!(named.statuses_to(bob)[0]["user"], "Zoé", "after {request}");
        assert_eq!(named.chat_to(bob)[0]["from"], "Zoé", "after {request}");
    }
}

#[test]
fn leaving_a_channel_while_anonymous_names_nobody() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    h.send_json(bob, json!({"type":"join_channel","channel":"#java"}));
    let anonymous = h.connect();
    h.send_json(anonymous, json!({"type":"join_channel","channel":"#java"}));
    let left = h.send_json(anonymous, json!({"type":"leave_channel","channel":"#java"}));
    assert_eq!(
        left.to(anonymous),
        vec![json!({"type":"leave_channel","channel":"#java","status":"ok"})]
    );
    assert!(left.to(bob).is_empty(), "no departure notice for nobody");
    assert!(!named_anyone(&left));
}

#[test]
fn status_without_user_from_an_anonymous_connection_is_silent_and_keeps_online() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let anonymous = h.connect();
    let sent = h.send_json(anonymous, json!({"type":"status","state":"dnd"}));
    assert!(sent.lines.is_empty(), "no reply, no relay");
    let named = h.send_json(
        anonymous,
        json!({"type":"message","from":"Léa","content":""}),
    );
    assert_eq!(
        named.statuses_to(bob),
        vec![json!({"type":"status","user":"Léa","state":"online"})]
    );
    let listing = h.send_json(bob, json!({"type":"users"})).first_to(bob);
    assert_eq!(listing["users"], json!(["bob", "Léa"]));
}

#[test]
fn ping_gets_pong() {
    let mut h = Harness::new();
    let anonymous = h.connect();
    assert_eq!(
        h.send_json(anonymous, json!({"type":"ping"})).to(anonymous),
        vec![json!({"type":"pong"})]
    );
}

#[test]
fn bad_input_gets_an_error_with_message_and_error_and_a_log_reason() {
    let mut h = Harness::new();
    let session = h.connect();
    for (line, reason) in [
        ("{oops", "bad-json"),
        ("[]", "not-an-object"),
        (r#"{"content":"x"}"#, "missing-type"),
        (r#"{"type":"dance"}"#, "unknown-type"),
        (r#"{"type":"message"}"#, "missing-field"),
        (r#"{"type":"message","content":["x"]}"#, "wrong-field-type"),
    ] {
        let sent = h.send(session, line);
        let error = sent.first_to(session);
        assert_eq!(error["type"], "error", "{line}");
        assert!(
            error["message"].is_string() && error["message"] == error["error"],
            "{line}"
        );
        assert!(
            sent.effects.iter().any(
                |e| matches!(e, Effect::Log(Event::Rejected { reason: r, .. }) if *r == reason)
            ),
            "{line}"
        );
        assert!(sent.closes().is_empty(), "bad input never closes: {line}");
    }
}

#[test]
fn line_cap_overflow_sends_an_error_then_closes() {
    let mut h = Harness::new();
    let session = h.connect();
    h.hub.handle(
        session,
        Inbound::LineTooLong { limit: 65536 },
        &h.now,
        &mut h.out,
    );
    let sent = h.collect();
    assert_eq!(sent.first_to(session)["type"], "error");
    assert_eq!(sent.closes(), vec![(session, CloseReason::LineTooLong)]);
}

// ---- §4 What the server sends ------------------------------------------------------------------

#[test]
fn relayed_message_has_from_subtype_timestamp_id_and_keeps_extra_keys() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(
        alice,
        json!({"type":"message","content":"é🎉","color":"blue"}),
    );
    let line = &sent.chat_to(bob)[0];
    assert_eq!(line["from"], "alice");
    assert_eq!(line["content"], "é🎉");
    assert_eq!(line["subtype"], "global");
    assert_eq!(line["color"], "blue");
    assert_eq!(line["channel"], "#général");
    assert_eq!(line["timestamp"].as_str().unwrap().len(), 26);
    let first = line["id"].as_u64().unwrap();
    let next = h.send_json(alice, json!({"type":"message","content":"2"}));
    assert!(
        next.chat_to(bob)[0]["id"].as_u64().unwrap() > first,
        "ids increase"
    );
}

#[test]
fn global_message_is_never_echoed_to_its_sender() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(alice, json!({"type":"message","content":"x"}));
    assert!(sent.to(alice).is_empty());
    assert_eq!(sent.chat_to(bob).len(), 1);
}

#[test]
fn private_message_goes_only_to_the_recipient_with_to_set() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let carol = h.user("carol");
    let sent = h.send_json(
        alice,
        json!({"type":"message","subtype":"private","to":"bob","content":"x"}),
    );
    assert_eq!(sent.chat_to(bob)[0]["to"], "bob");
    assert_eq!(sent.chat_to(bob)[0]["subtype"], "private");
    assert!(sent.to(alice).is_empty() && sent.to(carol).is_empty());
}

#[test]
fn private_message_to_oneself_reaches_the_sender() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let sent = h.send_json(
        alice,
        json!({"type":"private","to":"alice","content":"note"}),
    );
    assert_eq!(sent.chat_to(alice)[0]["to"], "alice");
}

#[test]
fn private_message_to_an_unknown_user_gets_a_notice_not_an_error() {
    let mut h = Harness::with_accounts(&["dave"]);
    let alice = h.user("alice");
    for to in ["nobody", "dave"] {
        let sent = h.send_json(alice, json!({"type":"private","to":to,"content":"x"}));
        let notice = sent.first_to(alice);
        assert_eq!(notice["type"], "message");
        assert_eq!(notice["from"], "Serveur");
        assert_eq!(notice["subtype"], "private");
        assert_eq!(notice["to"], "alice");
        assert_eq!(notice["system"], true);
    }
}

#[test]
fn server_notices_are_ordinary_message_lines_from_serveur() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    h.hub.announce("Rangez vos affaires", &h.now, &mut h.out);
    let sent = h.collect();
    let notice = sent.first_to(alice);
    assert_eq!(notice["type"], "message");
    assert_eq!(notice["subtype"], "global");
    assert_eq!(notice["from"], "Serveur");
    assert_eq!(notice["content"], "Rangez vos affaires");
    assert_eq!(notice["system"], true);
}

#[test]
fn welcome_notice_follows_the_login_reply() {
    let mut h = Harness::new();
    let alice = h.connect();
    let lines = h.login(alice, "alice").to(alice);
    assert_eq!(lines[0]["type"], "login");
    assert_eq!(lines[1]["from"], "Serveur");
    assert_eq!(lines[1]["to"], "alice");
}

#[test]
fn shutdown_sends_a_notice_then_shutdown_then_closes_everyone() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let anonymous = h.connect();
    h.hub.shutdown("Le serveur s'arrête.", &h.now, &mut h.out);
    let sent = h.collect();
    let lines = sent.to(alice);
    assert_eq!(lines[0]["from"], "Serveur");
    assert_eq!(lines[1]["type"], "shutdown");
    assert!(sent.to(anonymous).is_empty());
    let closes = sent.closes();
    assert!(
        closes.contains(&(alice, CloseReason::Shutdown))
            && closes.contains(&(anonymous, CloseReason::Shutdown))
    );
}

#[test]
fn history_is_only_sent_in_reply() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let reply = h
        .send_json(alice, json!({"type":"history"}))
        .first_to(alice);
    assert_eq!(
        reply,
        json!({"type":"history","channel":"#général","messages":[]})
    );
}

// ---- §5 Channels -------------------------------------------------------------------------------

#[test]
fn default_channel_aliases_are_one_channel() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    for alias in ["general", "#general", "général", "#général"] {
        let sent = h.send_json(
            alice,
            json!({"type":"message","channel":alias,"content":"x"}),
        );
        assert_eq!(sent.chat_to(bob)[0]["channel"], "#général", "{alias}");
    }
    let channels = h
        .send_json(alice, json!({"type":"channels"}))
        .first_to(alice);
    assert_eq!(channels["channels"].as_array().unwrap().len(), 1);
}

#[test]
fn message_in_a_channel_reaches_only_its_members_and_joins_the_sender() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let carol = h.user("carol");
    h.send_json(bob, json!({"type":"join_channel","channel":"java"}));
    let sent = h.send_json(
        alice,
        json!({"type":"message","channel":"#Java","content":"x"}),
    );
    assert_eq!(sent.chat_to(bob)[0]["channel"], "#java");
    assert!(sent.chat_to(carol).is_empty());
    let who = h
        .send_json(carol, json!({"type":"who","channel":"#java"}))
        .first_to(carol);
    assert_eq!(
        who,
        json!({"type":"who","channel":"#java","users":["alice","bob"]})
    );
}

#[test]
fn join_and_leave_channel_replies() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let joined = h.send_json(alice, json!({"type":"join_channel","channel":"#Maths"}));
    assert_eq!(
        joined.first_to(alice),
        json!({"type":"join_channel","channel":"#Maths","status":"ok"})
    );
    h.send_json(bob, json!({"type":"join_channel","channel":"maths"}));
    let left = h.send_json(alice, json!({"type":"leave_channel","channel":"#maths"}));
    assert_eq!(
        left.first_to(alice),
        json!({"type":"leave_channel","channel":"#Maths","status":"ok"})
    );
    assert!(
        left.to(bob)[0]["content"]
            .as_str()
            .unwrap()
            .contains("a quitté"),
        "departure notice"
    );
    let sent = h.send_json(
        bob,
        json!({"type":"message","channel":"maths","content":"x"}),
    );
    assert!(sent.chat_to(alice).is_empty());
}

#[test]
fn slash_join_and_leave_typed_as_content_change_membership_and_are_not_relayed() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(alice, json!({"type":"message","content":"/join #sio"}));
    assert!(sent.chat_to(bob).is_empty());
    assert!(sent.first_to(alice)["content"]
        .as_str()
        .unwrap()
        .contains("#sio"));
    h.send_json(bob, json!({"type":"message","content":"/join sio"}));
    assert_eq!(
        h.send_json(bob, json!({"type":"message","channel":"sio","content":"x"}))
            .chat_to(alice)
            .len(),
        1
    );
    h.send_json(alice, json!({"type":"message","content":"/leave #sio"}));
    assert!(h
        .send_json(bob, json!({"type":"message","channel":"sio","content":"y"}))
        .chat_to(alice)
        .is_empty());
}

#[test]
fn the_default_channel_cannot_be_left() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(alice, json!({"type":"leave_channel","channel":"general"}));
    assert_eq!(sent.first_to(alice)["type"], "error");
    assert_eq!(
        h.send_json(bob, json!({"type":"message","content":"x"}))
            .chat_to(alice)
            .len(),
        1
    );
}

#[test]
fn presence_and_private_messages_are_server_wide() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    h.send_json(alice, json!({"type":"join_channel","channel":"java"}));
    let sent = h.send_json(alice, json!({"type":"status","state":"away"}));
    assert_eq!(sent.statuses_to(bob).len(), 1);
    let sent = h.send_json(alice, json!({"type":"private","to":"bob","content":"x"}));
    assert_eq!(sent.chat_to(bob).len(), 1);
}

#[test]
fn closed_channel_refuses_messages_with_a_notice() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    h.send_json(bob, json!({"type":"join_channel","channel":"java"}));
    let java = ChannelName::parse("java").unwrap();
    assert!(h.hub.set_channel_closed(&java, true, &h.now, &mut h.out));
    h.collect();
    let sent = h.send_json(
        alice,
        json!({"type":"message","channel":"java","content":"x"}),
    );
    assert!(sent.chat_to(bob).is_empty());
    let notice = sent.first_to(alice);
    assert_eq!(
        (notice["type"].clone(), notice["from"].clone()),
        (json!("message"), json!("Serveur"))
    );
    let channels = h
        .send_json(alice, json!({"type":"channels"}))
        .first_to(alice);
    assert!(channels["channels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["closed"] == true));
    h.hub.set_channel_closed(&java, false, &h.now, &mut h.out);
    h.collect();
    assert_eq!(
        h.send_json(
            alice,
            json!({"type":"message","channel":"java","content":"x"})
        )
        .chat_to(bob)
        .len(),
        1
    );
}

#[test]
fn a_connection_joins_at_most_32_channels() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    for index in 1..MAX_CHANNELS_PER_SESSION {
        let sent = h.send_json(
            alice,
            json!({"type":"join_channel","channel":format!("c{index}")}),
        );
        assert_eq!(sent.first_to(alice)["status"], "ok", "channel {index}");
    }
    let refused = h.send_json(
        alice,
        json!({"type":"join_channel","channel":"one-too-many"}),
    );
    assert_eq!(refused.first_to(alice)["type"], "error");
    let by_message = h.send_json(
        alice,
        json!({"type":"message","channel":"other","content":"x"}),
    );
    assert_eq!(
        by_message.first_to(alice)["from"],
        "Serveur",
        "a notice, not a relay"
    );
    let again = h.send_json(alice, json!({"type":"join_channel","channel":"c1"}));
    assert_eq!(
        again.first_to(alice)["status"],
        "ok",
        "joining a channel it is in still works"
    );
}

#[test]
fn the_server_holds_at_most_1000_channels() {
    let mut h = Harness::new();
    let mut refused = false;
    for index in 0..(MAX_CHANNELS / (MAX_CHANNELS_PER_SESSION - 1) + 2) {
        let session = h.user(&format!("u{index}"));
        for channel in 0..MAX_CHANNELS_PER_SESSION - 1 {
            let name = format!("s{index}c{channel}");
            let sent = h.send_json(session, json!({"type":"join_channel","channel":name}));
            refused |= sent.first_to(session)["type"] == "error";
        }
    }
    assert!(refused, "channel creation stops at the cap");
    let listing = h
        .send_json(SessionId(1), json!({"type":"channels"}))
        .first_to(SessionId(1));
    assert_eq!(listing["channels"].as_array().unwrap().len(), MAX_CHANNELS);
}

#[test]
fn channels_reply_counts_visible_names() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    h.user("alice");
    h.user("bob");
    let reply = h
        .send_json(alice, json!({"type":"channels"}))
        .first_to(alice);
    assert_eq!(
        reply,
        json!({"type":"channels","channels":[{"name":"#général","members":2}]})
    );
}

// ---- §6 Acceptance checklist items that are pure routing ---------------------------------------

#[test]
fn guest_with_and_without_from_can_send_and_receive_global_and_private() {
    let mut h = Harness::new();
    let named = h.guest("zoe");
    let unnamed = h.connect();
    h.send_json(unnamed, json!({"type":"message","content":""}));
    let sent = h.send_json(named, json!({"type":"message","content":"g1"}));
    assert_eq!(sent.chat_to(unnamed)[0]["from"], "zoe");
    let sent = h.send_json(unnamed, json!({"type":"message","content":"g2"}));
    assert_eq!(sent.chat_to(named)[0]["from"], "invité");
    let sent = h.send_json(
        named,
        json!({"type":"private","to":"invité","content":"p1"}),
    );
    assert_eq!(sent.chat_to(unnamed)[0]["to"], "invité");
    let sent = h.send_json(
        unnamed,
        json!({"type":"message","subtype":"private","to":"zoe","content":"p2"}),
    );
    assert_eq!(sent.chat_to(named)[0]["content"], "p2");
}

#[test]
fn windows_1252_line_is_decoded_and_relayed_escaped() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let mut bytes = b"{\"type\":\"message\",\"content\":\"caf".to_vec();
    bytes.extend_from_slice(&[0xE9, 0x20, 0x80]);
    bytes.extend_from_slice(b"\"}");
    let request = parse_request(&decode_line(&bytes)).unwrap();
    h.hub
        .handle(alice, Inbound::Request(request), &h.now, &mut h.out);
    let sent = h.collect();
    assert_eq!(sent.chat_to(bob)[0]["content"], "café €");
}

#[test]
fn disconnect_while_a_check_is_pending_drops_the_late_result() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let session = h.connect();
    h.send_json(
        session,
        json!({"type":"login","username":"alice","password":"pw"}),
    );
    h.disconnect(session);
    let late = h.auth(
        session,
        AuthOutcome::LoggedIn {
            name: "alice".into(),
        },
    );
    assert!(late.lines.is_empty(), "{:?}", late.to(bob));
}

#[test]
fn many_sessions_fan_out_once_encoded() {
    let mut h = Harness::new();
    let sender = h.user("sender");
    let receivers: Vec<SessionId> = (0..50).map(|i| h.user(&format!("u{i}"))).collect();
    h.send_json(sender, json!({"type":"message","content":"x"}));
    let frames: Vec<usize> = h.out.deliveries().map(|(_, to)| to.len()).collect();
    assert!(frames.is_empty(), "collected already");
    let sent_line = json!({"type":"message","content":"y"}).to_string();
    let request = parse_request(&sent_line).unwrap();
    h.hub
        .handle(sender, Inbound::Request(request), &h.now, &mut h.out);
    let deliveries: Vec<usize> = h.out.deliveries().map(|(_, to)| to.len()).collect();
    assert_eq!(
        deliveries,
        vec![receivers.len()],
        "one frame for all recipients"
    );
    h.out.clear();
}

// ---- Robustness -------------------------------------------------------------------------------

/// A small deterministic generator (no randomness inside the core; the test brings its own).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
}

#[test]
fn random_traffic_never_panics_and_every_frame_is_a_valid_line() {
    let names = [
        "alice", "bob", "Zoé", "admin", "", "invité", "a\"b", "🎉", "x y",
    ];
    let channels = [
        "général",
        "#java",
        "JAVA",
        "#",
        "a b",
        "#sio",
        "x".repeat(60).leak(),
    ];
    let states = [
        "online",
        "away",
        "busy",
        "offline",
        "sleeping",
        "ne pas déranger",
    ];
    let mut h = Harness::with_accounts(&["alice"]);
    let mut rng = Lcg(7);
    let mut live: Vec<SessionId> = Vec::new();
    let mut pending: Vec<(SessionId, bool)> = Vec::new();
    for _ in 0..20_000 {
        match rng.next() % 20 {
            0 | 1 => live.push(h.connect()),
            2 if !live.is_empty() => {
                let index = (rng.next() as usize) % live.len();
                h.disconnect(live.swap_remove(index));
            }
            3 if !pending.is_empty() => {
                let (session, is_login) =
                    pending.swap_remove((rng.next() as usize) % pending.len());
                let outcome = match (is_login, rng.next() % 3) {
                    (true, 0) => AuthOutcome::LoginFailed,
                    (true, _) => AuthOutcome::LoggedIn {
                        name: rng.pick(&names).to_string(),
                    },
                    (false, 0) => AuthOutcome::RegisterTaken,
                    (false, 1) => AuthOutcome::Unavailable,
                    (false, _) => AuthOutcome::Registered {
                        name: rng.pick(&names).to_string(),
                    },
                };
                h.auth(session, outcome);
            }
            _ if !live.is_empty() => {
                let session = live[(rng.next() as usize) % live.len()];
                let line = match rng.next() % 12 {
                    0 => json!({"type":"message","content":rng.pick(&["hi","","/join #sio","/leave sio","/join"]),"from":rng.pick(&names)}).to_string(),
                    1 => json!({"type":"private","to":rng.pick(&names),"content":"p"}).to_string(),
                    2 => json!({"type":"message","channel":rng.pick(&channels),"content":"c"}).to_string(),
                    3 => json!({"type":"status","state":rng.pick(&states),"user":rng.pick(&names)}).to_string(),
                    4 => json!({"type":rng.pick(&["users","userlist","list_users","channels","ping","history","who"])}).to_string(),
                    5 => json!({"type":rng.pick(&["join_channel","leave_channel","who"]),"channel":rng.pick(&channels)}).to_string(),
                    6 => json!({"type":"login","username":rng.pick(&names),"password":"pw"}).to_string(),
                    7 => json!({"type":"register","username":rng.pick(&names),"password":rng.pick(&["pw",""])}).to_string(),
                    8 => rng.pick(&["{", "[]", "null", "{\"type\":5}", "{\"type\":\"message\",\"content\":[1]}", "\u{0}"]).to_string(),
                    9 => json!({"type":"message","subtype":rng.pick(&["global","private","weird"]),"to":rng.pick(&names),"content":"s"}).to_string(),
                    10 => json!({"type":"history","limit":rng.next() % 1000,"channel":rng.pick(&channels)}).to_string(),
                    _ => json!({"type":"message","content":"x","extra":{"nested":[1,"é",null]}}).to_string(),
                };
                // `send` checks every produced frame (ASCII JSON object, one line).
                let sent = h.send(session, &line);
                for effect in &sent.effects {
                    match effect {
                        Effect::VerifyLogin { session, .. } => pending.push((*session, true)),
                        Effect::Register { session, .. } => pending.push((*session, false)),
                        _ => {}
                    }
                }
            }
            _ => live.push(h.connect()),
        }
    }
    // Everyone leaves: the hub ends empty, with only the default channel.
    for session in live {
        h.disconnect(session);
    }
    assert_eq!(h.hub.session_count(), 0);
    h.hub.shutdown("fin", &h.now, &mut h.out);
    assert!(h.collect().lines.is_empty());
}
