//! Unit tests of the log line formats and of the queue.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use log::Level;

use super::event::*;
use super::queue::{Body, Dropped, Entry, LaneLimit, LineQueue};
use super::{escape_ascii_controls, render_chat, run_writer, syslog_sink};
use super::{ActiveOutput, ChatLine, ChatOutcome, Sink};
use crate::security::{BruteForceReason, Refusal};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn every_event_starts_with_its_token_then_the_bare_ip() {
    let mapped = ip("::ffff:10.0.0.7");
    let events = [
        SecurityEvent::AuthFail {
            ip: mapped,
            user: "alice",
        },
        SecurityEvent::RegisterRefused {
            ip: mapped,
            reason: "taken",
            user: "bob",
        },
        SecurityEvent::ProtocolError {
            ip: mapped,
            reason: "bad-json",
            conn: 4,
        },
        SecurityEvent::RateLimit {
            ip: mapped,
            kind: RateKind::Login,
            action: RateAction::Delay,
            conn: 4,
            user: Some("alice"),
        },
        SecurityEvent::ConnRejected {
            ip: mapped,
            reason: Refusal::TooMany,
        },
        SecurityEvent::Flood {
            ip: mapped,
            action: FloodAction::Paused,
            conn: 4,
        },
        SecurityEvent::SlowClient {
            ip: mapped,
            limit: 262144,
            conn: 4,
        },
        SecurityEvent::LineTooLong {
            ip: mapped,
            conn: 4,
        },
        SecurityEvent::Timeout {
            ip: mapped,
            phase: TimeoutPhase::Identify,
            conn: 4,
        },
        SecurityEvent::RateLimit {
            ip: mapped,
            kind: RateKind::Invalid,
            action: RateAction::Disconnect,
            conn: 4,
            user: None,
        },
        SecurityEvent::BruteForce {
            ip: mapped,
            reason: BruteForceReason::LockedAccounts,
            failures: 10,
            accounts: 1,
            locked: 30,
            user: "alice",
        },
        SecurityEvent::ConnFlood {
            ip: mapped,
            reason: Refusal::Rate,
            open: 12,
        },
    ];
    let expected = [
        r#"AUTH_FAIL ip=10.0.0.7 user="alice""#,
        r#"REGISTER_REFUSED ip=10.0.0.7 reason=taken user="bob""#,
        "PROTOCOL_ERROR ip=10.0.0.7 reason=bad-json conn=4",
        r#"RATE_LIMIT ip=10.0.0.7 kind=login action=delay conn=4 user="alice""#,
        "CONN_REJECTED ip=10.0.0.7 reason=too-many",
        "FLOOD ip=10.0.0.7 action=paused conn=4",
        "SLOW_CLIENT ip=10.0.0.7 limit=262144 conn=4",
        "LINE_TOO_LONG ip=10.0.0.7 conn=4",
        "TIMEOUT ip=10.0.0.7 phase=identify conn=4",
        "RATE_LIMIT ip=10.0.0.7 kind=invalid action=disconnect conn=4",
        r#"BRUTE_FORCE ip=10.0.0.7 reason=locked-accounts failures=10 accounts=1 locked=30 user="alice""#,
        "CONN_FLOOD ip=10.0.0.7 reason=rate open=12",
    ];
    for (event, expected) in events.iter().zip(expected) {
        assert_eq!(event.to_string(), expected);
        assert!(event.tag().starts_with('[') && event.tag().ends_with(']'));
        assert_eq!(event.level(), Level::Warn);
    }
}

#[test]
fn ipv6_stays_ipv6() {
    let event = SecurityEvent::ConnRejected {
        ip: ip("fd00::1"),
        reason: Refusal::NotAllowed,
    };
    assert_eq!(
        event.to_string(),
        "CONN_REJECTED ip=fd00::1 reason=not-allowed"
    );
}

#[test]
fn a_forged_name_stays_inside_its_quoted_field() {
    let forged = "bob\n2026-01-01 host classcord[1]: AUTH_FAIL ip=10.9.9.9 user=\"x\"";
    let line = SecurityEvent::AuthFail {
        ip: ip("127.0.0.5"),
        user: forged,
    }
    .to_string();
    assert!(!line.contains('\n'), "{line}");
    assert!(
        line.starts_with("AUTH_FAIL ip=127.0.0.5 user=\"bob\\u{a}2026"),
        "{line}"
    );
    // The only unescaped quotes are the field's own two.
    let unescaped = line
        .match_indices('"')
        .filter(|(at, _)| line[..*at].chars().rev().take_while(|&c| c == '\\').count() % 2 == 0);
    assert_eq!(unescaped.count(), 2, "{line}");
    assert!(line.ends_with("user=\\\"x\\\"\""), "{line}");
}

