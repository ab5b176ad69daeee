//! Bad input and the line cap: errors with both keys, never a dropped connection (mod.rs).

use alloc::vec;

use super::*;

#[test]
fn bad_input_gets_an_error_with_message_and_error_and_a_log_reason() {
    let mut h = Harness::new();
    let session = h.connect();
    for (line, reason) in [
        ("{oops", "bad-json"),
        ("[]", "not-an-object"),
        (r#"{"content":"x"}"#, "missing-type"),
        (r#"{"type":"dance"}"#, "unknown-type"),
        (r#"{"type":"message"}"#, "missing-field"),
        (r#"{"type":"message","content":["x"]}"#, "wrong-field-type"),
    ] {
        let sent = h.send(session, line);
        let error = sent.first_to(session);
        assert_eq!(error["type"], "error", "{line}");
        assert!(
            error["message"].is_string() && error["message"] == error["error"],
            "{line}"
        );
        assert!(
            sent.effects.iter().any(
                |e| matches!(e, Effect::Log(Event::Rejected { reason: r, .. }) if *r == reason)
            ),
            "{line}"
        );
        assert!(sent.closes().is_empty(), "bad input never closes: {line}");
    }
}

#[test]
fn line_cap_overflow_sends_an_error_then_closes() {
    let mut h = Harness::new();
    let session = h.connect();
    h.hub.handle(
        session,
        Inbound::LineTooLong { limit: 65536 },
        &h.now,
        &mut h.out,
    );
    let sent = h.collect();
    assert_eq!(sent.first_to(session)["type"], "error");
    assert_eq!(sent.closes(), vec![(session, CloseReason::LineTooLong)]);
}
