//! Server notices and shutdown (notices.rs).

use super::*;

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
fn shutdown_sends_the_typed_line_only_to_who_asked_then_the_notice_last_then_closes_everyone() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let browser = h.user("bob");
    h.send_json(browser, json!({"type":"hello","features":["shutdown"]}));
    let anonymous = h.connect();
    h.hub.shutdown(&h.now, &mut h.out);
    let sent = h.collect();
    let lines = sent.to(alice);
    assert_eq!(
        lines.len(),
        1,
        "a plain client gets the notice alone: {lines:?}"
    );
    assert_eq!(lines[0]["from"], "Serveur");
    let lines = sent.to(browser);
    assert_eq!(lines[0]["type"], "shutdown");
    assert_eq!(lines[1]["from"], "Serveur", "the notice is the last line");
    assert!(sent.to(anonymous).is_empty());
    let closes = sent.closes();
    assert!(
        closes.contains(&(alice, CloseReason::Shutdown))
            && closes.contains(&(browser, CloseReason::Shutdown))
            && closes.contains(&(anonymous, CloseReason::Shutdown))
    );
}
