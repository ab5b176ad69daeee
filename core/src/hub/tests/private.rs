//! Private messages (private.rs).

use serde_json::json;

use super::*;

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
fn private_request_is_relayed_as_a_message_line() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(alice, json!({"type":"private","to":"bob","content":"x"}));
    assert_eq!(sent.chat_to(bob)[0]["type"], "message");
    assert_eq!(sent.chat_to(bob)[0]["subtype"], "private");
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
