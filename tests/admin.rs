//! The control socket and `classcord admin` against the real server: who may use it, and each
//! command's effect as connected chat clients see it.

mod common;

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Client, TestServer, TIMEOUT};
use serde_json::json;

/// Registers and logs in, then reads the welcome notice.
fn account(client: &mut Client, name: &str) {
    client.account(name);
    client.recv_until("the welcome", |line| line["from"] == "Serveur");
}

fn from(server: &TestServer, last: u8) -> Client {
    Client::connect_from(server.addr, Ipv4Addr::new(127, 0, 0, last))
}

#[test]
fn the_socket_is_0660_and_who_lists_every_connection() {
    let server = TestServer::start();
    let socket = server.admin_socket();
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "socket mode");
    let mut alice = from(&server, 2);
    account(&mut alice, "alice");
    alice.send(json!({"type":"join_channel","channel":"#java"}));
    alice.recv_type("join_channel");
    alice.send(json!({"type":"message","channel":"#java","content":"bonjour"}));
    let mut zoe = from(&server, 3);
    zoe.guest("zoé");
    let mut anonymous = from(&server, 4);
    anonymous.sync();
    alice.sync();
    let reply = server.admin_json(&["who"]);
    assert_eq!(reply["ok"], true, "{reply}");
    let rows = reply["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let find = |name: Option<&str>| {
        rows.iter()
            .find(|row| row["name"].as_str() == name)
            .unwrap_or_else(|| panic!("{name:?} in {rows:?}"))
    };
    let alice_row = find(Some("alice"));
    assert_eq!(alice_row["kind"], "account");
    assert_eq!(alice_row["ip"], "127.0.0.2");
    assert_eq!(alice_row["messages"], 1);
    assert_eq!(alice_row["channels"], json!(["#général", "#java"]));
    assert_eq!(alice_row["state"], "online");
    assert_eq!(find(Some("zoé"))["kind"], "guest");
    assert_eq!(find(Some("zoé"))["ip"], "127.0.0.3");
    assert_eq!(find(None)["kind"], "anonymous");
    let text = server.admin_ok(&["who"]);
    assert!(text.starts_with("3 connexion(s) :"), "{text}");
    assert!(text.contains("compte") && text.contains("invité"), "{text}");
}

