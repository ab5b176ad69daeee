//! Per-connection limits (limits.rs): the line rate (a warning, then the close) and the deadline
//! for identifying.

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
    let anonymous = h.connect();
    h.now.unix_micros += 10_000_000_000;
    h.hub.expire(&h.now, &mut h.out);
    assert!(h.collect().to(anonymous).is_empty());
}