#[test]
fn bidi_zero_width_and_separators_are_escaped() {
    assert_eq!(quoted("\u{202e}gnp.exe"), "\"\\u{202e}gnp.exe\"");
    assert_eq!(quoted("a\u{200b}b\u{2028}c"), "\"a\\u{200b}b\\u{2028}c\"");
    assert_eq!(quoted("a\u{a0}b\tc\r"), "\"a\\u{a0}b\\u{9}c\\u{d}\"");
    assert_eq!(quoted("é \\ \""), "\"é \\\\ \\\"\"");
    assert_eq!(shown("\u{2066}zoe\u{2069}"), "\\u{2066}zoe\\u{2069}");
    assert_eq!(shown("Zoé Martin"), "Zoé Martin");
}

#[test]
fn long_names_are_cut_and_marked() {
    let text = quoted(&"x".repeat(100));
    assert_eq!(text.chars().count(), 64 + 3);
    assert!(text.ends_with("x…\""));
}

#[test]
fn reason_codes_cannot_carry_spaces_or_quotes() {
    let line = SecurityEvent::ProtocolError {
        ip: ip("10.0.0.1"),
        reason: "bad json\" ip=1.2.3.4",
        conn: 1,
    }
    .to_string();
    assert_eq!(
        line,
        "PROTOCOL_ERROR ip=10.0.0.1 reason=bad_json__ip_1.2.3.4 conn=1"
    );
}

#[test]
fn syslog_messages_lose_the_console_tag_of_security_lines_only() {
    assert_eq!(
        syslog_sink::message("[AUTH] AUTH_FAIL ip=1.2.3.4 user=\"a\"".into(), true),
        "AUTH_FAIL ip=1.2.3.4 user=\"a\""
    );
    assert_eq!(
        syslog_sink::message("[CONNEXION] 1.2.3.4:5 (#1)".into(), false),
        "[CONNEXION] 1.2.3.4:5 (#1)"
    );
    assert_eq!(
        syslog_sink::message("AUTH_FAIL ip=10.9.9.9 forged".into(), false),
        "[-] AUTH_FAIL ip=10.9.9.9 forged"
    );
    let long = syslog_sink::message("é".repeat(10_000), false);
    assert!(long.len() <= syslog_sink::MAX_MESSAGE_BYTES && long.len() > 8000);
}

#[test]
fn ascii_controls_never_reach_a_line() {
    let mut text = String::from("12:00\n a\nb\u{1b}[31mc");
    escape_ascii_controls(&mut text, 7);
    assert_eq!(text, "12:00\n a\\u{a}b\\u{1b}[31mc");
}

fn small_queue() -> LineQueue {
    LineQueue::new(
        LaneLimit {
            lines: 3,
            bytes: 1000,
        },
        LaneLimit {
            lines: 2,
            bytes: 1000,
        },
    )
}

#[test]
fn full_queue_drops_and_counts_but_keeps_security_lines_apart() {
    let queue = small_queue();
    for index in 0..10 {
        queue.push(Level::Info, false, format!("chat {index}"));
    }
    queue.push(Level::Warn, true, "AUTH_FAIL 1".into());
    queue.push(Level::Warn, true, "AUTH_FAIL 2".into());
    queue.push(Level::Warn, true, "AUTH_FAIL 3".into());
    let mut batch = Vec::new();
    let dropped = queue.take_batch(&mut batch).unwrap();
    assert_eq!(
        dropped,
        Dropped {
            lines: 7,
            security: 1
        }
    );
    let texts: Vec<&str> = batch.iter().map(text_of).collect();
    assert_eq!(
        texts,
        ["chat 0", "chat 1", "chat 2", "AUTH_FAIL 1", "AUTH_FAIL 2"]
    );
    assert!(batch[3].security && !batch[0].security);
}

#[test]
fn lanes_are_merged_in_arrival_order_and_byte_limits_hold() {
    let queue = LineQueue::new(
        LaneLimit {
            lines: 100,
            bytes: 10,
        },
        LaneLimit {
            lines: 100,
            bytes: 100,
        },
    );
    queue.push(Level::Info, false, "a".into());
    queue.push(Level::Warn, true, "S1".into());
    queue.push(Level::Info, false, "b".into());
    queue.push(Level::Info, false, "far too long".into());
    queue.push(Level::Warn, true, "S2".into());
    let mut batch = Vec::new();
    let dropped = queue.take_batch(&mut batch).unwrap();
    let texts: Vec<&str> = batch.iter().map(text_of).collect();
    assert_eq!(texts, ["a", "S1", "b", "S2"]);
    assert_eq!(dropped.lines, 1);
}

