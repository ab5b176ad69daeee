//! `history` (history.rs): channel pages, private conversations between accounts only, paging
//! with `limit` and `before`, never pushed unasked. docs/PROTOCOL.md §3.9.

use alloc::string::ToString;
use alloc::vec::Vec;
use alloc::{format, vec};
use serde_json::{json, Value};

use super::*;

fn contents(reply: &Value) -> Vec<String> {
    reply["messages"]
        .as_array()
        .expect("messages array")
        .iter()
        .map(|item| item["content"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn history_is_only_sent_in_reply() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let said = h.send_json(alice, json!({"type":"message","content":"bonjour"}));
    assert!(
        said.to(bob).iter().all(|line| line["type"] != "history"),
        "nothing pushed"
    );
    let reply = h.send_json(bob, json!({"type":"history"})).first_to(bob);
    assert_eq!(reply["type"], "history");
    assert_eq!(reply["channel"], "#général");
    let item = &reply["messages"][0];
    assert_eq!(
        (
            item["from"].as_str(),
            item["content"].as_str(),
            item["subtype"].as_str()
        ),
        (Some("alice"), Some("bonjour"), Some("global"))
    );
    assert_eq!(item["channel"], "#général");
    assert_eq!(item["timestamp"], "2026-11-25T09:05:07.000042");
    assert!(item["id"].is_u64());
}

#[test]
fn history_pages_oldest_first_with_limit_and_before() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    for n in 1..=5 {
        h.send_json(alice, json!({"type":"message","content":format!("m{n}")}));
    }
    let last_two = h
        .send_json(alice, json!({"type":"history","limit":2}))
        .first_to(alice);
    assert_eq!(contents(&last_two), vec!["m4", "m5"]);
    let before = last_two["messages"][0]["id"].as_u64().unwrap();
    let earlier = h
        .send_json(alice, json!({"type":"history","limit":2,"before":before}))
        .first_to(alice);
    assert_eq!(contents(&earlier), vec!["m2", "m3"]);
}

#[test]
fn channel_history_holds_only_that_channel_and_includes_guests() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let zoe = h.guest("zoé");
    h.send_json(
        zoe,
        json!({"type":"message","channel":"#java","content":"j1"}),
    );
    h.send_json(alice, json!({"type":"message","content":"g1"}));
    let java = h
        .send_json(alice, json!({"type":"history","channel":"java"}))
        .first_to(alice);
    assert_eq!(java["channel"], "#java");
    assert_eq!(contents(&java), vec!["j1"]);
    assert_eq!(java["messages"][0]["from"], "zoé");
}

#[test]
fn private_history_is_the_conversation_between_two_accounts() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let carol = h.user("carol");
    h.send_json(alice, json!({"type":"private","to":"bob","content":"a->b"}));
    h.send_json(bob, json!({"type":"private","to":"alice","content":"b->a"}));
    h.send_json(carol, json!({"type":"private","to":"bob","content":"c->b"}));
    let reply = h
        .send_json(alice, json!({"type":"history","with":"BOB"}))
        .first_to(alice);
    assert_eq!(reply["with"], "bob");
    assert_eq!(contents(&reply), vec!["a->b", "b->a"]);
    assert_eq!(reply["messages"][0]["subtype"], "private");
    assert_eq!(reply["messages"][0]["to"], "bob");
    let carol_view = h
        .send_json(carol, json!({"type":"history","with":"alice"}))
        .first_to(carol);
    assert!(contents(&carol_view).is_empty(), "not carol's conversation");
}

#[test]
fn a_guest_asking_for_private_history_gets_an_error() {
    let mut h = Harness::new();
    h.user("bob");
    let zoe = h.guest("zoé");
    let reply = h
        .send_json(zoe, json!({"type":"history","with":"bob"}))
        .first_to(zoe);
    assert_eq!(reply["type"], "error");
    assert!(reply["message"]
        .as_str()
        .unwrap()
        .contains("réservé aux comptes"));
}

#[test]
fn private_history_with_an_unknown_account_is_an_error() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let reply = h
        .send_json(alice, json!({"type":"history","with":"personne"}))
        .first_to(alice);
    assert_eq!(reply["type"], "error");
    assert!(reply["message"].as_str().unwrap().contains("personne"));
}

#[test]
fn requests_after_history_wait_for_its_reply_but_broadcasts_do_not() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    h.auto_store = false;
    let asked = h.send_json(alice, json!({"type":"history"}));
    let load = asked
        .effects
        .iter()
        .find_map(|effect| match effect {
            Effect::Store(request @ StoreRequest::LoadHistory { .. }) => Some(request.clone()),
            _ => None,
        })
        .expect("a history load");
    assert!(asked.to(alice).is_empty());
    assert!(
        h.send_json(alice, json!({"type":"ping"})).lines.is_empty(),
        "the ping waits"
    );
    let chat = h.send_json(bob, json!({"type":"message","content":"pendant"}));
    assert_eq!(chat.chat_to(alice).len(), 1, "broadcasts are not held");
    let types: Vec<Value> = h
        .answer(&load)
        .to(alice)
        .iter()
        .map(|l| l["type"].clone())
        .collect();
    assert_eq!(types, vec![json!("history"), json!("pong")]);
}

#[test]
fn a_failed_history_load_is_a_french_error() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    h.auto_store = false;
    let asked = h.send_json(alice, json!({"type":"history","channel":"#java"}));
    let Some(Effect::Store(StoreRequest::LoadHistory { page, .. })) = asked.effects.last() else {
        panic!("a history load: {:?}", asked.effects);
    };
    h.hub
        .history_loaded(alice, page.clone(), None, &h.now, &mut h.out);
    let reply = h.collect().first_to(alice);
    assert_eq!(reply["type"], "error");
    assert!(reply["message"].as_str().unwrap().contains("indisponible"));
}

#[test]
fn with_history_off_nothing_is_kept_and_history_is_empty() {
    let config = HubConfig {
        keep_history: false,
        ..unheld()
    };
    let mut h = Harness::restored(config, Restored::with_accounts(["bob"]));
    let alice = h.user("alice");
    let said = h.send_json(alice, json!({"type":"message","content":"éphémère"}));
    assert!(!said
        .effects
        .iter()
        .any(|effect| matches!(effect, Effect::Store(StoreRequest::Keep(_)))));
    let reply = h
        .send_json(alice, json!({"type":"history"}))
        .first_to(alice);
    assert_eq!(reply["messages"], json!([]));
}
