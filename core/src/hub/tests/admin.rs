//! The operator's requests (admin.rs) and the notices they send (notices.rs).

use alloc::vec;
use alloc::vec::Vec;
use serde_json::json;

use super::*;

fn admin(h: &mut Harness, command: AdminCommand) -> (AdminReply, Delivered) {
    let now = h.now;
    let reply = h.hub.admin(command, &now, &mut h.out);
    (reply, h.collect())
}

#[test]
fn who_lists_every_connection_with_its_kind_and_messages() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let zoe = h.guest("zoé");
    let anonymous = h.connect();
    h.send_json(
        alice,
        json!({"type":"message","channel":"#java","content":"x"}),
    );
    h.send_json(alice, json!({"type":"message","content":"y"}));
    let (AdminReply::Sessions(sessions), _) = admin(&mut h, AdminCommand::Who) else {
        panic!("sessions");
    };
    let find = |id| sessions.iter().find(|s| s.session == id).unwrap();
    assert_eq!(find(alice).kind, SessionKind::Account);
    assert_eq!(find(alice).messages, 2);
    assert_eq!(find(alice).channels, ["#général", "#java"]);
    assert_eq!(find(zoe).name.as_deref(), Some("zoé"));
    assert_eq!(find(zoe).kind, SessionKind::Guest);
    assert_eq!(find(anonymous).kind, SessionKind::Anonymous);
    assert_eq!(find(anonymous).name, None);
}

#[test]
fn kick_closes_exactly_the_sessions_of_a_name_with_a_notice_and_a_kick_line() {
    let mut h = Harness::new();
    let first = h.user("alice");
    let second = h.user("alice");
    let bob = h.user("bob");
    // Only a client that announced the extension gets the typed line (issue 14).
    h.send_json(second, json!({"type":"hello","features":["kick"]}));
    let (reply, sent) = admin(
        &mut h,
        AdminCommand::Kick {
            name: "ALICE".into(),
            reason: Some("chahut".into()),
        },
    );
    assert_eq!(reply, AdminReply::Done { affected: 2 });
    for session in [first, second] {
        let lines = sent.to(session);
        let notice = lines.last().unwrap();
        assert_eq!(notice["from"], "Serveur", "the notice is the last line");
        assert!(notice["content"]
            .as_str()
            .unwrap()
            .contains("Raison : chahut"));
    }
    assert_eq!(sent.to(first).len(), 1, "no kick line without the feature");
    assert_eq!(sent.to(second)[0]["type"], "kick");
    assert_eq!(sent.to(second).len(), 2);
    let mut closed: Vec<SessionId> = sent.closes().iter().map(|(s, _)| *s).collect();
    closed.sort();
    assert_eq!(closed, [first, second]);
    assert!(sent.to(bob).is_empty());
    let (missing, _) = admin(
        &mut h,
        AdminCommand::Kick {
            name: "personne".into(),
            reason: None,
        },
    );
    assert!(matches!(missing, AdminReply::Refused(text) if text.contains("personne")));
}

#[test]
fn a_banned_name_cannot_log_in_or_be_taken_by_a_guest() {
    let mut h = Harness::new();
    admin(
        &mut h,
        AdminCommand::SetBannedNames {
            names: vec!["Mallory".into()],
        },
    );
    let session = h.connect();
    h.send_json(
        session,
        json!({"type":"login","username":"mallory","password":"pw"}),
    );
    let refused = h.auth(
        session,
        AuthOutcome::LoggedIn {
            name: "Mallory".into(),
        },
    );
    let lines = refused.to(session);
    assert_eq!(
        lines[0]["type"], "error",
        "the login reply slot holds the refusal"
    );
    assert!(lines[0]["message"].as_str().unwrap().contains("banni"));
    assert_eq!(refused.closes(), [(session, CloseReason::Kick)]);

    let watcher = h.user("bob");
    let guest = h.connect();
    let named = h.send_json(
        guest,
        json!({"type":"message","from":"mallory","content":"coucou"}),
    );
    assert!(named.first_to(guest)["message"]
        .as_str()
        .unwrap()
        .contains("banni"));
    assert!(
        named.to(watcher).is_empty(),
        "neither announced nor relayed"
    );
    assert_eq!(named.closes(), [(guest, CloseReason::Kick)]);
}

