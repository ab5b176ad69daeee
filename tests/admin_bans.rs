//! Bans (by address, network or name) as clients see them, across a restart and when they
//! expire; and the account and backup commands going through the running server.

mod common;

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Client, TestServer, TIMEOUT};
use serde_json::json;

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// The refusal a banned address reads before the connection closes.
fn assert_refused_at_accept(server: &TestServer, last: u8) {
    let mut banned = Client::connect_from(server.addr, ip(last));
    let line = banned.recv();
    assert_eq!(line["type"], "error");
    assert!(
        line["message"].as_str().unwrap().contains("bannie"),
        "{line}"
    );
    assert!(banned.closed_by_server());
}

#[test]
fn a_banned_address_is_cut_off_and_refused_while_another_connects() {
    let server = TestServer::start();
    let mut target = Client::connect_from(server.addr, ip(3));
    target.guest("mallory");
    let mut neighbour = Client::connect_from(server.addr, ip(4));
    neighbour.guest("bob");
    let text = server.admin_ok(&["ban", "127.0.0.3", "1h", "triche"]);
    assert!(text.contains("127.0.0.3 banni pour 1 h"), "{text}");
    assert!(text.contains("1 connexion(s) fermée(s)"), "{text}");
    let notice = target.recv_until("the ban notice", |l| {
        l["from"] == "Serveur" && l["content"].as_str().unwrap().contains("banni")
    });
    assert_eq!(
        notice["content"],
        "Vous êtes banni de ce serveur. Raison : triche"
    );
    assert!(target.closed_with_nothing_more(), "the notice alone, last");
    assert_refused_at_accept(&server, 3);
    neighbour.sync();
    let mut fresh = Client::connect_from(server.addr, ip(5));
    fresh.guest("léa");
    server.wait_for_log("CONN_REJECTED ip=127.0.0.3 reason=banned");
    server.wait_for_log("ADMIN_BAN ip=127.0.0.3 kind=address duration=3600");
    server.wait_for_log("BANNED ip=127.0.0.3 conn=1 user=\"mallory\"");
    // A network: confirmed with --yes (it could cut a whole room).
    let refused = server.admin(&["ban", "127.0.0.8/29"]);
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        error.contains("127.0.0.8/29 (8 adresses) sera banni"),
        "{error}"
    );
    server.admin_ok(&["ban", "127.0.0.8/29", "--yes"]);
    assert_refused_at_accept(&server, 12);
    let mut outside = Client::connect_from(server.addr, ip(16));
    outside.sync();
    server.admin_ok(&["unban", "127.0.0.3"]);
    let mut back = Client::connect_from(server.addr, ip(3));
    back.sync();
}

#[test]
fn a_banned_name_cannot_log_in_or_be_taken_by_a_guest_until_unbanned() {
    let server = TestServer::start();
    let mut mallory = server.client();
    assert_eq!(mallory.register("mallory", "pw-123456")["status"], "ok");
    server.admin_ok(&["ban", "Mallory", "spam"]);
    let refused = mallory.login("mallory", "pw-123456");
    assert_eq!(refused["type"], "error", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("banni"));
    assert!(mallory.closed_by_server());
    let mut guest = server.client();
    guest.send(json!({"type":"message","from":"MALLORY","content":"coucou"}));
    let line = guest.recv();
    assert!(line.to_string().contains("banni"), "{line}");
    assert!(guest.closed_by_server());
    let bans = server.admin_json(&["bans"]);
    assert_eq!(bans["data"][0]["target"], "Mallory");
    assert_eq!(bans["data"][0]["kind"], "name");
    server.admin_ok(&["unban", "mallory"]);
    let mut again = server.client();
    assert_eq!(again.login("mallory", "pw-123456")["status"], "ok");
}

