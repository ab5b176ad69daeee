//! Persistence over real sockets and real redb files: history paging across a restart, deferred
//! private messages after the login reply, the v1 -> v2 migration, clean shutdown, and the crash
//! contract (SIGKILL under load). The full-disk test is in `tests/full_disk.rs`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use classcord::store::Store;
use classcord_core::hub::{HistoryPage, HistoryScope};
use common::{Client, TestServer};
use serde_json::{json, Value};

const QUIET: Duration = Duration::from_millis(300);

fn config_file(dir: &Path, text: &str) -> String {
    let path = dir.join("classcord.toml");
    std::fs::write(&path, text).expect("write config");
    path.to_str().expect("utf-8 path").to_owned()
}

fn history(client: &mut Client, request: Value) -> Vec<Value> {
    client.send(request);
    let reply = client.recv_type("history");
    reply["messages"].as_array().expect("messages").clone()
}

fn contents(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["content"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn history_pages_across_a_restart_and_ids_keep_increasing() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let server = TestServer::start_in(&data, &[]);
    let mut alice = server.client();
    alice.account("alice");
    let mut zoe = server.client();
    zoe.guest("zoé");
    for n in 1..=30 {
        alice.send(json!({"type":"message","content":format!("m{n:02}")}));
    }
    zoe.send(json!({"type":"message","channel":"#java","content":"dans java"}));
    let mut last_seen = 0;
    for _ in 0..30 {
        last_seen = zoe.recv_chat()["id"].as_u64().unwrap();
    }
    alice.sync();
    assert!(server.stop().success());

    let server = TestServer::start_in(&data, &[]);
    let mut reader = server.client();
    let page = history(&mut reader, json!({"type":"history","limit":10}));
    assert_eq!(contents(&page).first().map(String::as_str), Some("m21"));
    assert_eq!(contents(&page).last().map(String::as_str), Some("m30"));
    let before = page[0]["id"].as_u64().unwrap();
    let earlier = history(
        &mut reader,
        json!({"type":"history","limit":10,"before":before}),
    );
    assert_eq!(contents(&earlier)[0], "m11");
    assert!(earlier
        .iter()
        .all(|item| item["from"] == "alice" && item["subtype"] == "global"));
    let java = history(&mut reader, json!({"type":"history","channel":"java"}));
    assert_eq!(contents(&java), ["dans java"]);
    assert_eq!(java[0]["from"], "zoé");

    let mut bob = server.client();
    bob.account("bob");
    reader.guest("lecteur");
    bob.send(json!({"type":"message","content":"après le redémarrage"}));
    let fresh = reader.recv_chat()["id"].as_u64().unwrap();
    assert!(
        fresh > last_seen,
        "id {fresh} after a restart must exceed {last_seen}"
    );
}

#[test]
fn deferred_private_messages_arrive_right_after_the_login_reply_even_after_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let server = TestServer::start_in(&data, &[]);
    let mut bob = server.client();
    bob.account_with("bob", "pw-bob");
    bob.shutdown();
    let mut alice = server.client();
    alice.account("alice");
    alice.recv(); // welcome
    for n in 1..=3 {
        alice.send(json!({"type":"private","to":"bob","content":format!("p{n}")}));
        let notice = alice.recv();
        assert_eq!(notice["from"], "Serveur");
        assert!(notice["content"]
            .as_str()
            .unwrap()
            .contains("prochaine connexion"));
    }
    assert!(server.stop().success());

    let server = TestServer::start_in(&data, &[]);
    let mut chatter = server.client();
    chatter.account("carol");
    // Someone keeps chatting while bob logs in: the deferred lines still come first.
    let mut bob = server.client();
    chatter.send(json!({"type":"message","content":"bruit"}));
    // One synchronous read after login, like the sync-reader clients.
    let reply = bob.login("bob", "pw-bob");
    assert_eq!(
        reply,
        json!({"type":"login","status":"ok","username":"bob"})
    );
    for n in 1..=3 {
        let line = bob.recv();
        assert_eq!(line["content"], format!("p{n}"));
        assert_eq!(line["deferred"], true);
        assert_eq!(line["subtype"], "private");
        assert_eq!(
            (line["from"].as_str(), line["to"].as_str()),
            (Some("alice"), Some("bob"))
        );
    }
    bob.shutdown();
    let mut again = server.client();
    assert_eq!(again.login("bob", "pw-bob")["type"], "login");
    let rest = again.drain(QUIET);
    assert!(
        rest.iter().all(|line| line["deferred"].is_null()),
        "delivered once: {rest:?}"
    );
}

