//! Moderation (moderation.rs): muted names, slow channels, deleted lines removed live, and what
//! `Hub::handle` says became of a line (the protocol trace shows it).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use serde_json::json;

use super::*;

const MINUTE: u64 = 60_000_000;

fn admin(h: &mut Harness, command: AdminCommand) -> (AdminReply, Delivered) {
    let now = h.now;
    let reply = h.hub.admin(command, &now, &mut h.out);
    (reply, h.collect())
}

fn mute(h: &mut Harness, name: &str, micros: u64) -> (AdminReply, Delivered) {
    let until_micros = h.now.unix_micros + micros;
    admin(
        h,
        AdminCommand::Mute {
            name: name.into(),
            until_micros,
            reason: Some("bavardage".into()),
            notify: true,
        },
    )
}

fn content(line: &Value) -> String {
    line["content"].as_str().unwrap_or_default().into()
}

fn moderated(sent: &Delivered) -> Vec<Moderation> {
    sent.effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Log(Event::Moderated { rule, .. }) => Some(rule.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_muted_name_is_refused_with_a_notice_until_the_mute_ends() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let (reply, told) = mute(&mut h, "ALICE", 10 * MINUTE);
    assert_eq!(reply, AdminReply::Done { affected: 1 });
    let notice = content(&told.first_to(alice));
    assert!(
        notice.contains("retiré la parole pour 10 min") && notice.contains("Raison : bavardage"),
        "{notice}"
    );
    assert!(told.to(bob).is_empty());

    let refused = h.send_json(alice, json!({"type":"message","content":"coucou"}));
    let text = content(&refused.first_to(alice));
    assert!(
        text == "Message non envoyé : l'administrateur vous a retiré la parole (encore 10 min).",
        "{text}"
    );
    assert!(refused.to(bob).is_empty(), "not relayed");
    assert_eq!(moderated(&refused), [Moderation::Muted]);
    let private = h.send_json(alice, json!({"type":"private","to":"bob","content":"psst"}));
    assert!(private.to(bob).is_empty(), "private lines are refused too");

    // A muted student still receives everything and may still ask.
    let relayed = h.send_json(bob, json!({"type":"message","content":"salut"}));
    assert_eq!(relayed.chat_to(alice).len(), 1);
    let users = h.send_json(alice, json!({"type":"users"}));
    assert_eq!(users.first_to(alice)["type"], "users");
    let joined = h.send_json(alice, json!({"type":"message","content":"/join #tp"}));
    assert!(content(&joined.first_to(alice)).contains("Vous avez rejoint #tp"));

    h.now.unix_micros += 10 * MINUTE;
    let again = h.send_json(alice, json!({"type":"message","content":"je peux ?"}));
    assert_eq!(again.chat_to(bob).len(), 1, "the mute is over");
}

#[test]
fn a_guest_name_can_be_muted_and_a_mute_outlives_its_sessions() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    // Muted before connecting, as the shell restores mutes at start-up (no notice).
    let until_micros = h.now.unix_micros + MINUTE;
    let (reply, _) = admin(
        &mut h,
        AdminCommand::Mute {
            name: "zoé".into(),
            until_micros,
            reason: None,
            notify: false,
        },
    );
    assert_eq!(reply, AdminReply::Done { affected: 0 });
    let zoe = h.guest("Zoé");
    let refused = h.send_json(zoe, json!({"type":"message","content":"hé"}));
    assert!(refused.chat_to(bob).is_empty());
    assert!(content(&refused.first_to(zoe)).contains("retiré la parole"));
}