#[test]
fn bans_survive_a_restart_and_timed_ones_expire() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let server = TestServer::start_in(&data, &[]);
    server.admin_ok(&["ban", "127.0.0.6", "permanent", "vandalisme"]);
    server.admin_ok(&["ban", "mallory"]);
    server.admin_ok(&["ban", "eve", "2s"]);
    assert_eq!(server.stop().code(), Some(0));

    let server = TestServer::start_in(&data, &[]);
    let bans = server.admin_json(&["bans"]);
    let targets: Vec<&str> = bans["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|ban| ban["target"].as_str())
        .collect();
    assert!(
        targets.contains(&"127.0.0.6") && targets.contains(&"mallory"),
        "{bans}"
    );
    assert_refused_at_accept(&server, 6);
    let mut guest = server.client();
    guest.send(json!({"type":"message","from":"mallory","content":""}));
    assert!(guest.recv().to_string().contains("banni"));
    // eve's two seconds run out (checked on the hub's 2-second tick).
    let deadline = Instant::now() + *TIMEOUT;
    loop {
        let bans = server.admin_json(&["bans"]);
        if !bans["data"].to_string().contains("eve") {
            break;
        }
        assert!(Instant::now() < deadline, "eve's ban never expired: {bans}");
        std::thread::sleep(Duration::from_millis(200));
    }
    server.wait_for_log("ADMIN_UNBAN ip=- kind=name why=expired user=\"eve\"");
    let mut eve = server.client();
    eve.guest("eve");
}

/// `classcord user ACTION... --data DATA`, with `input` on standard input.
fn user_command(server: &TestServer, args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_classcord"))
        .arg("user")
        .args(args)
        .arg("--data")
        .arg(&server.data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn account_commands_go_through_the_running_server() {
    let server = TestServer::start();
    let added = user_command(&server, &["add", "Prof"], "tableau-noir\n");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(String::from_utf8_lossy(&added.stdout).contains("Compte « Prof » créé"));
    // The hub knows the account at once: a guest cannot take its name.
    let mut guest = server.client();
    guest.send(json!({"type":"message","from":"prof","content":""}));
    assert_eq!(guest.recv()["to"], "prof (invité)");
    let mut prof = server.client();
    assert_eq!(prof.login("prof", "tableau-noir")["status"], "ok");
    let listed = user_command(&server, &["list"], "");
    assert!(String::from_utf8_lossy(&listed.stdout).contains("Prof"));
    let changed = user_command(&server, &["passwd", "prof"], "craie-blanche\n");
    assert!(changed.status.success());
    let mut again = server.client();
    assert_eq!(again.login("prof", "craie-blanche")["status"], "ok");
    let unconfirmed = user_command(&server, &["del", "prof"], "");
    assert!(!unconfirmed.status.success());
    assert!(
        String::from_utf8_lossy(&unconfirmed.stderr).contains("ajoutez --yes"),
        "{}",
        String::from_utf8_lossy(&unconfirmed.stderr)
    );
    let deleted = user_command(&server, &["del", "prof", "--yes"], "");
    let text = String::from_utf8_lossy(&deleted.stdout);
    assert!(text.contains("2 connexion(s) fermée(s)"), "{text}");
    for client in [&mut prof, &mut again] {
        client.recv_until("the notice", |l| {
            l["from"] == "Serveur" && l["content"].as_str().unwrap().contains("déconnecté")
        });
        assert!(client.closed_with_nothing_more());
    }
    let mut gone = server.client();
    assert_eq!(gone.login("prof", "craie-blanche")["type"], "error");
}

#[test]
fn a_backup_goes_through_the_running_server_into_the_operators_file() {
    let server = TestServer::start();
    let mut alice = server.client();
    alice.account("alice");
    alice.send(json!({"type":"message","content":"à garder"}));
    alice.sync();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("copie.redb");
    let backup = Command::new(env!("CARGO_BIN_EXE_classcord"))
        .args(["backup", "--data"])
        .arg(&server.data)
        .arg("--out")
        .arg(&dest)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&backup.stdout);
    assert!(
        backup.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert!(stdout.contains("sauvegarde vérifiée"), "{stdout}");
    assert!(
        stdout.contains("users") && stdout.contains("bans"),
        "{stdout}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    server.wait_for_log(" : backup\n");
    // The same through the console, into a folder; the database itself is refused.
    let text = server.admin_ok(&["backup", &format!("{}/", out.path().display())]);
    assert!(text.contains("Sauvegarde vérifiée"), "{text}");
    let refused = server.admin(&[
        "backup",
        server.data.join("classcord.redb").to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("la base elle-même"));
}