#[test]
fn a_guest_asking_for_a_private_history_gets_a_french_error() {
    let server = TestServer::start();
    let mut bob = server.client();
    bob.account("bob");
    let mut guest = server.client();
    guest.guest("zoé");
    guest.send(json!({"type":"history","with":"bob"}));
    let error = guest.recv_type("error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("réservé aux comptes"),
        "{error}"
    );
    assert_eq!(error["message"], error["error"]);
}

#[test]
fn a_version_1_database_is_migrated_in_place_and_keeps_its_accounts() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-v1.redb");
    std::fs::copy(&fixture, data.join("classcord.redb")).unwrap();

    let server = TestServer::start_in(&data, &[]);
    server.wait_for_log("format 1 : mise à jour au format 2");
    server.wait_for_log("(3 compte(s),");
    let mut alice = server.client();
    assert_eq!(
        alice.login("alice", "motdepasse-alice"),
        json!({"type":"login","status":"ok","username":"Alice"})
    );
    let mut zoe = server.client();
    assert_eq!(zoe.login("ZOÉ", "mdp-zoé")["username"], "Zoé");
    assert_eq!(zoe.recv()["from"], "Serveur", "the welcome");
    assert_eq!(
        zoe.register("bob", "autre-mot-de-passe")["message"],
        "Username already exists."
    );
    alice.send(json!({"type":"message","content":"premier message gardé"}));
    alice.sync();
    assert!(server.stop().success());

    let server = TestServer::start_in(&data, &[]);
    let log = server.wait_for_log("(3 compte(s),");
    assert!(
        !log.contains("mise à jour au format"),
        "migrated once: {log}"
    );
    let mut reader = server.client();
    let page = history(&mut reader, json!({"type":"history"}));
    assert_eq!(contents(&page), ["premier message gardé"]);
}

#[test]
fn a_clean_shutdown_loses_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    // A long commit window: everything still queued at SIGTERM must be committed on the way out.
    let config = config_file(
        temp.path(),
        "[storage]\ncommit_interval_ms = 5000\ncommit_max_messages = 100000\n[security]\nmessages_per_second = 0\n",
    );
    let server = TestServer::start_in(&data, &["--config", &config]);
    let mut senders: Vec<Client> = (0..10)
        .map(|n| {
            let mut client = server.client();
            client.guest(&format!("g{n}"));
            client
        })
        .collect();
    for round in 0..100 {
        for (n, client) in senders.iter_mut().enumerate() {
            client.send(json!({"type":"message","content":format!("{n}-{round}")}));
        }
    }
    for client in &mut senders {
        client.sync();
    }
    assert!(server.stop().success());
    let store = Store::open(&data.join("classcord.redb"), 1 << 20).unwrap();
    assert_eq!(store.message_counts().unwrap(), (1000, 0));
}

