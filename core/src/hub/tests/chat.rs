//! Channel messages as relayed (chat.rs): server-owned keys, no echo, encoding.
//! docs/PROTOCOL.md §4.1.

use alloc::string::ToString;
use alloc::vec::Vec;
use alloc::{format, vec};
use serde_json::json;

use super::*;

#[test]
fn client_timestamp_is_overwritten() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(
        alice,
        json!({"type":"message","content":"x","timestamp":"1999"}),
    );
    assert_eq!(
        sent.chat_to(bob)[0]["timestamp"],
        "2026-11-25T09:05:07.000042"
    );
}

#[test]
fn relayed_message_has_from_subtype_timestamp_id_and_keeps_extra_keys() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(
        alice,
        json!({"type":"message","content":"é🎉","color":"blue"}),
    );
    let line = &sent.chat_to(bob)[0];
    assert_eq!(line["from"], "alice");
    assert_eq!(line["content"], "é🎉");
    assert_eq!(line["subtype"], "global");
    assert_eq!(line["color"], "blue");
    assert_eq!(line["channel"], "#général");
    assert_eq!(line["timestamp"].as_str().unwrap().len(), 26);
    let first = line["id"].as_u64().unwrap();
    let next = h.send_json(alice, json!({"type":"message","content":"2"}));
    assert!(
        next.chat_to(bob)[0]["id"].as_u64().unwrap() > first,
        "ids increase"
    );
}

#[test]
fn global_message_is_never_echoed_to_its_sender() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let sent = h.send_json(alice, json!({"type":"message","content":"x"}));
    assert!(sent.to(alice).is_empty());
    assert_eq!(sent.chat_to(bob).len(), 1);
}

#[test]
fn guest_with_and_without_from_can_send_and_receive_global_and_private() {
    let mut h = Harness::new();
    let named = h.guest("zoe");
    let unnamed = h.connect();
    h.send_json(unnamed, json!({"type":"message","content":""}));
    let sent = h.send_json(named, json!({"type":"message","content":"g1"}));
    assert_eq!(sent.chat_to(unnamed)[0]["from"], "zoe");
    let sent = h.send_json(unnamed, json!({"type":"message","content":"g2"}));
    assert_eq!(sent.chat_to(named)[0]["from"], "invité");
    let sent = h.send_json(
        named,
        json!({"type":"private","to":"invité","content":"p1"}),
    );
    assert_eq!(sent.chat_to(unnamed)[0]["to"], "invité");
    let sent = h.send_json(
        unnamed,
        json!({"type":"message","subtype":"private","to":"zoe","content":"p2"}),
    );
    assert_eq!(sent.chat_to(named)[0]["content"], "p2");
}

#[test]
fn windows_1252_line_is_decoded_and_relayed_escaped() {
    let mut h = Harness::new();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let mut bytes = b"{\"type\":\"message\",\"content\":\"caf".to_vec();
    bytes.extend_from_slice(&[0xE9, 0x20, 0x80]);
    bytes.extend_from_slice(b"\"}");
    let request = parse_request(&decode_line(&bytes)).unwrap();
    h.hub
        .handle(alice, Inbound::Request(request), &h.now, &mut h.out);
    let sent = h.collect();
    assert_eq!(sent.chat_to(bob)[0]["content"], "café €");
}

#[test]
fn many_sessions_fan_out_once_encoded() {
    let mut h = Harness::new();
    let sender = h.user("sender");
    let receivers: Vec<SessionId> = (0..50).map(|i| h.user(&format!("u{i}"))).collect();
    h.send_json(sender, json!({"type":"message","content":"x"}));
    let frames: Vec<usize> = h.out.deliveries().map(|(_, to)| to.len()).collect();
    assert!(frames.is_empty(), "collected already");
    let sent_line = json!({"type":"message","content":"y"}).to_string();
    let request = parse_request(&sent_line).unwrap();
    h.hub
        .handle(sender, Inbound::Request(request), &h.now, &mut h.out);
    let deliveries: Vec<usize> = h.out.deliveries().map(|(_, to)| to.len()).collect();
    assert_eq!(
        deliveries,
        vec![receivers.len()],
        "one frame for all recipients"
    );
    h.out.clear();
}
