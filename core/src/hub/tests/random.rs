//! Robustness: random traffic through the public API, every frame checked.

use alloc::string::ToString;
use alloc::vec::Vec;
use serde_json::json;

use super::*;

/// A small deterministic generator (no randomness inside the core; the test brings its own).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
}

#[test]
fn random_traffic_never_panics_and_every_frame_is_a_valid_line() {
    let names = [
        "alice", "bob", "Zoé", "admin", "", "invité", "a\"b", "🎉", "x y",
    ];
    let channels = [
        "général",
        "#java",
        "JAVA",
        "#",
        "a b",
        "#sio",
        "x".repeat(60).leak(),
    ];
    let states = [
        "online",
        "away",
        "busy",
        "offline",
        "sleeping",
        "ne pas déranger",
    ];
    let mut h = Harness::with_accounts(&["alice"]);
    let mut rng = Lcg(7);
    let mut live: Vec<SessionId> = Vec::new();
    let mut pending: Vec<(SessionId, bool)> = Vec::new();
    for _ in 0..20_000 {
        match rng.next() % 20 {
            0 | 1 => live.push(h.connect()),
            2 if !live.is_empty() => {
                let index = (rng.next() as usize) % live.len();
                h.disconnect(live.swap_remove(index));
            }
            3 if !pending.is_empty() => {
                let (session, is_login) =
                    pending.swap_remove((rng.next() as usize) % pending.len());
                let outcome = match (is_login, rng.next() % 3) {
                    (true, 0) => AuthOutcome::LoginFailed,
                    (true, _) => AuthOutcome::LoggedIn {
                        name: rng.pick(&names).to_string(),
                    },
                    (false, 0) => AuthOutcome::RegisterTaken,
                    (false, 1) => AuthOutcome::Unavailable,
                    (false, _) => AuthOutcome::Registered {
                        name: rng.pick(&names).to_string(),
                    },
                };
                h.auth(session, outcome);
            }
            _ if !live.is_empty() => {
                let session = live[(rng.next() as usize) % live.len()];
                let line = match rng.next() % 12 {
                    0 => json!({"type":"message","content":rng.pick(&["hi","","/join #sio","/leave sio","/join"]),"from":rng.pick(&names)}).to_string(),
                    1 => json!({"type":"private","to":rng.pick(&names),"content":"p"}).to_string(),
                    2 => json!({"type":"message","channel":rng.pick(&channels),"content":"c"}).to_string(),
                    3 => json!({"type":"status","state":rng.pick(&states),"user":rng.pick(&names)}).to_string(),
                    4 => json!({"type":rng.pick(&["users","userlist","list_users","channels","ping","history","who"])}).to_string(),
                    5 => json!({"type":rng.pick(&["join_channel","leave_channel","who"]),"channel":rng.pick(&channels)}).to_string(),
                    6 => json!({"type":"login","username":rng.pick(&names),"password":"pw"}).to_string(),
                    7 => json!({"type":"register","username":rng.pick(&names),"password":rng.pick(&["pw",""])}).to_string(),
                    8 => rng.pick(&["{", "[]", "null", "{\"type\":5}", "{\"type\":\"message\",\"content\":[1]}", "\u{0}"]).to_string(),
                    9 => json!({"type":"message","subtype":rng.pick(&["global","private","weird"]),"to":rng.pick(&names),"content":"s"}).to_string(),
                    10 => json!({"type":"history","limit":rng.next() % 1000,"channel":rng.pick(&channels)}).to_string(),
                    _ => json!({"type":"message","content":"x","extra":{"nested":[1,"é",null]}}).to_string(),
                };
                // `send` checks every produced frame (ASCII JSON object, one line).
                let sent = h.send(session, &line);
                for effect in &sent.effects {
                    match effect {
                        Effect::VerifyLogin { session, .. } => pending.push((*session, true)),
                        Effect::Register { session, .. } => pending.push((*session, false)),
                        _ => {}
                    }
                }
            }
            _ => live.push(h.connect()),
        }
    }
    // Everyone leaves: the hub ends empty, with only the default channel.
    for session in live {
        h.disconnect(session);
    }
    assert_eq!(h.hub.session_count(), 0);
    h.hub.shutdown(&h.now, &mut h.out);
    assert!(h.collect().lines.is_empty());
}
