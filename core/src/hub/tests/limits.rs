//! Per-connection limits (limits.rs): the line rate (a warning, then the close), invalid lines
//! (the close, for that connection only) and the deadline for identifying.

use alloc::vec::Vec;
use serde_json::json;

use super::*;

fn closed(delivered: &Delivered, reason: CloseReason) -> bool {
    delivered.closes().iter().any(|(_, why)| *why == reason)
}

#[test]
fn a_flood_gets_a_warning_then_the_connection_is_closed() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let zoe = h.guest("zoé");
    h.tick_micros = 0; // all at once
    let burst = LineRate::default().burst as usize;
    let mut relayed = 0;
    let mut warnings = Vec::new();
    let mut closed_after = None;
    for n in 0..burst * 3 {
        let sent = h.send_json(zoe, json!({"type":"message","content":format!("{n}")}));
        relayed += sent.chat_to(bob).len();
        warnings.extend(
            sent.to(zoe)
                .into_iter()
                .filter(|line| line["from"] == "Serveur"),
        );
        if closed(&sent, CloseReason::RateLimit) {
            closed_after = Some(n);
            assert_eq!(sent.to(zoe).last().unwrap()["type"], "error");
            break;
        }
    }
    assert!(
        relayed < burst,
        "the hello used one token: {relayed} relayed"
    );
    assert_eq!(warnings.len(), 1, "warned once");
    assert!(warnings[0]["content"]
        .as_str()
        .unwrap()
        .contains("ralentissez"));
    let closed_after = closed_after.expect("closed after the warning was ignored");
    assert!(closed_after >= burst, "{closed_after}");
    let after = h.send_json(zoe, json!({"type":"message","content":"encore"}));
    assert!(after.lines.is_empty(), "nothing handled once closing");
}

#[test]
fn a_connection_that_slows_down_is_served_again_without_a_second_warning_at_once() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let zoe = h.guest("zoé");
    h.tick_micros = 0;
    let burst = LineRate::default().burst as usize;
    for n in 0..burst + 2 {
        h.send_json(zoe, json!({"type":"message","content":format!("{n}")}));
    }
    h.tick_micros = 100_000; // 10 lines a second: under the limit
    let calm = h.send_json(zoe, json!({"type":"message","content":"calme"}));
    assert_eq!(calm.chat_to(bob)[0]["content"], "calme");
    assert!(calm.closes().is_empty());
}

#[test]
fn anonymous_connections_time_out_identified_ones_do_not() {
    let mut h = Harness::new();
    let anonymous = h.connect();
    let guest = h.guest("zoé");
    let user = h.user("bob");
    let timeout = unheld().identify_timeout_secs.unwrap();
    h.now.unix_micros += u64::from(timeout) * 1_000_000 + 1;
    h.hub.expire(&h.now, &mut h.out);
    let expired = h.collect();
    assert_eq!(expired.closes(), [(anonymous, CloseReason::Timeout)]);
    assert!(expired.first_to(anonymous)["message"]
        .as_str()
        .unwrap()
        .contains("Délai dépassé"));
    assert!(expired.to(guest).is_empty() && expired.to(user).is_empty());
    h.hub.expire(&h.now, &mut h.out);
    assert!(h.collect().closes().is_empty(), "closed once");
}

#[test]
fn limits_can_be_turned_off() {
    let config = HubConfig {
        line_rate: None,
        invalid_lines: None,
        identify_timeout_secs: None,
        ..unheld()
    };
    let mut h = Harness::restored(config, Restored::default());
    let bob = h.user("bob");
    let zoe = h.guest("zoé");
    h.tick_micros = 0;
    let mut relayed = 0;
    for n in 0..500 {
        relayed += h
            .send_json(zoe, json!({"type":"message","content":format!("{n}")}))
            .chat_to(bob)
            .len();
    }
    assert_eq!(relayed, 500);
    for _ in 0..500 {
        assert!(h.send(zoe, "{pas du json").closes().is_empty());
    }
    let anonymous = h.connect();
    h.now.unix_micros += 10_000_000_000;
    h.hub.expire(&h.now, &mut h.out);
    assert!(h.collect().to(anonymous).is_empty());
}

fn invalid(line: &Value) -> bool {
    line["type"] == "error"
}

#[test]
fn a_client_looping_on_bad_json_is_closed_alone_with_a_french_reason() {
    let mut h = Harness::new();
    let bob = h.user("bob");
    let carol = h.user("carol");
    let zoe = h.guest("zoé");
    let limit = InvalidLines::default();
    for n in 1..limit.max {
        let sent = h.send(zoe, "{pas du json");
        assert!(sent.closes().is_empty(), "line {n}");
        assert_eq!(sent.to(zoe).len(), 1, "each invalid line gets its error");
        assert!(invalid(&sent.to(zoe)[0]));
    }
    let last = h.send(zoe, "{pas du json");
    assert_eq!(last.closes(), [(zoe, CloseReason::InvalidLines)]);
    let replies = last.to(zoe);
    assert_eq!(replies.len(), 2, "{replies:?}");
    let reason = replies[1]["message"].as_str().unwrap();
    assert!(reason.contains("Trop de lignes invalides"), "{reason}");
    assert!(reason.contains("Connexion fermée"), "{reason}");
    assert!(last
        .effects
        .contains(&Effect::Log(Event::InvalidLines { session: zoe })));
    let after = h.send(zoe, "{encore");
    assert!(after.lines.is_empty(), "nothing handled once closing");
    let chat = h.send_json(bob, json!({"type":"message","content":"on continue"}));
    assert_eq!(chat.chat_to(carol)[0]["content"], "on continue");
    assert!(chat.closes().is_empty());
}

#[test]
fn invalid_lines_further_apart_than_the_window_and_valid_lines_do_not_add_up() {
    let mut h = Harness::new();
    let zoe = h.guest("zoé");
    let limit = InvalidLines::default();
    for _ in 0..2 {
        for _ in 1..limit.max {
            assert!(h.send(zoe, "[]").closes().is_empty());
            assert!(h.send_json(zoe, json!({"type":"ping"})).closes().is_empty());
        }
        h.now.unix_micros += u64::from(limit.window_secs) * 1_000_000;
    }
    let pong = h.send_json(zoe, json!({"type":"ping"}));
    assert_eq!(pong.to(zoe)[0]["type"], "pong", "still served");
}
