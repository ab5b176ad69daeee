//! Issue 14: real student clients lose what follows the login reply. Many read the socket with
//! one reader on their login screen and open another in their chat window; lines that came in
//! the same read as the reply are lost. The server holds every line after a login reply until
//! the client's first request (answered first) or a settle delay, and sends extension lines
//! (`kick`, `shutdown`) only to clients that announced them (tests/admin.rs, tests/lifecycle.rs).

mod common;

use common::{Client, TestServer};
use serde_json::{json, Value};

/// `bob` is registered and offline; alice, logged in, leaves him two private messages.
fn class_with_two_messages_for_bob(server: &TestServer) -> Client {
    let mut bob = server.client();
    bob.account("bob");
    drop(bob);
    let mut alice = server.client();
    alice.account("alice");
    for text in ["premier message", "deuxième message"] {
        alice.send(json!({"type":"private","to":"bob","content":text}));
        let notice = alice.recv_until("the deferred notice", |l| {
            l["from"] == "Serveur" && l["content"].as_str().unwrap().contains("prochaine")
        });
        assert_eq!(notice["subtype"], "private");
    }
    alice
}

fn login_as_bob(server: &TestServer) -> Client {
    let mut bob = server.client();
    let reply = bob.login("bob", "secret-pw");
    assert_eq!(
        reply,
        json!({"type":"login","status":"ok","username":"bob"})
    );
    bob
}

fn content(line: &Value) -> &str {
    line["content"].as_str().unwrap_or_default()
}

#[test]
fn a_client_that_swaps_readers_after_the_login_reply_sees_its_messages_and_the_welcome() {
    let server = TestServer::start();
    let _alice = class_with_two_messages_for_bob(&server);
    let mut bob = server.client();
    bob.send(json!({"type":"login","username":"bob","password":"secret-pw"}));
    // The login screen is slow to read (a busy Swing thread): by the time it reads, whatever the
    // server sent after the reply is in the same read, and dropped with the first reader.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(bob.recv()["status"], "ok");
    let lost = bob.open_second_reader();
    assert_eq!(lost, 0, "nothing came in the same read as the login reply");
    // It sends nothing: the held lines come after the settle delay, in order.
    let first = bob.recv();
    assert_eq!(content(&first), "premier message");
    assert_eq!(first["deferred"], true);
    assert_eq!(content(&bob.recv()), "deuxième message");
    let welcome = bob.recv();
    assert_eq!(welcome["from"], "Serveur");
    assert!(content(&welcome).starts_with("Bienvenue"), "{welcome}");
}

#[test]
fn a_client_that_asks_for_users_at_once_gets_that_reply_before_the_held_lines() {
    let server = TestServer::start();
    let mut alice = class_with_two_messages_for_bob(&server);
    let mut bob = login_as_bob(&server);
    bob.open_second_reader();
    // A classmate's message sent right after bob's login waits behind the held lines.
    alice.send(json!({"type":"message","content":"bienvenue bob"}));
    alice.sync();
    bob.send(json!({"type":"users"}));
    let users = bob.recv();
    assert_eq!(users["type"], "users", "the reply first: {users}");
    assert!(users["users"].as_array().unwrap().contains(&json!("bob")));
    let held: Vec<Value> = (0..4).map(|_| bob.recv()).collect();
    let texts: Vec<&str> = held.iter().map(content).collect();
    assert_eq!(texts[..2], ["premier message", "deuxième message"]);
    assert!(texts[2].starts_with("Bienvenue"), "{texts:?}");
    assert_eq!(
        texts[3], "bienvenue bob",
        "the classmate's line comes after, not lost"
    );
    assert_eq!(held[3]["from"], "alice");
}

#[test]
fn a_client_that_announces_no_hold_gets_everything_at_once() {
    let server = TestServer::start();
    let _alice = class_with_two_messages_for_bob(&server);
    let mut bob = server.client();
    let hello = bob.hello(&["no-hold", "kick", "pas-encore"]);
    assert_eq!(hello["features"], json!(["kick", "no-hold"]));
    assert_eq!(bob.login("bob", "secret-pw")["status"], "ok");
    assert_eq!(content(&bob.recv()), "premier message");
    assert_eq!(content(&bob.recv()), "deuxième message");
    assert!(content(&bob.recv()).starts_with("Bienvenue"));
}

#[test]
fn the_hold_is_configurable_and_zero_turns_it_off() {
    let server = TestServer::start_with_config("[clients]\nlogin_settle_ms = 0\n");
    let mut alice = server.client();
    alice.account("alice");
    let welcome = alice.recv();
    assert!(content(&welcome).starts_with("Bienvenue"));
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("classcord.toml");
    std::fs::write(&config, "[clients]\nlogin_settle_ms = 60000\n").unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_classcord"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(temp.path().join("data"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("clients.login_settle_ms") && stderr.contains("attendu entre"),
        "a French error names the key: {stderr}"
    );
}
