//! `register`, `login` and the reply-first rule (auth.rs).

use alloc::{format, vec};
use serde_json::json;

use super::*;

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
        json!({"type":"register","username":"zoe","password":"secret"}),
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
fn register_replies_ok_and_does_not_log_in() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let session = h.connect();
    h.send_json(
        session,
        json!({"type":"register","username":"zoe","password":"secret"}),
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
        json!({"type":"register","username":"alice","password":"secret"}),
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
            json!({"type":"register","username":format!("new-{name}"),"password":"secret"}),
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

/// The same rule as the operator's `user add`: a password shorter than
/// `HubConfig::min_password_chars` (6 by default, in characters) is refused in clear French,
/// before any hashing, and the refusal is logged with its reason.
#[test]
fn register_refuses_a_password_shorter_than_the_minimum() {
    let mut h = Harness::new();
    let session = h.connect();
    let sent = h.send_json(
        session,
        json!({"type":"register","username":"zoe","password":"pw123"}),
    );
    assert!(
        !sent
            .effects
            .iter()
            .any(|effect| matches!(effect, Effect::Register { .. })),
        "no hashing for a refused password"
    );
    assert_eq!(
        sent.first_to(session)["message"],
        "Mot de passe trop court : 6 caractères au moins."
    );
    assert!(sent.effects.iter().any(|effect| matches!(
        effect,
        Effect::Log(Event::RegisterRefused {
            reason: "password-too-short",
            ..
        })
    )));
    // Six characters, accents counted as one each, are enough.
    let sent = h.send_json(
        session,
        json!({"type":"register","username":"zoe","password":"élève1"}),
    );
    assert!(matches!(sent.effects.as_slice(), [Effect::Register { .. }]));
}
