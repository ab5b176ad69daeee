//! Channels (channels.rs). docs/PROTOCOL.md §5.

use alloc::format;
use serde_json::json;

use alloc::vec;

use super::*;

#[test]
fn default_channel_aliases_are_one_channel() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    for alias in ["general", "#general", "général", "#général"] {
        let sent = h.send_json(
            alice,
            json!({"type":"message","channel":alias,"content":"x"}),
        );
        assert_eq!(sent.chat_to(bob)[0]["channel"], "#général", "{alias}");
    }
    let channels = h
        .send_json(alice, json!({"type":"channels"}))
        .first_to(alice);
    assert_eq!(channels["channels"].as_array().unwrap().len(), 1);
}

#[test]
fn message_in_a_channel_reaches_only_its_members_and_joins_the_sender() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let carol = h.user("carol");
    h.send_json(bob, json!({"type":"join_channel","channel":"java"}));
    let sent = h.send_json(
        alice,
        json!({"type":"message","channel":"#Java","content":"x"}),
    );
    assert_eq!(sent.chat_to(bob)[0]["channel"], "#java");
    assert!(sent.chat_to(carol).is_empty());
    let who = h
        .send_json(carol, json!({"type":"who","channel":"#java"}))
        .first_to(carol);
    assert_eq!(
        who,
        json!({"type":"who","channel":"#java","users":["alice","bob"]})
    );
}

#[test]
fn join_and_leave_channel_replies() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let joined = h.send_json(alice, json!({"type":"join_channel","channel":"#Maths"}));
    assert_eq!(
        joined.first_to(alice),
        json!({"type":"join_channel","channel":"#Maths","status":"ok"})
    );
    h.send_json(bob, json!({"type":"join_channel","channel":"maths"}));
    let left = h.send_json(alice, json!({"type":"leave_channel","channel":"#maths"}));
    assert_eq!(
        left.first_to(alice),
        json!({"type":"leave_channel","channel":"#Maths","status":"ok"})
    );
    assert!(
        left.to(bob)[0]["content"]
            .as_str()
            .unwrap()
            .contains("a quitté"),
        "departure notice"
    );
    let sent = h.send_json(
        bob,
        json!({"type":"message","channel":"maths","content":"x"}),
    );
    assert!(sent.chat_to(alice).is_empty());
}

#[test]
fn slash_join_and_leave_typed_as_content_change_membership_and_are_not_relayed() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(alice, json!({"type":"message","content":"/join #sio"}));
    assert!(sent.chat_to(bob).is_empty());
    assert!(sent.first_to(alice)["content"]
        .as_str()
        .unwrap()
        .contains("#sio"));
    h.send_json(bob, json!({"type":"message","content":"/join sio"}));
    assert_eq!(
        h.send_json(bob, json!({"type":"message","channel":"sio","content":"x"}))
            .chat_to(alice)
            .len(),
        1
    );
    h.send_json(alice, json!({"type":"message","content":"/leave #sio"}));
    assert!(h
        .send_json(bob, json!({"type":"message","channel":"sio","content":"y"}))
        .chat_to(alice)
        .is_empty());
}

#[test]
fn the_default_channel_cannot_be_left() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(alice, json!({"type":"leave_channel","channel":"general"}));
    assert_eq!(sent.first_to(alice)["type"], "error");
    assert_eq!(
        h.send_json(bob, json!({"type":"message","content":"x"}))
            .chat_to(alice)
            .len(),
        1
    );
}

#[test]
fn presence_and_private_messages_are_server_wide() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    h.send_json(alice, json!({"type":"join_channel","channel":"java"}));
    let sent = h.send_json(alice, json!({"type":"status","state":"away"}));
    assert_eq!(sent.statuses_to(bob).len(), 1);
    let sent = h.send_json(alice, json!({"type":"private","to":"bob","content":"x"}));
    assert_eq!(sent.chat_to(bob).len(), 1);
}

