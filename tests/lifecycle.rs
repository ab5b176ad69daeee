//! Server lifecycle over real sockets and files: start-up logs, line cap, graceful shutdown on
//! SIGTERM, accounts kept across restarts.

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::json;

#[test]
fn over_long_line_gets_an_error_then_the_connection_closes() {
    let server = TestServer::start();
    let mut client = server.client();
    let mut line = b"{\"type\":\"message\",\"content\":\"".to_vec();
    line.extend(std::iter::repeat_n(b'a', 70 * 1024));
    line.extend_from_slice(b"\"}\n");
    client.send_raw(&line);
    let error = client.recv();
    assert_eq!(error["type"], "error");
    assert!(
        error["message"].as_str().unwrap().contains("65536"),
        "{error}"
    );
    assert!(client.closed_by_server());
    server.wait_for_log("reason=line-too-long");
}

#[test]
fn configured_line_cap_is_honoured() {
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("classcord.toml");
    std::fs::write(&config, "[limits]\nmax_line_bytes = 1024\n").unwrap();
    let server = TestServer::start_with(&["--config", config.to_str().unwrap()]);
    let mut client = server.client();
    client.send(json!({"type":"message","content":"x".repeat(900)}));
    client.sync();
    client.send(json!({"type":"message","content":"x".repeat(1100)}));
    assert!(client.recv()["message"].as_str().unwrap().contains("1024"));
    assert!(client.closed_by_server());
}

#[test]
fn sigterm_sends_a_notice_and_shutdown_line_then_exits_zero() {
    let server = TestServer::start();
    let mut alice = server.client();
    alice.hello(&["shutdown"]);
    alice.account("alice");
    alice.sync();
    let mut plain = server.client();
    plain.account("bob");
    plain.sync();
    let mut anonymous = server.client();
    anonymous.sync();
    let status_handle = std::thread::spawn(move || server.stop());
    alice.recv_type("shutdown");
    for client in [&mut alice, &mut plain] {
        let notice = client.recv_until("shutdown notice", |l| {
            l["from"] == "Serveur" && l["subtype"] == "global"
        });
        assert!(
            notice["content"].as_str().unwrap().contains("arrête"),
            "{notice}"
        );
        assert!(
            client.closed_with_nothing_more(),
            "the notice is the last line"
        );
    }
    assert!(anonymous.closed_by_server());
    let status = status_handle.join().unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn accounts_survive_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let server = TestServer::start_in(&data, &[]);
    let mut client = server.client();
    client.account("persistant");
    drop(client);
    assert!(server.stop().success());

    let server = TestServer::start_in(&data, &[]);
    server.wait_for_log("(1 compte(s),");
    let mut client = server.client();
    assert_eq!(client.login("persistant", "secret-pw")["status"], "ok");
    client.recv_until("welcome", |l| l["from"] == "Serveur");
    assert_eq!(
        client.register("PERSISTANT", "autre-mot-de-passe")["message"],
        "Username already exists."
    );
    assert!(server.stop().success());
}

#[test]
fn startup_and_connection_events_are_logged() {
    let server = TestServer::start();
    let mut client = server.client();
    client.guest("zoe");
    client.send(json!({"type":"message","content":"un secret"}));
    client.sync();
    drop(client);
    let log = server.wait_for_log("[DECONNEXION]");
    assert!(
        log.contains("[DEMARRAGE]") && log.contains("classcord.redb"),
        "{log}"
    );
    assert!(log.contains("[CONNEXION] 127.0.0.1:"), "{log}");
    assert!(log.contains("[INVITE] zoe depuis 127.0.0.1"), "{log}");
    assert!(log.contains("[MSG] zoe -> #général (9 octets"), "{log}");
    assert!(!log.contains("un secret"), "contents only at debug level");
}

#[test]
fn port_in_use_is_a_clear_error() {
    let server = TestServer::start();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_classcord"))
        .args(["serve", "--listen", &server.addr.to_string(), "--data"])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("impossible d'écouter sur"), "{stderr}");
}

#[test]
fn idle_connection_costs_no_read_buffer_and_many_connections_are_held() {
    let server = TestServer::start();
    // Ten client machines (source addresses), twenty connections each: within the per-address
    // defaults.
    let mut clients: Vec<_> = (0..200)
        .map(|n| {
            common::Client::connect_from(
                server.addr,
                std::net::Ipv4Addr::new(127, 0, 0, 2 + n % 10),
            )
        })
        .collect();
    for client in clients.iter_mut() {
        client.sync();
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut last = server.client();
    last.guest("dernier");
}

#[test]
fn the_shipped_example_config_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/etc/classcord.toml");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_classcord"))
        .args(["check-config", example])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("0.0.0.0:12345"), "{stdout}");
    assert!(
        stdout.contains("toutes les 50 ms ou 1000 messages"),
        "{stdout}"
    );
    assert!(stdout.contains("365 jours au plus"), "{stdout}");
}

#[test]
fn ipv6_clients_share_the_hub_and_are_logged_with_their_bare_address() {
    let server = TestServer::start_with(&["--listen", "[::1]:0"]);
    let log = server.wait_for_log("écoute sur [::1]:");
    let port = log
        .split("écoute sur [::1]:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("IPv6 port in the start-up line");
    let v6_addr: std::net::SocketAddr = format!("[::1]:{port}").parse().unwrap();

    let mut v4 = server.client();
    v4.guest("quatre");
    let mut v6 = common::Client::connect(v6_addr);
    v6.guest("six");
    assert_eq!(
        v4.recv_type("status")["user"],
        "six",
        "one hub for both families"
    );
    v6.send_raw(b"not json\n");
    assert_eq!(v6.recv()["type"], "error");
    server.wait_for_log("PROTOCOL_ERROR ip=::1 reason=bad-json");
}
