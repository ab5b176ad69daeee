//! The operator commands (`export`, `backup`, `restore`, `import-pickle`, `user`, `compact`), run
//! as the real binary on real redb files, beside a real server when the test says so.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Client, TestServer};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::{json, Value};

const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
const CHANNEL_LINES: TableDefinition<(&str, u64), ()> = TableDefinition::new("channel_lines");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Cheap argon2 for the tests (the configured floor).
const FAST_HASHING: &str = "[passwords]\nmemory_kib = 1024\niterations = 1\n";

/// Runs `classcord ARGS`, feeding `stdin` (closed when `None`).
fn classcord(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_classcord"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run classcord");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        // A command that refuses early exits without reading: a broken pipe is fine.
        let _ = input.write_all(text.as_bytes());
    }
    drop(input);
    child.wait_with_output().expect("wait classcord")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8 stderr")
}

/// Asserts success and returns stdout.
fn ok(args: &[&str], stdin: Option<&str>) -> String {
    let output = classcord(args, stdin);
    assert!(
        output.status.success(),
        "classcord {args:?} failed: {}{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// Asserts a failure with exactly one French error line containing `expected`.
fn refused(args: &[&str], stdin: Option<&str>, expected: &str) -> String {
    let output = classcord(args, stdin);
    let err = stderr(&output);
    assert!(
        !output.status.success(),
        "classcord {args:?} succeeded: {err}"
    );
    assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(err.starts_with("classcord : erreur : "), "{args:?}: {err}");
    assert!(
        err.contains(expected),
        "{args:?}: expected {expected:?} in {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// A temp folder with a small-hashing configuration file.
fn fast_config(dir: &Path) -> PathBuf {
    let path = dir.join("classcord.toml");
    std::fs::write(&path, FAST_HASHING).expect("write config");
    path
}

fn db_of(data: &Path) -> PathBuf {
    data.join("classcord.redb")
}

const HOSTILE: [&str; 8] = [
    "virgule, \"guillemets\" et 'apostrophes'",
    "deux\nlignes\r\net retour chariot",
    "point-virgule ; et\ttabulation",
    "émoji 🎉 et accents : àéèçôü ÆŒ ß 漢字",
    "=1+1",
    "+33 6 12 34 56 78",
    "@SOMME(A1:A2)",
    "   espaces autour   ",
];

#[test]
fn export_round_trips_hostile_contents_in_every_format() {
    let temp = tempfile::tempdir().expect("tempdir");
    let config = fast_config(temp.path());
    let server = TestServer::start_in(&temp.path().join("data"), &["--config", path_str(&config)]);
    let mut alice = server.client();
    alice.account("Alice");
    let mut bob = server.client();
    bob.account("bob");
    for content in HOSTILE {
        alice.send(json!({"type":"message","content":content}));
    }
    alice.send(json!({"type":"message","channel":"Maths","content":"dans #Maths, \"x\""}));
    alice.send(json!({"type":"private","to":"bob","content":"privé ; =2+2"}));
    alice.sync();
    bob.sync();
    let data = server.data.clone();
    assert!(server.stop().success());
    let data_arg = path_str(&data);

    // JSON Lines and JSON keep every byte.
    let jsonl = ok(&["export", "--data", data_arg, "--format", "jsonl"], None);
    let rows: Vec<Value> = jsonl
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
        .collect();
    assert_eq!(rows.len(), HOSTILE.len() + 2);
    for (row, content) in rows.iter().zip(HOSTILE) {
        assert_eq!(row["content"], content);
        assert_eq!(row["from"], "Alice");
        assert_eq!(row["channel"], "#général");
        assert_eq!(row["to"], "");
    }
    let keys: Vec<&String> = rows[0].as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 6);
    let maths = &rows[HOSTILE.len()];
    assert_eq!(maths["channel"], "#Maths");
    let private = &rows[HOSTILE.len() + 1];
    assert_eq!(
        (&private["to"], &private["channel"], &private["content"]),
        (&json!("bob"), &json!(""), &json!("privé ; =2+2"))
    );
    let ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let json_text = ok(&["export", "--data", data_arg, "--format", "json"], None);
    let array: Vec<Value> = serde_json::from_str(&json_text).expect("a JSON array");
    assert_eq!(array, rows);

    // CSV, as written for a spreadsheet: BOM, formulas neutralised, everything else exact.
    let out = temp.path().join("export.csv");
    let csv_args = ["export", "--data", data_arg, "--format", "csv", "--out"];
    let mut args = csv_args.to_vec();
    args.push(path_str(&out));
    let said = classcord(&args, None);
    assert!(said.status.success());
    assert!(
        stderr(&said).contains("10 ligne(s) exportée(s)"),
        "{}",
        stderr(&said)
    );
    let bytes = std::fs::read(&out).expect("read export");
    assert!(bytes.starts_with("\u{feff}id,timestamp,from,to,channel,content\n".as_bytes()));
    let records = read_csv(&bytes[3..]);
    assert_eq!(records.len(), rows.len());
    for (record, row) in records.iter().zip(&rows) {
        assert_eq!(record[0], row["id"].to_string());
        assert_eq!(&record[1], row["timestamp"].as_str().expect("timestamp"));
        let content = row["content"].as_str().expect("content");
        let shown = if content.starts_with(['=', '+', '-', '@']) {
            format!("'{content}")
        } else {
            content.to_owned()
        };
        assert_eq!(record[5], shown);
    }

    // --raw --no-bom: the exact contents, for scripts.
    let raw = ok(
        &[
            "export", "--data", data_arg, "--format", "csv", "--raw", "--no-bom",
        ],
        None,
    );
    let records = read_csv(raw.as_bytes());
    for (record, row) in records.iter().zip(&rows) {
        let fields = ["id", "timestamp", "from", "to", "channel", "content"];
        for (field, key) in record.iter().zip(fields) {
            let expected = match &row[key] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            assert_eq!(field, expected, "{key}");
        }
    }

    // Filters: a channel (named as a client would), and dates at their precision.
    let only_maths = ok(
        &[
            "export",
            "--data",
            data_arg,
            "--format",
            "jsonl",
            "--channel",
            "maths",
        ],
        None,
    );
    assert_eq!(only_maths.lines().count(), 1);
    let general = ok(
        &[
            "export",
            "--data",
            data_arg,
            "--format",
            "jsonl",
            "--channel",
            "#General",
        ],
        None,
    );
    assert_eq!(general.lines().count(), HOSTILE.len());
    let first = rows[0]["timestamp"].as_str().expect("timestamp");
    for (since, until, expected) in [
        (&first[..10], &first[..10], rows.len()),
        (&first[..16], "2999-12-31", rows.len()),
        ("2000-01-01", "2000-01-01T23:59:59", 0),
        ("2999-01-01", "2999-01-02", 0),
    ] {
        let lines = ok(
            &[
                "export", "--data", data_arg, "--format", "jsonl", "--since", since, "--until",
                until,
            ],
            None,
        );
        assert_eq!(lines.lines().count(), expected, "{since} .. {until}");
    }
}

fn read_csv(bytes: &[u8]) -> Vec<csv::StringRecord> {
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let headers = reader.headers().expect("headers").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        ["id", "timestamp", "from", "to", "channel", "content"]
    );
    reader
        .records()
        .map(|record| record.expect("a CSV record"))
        .collect()
}

/// Ids and channel index of a backup file, checked against each other.
fn check_prefix(path: &Path) -> (Vec<u64>, Vec<(u64, Vec<u8>)>) {
    let db = redb::Database::open(path).expect("backup opens");
    let txn = db.begin_read().expect("read");
    let messages = txn.open_table(MESSAGES).expect("messages");
    let mut rows = Vec::new();
    for entry in messages.iter().expect("iter") {
        let (id, value) = entry.expect("row");
        rows.push((id.value(), value.value().to_vec()));
    }
    let ids: Vec<u64> = rows.iter().map(|(id, _)| *id).collect();
    if let (Some(first), Some(last)) = (ids.first(), ids.last()) {
        assert_eq!(
            ids.len() as u64,
            last - first + 1,
            "ids not contiguous in {}",
            path.display()
        );
    }
    let index = txn.open_table(CHANNEL_LINES).expect("channel_lines");
    let mut indexed = BTreeSet::new();
    for entry in index.iter().expect("iter") {
        let (key, _) = entry.expect("row");
        let (channel, id) = key.value();
        assert_eq!(channel, "#général");
        indexed.insert(id);
    }
    assert_eq!(
        indexed,
        ids.iter().copied().collect::<BTreeSet<_>>(),
        "channel index disagrees with the messages in {}",
        path.display()
    );
    (ids, rows)
}

#[test]
fn export_and_backup_while_fifty_clients_chat() {
    const CLIENTS: usize = 50;
    const LINES: usize = 20;
    let temp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(&temp.path().join("data"), &[]);
    let data = server.data.clone();
    let data_arg = path_str(&data).to_owned();
    let backups = temp.path().join("sauvegardes");
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|i| {
            let mut client = server.client();
            client.guest(&format!("élève{i}"));
            client
        })
        .collect();
    let started = Instant::now();
    let chatters: Vec<_> = clients
        .drain(..)
        .enumerate()
        .map(|(i, mut client)| {
            std::thread::spawn(move || {
                for n in 0..LINES {
                    client.send(
                        json!({"type":"message","content":format!("élève{i} ligne {n}, \"ok\"")}),
                    );
                    std::thread::sleep(Duration::from_millis(60));
                }
                client.sync();
            })
        })
        .collect();

    // Wait for the first kept lines, then back up and export while the chat goes on.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ok(&["export", "--data", &data_arg, "--format", "jsonl"], None).is_empty() {
        assert!(Instant::now() < deadline, "nothing was ever kept");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut taken = Vec::new();
    for _ in 0..3 {
        let said = ok(
            &[
                "backup",
                "--data",
                &data_arg,
                "--out",
                path_str(&backups),
                "--keep",
                "10",
            ],
            None,
        );
        assert!(said.contains("sauvegarde vérifiée"), "{said}");
        assert!(said.contains("messages"), "{said}");
        let exported = ok(&["export", "--data", &data_arg, "--format", "jsonl"], None);
        let ids: Vec<u64> = exported
            .lines()
            .map(|line| {
                serde_json::from_str::<Value>(line).expect("json")["id"]
                    .as_u64()
                    .expect("id")
            })
            .collect();
        assert!(
            ids.windows(2).all(|w| w[1] == w[0] + 1),
            "export not contiguous"
        );
        taken.push(ids.len());
        std::thread::sleep(Duration::from_millis(200));
    }
    let chat_time = started.elapsed();
    for chatter in chatters {
        chatter.join().expect("client thread");
    }
    assert!(server.stop().success());

    let (final_ids, final_rows) = check_prefix(&db_of(&data));
    assert_eq!(final_ids.len(), CLIENTS * LINES);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&backups)
        .expect("backups")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    let mut partial = 0;
    for file in &files {
        let (ids, rows) = check_prefix(file);
        eprintln!(
            "backup {}: ids {}..={} ({} of {} lines)",
            file.display(),
            ids[0],
            ids[ids.len() - 1],
            rows.len(),
            final_rows.len()
        );
        assert!(!ids.is_empty());
        assert_eq!(ids[0], final_ids[0], "a backup starts at the first id");
        assert_eq!(&final_rows[..rows.len()], &rows[..], "a backup is a prefix");
        if rows.len() < final_rows.len() {
            partial += 1;
        }
    }
    assert!(
        partial > 0,
        "no backup was taken during the chat ({chat_time:?}, exports saw {taken:?})"
    );
}

