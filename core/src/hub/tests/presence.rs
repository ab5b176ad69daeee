//! `status` (presence.rs).

use alloc::vec;
use serde_json::json;

use super::*;

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
