//! `users`, `who`, `channels`, `ping` (queries.rs).

use alloc::vec;
use serde_json::json;

use super::*;

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
