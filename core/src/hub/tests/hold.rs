//! The hold after a login reply (hold.rs) and the extensions a client announces (hello.rs):
//! issue 14, real student clients that miss what follows the login reply.

use alloc::string::ToString;
use alloc::vec::Vec;
use serde_json::{json, Value};

use super::*;

/// A hub with the default hold, where `bob` has two private messages waiting from alice.
fn with_two_deferred() -> (Harness, SessionId) {
    let mut h = Harness::with_accounts(&["bob"]);
    h.hub = Hub::new(HubConfig::default(), Restored::with_accounts(["bob"]));
    let alice = h.user("alice");
    h.send_json(alice, json!({"type":"private","to":"bob","content":"un"}));
    h.send_json(alice, json!({"type":"private","to":"bob","content":"deux"}));
    // alice listens: whatever her own login held has gone out before the test looks.
    h.send_json(alice, json!({"type":"users"}));
    drain(&mut h, alice);
    (h, alice)
}

/// Lets time pass until the session's hold is empty; returns what it received meanwhile.
fn drain(h: &mut Harness, session: SessionId) -> Vec<Value> {
    let mut lines = Vec::new();
    for _ in 0..100 {
        if !h.hub.holds_lines_for(session) {
            break;
        }
        lines.extend(h.wake_after(100_000).to(session));
    }
    assert!(!h.hub.holds_lines_for(session), "the hold ends");
    lines
}