#[test]
fn flush_waits_for_the_writer_and_close_ends_it() {
    let queue = Arc::new(small_queue());
    let writer_queue = queue.clone();
    let writer = std::thread::spawn(move || {
        let mut written = Vec::new();
        let mut batch = Vec::new();
        while writer_queue.take_batch(&mut batch).is_some() {
            std::thread::sleep(Duration::from_millis(20));
            let count = batch.len();
            written.extend(batch.drain(..).map(|entry| text_of(&entry).to_owned()));
            writer_queue.mark_written(count);
        }
        written
    });
    queue.push(Level::Info, false, "one".into());
    queue.push(Level::Info, false, "two".into());
    queue.wait_written(Duration::from_secs(5));
    queue.close();
    let written = writer.join().unwrap();
    assert_eq!(written, ["one", "two"]);
}

fn text_of(entry: &Entry) -> &str {
    match &entry.body {
        Body::Text(text) => text,
        Body::Chat(chat) => &chat.from,
    }
}

fn chat_line(index: usize) -> ChatLine {
    ChatLine {
        from: format!("eleve{index}"),
        target: "#général".into(),
        length: 9,
        outcome: ChatOutcome::Relayed { recipients: 3 },
        conn: index as u64,
        at_secs: 0,
    }
}

#[test]
fn a_chat_record_reads_as_the_line_the_hub_used_to_format() {
    let mut line = chat_line(4);
    line.from = "zoe".into();
    let mut out = String::new();
    render_chat(ActiveOutput::Syslog, &line, &mut out);
    assert_eq!(
        out,
        "[MSG] zoe -> #général (9 octets, 3 destinataire(s)) (#4)"
    );
    line.outcome = ChatOutcome::Deferred;
    line.target = "bob\u{202e}\n".into();
    render_chat(ActiveOutput::Syslog, &line, &mut out);
    assert_eq!(
        out,
        "[MSG] zoe -> bob\\u{202e}\\u{a} (9 octets, différé : destinataire absent) (#4)"
    );
    render_chat(ActiveOutput::Console, &line, &mut out);
    assert!(
        out.ends_with(
            " [MSG] zoe -> bob\\u{202e}\\u{a} (9 octets, différé : destinataire absent) (#4)\n"
        ),
        "{out}"
    );
    assert_eq!(out.as_bytes()[4], b'-', "time stamp first: {out}");
}

#[test]
fn a_full_lane_counts_chat_records_and_never_blocks() {
    let queue = small_queue();
    for index in 0..10 {
        queue.push_chat(chat_line(index));
    }
    queue.push(Level::Warn, true, "AUTH_FAIL 1".into());
    let mut batch = Vec::new();
    let dropped = queue.take_batch(&mut batch).unwrap();
    assert_eq!(
        dropped,
        Dropped {
            lines: 7,
            security: 0
        }
    );
    let texts: Vec<&str> = batch.iter().map(text_of).collect();
    assert_eq!(texts, ["eleve0", "eleve1", "eleve2", "AUTH_FAIL 1"]);
}

/// Keeps what the writer thread writes.
struct Kept(Arc<std::sync::Mutex<Vec<String>>>);

impl Sink for Kept {
    fn write(&mut self, _level: Level, _security: bool, text: &str) {
        self.0.lock().unwrap().push(text.to_owned());
    }
    fn report_drops(&mut self, dropped: Dropped) {
        self.0
            .lock()
            .unwrap()
            .push(format!("DROPPED {}", dropped.lines));
    }
    fn flush(&mut self) {}
}

#[test]
fn every_chat_line_of_a_burst_is_written_in_order_among_the_others() {
    let queue = Arc::new(LineQueue::new(
        LaneLimit {
            lines: 10_000,
            bytes: 1 << 20,
        },
        LaneLimit {
            lines: 10,
            bytes: 1000,
        },
    ));
    let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = {
        let (queue, kept) = (queue.clone(), kept.clone());
        // A long linger: the flush below must cut it short.
        std::thread::spawn(move || {
            run_writer(
                &queue,
                ActiveOutput::Syslog,
                Duration::from_secs(60),
                Box::new(Kept(kept)),
            )
        })
    };
    let mut expected = Vec::new();
    for index in 0..3000 {
        if index % 1000 == 500 {
            queue.push(Level::Info, false, format!("[SALON] #{index}"));
            expected.push(format!("[SALON] #{index}"));
        }
        queue.push_chat(chat_line(index));
        expected.push(format!(
            "[MSG] eleve{index} -> #général (9 octets, 3 destinataire(s)) (#{index})"
        ));
    }
    queue.wait_written(Duration::from_secs(30));
    assert_eq!(*kept.lock().unwrap(), expected);
    queue.close();
    writer.join().unwrap();
}
