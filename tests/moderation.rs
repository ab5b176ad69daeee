//! Moderation over the real binary (issue 16 item 4): `classcord admin mute`, `unmute`, `mutes`,
//! `delete` and `slow`, driven one-shot as a teacher types them, with real TCP clients seeing
//! the effects; mutes and slow mode survive a restart.

mod common;

use std::time::{Duration, Instant};

use common::{Client, TestServer, TIMEOUT};
use serde_json::{json, Value};

/// Registers (first time) and logs in, then reads the welcome notice. `no-hold`: the lines
/// after the login reply come at once (the tests read them right away).
fn account(client: &mut Client, name: &str) {
    featured_account(client, name, &["no-hold"]);
}

/// The same after announcing `features` (each `hello` replaces the previous set).
fn featured_account(client: &mut Client, name: &str, features: &[&str]) {
    client.hello(features);
    client.account(name);
    client.recv_until("the welcome", |line| line["from"] == "Serveur");
}

fn log_in(client: &mut Client, name: &str) {
    client.hello(&["no-hold"]);
    assert_eq!(client.login(name, "secret-pw")["status"], "ok");
    client.recv_until("the welcome", |line| line["from"] == "Serveur");
}

fn content(line: &Value) -> &str {
    line["content"].as_str().unwrap_or_default()
}

/// Nothing but `pong` reaches `client` for what was sent before (no chat line).
fn no_chat(client: &mut Client) {
    client.send(json!({"type":"ping"}));
    let before = client.recv_until("the pong", |line| {
        assert!(
            !(line["type"] == "message" && line["from"] != "Serveur"),
            "unexpected chat line: {line}"
        );
        line["type"] == "pong"
    });
    assert_eq!(before["type"], "pong");
}