#[test]
fn alert_reaches_accounts_and_guests_and_say_one_name() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let zoe = h.guest("zoé");
    let anonymous = h.connect();
    let (reply, sent) = admin(
        &mut h,
        AdminCommand::Alert {
            text: "Fin du TP dans 5 minutes".into(),
        },
    );
    assert_eq!(reply, AdminReply::Done { affected: 2 });
    for session in [alice, zoe] {
        let line = sent.first_to(session);
        assert_eq!(
            (
                line["from"].as_str(),
                line["system"].as_bool(),
                line["subtype"].as_str()
            ),
            (Some("Serveur"), Some(true), Some("global"))
        );
    }
    assert!(sent.to(anonymous).is_empty());
    let (reply, said) = admin(
        &mut h,
        AdminCommand::Say {
            name: "zoé".into(),
            text: "Viens me voir".into(),
        },
    );
    assert_eq!(reply, AdminReply::Done { affected: 1 });
    assert_eq!(said.first_to(zoe)["to"], "zoé");
    assert!(said.to(alice).is_empty());
}

#[test]
fn channels_are_created_closed_reopened_and_deleted() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let channel = |action| AdminCommand::Channel {
        action,
        name: "#Projet".into(),
    };
    let (created, sent) = admin(&mut h, channel(ChannelAction::Create));
    assert_eq!(created, AdminReply::Done { affected: 0 });
    assert!(sent.effects.iter().any(|e| matches!(
        e,
        Effect::Store(StoreRequest::ChannelCreated { created: true, .. })
    )));
    let (AdminReply::Channels(list), _) = admin(&mut h, AdminCommand::Channels) else {
        panic!()
    };
    assert!(list
        .iter()
        .any(|c| c.name == "#Projet" && c.permanent && c.members == 0));

    h.send_json(alice, json!({"type":"join_channel","channel":"projet"}));
    let (closed, notice) = admin(&mut h, channel(ChannelAction::Close));
    assert_eq!(closed, AdminReply::Done { affected: 1 });
    assert!(notice.first_to(alice)["content"]
        .as_str()
        .unwrap()
        .contains("fermé"));
    let refused = h.send_json(
        alice,
        json!({"type":"message","channel":"projet","content":"x"}),
    );
    assert!(refused.first_to(alice)["content"]
        .as_str()
        .unwrap()
        .contains("fermé"));
    assert!(matches!(
        admin(&mut h, channel(ChannelAction::Close)).0,
        AdminReply::Refused(_)
    ));
    assert_eq!(
        admin(&mut h, channel(ChannelAction::Open)).0,
        AdminReply::Done { affected: 1 }
    );

    let (deleted, gone) = admin(&mut h, channel(ChannelAction::Delete));
    assert_eq!(deleted, AdminReply::Done { affected: 1 });
    assert!(gone.first_to(alice)["content"]
        .as_str()
        .unwrap()
        .contains("supprimé"));
    assert!(gone.effects.iter().any(|e| matches!(
        e,
        Effect::Store(StoreRequest::Membership { joined: false, .. })
    )));
    let who = h.send_json(alice, json!({"type":"who","channel":"projet"}));
    assert_eq!(who.first_to(alice)["type"], "error", "the channel is gone");
    let default = AdminCommand::Channel {
        action: ChannelAction::Delete,
        name: "général".into(),
    };
    assert!(matches!(admin(&mut h, default).0, AdminReply::Refused(_)));
}