#[test]
fn kick_closes_exactly_the_connections_of_the_name() {
    let server = TestServer::start();
    let mut first = server.client();
    // `first` understands the typed kick line; `second` is a plain student client.
    first.hello(&["kick"]);
    account(&mut first, "alice");
    let mut second = server.client();
    assert_eq!(second.login("alice", "secret-pw")["status"], "ok");
    let mut bob = server.client();
    account(&mut bob, "bob");
    let text = server.admin_ok(&["kick", "alice", "trop de bruit"]);
    assert!(text.contains("2 connexion(s) fermée(s)"), "{text}");
    first.recv_type("kick");
    for client in [&mut first, &mut second] {
        let notice = client.recv_until("the kick notice", |l| {
            l["from"] == "Serveur" && l["content"].as_str().unwrap().contains("déconnecté")
        });
        assert!(
            notice["content"]
                .as_str()
                .unwrap()
                .contains("Raison : trop de bruit"),
            "{notice}"
        );
        assert!(
            client.closed_with_nothing_more(),
            "the notice is the last line"
        );
    }
    bob.sync();
    let missing = server.admin(&["kick", "personne"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("personne"));
}

#[test]
fn alert_reaches_accounts_and_guests_and_say_one_name() {
    let server = TestServer::start();
    let mut alice = server.client();
    account(&mut alice, "alice");
    let mut zoe = server.client();
    zoe.guest("zoé");
    let text = server.admin_ok(&["alert", "Fin", "du", "TP", "dans", "5", "minutes"]);
    assert!(text.contains("2 personne(s)"), "{text}");
    for client in [&mut alice, &mut zoe] {
        let line = client.recv_until("the alert", |l| l["from"] == "Serveur");
        assert_eq!(line["content"], "Fin du TP dans 5 minutes");
        assert_eq!(line["system"], true);
    }
    server.admin_ok(&["say", "zoé", "Viens me voir"]);
    let said = zoe.recv_until("the private notice", |l| l["from"] == "Serveur");
    assert_eq!(
        (said["to"].as_str(), said["content"].as_str()),
        (Some("zoé"), Some("Viens me voir"))
    );
    alice.expect_silence(Duration::from_millis(300));
}

#[test]
fn a_closed_channel_refuses_messages_and_channels_lists_it() {
    let server = TestServer::start();
    server.admin_ok(&["channel", "create", "#projet"]);
    let mut alice = server.client();
    account(&mut alice, "alice");
    alice.send(json!({"type":"join_channel","channel":"#projet"}));
    alice.recv_type("join_channel");
    server.admin_ok(&["channel", "close", "#projet"]);
    let notice = alice.recv_until("the close notice", |l| l["from"] == "Serveur");
    assert!(notice["content"].as_str().unwrap().contains("fermé"));
    alice.send(json!({"type":"message","channel":"#projet","content":"x"}));
    let refused = alice.recv();
    assert!(
        refused.to_string().contains("ferm"),
        "a closed channel refuses: {refused}"
    );
    let list = server.admin_json(&["channels"]);
    let projet = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "#projet")
        .cloned()
        .unwrap();
    assert_eq!(
        (projet["closed"].as_bool(), projet["members"].as_u64()),
        (Some(true), Some(1))
    );
    server.admin_ok(&["channel", "open", "#projet"]);
    alice.recv_until("the reopen notice", |l| l["from"] == "Serveur");
    alice.send(json!({"type":"message","channel":"#projet","content":"y"}));
    alice.sync();
}

#[test]
fn reload_changes_the_welcome_without_dropping_anyone_and_keeps_a_bad_file_out() {
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("classcord.toml");
    std::fs::write(&config, "welcome = \"Bonjour {nom}\"\n").unwrap();
    let data = temp.path().join("data");
    let server = TestServer::start_in(&data, &["--config", config.to_str().unwrap()]);
    let mut early = server.client();
    early.send(json!({"type":"message","from":"zoé","content":""}));
    assert_eq!(early.recv()["content"], "Bonjour zoé");

    std::fs::write(
        &config,
        "welcome = \"Salut {nom}\"\n[limits]\nmax_line_bytes = 2048\n[notices]\nchannel_moves = \"off\"\n",
    )
    .unwrap();
    let reply = server.admin_json(&["reload"]);
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(
        reply["data"]["applied"],
        json!(["welcome", "notices"]),
        "{reply}"
    );
    assert_eq!(reply["data"]["needs_restart"], json!(["limits"]));
    let mut late = server.client();
    late.send(json!({"type":"message","from":"léo","content":""}));
    assert_eq!(late.recv()["content"], "Salut léo");
    early.sync();

    std::fs::write(
        &config,
        "welcome = \"Cassé {nom}\"\n[notices]\njoined = \"{oups}\"\n",
    )
    .unwrap();
    let refused = server.admin(&["reload"]);
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains("notices.joined"), "{error}");
    let mut third = server.client();
    third.send(json!({"type":"message","from":"ana","content":""}));
    assert_eq!(third.recv()["content"], "Salut ana", "the old file stays");

    // SIGHUP reads it again too.
    std::fs::write(&config, "welcome = \"Coucou {nom}\"\n").unwrap();
    let pid = nix::unistd::Pid::from_raw(server.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    // The first reload logged the same line: wait for a second one.
    let deadline = Instant::now() + *TIMEOUT;
    while server
        .log()
        .matches("Appliqué tout de suite : welcome")
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "SIGHUP: {}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut fourth = server.client();
    fourth.send(json!({"type":"message","from":"eva","content":""}));
    assert_eq!(fourth.recv()["content"], "Coucou eva");
    early.sync();
}

