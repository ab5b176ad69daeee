//! Reproducers of bugs found by fuzzing and property testing (fuzz/, core/tests/properties_*),
//! each named after its bug. A test marked `#[ignore]` documents a bug not fixed yet: it fails
//! today and must pass once the fix lands (then drop the `#[ignore]`).

#[path = "support/hub_model.rs"]
mod hub_model;

use hub_model::{KnownBugs, Op, World};

fn send(session: u8, line: &str) -> Op {
    Op::Send(session, line.to_owned(), 0)
}

/// docs/PROTOCOL.md §2.1: "Queries never name anyone": a `users` request from an anonymous
/// connection is answered but the connection stays anonymous. The hub named it guest `invité`,
/// announced it `online` to everybody and welcomed it, so it then received every broadcast. Found
/// by the `hub` property test on its first run; fixed on main meanwhile (8ec4c65, issue 6).
#[test]
fn users_query_from_an_anonymous_connection_names_a_guest() {
    let mut world = World::with_known_bugs(KnownBugs::NONE);
    let ops = [
        Op::Connect,
        send(0, r#"{"type":"message","content":"salut","from":"alice"}"#),
        Op::Connect,
        send(1, r#"{"type":"users"}"#),
    ];
    hub_model::run_in(&mut world, &ops, false);
}

/// docs/PROTOCOL.md §2.1: "A `status` without `user` from an anonymous connection is accepted
/// silently (no error, not relayed) and does not name it either." The hub named it `invité` and
/// announced it. Found by the `hub` property test; fixed on main meanwhile (8ec4c65, issue 6).
#[test]
fn status_without_user_from_an_anonymous_connection_names_a_guest() {
    let mut world = World::with_known_bugs(KnownBugs::NONE);
    let ops = [
        Op::Connect,
        send(0, r#"{"type":"message","content":"salut","from":"alice"}"#),
        Op::Connect,
        send(1, r#"{"type":"status","state":"away"}"#),
    ];
    hub_model::run_in(&mut world, &ops, false);
}

/// docs/PROTOCOL.md §2.3/§6.1: after `register`/`login` the very next line to that socket is its
/// reply (sync-readers read exactly one line). On shutdown the hub sends its notice and `shutdown`
/// line to every identified session at once, also to one whose check is still running, so such a
/// client reads the notice as its register/login answer. Found by the `hub` property test
/// (core/src/hub/notices.rs, `Hub::shutdown` bypasses the frames held for a pending check; a kick
/// does the same, core/src/hub/admin.rs `kick`).
#[test]
fn shutdown_notice_reaches_a_session_before_its_register_reply() {
    let mut world = World::with_known_bugs(KnownBugs::NONE);
    let ops = [
        Op::Connect,
        send(0, r#"{"type":"message","content":"salut","from":"zoe"}"#),
        send(
            0,
            r#"{"type":"register","username":"zoe2","password":"secret"}"#,
        ),
    ];
    hub_model::run_in(&mut world, &ops, true);
}

/// The same bug as the `hub` fuzz target found it when run without tolerating it (libFuzzer
/// input minimised by `cargo fuzz tmin` to 14 bytes): a connection sends a private line (and so
/// becomes guest `invité`), then a login for `alice`; the server shuts down while it is checked.
#[test]
fn shutdown_notice_reaches_a_session_before_its_login_reply_fuzz_input() {
    let input = [
        0x00, 0x08, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x8b, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x8b,
    ];
    let mut world = World::with_known_bugs(KnownBugs::NONE);
    hub_model::run_in(&mut world, &hub_model::decode_ops(&input), true);
}

/// docs/PROTOCOL.md §2.3/§6.1 again: a session that sends more lines than the rate limit allows
/// while its login is being checked gets the rate-limit warning (then the close) before its login
/// reply: the limit is charged before the line joins the bounded queue of a waiting session. Found
/// by the `hub` property test once floods (`Op::Repeat`) were in its vocabulary
/// (core/src/hub/mod.rs `Hub::handle` calls `admit` first; core/src/hub/limits.rs).
#[test]
fn rate_limit_warning_reaches_a_session_before_its_login_reply() {
    let mut world = World::with_known_bugs(KnownBugs::NONE);
    let ops = [
        Op::Connect,
        send(0, r#"{"type":"login","username":"alice","password":"pw"}"#),
        Op::Repeat(0, r#"{"type":"ping"}"#.to_owned(), 70),
        Op::Auth(0, 2),
    ];
    hub_model::run_in(&mut world, &ops, false);
}

/// The same class as the shutdown case, from the console: kicking (or banning) a session whose
/// login is being checked sends it the kick notice and `kick` line before its login reply.
/// Found by the `hub` property test once admin commands were in its vocabulary
/// (core/src/hub/admin.rs, `kick` sends directly).
#[test]
fn kick_notice_reaches_a_session_before_its_login_reply() {
    let mut world = World::with_known_bugs(KnownBugs::NONE);
    let ops = [
        Op::Connect,
        send(0, r#"{"type":"message","content":"salut","from":"zoe"}"#),
        send(0, r#"{"type":"login","username":"alice","password":"pw"}"#),
        // Admin 8: ban by address (KickSessions) of live session 0.
        Op::Admin(8, 0),
    ];
    hub_model::run_in(&mut world, &ops, false);
}

/// A guest that logs in with the right password as a name the console banned: the hub answered in
/// the login reply slot with a private `message` notice from Serveur and a `kick` line, then
/// closed. A sync-reader reads that notice as its login answer; docs/PROTOCOL.md §2.3 says the
/// reply is exactly one line, `login` ok or an `error`. Fixed: the ban text is the error reply,
/// alone, then the close (core/src/hub/auth.rs `refuse_banned`, core/src/hub/admin.rs `kick`).
#[test]
fn banned_login_from_a_guest_gets_a_notice_instead_of_an_error_reply() {
    let mut world = World::with_known_bugs(KnownBugs::NONE);
    let ops = [
        // Admin 7 with pick 0: ban the name NAMES[0] = "alice".
        Op::Admin(7, 0),
        Op::Connect,
        send(0, r#"{"type":"message","content":"salut","from":"zoe"}"#),
        send(0, r#"{"type":"login","username":"alice","password":"pw"}"#),
        Op::Auth(0, 2),
    ];
    hub_model::run_in(&mut world, &ops, false);
}
