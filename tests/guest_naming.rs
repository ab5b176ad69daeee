//! Guest naming over real TCP. Regression for issue 6: real clients that ask for the user list
//! before their first message were all named `invité`.

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::json;

const QUIET: Duration = Duration::from_millis(300);

/// Two client families send `users` as soon as their window opens, then chat with
/// `from: "<pseudo>"`: each guest must appear under its own pseudo.
#[test]
fn guests_who_ask_for_the_user_list_first_keep_their_own_name() {
    let server = TestServer::start();
    let mut watcher = server.client();
    watcher.account("prof");
    assert_eq!(watcher.recv()["from"], "Serveur", "the welcome");

    let mut first = server.client();
    let mut second = server.client();
    for guest in [&mut first, &mut second] {
        guest.send(json!({"type":"users"}));
        assert_eq!(guest.recv(), json!({"type":"users","users":["prof"]}));
        guest.expect_silence(QUIET);
    }
    watcher.expect_silence(QUIET);

    for round in 1..=2 {
        let content = format!("message {round}");
        first.send(
            json!({"type":"message","subtype":"global","from":"Invité3660","content":content}),
        );
        if round == 1 {
            assert_eq!(
                watcher.recv(),
                json!({"type":"status","user":"Invité3660","state":"online"}),
                "announced before the first message"
            );
            let welcome = first.recv();
            assert_eq!(welcome["from"], "Serveur");
            assert!(welcome["content"].as_str().unwrap().contains("Invité3660"));
        }
        let line = watcher.recv_chat();
        assert_eq!(
            (line["from"].as_str(), line["content"].as_str()),
            (Some("Invité3660"), Some(content.as_str()))
        );
    }

    second.send(json!({"type":"message","from":"Invité812","content":"coucou"}));
    second.recv(); // welcome
    assert_eq!(first.recv_chat()["from"], "Invité812");
    assert_eq!(watcher.recv_type("status")["user"], "Invité812");
    assert_eq!(watcher.recv_chat()["from"], "Invité812");

    watcher.send(json!({"type":"users"}));
    assert_eq!(
        watcher.recv_type("users"),
        json!({"type":"users","users":["Invité3660","Invité812","prof"]})
    );
    watcher.send(json!({"type":"private","to":"Invité3660","content":"à toi seul"}));
    assert_eq!(first.recv_chat()["content"], "à toi seul");
    second.expect_silence(QUIET);

    server.wait_for_log("[INVITE] Invité812");
    let log = server.wait_for_log("[INVITE] Invité3660");
    assert!(
        !log.contains("[INVITE] invité"),
        "nobody was named invité: {log}"
    );
}

/// Every query an anonymous connection may send leaves it anonymous; a `status` without `user`
/// is accepted silently.
#[test]
fn queries_and_a_bare_status_leave_an_anonymous_connection_unnamed() {
    let server = TestServer::start();
    let mut watcher = server.client();
    watcher.account("prof");
    assert_eq!(watcher.recv()["from"], "Serveur", "the welcome");
    let mut anonymous = server.client();
    for (request, reply) in [
        (json!({"type":"userlist"}), Some("users")),
        (json!({"type":"list_users"}), Some("list_users")),
        (json!({"type":"who"}), Some("who")),
        (json!({"type":"channels"}), Some("channels")),
        (json!({"type":"history"}), Some("history")),
        (json!({"type":"ping"}), Some("pong")),
        (json!({"type":"status","state":"away"}), None),
    ] {
        anonymous.send(request.clone());
        match reply {
            Some(kind) => assert_eq!(anonymous.recv()["type"], kind, "reply to {request}"),
            None => anonymous.expect_silence(QUIET),
        }
    }
    anonymous.expect_silence(QUIET);
    watcher.expect_silence(QUIET);
    anonymous.send(json!({"type":"status","user":"Léo","state":"online"}));
    assert_eq!(
        watcher.recv(),
        json!({"type":"status","user":"Léo","state":"online"})
    );
    assert!(anonymous.recv()["content"]
        .as_str()
        .unwrap()
        .contains("Léo"));
}