/// The crash contract: after SIGKILL under load, every acknowledged registration survives, at
/// most one commit window of messages is lost, nothing is duplicated, and ids keep increasing.
#[test]
fn after_sigkill_under_load_acknowledged_writes_survive_and_ids_keep_increasing() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let config = config_file(
        temp.path(),
        "[storage]\ncommit_interval_ms = 50\n[passwords]\nmemory_kib = 1024\niterations = 1\n\
         [security]\nmessages_per_second = 0\n",
    );
    let server = TestServer::start_in(&data, &["--config", &config]);
    let mut watcher = server.client();
    watcher.guest("témoin");

    // Registrations acknowledged while chat load runs.
    let addr = server.addr;
    let registrar = std::thread::spawn(move || {
        let mut client = Client::connect(addr);
        let mut acknowledged = Vec::new();
        for n in 0..40 {
            let name = format!("compte{n}");
            if client.register(&name, "mot-de-passe")["status"] == "ok" {
                acknowledged.push(name);
            }
        }
        acknowledged
    });
    // About 4,000 lines a second in all, until the server is gone (bounded either way).
    let senders: Vec<_> = (0..4)
        .map(|n| {
            std::thread::spawn(move || {
                let mut client = Client::connect(addr);
                client.guest(&format!("s{n}"));
                let mut stream = client.into_stream();
                for round in 0..20_000 {
                    let line = format!(
                        "{}\n",
                        json!({"type":"message","content":format!("{n}-{round}")})
                    );
                    if std::io::Write::write_all(&mut stream, line.as_bytes()).is_err() {
                        return;
                    }
                    if round % 5 == 4 {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            })
        })
        .collect();
    // Record what the watcher saw, with when it saw it.
    let mut seen: BTreeMap<u64, (String, Instant)> = BTreeMap::new();
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        let line = watcher.recv();
        if line["type"] == "message" && line["from"] != "Serveur" {
            let id = line["id"].as_u64().unwrap();
            seen.insert(
                id,
                (line["content"].as_str().unwrap().to_owned(), Instant::now()),
            );
        }
    }
    let acknowledged = registrar.join().expect("registrations");
    let killed_at = Instant::now();
    server.crash();
    for sender in senders {
        let _ = sender.join();
    }
    assert!(!acknowledged.is_empty());
    let max_seen = *seen.keys().last().expect("messages were relayed");

    let store = Store::open(&data.join("classcord.redb"), 1 << 20).expect("reopens after a crash");
    for name in &acknowledged {
        assert!(
            store.find_user(name).unwrap().is_some(),
            "{name} was acknowledged"
        );
    }
    let page = HistoryPage {
        scope: HistoryScope::Channel {
            key: "#général".into(),
            display: "#général".into(),
        },
        limit: u32::MAX,
        before: None,
    };
    let stored = store.history(&page).unwrap();
    let mut previous = 0;
    for record in &stored {
        assert!(record.id > previous, "ids strictly increasing");
        previous = record.id;
        if let Some((content, _)) = seen.get(&record.id) {
            assert_eq!(&record.content, content, "id {} reused", record.id);
        }
    }
    let stored_ids: std::collections::BTreeSet<u64> = stored.iter().map(|r| r.id).collect();
    // One commit window (50 ms) plus the time the watcher took to read: lines relayed more than
    // a second before the kill were committed.
    let old_enough = killed_at - Duration::from_secs(1);
    let missing_old: Vec<u64> = seen
        .iter()
        .filter(|(id, (_, at))| *at < old_enough && !stored_ids.contains(id))
        .map(|(id, _)| *id)
        .collect();
    assert!(
        missing_old.is_empty(),
        "lost outside the last window: {missing_old:?}"
    );
    let checked = seen.values().filter(|(_, at)| *at < old_enough).count();
    assert!(checked > 1000, "the check covered {checked} lines only");
    eprintln!(
        "crash test: {} lines relayed, {} stored, {} registrations acknowledged",
        seen.len(),
        stored.len(),
        acknowledged.len()
    );
    drop(store);

    let server = TestServer::start_in(&data, &["--config", &config]);
    let mut sender = server.client();
    sender.account_with("après", "mot-de-passe");
    let mut receiver = server.client();
    receiver.guest("r");
    sender.send(json!({"type":"message","content":"après le crash"}));
    let id = receiver.recv_chat()["id"].as_u64().unwrap();
    assert!(
        id > max_seen,
        "new id {id} must exceed every id handed out before ({max_seen})"
    );
}
