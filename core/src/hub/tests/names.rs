//! Anonymous, guest or account: guest naming, name groups, online/offline (names.rs).
//! docs/PROTOCOL.md §2.

use alloc::vec::Vec;
use alloc::{format, vec};
use serde_json::{json, Value};

use super::*;

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
        (json!({"type":"history","with":"bob"}), &["error"]),
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
fn a_guest_whose_name_hid_characters_is_told_what_it_became() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let guest = h.connect();
    let sent = h.send_json(
        guest,
        json!({"type":"message","from":"\u{202e}gnp.exe","content":"salut"}),
    );
    let name = sent.statuses_to(bob)[0]["user"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(name.starts_with('\u{fffd}'), "{name}");
    let notices: Vec<Value> = sent
        .to(guest)
        .into_iter()
        .filter(|line| line["from"] == "Serveur")
        .collect();
    assert_eq!(notices.len(), 2, "the welcome, then what the name became");
    assert!(notices[1]["content"]
        .as_str()
        .unwrap()
        .contains("remplacés"));
    let plain = h.connect();
    let named = h.send_json(plain, json!({"type":"message","from":"zoé","content":""}));
    assert_eq!(
        named.to(plain).len(),
        1,
        "a plain name gets the welcome only"
    );
}