#[test]
fn a_muted_student_is_refused_with_a_notice_and_stays_muted_after_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let server = TestServer::start_in(&data, &[]);
    let mut alice = server.client();
    account(&mut alice, "alice");
    let mut bob = server.client();
    account(&mut bob, "bob");

    let text = server.admin_ok(&["mute", "alice", "10", "min", "bavardage"]);
    assert!(
        text.contains("alice ne peut plus écrire pendant 10 min")
            && text.contains("1 connexion(s) prévenue(s)"),
        "{text}"
    );
    let told = alice.recv_until("the mute notice", |l| l["from"] == "Serveur");
    assert_eq!(
        content(&told),
        "L'administrateur vous a retiré la parole pour 10 min : vos messages ne seront pas \
         transmis. Raison : bavardage"
    );

    alice.send(json!({"type":"message","content":"je parle quand même"}));
    let refused = alice.recv_until("the refusal", |l| l["from"] == "Serveur");
    assert!(
        content(&refused)
            .starts_with("Message non envoyé : l'administrateur vous a retiré la parole (encore "),
        "{refused}"
    );
    no_chat(&mut bob);
    // A muted student still receives everything and may still ask.
    bob.send(json!({"type":"message","content":"tu m'entends ?"}));
    assert_eq!(content(&alice.recv_chat()), "tu m'entends ?");
    alice.send(json!({"type":"users"}));
    assert!(alice.recv_type("users")["users"]
        .to_string()
        .contains("bob"));

    let mutes = server.admin_json(&["mutes"]);
    assert_eq!(mutes["data"][0]["name"], "alice", "{mutes}");
    assert_eq!(mutes["data"][0]["reason"], "bavardage");
    let log = server.wait_for_log("[MODERATION] message de alice refusé : parole retirée");
    assert!(
        log.contains(" : mute alice 10 min bavardage"),
        "the request is logged with the operator: {log}"
    );

    server.admin_ok(&["slow", "#général", "30"]);
    assert_eq!(server.stop().code(), Some(0));

    // After a restart: still muted, and #général still slow.
    let server = TestServer::start_in(&data, &[]);
    let mut alice = server.client();
    log_in(&mut alice, "alice");
    let mut bob = server.client();
    log_in(&mut bob, "bob");
    alice.send(json!({"type":"message","content":"et maintenant ?"}));
    let refused = alice.recv_until("the refusal", |l| l["from"] == "Serveur");
    assert!(content(&refused).contains("retiré la parole"), "{refused}");
    no_chat(&mut bob);
    let channels = server.admin_json(&["channels"]);
    let general = channels["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "#général")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(general["slow_secs"], 30, "{channels}");

    let text = server.admin_ok(&["unmute", "ALICE"]);
    assert!(text.contains("alice peut de nouveau écrire"), "{text}");
    let told = alice.recv_until("the unmute notice", |l| l["from"] == "Serveur");
    assert_eq!(
        content(&told),
        "Vous pouvez de nouveau envoyer des messages."
    );
    alice.send(json!({"type":"message","content":"merci"}));
    assert_eq!(content(&bob.recv_chat()), "merci");
    let again = server.admin(&["unmute", "alice"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("n'est pas privé de parole"));
}

#[test]
fn a_timed_mute_ends_by_itself() {
    let server = TestServer::start();
    let mut alice = server.client();
    account(&mut alice, "alice");
    server.admin_ok(&["mute", "alice", "1s"]);
    alice.recv_until("the mute notice", |l| l["from"] == "Serveur");
    // The end is seen on the hub's 2-second tick, and alice is told.
    let told = alice.recv_until("the end of the mute", |l| {
        content(l) == "Vous pouvez de nouveau envoyer des messages."
    });
    assert_eq!(told["system"], true);
    let deadline = Instant::now() + *TIMEOUT;
    while server.admin_json(&["mutes"])["data"] != json!([]) {
        assert!(Instant::now() < deadline, "the mute was never forgotten");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_deleted_message_leaves_history_and_export_and_only_featured_clients_hear_of_it() {
    let server = TestServer::start();
    let mut alice = server.client();
    account(&mut alice, "alice");
    // `browser` announced the extension (as the web page does); `plain` is a Java-like client.
    let mut browser = server.client();
    featured_account(&mut browser, "bob", &["deleted", "no-hold"]);
    let mut plain = server.client();
    account(&mut plain, "carol");

    alice.send(json!({"type":"message","content":"oups, pas ici"}));
    alice.send(json!({"type":"message","content":"celui-ci reste"}));
    let oops = browser.recv_chat();
    let kept = browser.recv_chat();
    let id = oops["id"].as_u64().unwrap();
    let kept_id = kept["id"].as_u64().unwrap();
    plain.recv_chat();
    plain.recv_chat();

    let id_arg = id.to_string();
    let unconfirmed = server.admin(&["delete", &id_arg]);
    assert!(
        !unconfirmed.status.success(),
        "delete asks for a confirmation"
    );
    let said = String::from_utf8_lossy(&unconfirmed.stderr);
    assert!(
        said.contains(&format!("Le message n°{id} sera supprimé")) && said.contains("--yes"),
        "{said}"
    );
    // Still there: nothing was sent.
    plain.send(json!({"type":"history"}));
    assert!(plain.recv_type("history").to_string().contains("oups"));

    let text = server.admin_ok(&["--yes", "delete", &id_arg]);
    assert!(
        text.contains(&format!(
            "Message n°{id} supprimé (alice dans #général : « oups, pas ici »)"
        )) && text.contains("retiré de l'écran de 1 navigateur(s)"),
        "{text}"
    );
    assert_eq!(
        browser.recv_until("the deleted line", |l| l["type"] == "deleted"),
        json!({"type":"deleted","id":id})
    );
    plain.send(json!({"type":"ping"}));
    plain.recv_until("the pong", |l| {
        assert_ne!(
            l["type"], "deleted",
            "no extension line without the feature"
        );
        l["type"] == "pong"
    });

    plain.send(json!({"type":"history"}));
    let history = plain.recv_type("history");
    let ids: Vec<u64> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_u64())
        .collect();
    assert!(ids.contains(&kept_id) && !ids.contains(&id), "{history}");
    let export = std::process::Command::new(env!("CARGO_BIN_EXE_classcord"))
        .args(["export", "--format", "jsonl", "--data"])
        .arg(&server.data)
        .output()
        .expect("run classcord export");
    assert!(export.status.success());
    let exported = String::from_utf8_lossy(&export.stdout);
    assert!(exported.contains("celui-ci reste"), "{exported}");
    assert!(!exported.contains("oups"), "{exported}");

    let again = server.admin(&["--yes", "delete", &id_arg]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains(&format!("Aucun message n°{id}")));
    server.wait_for_log(&format!(" : delete {id}"));
}

#[test]
fn slow_mode_refuses_a_second_message_within_the_pace() {
    let server = TestServer::start();
    let mut alice = server.client();
    account(&mut alice, "alice");
    let mut bob = server.client();
    account(&mut bob, "bob");
    let text = server.admin_ok(&["slow", "général", "30"]);
    assert!(
        text.contains("Mode lent dans #général : un message toutes les 30 s par personne"),
        "{text}"
    );
    let told = bob.recv_until("the slow-mode notice", |l| l["from"] == "Serveur");
    assert_eq!(
        content(&told),
        "Mode lent dans #général : un message toutes les 30 s par personne."
    );
    alice.recv_until("the slow-mode notice", |l| l["from"] == "Serveur");

    alice.send(json!({"type":"message","content":"premier"}));
    assert_eq!(content(&bob.recv_chat()), "premier");
    alice.send(json!({"type":"message","content":"second"}));
    let refused = alice.recv_until("the refusal", |l| l["from"] == "Serveur");
    assert!(
        content(&refused).starts_with(
            "Message non envoyé : mode lent dans #général, un message toutes les 30 s par \
             personne. Réessayez dans "
        ),
        "{refused}"
    );
    no_chat(&mut bob);
    // Per person: bob's first line goes through.
    bob.send(json!({"type":"message","content":"moi aussi"}));
    assert_eq!(content(&alice.recv_chat()), "moi aussi");
    assert!(server.admin_ok(&["channels"]).contains("mode lent : 30 s"));

    server.admin_ok(&["slow", "#général", "0"]);
    bob.recv_until("the end of slow mode", |l| {
        content(l) == "Fin du mode lent dans #général."
    });
    alice.send(json!({"type":"message","content":"enfin"}));
    assert_eq!(content(&bob.recv_chat()), "enfin");
    let off = server.admin(&["slow", "#général", "0"]);
    assert!(String::from_utf8_lossy(&off.stderr).contains("n'est pas actif"));
}