#[test]
fn shutdown_counts_down_then_stops_cleanly() {
    let server = TestServer::start();
    let mut alice = server.client();
    alice.hello(&["shutdown"]);
    account(&mut alice, "alice");
    let mut plain = server.client();
    account(&mut plain, "bob");
    // Without --yes a one-shot shutdown says what it would do and does nothing.
    let refused = server.admin(&["shutdown", "2s", "mise", "à", "jour"]);
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains("s'arrêtera dans 2 s"), "{error}");
    assert!(error.contains("--yes"), "{error}");
    alice.sync();
    let text = server.admin_ok(&["--yes", "shutdown", "2s", "mise", "à", "jour"]);
    assert!(text.contains("Arrêt dans 2 s"), "{text}");
    for client in [&mut alice, &mut plain] {
        let notice = client.recv_until("the countdown", |l| {
            l["from"] == "Serveur" && l["content"].as_str().unwrap().contains("2 s")
        });
        assert_eq!(
            notice["content"],
            "Le serveur s'arrête dans 2 s. Raison : mise à jour"
        );
    }
    alice.recv_type("shutdown");
    let last = alice.recv();
    assert!(
        last["content"].as_str().unwrap().contains("arrête"),
        "{last}"
    );
    assert!(alice.closed_with_nothing_more());
    let last = plain.recv();
    assert!(
        last["content"].as_str().unwrap().contains("arrête"),
        "{last}"
    );
    assert!(
        plain.closed_with_nothing_more(),
        "no typed line without hello"
    );
    let deadline = Instant::now() + *TIMEOUT;
    while !server.log().contains("arrêt terminé") {
        assert!(
            Instant::now() < deadline,
            "no clean stop:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!server.admin_socket().exists(), "the socket file goes away");
}

#[test]
fn a_stale_socket_is_replaced_and_a_live_one_is_not_taken() {
    let temp = tempfile::tempdir().unwrap();
    let socket = temp.path().join("admin.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists(), "a stale socket file");
    let config = temp.path().join("c.toml");
    std::fs::write(&config, format!("[admin]\nsocket = {:?}\n", socket)).unwrap();
    let first = TestServer::start_in(
        &temp.path().join("one"),
        &["--config", config.to_str().unwrap()],
    );
    first.wait_for_log("ancien socket");
    let second = Command::new(env!("CARGO_BIN_EXE_classcord"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(temp.path().join("two"))
        .output()
        .unwrap();
    assert!(!second.status.success());
    let error = String::from_utf8_lossy(&second.stderr);
    assert!(
        error.contains("un autre serveur ClassCord répond déjà"),
        "{error}"
    );
    let reply =
        common::admin::run_admin(temp.path(), &["--socket", socket.to_str().unwrap(), "info"]);
    assert!(reply.status.success(), "the first server still answers");
    drop(first);
}

#[test]
fn a_user_that_is_not_allowed_is_refused_and_logged() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root to run the client as nobody (CI runs as root)");
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = temp.path().join("data");
    let server = TestServer::start_in(&data, &[]);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A copy of the binary nobody can run, wherever the build folder is.
    let binary = temp.path().join("classcord");
    std::fs::copy(env!("CARGO_BIN_EXE_classcord"), &binary).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(&binary)
            .arg("admin")
            .arg("--socket")
            .arg(server.admin_socket())
            .args(args)
            .output()
            .expect("setpriv")
    };
    // The file mode keeps nobody out first.
    let denied = as_nobody(&["who"]);
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("accès refusé au socket"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
    // With the file opened to all by mistake, the kernel-checked identity still refuses.
    std::fs::set_permissions(
        server.admin_socket(),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let refused = as_nobody(&["kick", "alice"]);
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains("Accès refusé"), "{error}");
    server.wait_for_log("ADMIN_REFUSED uid=65534");
    // Root is let in.
    server.admin_ok(&["who"]);
}