#[test]
fn unmute_lets_the_name_write_again_with_a_notice() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    mute(&mut h, "alice", 10 * MINUTE);
    let (reply, told) = admin(
        &mut h,
        AdminCommand::Unmute {
            name: "Alice".into(),
            notify: true,
        },
    );
    assert_eq!(reply, AdminReply::Done { affected: 1 });
    assert_eq!(
        content(&told.first_to(alice)),
        "Vous pouvez de nouveau envoyer des messages."
    );
    let sent = h.send_json(alice, json!({"type":"message","content":"merci"}));
    assert_eq!(sent.chat_to(bob).len(), 1);
    let (again, _) = admin(
        &mut h,
        AdminCommand::Unmute {
            name: "alice".into(),
            notify: true,
        },
    );
    assert!(matches!(again, AdminReply::Refused(text) if text.contains("alice")));
}

#[test]
fn slow_mode_refuses_a_second_line_within_the_pace() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let (reply, told) = admin(
        &mut h,
        AdminCommand::Slow {
            channel: "général".into(),
            seconds: 30,
        },
    );
    assert_eq!(reply, AdminReply::Done { affected: 2 });
    assert_eq!(
        content(&told.first_to(bob)),
        "Mode lent dans #général : un message toutes les 30 s par personne."
    );
    assert!(told
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Store(StoreRequest::SlowMode { secs: 30, .. }))));

    let first = h.send_json(alice, json!({"type":"message","content":"un"}));
    assert_eq!(first.chat_to(bob).len(), 1);
    let second = h.send_json(alice, json!({"type":"message","content":"deux"}));
    assert!(second.chat_to(bob).is_empty(), "too soon: not relayed");
    let text = content(&second.first_to(alice));
    assert!(
        text.starts_with("Message non envoyé : mode lent dans #général, un message toutes les 30 s par personne. Réessayez dans "),
        "{text}"
    );
    assert_eq!(
        moderated(&second),
        [Moderation::SlowMode {
            channel: "#général".into()
        }]
    );
    // Per person: bob may write; another channel is not slowed.
    assert_eq!(
        h.send_json(bob, json!({"type":"message","content":"moi"}))
            .chat_to(alice)
            .len(),
        1
    );
    h.send_json(bob, json!({"type":"join_channel","channel":"#tp"}));
    let elsewhere = h.send_json(
        alice,
        json!({"type":"message","channel":"#tp","content":"ailleurs"}),
    );
    assert_eq!(elsewhere.chat_to(bob).len(), 1);

    h.now.unix_micros += 30_000_000;
    let later = h.send_json(alice, json!({"type":"message","content":"trois"}));
    assert_eq!(later.chat_to(bob).len(), 1, "the pace is over");

    let (lifted, told) = admin(
        &mut h,
        AdminCommand::Slow {
            channel: "#général".into(),
            seconds: 0,
        },
    );
    assert_eq!(lifted, AdminReply::Done { affected: 2 });
    assert_eq!(
        content(&told.first_to(alice)),
        "Fin du mode lent dans #général."
    );
    let free = h.send_json(alice, json!({"type":"message","content":"quatre"}));
    assert_eq!(free.chat_to(bob).len(), 1);
}

#[test]
fn slow_mode_requests_out_of_bounds_are_refused() {
    let mut h = Harness::new();
    for (channel, seconds, expected) in [
        ("#tp", 0, "n'est pas actif dans #tp"),
        ("#tp", MAX_SLOW_SECS + 1, "au plus"),
        ("un salon", 10, "invalide"),
    ] {
        let (reply, _) = admin(
            &mut h,
            AdminCommand::Slow {
                channel: channel.into(),
                seconds,
            },
        );
        assert!(
            matches!(&reply, AdminReply::Refused(text) if text.contains(expected)),
            "{channel} {seconds}: {reply:?}"
        );
    }
}