fn contents(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|line| line["content"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn lines_after_the_login_reply_wait_until_the_client_asks_and_its_reply_comes_first() {
    let (mut h, alice) = with_two_deferred();
    let bob = h.connect();
    let logged = h.login(bob, "bob");
    let lines = logged.to(bob);
    assert_eq!(lines.len(), 1, "the reply alone: {lines:?}");
    assert_eq!(lines[0]["type"], "login");
    assert!(h.hub.holds_lines_for(bob));
    // A classmate speaks during the hold: it waits too, and is not lost.
    let relayed = h.send_json(alice, json!({"type":"message","content":"salut bob"}));
    assert!(relayed.to(bob).is_empty());
    // The chat window opens and asks for the user list: answered at once, alone.
    let users = h.send_json(bob, json!({"type":"users"}));
    assert_eq!(users.to(bob).len(), 1);
    assert_eq!(users.to(bob)[0]["type"], "users");
    // Then the held lines, one at a time: deferred oldest first, the welcome, the relayed line.
    let mut released = Vec::new();
    let mut steps = 0;
    while h.hub.holds_lines_for(bob) && steps < 20 {
        let step = h.wake_after(300_000).to(bob);
        assert!(step.len() <= 1, "one line per step: {step:?}");
        released.extend(step);
        steps += 1;
    }
    let texts = contents(&released);
    assert_eq!(texts[0], "un");
    assert_eq!(texts[1], "deux");
    assert!(released[0]["deferred"] == true && released[1]["deferred"] == true);
    assert!(
        texts[2].starts_with("Bienvenue"),
        "then the welcome: {texts:?}"
    );
    assert_eq!(texts[3], "salut bob", "then what was relayed meanwhile");
    assert_eq!(released.len(), 4);
    // Afterwards delivery is direct again.
    let direct = h.send_json(alice, json!({"type":"message","content":"encore"}));
    assert_eq!(contents(&direct.to(bob)), ["encore"]);
}

#[test]
fn without_a_request_the_held_lines_go_after_the_settle_delay() {
    let (mut h, _alice) = with_two_deferred();
    let bob = h.connect();
    h.login(bob, "bob");
    let settle = u64::from(LoginHold::default().settle_ms) * 1000;
    let early = h.wake_after(settle - 200_000);
    assert!(early.to(bob).is_empty(), "nothing before the settle delay");
    let mut released = h.wake_after(200_000).to(bob);
    assert_eq!(released.len(), 1, "the first line when the delay ends");
    released.extend(drain(&mut h, bob));
    assert_eq!(contents(&released)[..2], ["un", "deux"]);
    assert!(contents(&released)[2].starts_with("Bienvenue"));
}

#[test]
fn deferred_lines_count_as_delivered_only_once_released() {
    let (mut h, _alice) = with_two_deferred();
    let bob = h.connect();
    let logged = h.login(bob, "bob");
    let delivered = |effects: &[Effect]| {
        effects
            .iter()
            .filter(|e| matches!(e, Effect::Store(StoreRequest::Delivered { .. })))
            .count()
    };
    assert_eq!(delivered(&logged.effects), 0, "held, not delivered");
    // bob's client dies during the hold: the lines stay stored for its next login.
    h.disconnect(bob);
    let again = h.connect();
    h.login(again, "bob");
    h.send_json(again, json!({"type":"users"}));
    let released = drain(&mut h, again);
    assert_eq!(contents(&released)[..2], ["un", "deux"]);
    assert_eq!(h.store.deferred.len(), 0, "forgotten once released");
}

#[test]
fn guests_are_not_held() {
    let mut h = Harness::new();
    h.hub = Hub::new(HubConfig::default(), Restored::default());
    let alice = h.connect();
    let named = h.send_json(alice, json!({"type":"message","from":"alice","content":""}));
    assert!(contents(&named.to(alice))[0].starts_with("Bienvenue"));
    assert!(!h.hub.holds_lines_for(alice));
}

#[test]
fn a_client_that_announces_no_hold_gets_its_lines_at_once() {
    let (mut h, _alice) = with_two_deferred();
    let bob = h.connect();
    let hello = h.send_json(bob, json!({"type":"hello","features":["no-hold"]}));
    assert_eq!(hello.first_to(bob)["features"], json!(["no-hold"]));
    let lines = h.login(bob, "bob").to(bob);
    assert_eq!(lines[0]["type"], "login");
    assert_eq!(contents(&lines[1..3]), ["un", "deux"]);
    assert!(!h.hub.holds_lines_for(bob));
}

#[test]
fn a_kick_during_the_hold_sends_the_held_lines_then_the_notice_last() {
    let (mut h, _alice) = with_two_deferred();
    let bob = h.connect();
    h.login(bob, "bob");
    h.hub.admin(
        AdminCommand::Kick {
            name: "bob".into(),
            reason: None,
        },
        &h.now,
        &mut h.out,
    );
    let lines = h.collect().to(bob);
    assert_eq!(contents(&lines)[..2], ["un", "deux"]);
    let last = lines.last().unwrap();
    assert!(last["content"].as_str().unwrap().contains("déconnecté"));
    assert!(lines.iter().all(|line| line["type"] != "kick"));
}

#[test]
fn held_lines_past_the_byte_bound_go_out_at_once() {
    let mut h = Harness::new();
    h.hub = Hub::new(
        HubConfig {
            hold_bytes_limit: 2_000,
            ..HubConfig::default()
        },
        Restored::default(),
    );
    let alice = h.user("alice");
    h.send_json(alice, json!({"type":"users"}));
    drain(&mut h, alice);
    let bob = h.connect();
    h.login(bob, "bob");
    let mut received = Vec::new();
    for n in 0..20 {
        let text = alloc::format!("{n} {}", "x".repeat(200));
        received.extend(
            h.send_json(alice, json!({"type":"message","content":text}))
                .to(bob),
        );
    }
    assert!(!h.hub.holds_lines_for(bob), "the bound ended the hold");
    assert_eq!(
        received.len(),
        20 + 1,
        "every line, with the welcome, in order"
    );
    assert!(contents(&received)[0].starts_with("Bienvenue"));
    assert!(contents(&received)[20].starts_with("19 "));
}

#[test]
fn a_long_hold_is_flushed_once_release_within_has_passed() {
    let mut h = Harness::new();
    h.hub = Hub::new(HubConfig::default(), Restored::default());
    let alice = h.user("alice");
    h.send_json(alice, json!({"type":"users"}));
    drain(&mut h, alice);
    let bob = h.connect();
    h.login(bob, "bob");
    for n in 0..30 {
        h.send_json(
            alice,
            json!({"type":"message","content":alloc::format!("m{n}")}),
        );
    }
    h.send_json(bob, json!({"type":"users"}));
    let timing = LoginHold::default();
    let mut released = Vec::new();
    let mut waited = 0;
    while h.hub.holds_lines_for(bob) {
        released.extend(h.wake_after(u64::from(timing.spacing_ms) * 1000).to(bob));
        waited += timing.spacing_ms;
        assert!(waited <= timing.release_within_ms + timing.spacing_ms);
    }
    assert_eq!(released.len(), 31, "nothing lost");
    assert_eq!(released.last().unwrap()["content"], "m29");
}

#[test]
fn hello_lists_the_extensions_it_knows_and_ignores_the_others() {
    let mut h = Harness::new();
    let client = h.connect();
    let reply = h.send_json(
        client,
        json!({"type":"hello","features":["shutdown","emoji","kick"]}),
    );
    let line = reply.first_to(client);
    assert_eq!(line["type"], "hello");
    assert_eq!(line["features"], json!(["kick", "shutdown"]));
    let wrong = h.send_json(client, json!({"type":"hello","features":"kick"}));
    assert_eq!(wrong.first_to(client)["type"], "error");
    let bare = h.send_json(client, json!({"type":"hello"}));
    assert_eq!(bare.first_to(client)["features"], json!([]));
    assert!(h.hub.census().anonymous == 1, "hello names nobody");
}

#[test]
fn no_hold_announced_after_the_login_ends_the_hold_at_once() {
    let (mut h, _alice) = with_two_deferred();
    let bob = h.connect();
    h.login(bob, "bob");
    let lines = h
        .send_json(bob, json!({"type":"hello","features":["no-hold"]}))
        .to(bob);
    assert_eq!(lines[0]["type"], "hello", "the reply first");
    assert_eq!(contents(&lines[1..3]), ["un", "deux"]);
    assert!(contents(&lines)[3].starts_with("Bienvenue"));
    assert!(!h.hub.holds_lines_for(bob));
}
