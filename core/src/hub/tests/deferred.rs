//! Deferred private messages (private.rs): a line to an account with no open session is stored
//! and delivered right after that account's next login reply, marked, in order; bounded per
//! recipient and per sender. docs/PROTOCOL.md §4.2.

use alloc::string::ToString;
use alloc::vec::Vec;
use alloc::{format, vec};
use serde_json::{json, Value};

use super::*;

fn notice_to(delivered: &Delivered, session: SessionId) -> String {
    delivered
        .to(session)
        .iter()
        .find(|line| line["from"] == "Serveur")
        .map(|line| line["content"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn a_private_line_to_an_absent_account_is_delivered_after_its_next_login_reply() {
    let mut h = Harness::with_accounts(&["bob"]);
    let alice = h.user("alice");
    let sent = h.send_json(
        alice,
        json!({"type":"private","to":"bob","content":"tu es là ?"}),
    );
    assert!(notice_to(&sent, alice).contains("remis à sa prochaine connexion"));
    h.send_json(
        alice,
        json!({"type":"private","to":"Bob","content":"deuxième"}),
    );
    let watcher = h.user("carol");

    let bob = h.connect();
    let logged = h.login(bob, "bob");
    let lines = logged.to(bob);
    assert_eq!(lines[0]["type"], "login", "the reply first");
    assert_eq!(lines[1]["content"], "tu es là ?");
    assert_eq!(lines[2]["content"], "deuxième");
    for line in &lines[1..3] {
        assert_eq!(line["deferred"], true);
        assert_eq!(line["subtype"], "private");
        assert_eq!(
            (line["from"].as_str(), line["to"].as_str()),
            (Some("alice"), Some("bob"))
        );
        assert_eq!(line["timestamp"], "2026-11-25T09:05:07.000042");
    }
    assert!(lines[1]["id"].as_u64() < lines[2]["id"].as_u64());
    assert_eq!(lines[3]["from"], "Serveur", "then the welcome");
    assert!(logged
        .effects
        .iter()
        .any(|effect| matches!(effect, Effect::Store(StoreRequest::Delivered { account, .. }) if account == "bob")));
    assert!(logged
        .to(watcher)
        .iter()
        .all(|line| line["deferred"].is_null()));

    h.disconnect(bob);
    let again = h.connect();
    let second = h.login(again, "bob");
    assert!(
        second
            .to(again)
            .iter()
            .all(|line| line["deferred"].is_null()),
        "delivered once"
    );
}

#[test]
fn broadcasts_during_the_deferred_load_come_after_the_deferred_lines() {
    let mut h = Harness::with_accounts(&["bob"]);
    let alice = h.user("alice");
    h.send_json(
        alice,
        json!({"type":"private","to":"bob","content":"avant"}),
    );
    h.auto_store = false;
    let bob = h.connect();
    let logged = h.login(bob, "bob");
    let load = logged
        .effects
        .iter()
        .find_map(|effect| match effect {
            Effect::Store(request @ StoreRequest::LoadDeferred { .. }) => Some(request.clone()),
            _ => None,
        })
        .expect("a deferred load");
    assert_eq!(logged.to(bob).len(), 1, "only the login reply so far");
    h.send_json(alice, json!({"type":"message","content":"en direct"}));
    let lines = h.answer(&load).to(bob);
    let contents: Vec<Value> = lines.iter().map(|line| line["content"].clone()).collect();
    assert_eq!(contents[0], "avant");
    assert!(contents.iter().position(|c| c == "en direct") > Some(0));
}

#[test]
fn deferred_lines_are_bounded_per_recipient_and_per_sender() {
    let config = HubConfig {
        deferred_per_recipient: 3,
        deferred_per_sender: 4,
        ..unheld()
    };
    let mut h = Harness::restored(config, Restored::with_accounts(["bob", "dan"]));
    let alice = h.user("alice");
    for n in 0..3 {
        h.send_json(
            alice,
            json!({"type":"private","to":"bob","content":format!("{n}")}),
        );
    }
    let refused = h.send_json(alice, json!({"type":"private","to":"bob","content":"trop"}));
    assert!(notice_to(&refused, alice).contains("déjà 3 messages en attente"));
    assert!(!refused
        .effects
        .iter()
        .any(|effect| matches!(effect, Effect::Store(StoreRequest::Defer(_)))));
    h.send_json(alice, json!({"type":"private","to":"dan","content":"d1"}));
    let per_sender = h.send_json(alice, json!({"type":"private","to":"dan","content":"d2"}));
    assert!(notice_to(&per_sender, alice).contains("Vous avez déjà 4 messages"));

    let bob = h.connect();
    h.login(bob, "bob");
    let room = h.send_json(alice, json!({"type":"private","to":"dan","content":"d2"}));
    assert!(
        notice_to(&room, alice).contains("prochaine connexion"),
        "bob's delivery freed room"
    );
}

#[test]
fn the_bounds_count_lines_deferred_before_a_restart() {
    let config = HubConfig {
        deferred_per_recipient: 2,
        ..unheld()
    };
    let restored = Restored {
        deferred: vec![
            ("bob".into(), "alice".into()),
            ("bob".into(), "carol".into()),
        ],
        ..Restored::with_accounts(["bob"])
    };
    let mut h = Harness::restored(config, restored);
    let alice = h.user("alice");
    let refused = h.send_json(alice, json!({"type":"private","to":"bob","content":"x"}));
    assert!(notice_to(&refused, alice).contains("déjà 2 messages"));
}

#[test]
fn a_private_line_to_an_unknown_name_is_not_kept() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let sent = h.send_json(
        alice,
        json!({"type":"private","to":"fantôme","content":"?"}),
    );
    assert!(notice_to(&sent, alice).contains("inconnu"));
    assert!(!sent
        .effects
        .iter()
        .any(|effect| matches!(effect, Effect::Store(_))));
}

#[test]
fn a_failed_deferred_load_keeps_them_for_the_next_login() {
    let mut h = Harness::with_accounts(&["bob"]);
    let alice = h.user("alice");
    h.send_json(
        alice,
        json!({"type":"private","to":"bob","content":"garde-le"}),
    );
    h.auto_store = false;
    let bob = h.connect();
    h.login(bob, "bob");
    h.hub.deferred_loaded(bob, None, &h.now, &mut h.out);
    let after = h.collect();
    assert!(notice_to(&after, bob).contains("prochaine connexion"));
    assert!(!after
        .effects
        .iter()
        .any(|effect| matches!(effect, Effect::Store(StoreRequest::Delivered { .. }))));
    h.disconnect(bob);
    h.auto_store = true;
    let again = h.connect();
    let lines = h.login(again, "bob").to(again);
    assert_eq!(lines[1]["content"], "garde-le");
}