#[test]
fn closed_channel_refuses_messages_with_a_notice() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    h.send_json(bob, json!({"type":"join_channel","channel":"java"}));
    let java = ChannelName::parse("java").unwrap();
    assert!(h.hub.set_channel_closed(&java, true, &h.now, &mut h.out));
    h.collect();
    let sent = h.send_json(
        alice,
        json!({"type":"message","channel":"java","content":"x"}),
    );
    assert!(sent.chat_to(bob).is_empty());
    let notice = sent.first_to(alice);
    assert_eq!(
        (notice["type"].clone(), notice["from"].clone()),
        (json!("message"), json!("Serveur"))
    );
    let channels = h
        .send_json(alice, json!({"type":"channels"}))
        .first_to(alice);
    assert!(channels["channels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["closed"] == true));
    h.hub.set_channel_closed(&java, false, &h.now, &mut h.out);
    h.collect();
    assert_eq!(
        h.send_json(
            alice,
            json!({"type":"message","channel":"java","content":"x"})
        )
        .chat_to(bob)
        .len(),
        1
    );
}

#[test]
fn a_connection_joins_at_most_32_channels() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    for index in 1..MAX_CHANNELS_PER_SESSION {
        let sent = h.send_json(
            alice,
            json!({"type":"join_channel","channel":format!("c{index}")}),
        );
        assert_eq!(sent.first_to(alice)["status"], "ok", "channel {index}");
    }
    let refused = h.send_json(
        alice,
        json!({"type":"join_channel","channel":"one-too-many"}),
    );
    assert_eq!(refused.first_to(alice)["type"], "error");
    let by_message = h.send_json(
        alice,
        json!({"type":"message","channel":"other","content":"x"}),
    );
    assert_eq!(
        by_message.first_to(alice)["from"],
        "Serveur",
        "a notice, not a relay"
    );
    let again = h.send_json(alice, json!({"type":"join_channel","channel":"c1"}));
    assert_eq!(
        again.first_to(alice)["status"],
        "ok",
        "joining a channel it is in still works"
    );
}

#[test]
fn the_server_holds_at_most_1000_channels() {
    let mut h = Harness::new();
    let mut refused = false;
    for index in 0..(MAX_CHANNELS / (MAX_CHANNELS_PER_SESSION - 1) + 2) {
        let session = h.user(&format!("u{index}"));
        for channel in 0..MAX_CHANNELS_PER_SESSION - 1 {
            let name = format!("s{index}c{channel}");
            let sent = h.send_json(session, json!({"type":"join_channel","channel":name}));
            refused |= sent.first_to(session)["type"] == "error";
        }
    }
    assert!(refused, "channel creation stops at the cap");
    let listing = h
        .send_json(SessionId(1), json!({"type":"channels"}))
        .first_to(SessionId(1));
    assert_eq!(listing["channels"].as_array().unwrap().len(), MAX_CHANNELS);
}

#[test]
fn an_account_rejoins_its_channels_at_its_next_login() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let joined = h.send_json(alice, json!({"type":"join_channel","channel":"#java"}));
    assert!(joined.effects.iter().any(|effect| matches!(
        effect,
        Effect::Store(StoreRequest::Membership { account, channel_display, joined: true, .. })
            if account == "alice" && channel_display == "java"
    ) || matches!(
        effect,
        Effect::Store(StoreRequest::Membership { account, joined: true, .. }) if account == "alice"
    )));
    h.disconnect(alice);
    let bob = h.user("bob");
    h.send_json(bob, json!({"type":"join_channel","channel":"#java"}));
    let again = h.user("alice");
    let who = h
        .send_json(bob, json!({"type":"who","channel":"#java"}))
        .first_to(bob);
    assert_eq!(who["users"], json!(["alice", "bob"]));
    let left = h.send_json(again, json!({"type":"leave_channel","channel":"#java"}));
    assert!(left.effects.iter().any(|effect| matches!(
        effect,
        Effect::Store(StoreRequest::Membership { joined: false, .. })
    )));
}

#[test]
fn memberships_and_closed_channels_come_back_after_a_restart() {
    let restored = Restored {
        memberships: vec![("alice".into(), "#java".into())],
        closed_channels: vec!["#fermé".into()],
        ..Restored::with_accounts(["alice"])
    };
    let mut h = Harness::restored(unheld(), restored);
    let alice = h.user("alice");
    let who = h
        .send_json(alice, json!({"type":"who","channel":"java"}))
        .first_to(alice);
    assert_eq!(who["users"], json!(["alice"]));
    let refused = h.send_json(alice, json!({"type":"join_channel","channel":"#fermé"}));
    assert!(refused.first_to(alice)["message"]
        .as_str()
        .unwrap()
        .contains("fermé"));
}

#[test]
fn closing_a_channel_is_kept_in_the_store() {
    let mut h = Harness::new();
    let channel = ChannelName::parse("#maths").unwrap();
    let now = h.now;
    assert!(h.hub.set_channel_closed(&channel, true, &now, &mut h.out));
    let closed = h.collect();
    assert!(closed.effects.iter().any(|effect| matches!(
        effect,
        Effect::Store(StoreRequest::ChannelClosed { key, closed: true, .. }) if *key == channel.key
    )));
}