#[test]
fn channel_moves_follow_the_notices_setting() {
    for (moves, guest_announced, account_announced) in [
        (ChannelMoves::All, true, true),
        (ChannelMoves::AccountsOnly, false, true),
        (ChannelMoves::Off, false, false),
    ] {
        let mut config = unheld();
        config.notices.channel_moves = moves;
        let mut h = Harness::restored(config, Restored::default());
        let watcher = h.user("prof");
        h.send_json(watcher, json!({"type":"join_channel","channel":"#tp"}));
        let guest = h.guest("zoé");
        let joined = h.send_json(guest, json!({"type":"join_channel","channel":"#tp"}));
        assert_eq!(
            !joined.to(watcher).is_empty(),
            guest_announced,
            "{moves:?} guest"
        );
        let account = h.user("alice");
        let joined = h.send_json(account, json!({"type":"join_channel","channel":"#tp"}));
        assert_eq!(
            !joined.to(watcher).is_empty(),
            account_announced,
            "{moves:?} account"
        );
    }
}

#[test]
fn notice_texts_can_be_overridden_and_the_shutdown_countdown_uses_them() {
    let mut config = unheld();
    config.notices.shutdown_soon = "Arrêt dans {delai} !{raison}".into();
    config.notices.joined = "Bienvenue à {nom} dans {salon}".into();
    let mut h = Harness::restored(config, Restored::default());
    let alice = h.user("alice");
    h.send_json(alice, json!({"type":"join_channel","channel":"#tp"}));
    let bob = h.user("bob");
    let joined = h.send_json(bob, json!({"type":"join_channel","channel":"#tp"}));
    assert_eq!(
        joined.first_to(alice)["content"],
        "Bienvenue à bob dans #tp"
    );
    let (_, sent) = admin(
        &mut h,
        AdminCommand::ShutdownSoon {
            delay: "2 minutes".into(),
            reason: Some("mise à jour".into()),
        },
    );
    assert_eq!(
        sent.first_to(bob)["content"],
        "Arrêt dans 2 minutes ! Raison : mise à jour"
    );
    let renamed = HubConfig {
        welcome: "Salut {nom}".into(),
        ..unheld()
    };
    admin(
        &mut h,
        AdminCommand::Reconfigure(alloc::boxed::Box::new(renamed)),
    );
    let carol = h.connect();
    let logged = h.login(carol, "carol");
    assert_eq!(
        logged.to(carol)[1]["content"],
        "Salut carol",
        "reload changes the welcome"
    );
}

#[test]
fn census_counts_connections_by_kind_and_channels() {
    let mut h = Harness::new();
    h.user("alice");
    h.guest("zoé");
    h.guest("léo");
    h.connect();
    let alice2 = h.user("alice");
    h.send_json(alice2, json!({"type":"join_channel","channel":"#java"}));
    let census = h.hub.census();
    assert_eq!(
        (
            census.anonymous,
            census.guests,
            census.accounts,
            census.channels
        ),
        (1, 2, 2, 2)
    );
}

#[test]
fn an_account_created_by_the_operator_is_protected_and_a_deleted_one_forgotten() {
    let mut h = Harness::new();
    let (reply, _) = admin(
        &mut h,
        AdminCommand::AccountCreated {
            name: "Prof".into(),
        },
    );
    assert_eq!(reply, AdminReply::Done { affected: 0 });
    let guest = h.connect();
    let named = h.send_json(guest, json!({"type":"message","from":"prof","content":""}));
    assert_eq!(named.first_to(guest)["to"], "prof (invité)");
    let (deleted, _) = admin(
        &mut h,
        AdminCommand::AccountDeleted {
            name: "PROF".into(),
        },
    );
    assert_eq!(deleted, AdminReply::Done { affected: 0 });
    let (again, _) = admin(
        &mut h,
        AdminCommand::AccountDeleted {
            name: "prof".into(),
        },
    );
    assert!(matches!(again, AdminReply::Refused(text) if text.contains("prof")));
    let other = h.connect();
    let named = h.send_json(other, json!({"type":"message","from":"prof","content":""}));
    assert_eq!(named.first_to(other)["to"], "prof");
}
