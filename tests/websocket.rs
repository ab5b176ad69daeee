//! The web port (issue 16): the chat page's files with their security headers, and the WebSocket
//! transport: a browser speaks the TCP clients' JSON protocol, one object per text frame, through
//! the same hub, limits and logs. Edge cases with a raw client: plain HTTP on the WebSocket path,
//! a bad key, a foreign origin, a frame over the line cap, binary and fragmented frames,
//! ping/pong, a browser that never reads, and the per-address caps.

mod common;

use common::websocket::{http_get, ServerFrame, WsClient};
use common::TestServer;
use serde_json::json;

/// A TCP student logged in whose chat window asked for the user list (so nothing is held).
fn listening_student(server: &TestServer, name: &str) -> common::Client {
    let mut student = server.client();
    student.account(name);
    student.send(json!({"type":"users"}));
    student.recv_type("users");
    student
}

#[test]
fn the_page_is_served_with_a_strict_content_security_policy() {
    let server = TestServer::start();
    let web = server.web_addr();
    let (head, body) = http_get(web, &format!("GET / HTTP/1.1\r\nHost: {web}\r\n\r\n"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Content-Security-Policy: default-src 'none'; script-src 'self'"));
    assert!(head.contains("X-Content-Type-Options: nosniff"));
    assert!(body.contains("<html lang=\"fr\""), "{body}");
    assert!(!body.contains("<script>"), "no inline script");
    let (head, _) = http_get(web, &format!("GET /nope HTTP/1.1\r\nHost: {web}\r\n\r\n"));
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let (head, _) = http_get(web, &format!("POST / HTTP/1.1\r\nHost: {web}\r\n\r\n"));
    assert!(head.starts_with("HTTP/1.1 405"), "{head}");
}

#[test]
fn a_browser_and_a_tcp_client_chat_both_ways_through_the_same_hub() {
    let server = TestServer::start();
    let mut student = listening_student(&server, "alice");
    let mut browser = WsClient::connect(server.web_addr());
    browser.send(json!({"type":"hello","features":["kick","shutdown","no-hold"]}));
    assert_eq!(browser.recv()["type"], "hello");
    browser.send(json!({"type":"message","from":"zoé","content":"bonjour depuis le navigateur"}));
    let welcome = browser.recv();
    assert_eq!(welcome["from"], "Serveur");
    let seen = student.recv_chat();
    assert_eq!(seen["from"], "zoé");
    assert_eq!(seen["content"], "bonjour depuis le navigateur");
    student.send(json!({"type":"message","content":"salut zoé"}));
    let back = browser.recv_until("alice's line", |line| line["from"] == "alice");
    assert_eq!(back["content"], "salut zoé");
    server.wait_for_log(", websocket)");
    assert!(server.log().contains("[CONNEXION] 127.0.0.1:"));
}

#[test]
fn plain_http_or_a_bad_key_on_the_websocket_path_gets_a_french_400() {
    let server = TestServer::start();
    let web = server.web_addr();
    let (head, body) = http_get(web, &format!("GET /ws HTTP/1.1\r\nHost: {web}\r\n\r\n"));
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(body.contains("WebSocket"), "{body}");
    let bad_key = format!(
        "GET /ws HTTP/1.1\r\nHost: {web}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: pas-une-cle\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let (head, _) = http_get(web, &bad_key);
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
}

#[test]
fn a_foreign_origin_is_refused() {
    let server = TestServer::start();
    let refused = WsClient::connect_with(server.web_addr(), "Origin: http://evil.example\r\n")
        .err()
        .expect("refused");
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    server.wait_for_log("reason=foreign-origin");
}

#[test]
fn fragments_ping_and_binary_frames() {
    let server = TestServer::start();
    let mut browser = WsClient::connect(server.web_addr());
    browser.send_frame(0x1, false, br#"{"type":"#, true);
    browser.send_frame(0x9, true, b"ici", true);
    browser.send_frame(0x0, true, br#""ping"}"#, true);
    let frames = [browser.frame(), browser.frame()];
    assert!(
        frames.contains(&Some(ServerFrame::Pong(b"ici".to_vec()))),
        "the ping between fragments is answered: {frames:?}"
    );
    assert!(
        frames.contains(&Some(ServerFrame::Text(r#"{"type":"pong"}"#.into()))),
        "fragments make one request: {frames:?}"
    );
    browser.send_frame(0x2, true, &[0, 1, 2], true);
    let error = browser.recv();
    assert_eq!(error["type"], "error");
    assert!(
        error["message"].as_str().unwrap().contains("binaire"),
        "{error}"
    );
    browser.send(json!({"type":"ping"}));
    assert_eq!(browser.recv()["type"], "pong", "the connection stays");
    server.wait_for_log("reason=binary-frame");
}

#[test]
fn a_message_over_the_line_cap_gets_the_error_then_a_close() {
    let server = TestServer::start_with_config("[limits]\nmax_line_bytes = 1024\n");
    let mut browser = WsClient::connect(server.web_addr());
    browser.send_frame(0x1, true, &vec![b'x'; 5000], true);
    let error = browser.recv();
    assert!(
        error["message"].as_str().unwrap().contains("trop longue"),
        "{error}"
    );
    assert_eq!(browser.closed(), Some(1000));
}

#[test]
fn an_unmasked_frame_is_a_protocol_error_and_a_close() {
    let server = TestServer::start();
    let mut browser = WsClient::connect(server.web_addr());
    browser.send_frame(0x1, true, br#"{"type":"ping"}"#, false);
    assert_eq!(browser.closed(), Some(1002));
    server.wait_for_log("PROTOCOL_ERROR ip=127.0.0.1 reason=unmasked");
}

#[test]
fn a_browser_closing_gets_a_close_back_and_leaves_the_chat() {
    let server = TestServer::start();
    let mut student = listening_student(&server, "alice");
    let mut browser = WsClient::connect(server.web_addr());
    browser.send(json!({"type":"message","from":"léo","content":""}));
    student.recv_until("léo online", |l| {
        l["user"] == "léo" && l["state"] == "online"
    });
    browser.send_frame(0x8, true, &1000u16.to_be_bytes(), true);
    assert_eq!(browser.closed(), Some(1000));
    student.recv_until("léo offline", |l| {
        l["user"] == "léo" && l["state"] == "offline"
    });
}

#[test]
fn the_per_address_cap_counts_browsers_like_tcp_clients() {
    let server = TestServer::start_with_config("[security]\nmax_connections_per_ip = 3\n");
    let _tcp = server.client();
    let _first = WsClient::connect(server.web_addr());
    let _second = WsClient::connect(server.web_addr());
    let refused = WsClient::connect_with(server.web_addr(), "")
        .err()
        .expect("the fourth connection from this address is refused");
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    server.wait_for_log("CONN_REJECTED ip=127.0.0.1 reason=too-many");
}

#[test]
fn a_browser_that_never_reads_is_cut_alone() {
    let server = TestServer::start_with_config(&format!(
        "[limits]\noutbound_queue_bytes = 65536\n{}",
        common::UNTHROTTLED
    ));
    // Identified (so it is sent everything), tiny receive buffer, never reads again.
    let mut stuck = WsClient::connect(server.web_addr());
    nix::sys::socket::setsockopt(&*stuck.raw(), nix::sys::socket::sockopt::RcvBuf, &4096).unwrap();
    stuck.send(json!({"type":"message","from":"lent","content":""}));
    let mut reader = server.client();
    reader.guest("lecteur");
    reader.sync();
    // A classmate who reads: never cut, and sees every line up to the talker's last.
    let reading = std::thread::spawn(move || {
        reader.recv_until("the last line", |l| l["content"] == "fin");
    });
    let mut talker = server.client();
    talker.guest("bavard");
    let filler = "x".repeat(1000);
    let mut batch = Vec::new();
    for seq in 0..6000 {
        let line = json!({"type":"message","content":format!("{seq} {filler}")});
        batch.extend_from_slice(line.to_string().as_bytes());
        batch.push(b'\n');
        if batch.len() > 64 * 1024 {
            talker.send_raw(&batch);
            batch.clear();
        }
    }
    talker.send_raw(&batch);
    talker.send(json!({"type":"message","content":"fin"}));
    reading.join().expect("the reader was served");
    server.wait_for_log("SLOW_CLIENT ip=127.0.0.1");
    assert_eq!(
        server.log().matches("SLOW_CLIENT").count(),
        1,
        "only the browser was cut"
    );
}