#[test]
fn a_slow_channel_is_kept_when_empty_and_restored_after_a_restart() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    h.send_json(alice, json!({"type":"join_channel","channel":"#tp"}));
    admin(
        &mut h,
        AdminCommand::Slow {
            channel: "tp".into(),
            seconds: 20,
        },
    );
    h.send_json(alice, json!({"type":"leave_channel","channel":"#tp"}));
    let (AdminReply::Channels(list), _) = admin(&mut h, AdminCommand::Channels) else {
        panic!("channels")
    };
    assert!(
        list.iter().any(|c| c.name == "#tp" && c.slow_secs == 20),
        "{list:?}"
    );

    let restored = Restored {
        slow_channels: vec![("#TP".into(), 20)],
        ..Restored::with_accounts(["alice", "bob"])
    };
    let mut h = Harness::restored(unheld(), restored);
    let alice = h.user("alice");
    let bob = h.user("bob");
    h.send_json(bob, json!({"type":"join_channel","channel":"#tp"}));
    let first = h.send_json(
        alice,
        json!({"type":"message","channel":"#tp","content":"a"}),
    );
    assert_eq!(first.chat_to(bob).len(), 1);
    let second = h.send_json(
        alice,
        json!({"type":"message","channel":"#tp","content":"b"}),
    );
    assert!(
        second.chat_to(bob).is_empty(),
        "slow mode survived the restart"
    );
}

#[test]
fn a_deleted_line_goes_only_to_sessions_that_announced_it() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let browser = h.user("bob");
    let plain = h.user("carol");
    let hello = h.send_json(browser, json!({"type":"hello","features":["deleted"]}));
    assert_eq!(hello.first_to(browser)["features"], json!(["deleted"]));
    let sent = h.send_json(alice, json!({"type":"message","content":"oups"}));
    let id = sent.chat_to(browser)[0]["id"].as_u64().unwrap();
    let destination = h.store.kept.last().unwrap().destination.clone();
    let (reply, told) = admin(
        &mut h,
        AdminCommand::MessageDeleted {
            id,
            from_key: "alice".into(),
            destination,
            deferred: false,
        },
    );
    assert_eq!(reply, AdminReply::Done { affected: 1 });
    assert_eq!(told.to(browser), [json!({"type":"deleted","id":id})]);
    assert!(
        told.to(plain).is_empty(),
        "no extension line without the feature"
    );
    assert!(told.to(alice).is_empty());

    // A private line: both ends, when they asked for it.
    h.send_json(alice, json!({"type":"hello","features":["deleted"]}));
    let private = h.send_json(alice, json!({"type":"private","to":"bob","content":"psst"}));
    let id = private.chat_to(browser)[0]["id"].as_u64().unwrap();
    let destination = h.store.kept.last().unwrap().destination.clone();
    let (_, told) = admin(
        &mut h,
        AdminCommand::MessageDeleted {
            id,
            from_key: "alice".into(),
            destination,
            deferred: false,
        },
    );
    assert_eq!(told.to(browser).len(), 1);
    assert_eq!(told.to(alice).len(), 1);
    assert!(told.to(plain).is_empty());
}

#[test]
fn handle_says_what_became_of_each_line() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let now = h.now;
    let line = |text: &str| match parse_request(&decode_line(text.as_bytes())) {
        Ok(request) => Inbound::Request(request),
        Err(error) => Inbound::Invalid(error),
    };
    assert_eq!(
        h.hub
            .handle(alice, line(r#"{"type":"ping"}"#), &now, &mut h.out),
        Handled::Processed
    );
    assert_eq!(
        h.hub.handle(alice, line("{nope"), &now, &mut h.out),
        Handled::Processed,
        "an invalid line is processed: its error is in the output"
    );
    let checking = h.connect();
    h.hub.handle(
        checking,
        line(r#"{"type":"login","username":"bob","password":"pw"}"#),
        &now,
        &mut h.out,
    );
    assert_eq!(
        h.hub
            .handle(checking, line(r#"{"type":"users"}"#), &now, &mut h.out),
        Handled::Waiting
    );
    h.collect();
    // Over the line rate (same instant): dropped.
    let burst = LineRate::default().burst as usize;
    let handled: Vec<Handled> = (0..burst + 2)
        .map(|_| {
            h.hub
                .handle(alice, line(r#"{"type":"ping"}"#), &now, &mut h.out)
        })
        .collect();
    assert_eq!(handled.last(), Some(&Handled::Dropped));
    h.collect();
}