#[test]
fn writing_commands_refuse_a_running_server_then_restore_works_stopped() {
    let temp = tempfile::tempdir().expect("tempdir");
    let config = fast_config(temp.path());
    let config_arg = path_str(&config).to_owned();
    let server = TestServer::start_in(&temp.path().join("data"), &["--config", &config_arg]);
    let data = server.data.clone();
    let data_arg = path_str(&data).to_owned();
    let mut alice = server.client();
    alice.account("Alice");
    alice.send(json!({"type":"message","content":"avant la sauvegarde"}));
    alice.sync();
    std::thread::sleep(Duration::from_millis(200));
    let backup = temp.path().join("une.redb");
    let said = ok(
        &["backup", "--data", &data_arg, "--out", path_str(&backup)],
        None,
    );
    assert!(said.contains("users"), "{said}");
    let mut bob = server.client();
    bob.account("bob");

    let pickle = temp.path().join("users.pkl");
    std::fs::write(&pickle, b"\x80\x04}\x94.").expect("empty dict pickle");
    let in_use = "le serveur ClassCord utilise cette base";
    let stop_hint = "arrêtez-le d'abord (systemctl stop classcord)";
    for (args, input) in [
        (
            vec!["restore", "--data", &data_arg, "--from", path_str(&backup)],
            None,
        ),
        (
            vec!["import-pickle", "--data", &data_arg, path_str(&pickle)],
            None,
        ),
        (vec!["compact", "--data", &data_arg], None),
    ] {
        let err = refused(&args, input, in_use);
        assert!(err.contains(stop_hint), "{err}");
        assert!(err.contains("classcord.redb"), "{err}");
    }
    // `user add|del|passwd|list` and `backup` go through the running server's control socket
    // (tests/admin_bans.rs); reading works beside the server either way.
    let listed = ok(&["user", "list", "--data", &data_arg], None);
    assert!(
        listed.contains("Alice") && listed.contains("bob"),
        "{listed}"
    );
    assert!(listed.contains("2 compte(s)"), "{listed}");
    drop(bob);
    assert!(server.stop().success());

    let said = ok(
        &["restore", "--data", &data_arg, "--from", path_str(&backup)],
        None,
    );
    assert!(said.contains("restaurée"), "{said}");
    let aside: Vec<PathBuf> = std::fs::read_dir(&data)
        .expect("data dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.to_string_lossy()
                .contains("classcord.redb.avant-restauration-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{said}");
    assert_eq!(
        user_count(&aside[0]),
        2,
        "the old database, with bob, is kept"
    );
    assert!(said.contains(path_str(&aside[0])), "{said}");

    // The restored server knows Alice and her line, not bob (registered after the backup).
    let server = TestServer::start_in(&data, &["--config", &config_arg]);
    let mut client = server.client();
    assert_eq!(
        client.login("Alice", "secret-pw"),
        json!({"type":"login","status":"ok","username":"Alice"})
    );
    client.send(json!({"type":"history"}));
    let history = client.recv_type("history");
    assert_eq!(history["messages"][0]["content"], "avant la sauvegarde");
    assert_eq!(client.login("bob", "secret-pw")["type"], "error");
    assert!(server.stop().success());

    // Compact, server stopped.
    let said = ok(&["compact", "--data", &data_arg], None);
    assert!(said.starts_with("base compactée"), "{said}");
}

fn user_count(path: &Path) -> u64 {
    use redb::ReadableTableMetadata;
    const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
    let db = redb::Database::open(path).expect("open");
    let txn = db.begin_read().expect("read");
    let users = txn.open_table(USERS).expect("users");
    users.len().expect("len")
}

fn python_pickle(path: &Path, expression: &str) {
    let script = format!(
        "import pickle, sys\nwith open(sys.argv[1], 'wb') as f:\n    pickle.dump({expression}, f)\n"
    );
    let status = Command::new("python3")
        .args(["-c", &script, path_str(path)])
        .status()
        .expect("python3 runs");
    assert!(status.success());
}

#[test]
fn import_pickle_then_log_in_over_tcp() {
    let temp = tempfile::tempdir().expect("tempdir");
    let config = fast_config(temp.path());
    let config_arg = path_str(&config).to_owned();
    let data = temp.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let data_arg = path_str(&data).to_owned();
    ok(
        &[
            "user",
            "add",
            "Dupont",
            "--data",
            &data_arg,
            "--config",
            &config_arg,
        ],
        Some("mdp-original\n"),
    );
    let pickle = temp.path().join("users.pkl");
    python_pickle(
        &pickle,
        "{'alice': 'mdp alice, \"é\"', 'E\\u0301lodie': 'mdp-élodie', 'serveur': 'x', \
         'Admin': 'y', ' espace': 'z', 'vide': '', 'dupont': 'volé', 'x' * 40: 'long', \
         'nombre': 42, 7: 'clé', 'court': 'abc'}",
    );
    let said = ok(
        &[
            "import-pickle",
            "--data",
            &data_arg,
            "--config",
            &config_arg,
            path_str(&pickle),
        ],
        None,
    );
    assert!(said.contains("11 compte(s) lu(s)"), "{said}");
    assert!(said.contains("3 importé(s), 8 ignoré(s)"), "{said}");
    // A legacy password shorter than the minimum is kept (the student can still log in) and
    // the account is listed for the teacher.
    assert!(
        said.contains("1 compte(s) importé(s) avec un mot de passe de moins de 6 caractères"),
        "{said}"
    );
    assert!(said.contains("\n  court\n"), "{said}");
    for expected in [
        "importé : alice",
        "importé : Élodie",
        "« serveur » : nom réservé",
        "« Admin » : nom réservé",
        "« vide » : mot de passe vide",
        "« dupont » : un compte de ce nom existe déjà (inchangé)",
        "dépasse 32 caractères",
        "« nombre » : le mot de passe n'est pas un texte",
        "le nom n'est pas un texte",
        "commence ou finit par un espace",
    ] {
        assert!(said.contains(expected), "{expected:?} missing in:\n{said}");
    }
    assert!(!said.contains("mdp"), "a password was printed:\n{said}");

    let server = TestServer::start_in(&data, &["--config", &config_arg]);
    assert_eq!(
        server.client().login("alice", "mdp alice, \"é\""),
        json!({"type":"login","status":"ok","username":"alice"})
    );
    assert_eq!(
        server.client().login("élodie", "mdp-élodie"),
        json!({"type":"login","status":"ok","username":"Élodie"})
    );
    assert_eq!(server.client().login("Dupont", "volé")["type"], "error");
    assert_eq!(
        server.client().login("court", "abc"),
        json!({"type":"login","status":"ok","username":"court"})
    );
    assert_eq!(
        server.client().login("Dupont", "mdp-original"),
        json!({"type":"login","status":"ok","username":"Dupont"})
    );
    assert!(server.stop().success());
}

#[test]
fn user_commands_add_change_and_delete_with_what_belongs_to_the_account() {
    let temp = tempfile::tempdir().expect("tempdir");
    let config = fast_config(temp.path());
    let config_arg = path_str(&config).to_owned();
    let server = TestServer::start_in(&temp.path().join("data"), &["--config", &config_arg]);
    let data = server.data.clone();
    let data_arg = path_str(&data).to_owned();
    let mut alice = server.client();
    alice.account("alice");
    let mut bob = server.client();
    bob.account("bob");
    bob.send(json!({"type":"join_channel","channel":"#sio"}));
    bob.recv_type("join_channel");
    alice.send(json!({"type":"private","to":"bob","content":"en direct"}));
    bob.recv_chat();
    drop(bob);
    std::thread::sleep(Duration::from_millis(100));
    alice.send(json!({"type":"private","to":"bob","content":"en attente"}));
    alice.sync();
    assert!(server.stop().success());

    refused(
        &["user", "del", "BOB", "--data", &data_arg],
        None,
        "Le compte « BOB » sera supprimé",
    );
    let said = ok(&["user", "del", "BOB", "--data", &data_arg, "--yes"], None);
    assert!(said.contains("compte « bob » supprimé"), "{said}");
    assert!(said.contains("1 message(s) en attente"), "{said}");
    assert!(said.contains("1 salon(s) mémorisé(s)"), "{said}");
    assert!(said.contains("2 ligne(s) d'historique privé"), "{said}");
    refused(
        &["user", "del", "bob", "--data", &data_arg, "--yes"],
        None,
        "aucun compte « bob »",
    );
    // A new "bob" does not inherit the old one's conversation.
    ok(
        &[
            "user",
            "add",
            "Bob",
            "--data",
            &data_arg,
            "--config",
            &config_arg,
        ],
        Some("nouveau\n"),
    );
    ok(
        &[
            "user",
            "passwd",
            "alice",
            "--data",
            &data_arg,
            "--config",
            &config_arg,
        ],
        Some("changé\r\n"),
    );
    let listed = ok(&["user", "list", "--data", &data_arg], None);
    assert!(
        listed.contains("alice") && listed.contains("Bob"),
        "{listed}"
    );
    assert!(listed.contains("2 compte(s)"), "{listed}");

    let server = TestServer::start_in(&data, &["--config", &config_arg]);
    let mut bob = server.client();
    assert_eq!(bob.login("bob", "nouveau")["status"], "ok");
    bob.send(json!({"type":"history","with":"alice"}));
    assert_eq!(bob.recv_type("history")["messages"], json!([]));
    let mut alice = server.client();
    assert_eq!(alice.login("alice", "secret-pw")["type"], "error");
    assert_eq!(alice.login("alice", "changé")["status"], "ok");
    assert!(server.stop().success());
}

#[test]
fn bad_input_gets_one_french_line_and_a_failure_status() {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path();
    let data = dir.join("data");
    std::fs::create_dir(&data).expect("data dir");
    let data_arg = path_str(&data).to_owned();
    ok(
        &[
            "user",
            "add",
            "alice",
            "--data",
            &data_arg,
            "--config",
            path_str(&fast_config(dir)),
        ],
        Some("mdp-alice\n"),
    );
    let good = dir.join("bonne.redb");
    ok(
        &["backup", "--data", &data_arg, "--out", path_str(&good)],
        None,
    );
    let db_before = std::fs::read(db_of(&data)).expect("db");

    let missing = dir.join("nulle-part");
    let garbage_dir = dir.join("garbage");
    std::fs::create_dir(&garbage_dir).expect("dir");
    std::fs::write(db_of(&garbage_dir), "ceci n'est pas une base\n".repeat(300)).expect("write");
    let newer_dir = dir.join("newer");
    std::fs::create_dir(&newer_dir).expect("dir");
    {
        let db = redb::Database::create(db_of(&newer_dir)).expect("create");
        let txn = db.begin_write().expect("write");
        txn.open_table(META)
            .expect("meta")
            .insert("schema_version", 99)
            .expect("insert");
        txn.commit().expect("commit");
    }
    let foreign_dir = dir.join("foreign");
    std::fs::create_dir(&foreign_dir).expect("dir");
    {
        let db = redb::Database::create(db_of(&foreign_dir)).expect("create");
        let txn = db.begin_write().expect("write");
        txn.open_table(MESSAGES)
            .expect("table")
            .insert(1, &b"x"[..])
            .expect("insert");
        txn.commit().expect("commit");
    }
    let (m, g, n, f) = (
        path_str(&missing).to_owned(),
        path_str(&garbage_dir).to_owned(),
        path_str(&newer_dir).to_owned(),
        path_str(&foreign_dir).to_owned(),
    );
    let garbage_file = db_of(&garbage_dir);
    let newer_file = db_of(&newer_dir);
    fn export(data: &str) -> Vec<&str> {
        vec!["export", "--data", data, "--format", "csv"]
    }
    refused(&export(&m), None, "base introuvable");
    refused(&export(&g), None, "n'est pas une base ClassCord lisible");
    refused(
        &export(&n),
        None,
        "version plus récente de ClassCord (format 99",
    );
    refused(&export(&f), None, "pas une base ClassCord");
    refused(
        &[
            "backup",
            "--data",
            &g,
            "--out",
            path_str(&dir.join("b.redb")),
        ],
        None,
        "n'est pas une base",
    );
    refused(
        &["user", "list", "--data", &n],
        None,
        "version plus récente",
    );
    refused(&["compact", "--data", &m], None, "base introuvable");
    refused(
        &["user", "del", "alice", "--data", &g, "--yes"],
        None,
        "n'est pas une base",
    );

    let mut with = export(&data_arg);
    for (extra, expected) in [
        (vec!["--since", "hier"], "date invalide « hier »"),
        (vec!["--until", "2026-02-30"], "date invalide"),
        (
            vec!["--since", "2026-12-01T25:00"],
            "AAAA-MM-JJ ou AAAA-MM-JJTHH:MM[:SS]",
        ),
        (
            vec!["--since", "2026-12-02", "--until", "2026-12-01"],
            "est avant --since",
        ),
        (vec!["--channel", "deux mots"], "nom de salon invalide"),
        (vec!["--delimiter", "::"], "séparateur « :: »"),
    ] {
        let mut args = with.clone();
        args.extend(extra);
        refused(&args, None, expected);
    }
    with[4] = "xml";
    refused(&with, None, "format inconnu « xml »");
    let itself = db_of(&data);
    let onto_itself = ["backup", "--data", &data_arg, "--out", path_str(&itself)];
    refused(&onto_itself, None, "est la base elle-même");
    refused(
        &[
            "backup",
            "--data",
            &data_arg,
            "--out",
            path_str(dir),
            "--keep",
            "0",
        ],
        None,
        "--keep 0",
    );

    // Restore refuses every bad backup and leaves the database as it was.
    let restore = |from: &Path, expected: &str| {
        refused(
            &["restore", "--data", &data_arg, "--from", path_str(from)],
            None,
            expected,
        );
        assert!(std::fs::read(db_of(&data)).expect("db") == db_before);
    };
    restore(&missing, "fichier introuvable");
    restore(&garbage_file, "n'est pas une base ClassCord lisible");
    restore(&newer_file, "version plus récente");
    restore(&db_of(&foreign_dir), "pas une base ClassCord");
    let leftovers: Vec<_> = std::fs::read_dir(&data)
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");

    // Pickles: garbage, the wrong shape, and one that would run a command if executed.
    let pickle = dir.join("users.pkl");
    let import = |expected: &str| {
        refused(
            &["import-pickle", "--data", &data_arg, path_str(&pickle)],
            None,
            expected,
        )
    };
    std::fs::write(&pickle, b"\x80\x04garbage").expect("write");
    import("n'est pas un users.pkl lisible");
    python_pickle(&pickle, "['alice', 'pw']");
    import("le contenu n'est pas un dictionnaire");
    let witness = dir.join("exécuté");
    python_pickle(
        &pickle,
        &format!(
            "type('X', (), {{'__reduce__': lambda self: (__import__('os').system, ('touch {}',))}})()",
            path_str(&witness)
        ),
    );
    import("pickle invalide");
    assert!(!witness.exists(), "the pickle was executed");
    refused(
        &[
            "import-pickle",
            "--data",
            &data_arg,
            path_str(&dir.join("absent.pkl")),
        ],
        None,
        "fichier introuvable",
    );
    refused(
        &["user", "add", "Serveur", "--data", &data_arg],
        Some("pw\n"),
        "nom réservé",
    );
    refused(
        &["user", "add", "bob", "--data", &data_arg],
        None,
        "aucun mot de passe reçu",
    );
    refused(
        &["user", "add", "bob", "--data", &data_arg],
        Some("\n"),
        "mot de passe vide",
    );
    // The same minimum as the protocol's register (6 characters by default).
    refused(
        &["user", "add", "bob", "--data", &data_arg],
        Some("court\n"),
        "mot de passe trop court (6 caractères au moins)",
    );
    refused(
        &["user", "add", "ALICE", "--data", &data_arg],
        Some("pw\n"),
        "existe déjà",
    );
    refused(
        &["user", "passwd", "zoé", "--data", &data_arg],
        Some("pw\n"),
        "aucun compte « zoé »",
    );
    let listed = ok(&["user", "list", "--data", &data_arg], None);
    assert!(
        listed.starts_with("alice ") && listed.contains("1 compte(s)"),
        "{listed}"
    );
}

/// Regression: on a fresh tarball install, `import-pickle` before the first start failed with
/// « dossier de données introuvable ».
#[test]
fn import_pickle_into_a_data_folder_that_does_not_exist_yet_creates_it() {
    let temp = tempfile::tempdir().expect("tempdir");
    let config = fast_config(temp.path());
    let data = temp.path().join("classcord-data");
    let pickle = temp.path().join("users.pkl");
    python_pickle(&pickle, "{'alice': 'motdepasse'}");
    let said = ok(
        &[
            "import-pickle",
            "--data",
            path_str(&data),
            "--config",
            path_str(&config),
            path_str(&pickle),
        ],
        None,
    );
    assert!(said.contains("dossier de données créé"), "{said}");
    assert!(said.contains("1 importé(s)"), "{said}");
    let server = TestServer::start_in(&data, &["--config", path_str(&config)]);
    assert_eq!(server.client().login("alice", "motdepasse")["status"], "ok");
    assert!(server.stop().success());
}

/// Regression: `export --channel nope` wrote an empty file without a word.
#[test]
fn export_of_an_unknown_channel_warns_that_it_does_not_exist() {
    let server = TestServer::start();
    let mut alice = server.client();
    alice.account("alice");
    alice.send(json!({"type":"join_channel","channel":"#maths"}));
    alice.recv_type("join_channel");
    alice.send(json!({"type":"message","channel":"#maths","content":"x"}));
    alice.sync();
    let data = path_str(&server.data).to_owned();
    let export = |channel: &str| {
        classcord(
            &[
                "export",
                "--data",
                &data,
                "--format",
                "csv",
                "--channel",
                channel,
            ],
            None,
        )
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stdout(&export("maths")).contains(",x") {
        assert!(Instant::now() < deadline, "the line never reached the base");
        std::thread::sleep(Duration::from_millis(50));
    }
    let known = export("Maths");
    assert!(known.status.success());
    assert!(!stderr(&known).contains("attention"), "{}", stderr(&known));
    let unknown = export("nope");
    assert!(unknown.status.success(), "a warning, not a failure");
    let warning = stderr(&unknown);
    assert!(
        warning.contains("attention : aucun salon #nope dans la base"),
        "{warning}"
    );
    assert!(warning.contains("#maths"), "{warning}");
    assert!(warning.contains("0 ligne(s) exportée(s)"), "{warning}");
}
