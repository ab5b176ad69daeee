//! A full disk is survived, not fatal (issue 7): with the data folder on a small tmpfs, fill it,
//! see the errors (one log line, a French error for a registration, chat going on), free the
//! space, and see writes resume without a restart; everything acknowledged before the fill is
//! still there after a restart. Needs root (it mounts a tmpfs); skipped with a note otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use classcord::store::Store;
use common::TestServer;
use serde_json::json;

/// A tmpfs mounted for the test, unmounted on drop (even when the test fails).
struct SmallDisk {
    path: PathBuf,
    _parent: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let parent = tempfile::tempdir().ok()?;
        let path = parent.path().join("disk");
        std::fs::create_dir(&path).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .ok()?;
        status.success().then_some(SmallDisk {
            path,
            _parent: parent,
        })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// Writes a file until the disk refuses a byte; returns its path.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("remplissage");
    let mut file = std::fs::File::create(&path).expect("filler");
    let block = vec![0x55u8; 4096];
    for _ in 0..100_000 {
        if file.write_all(&block).is_err() {
            break;
        }
    }
    let _ = file.write_all(&[0x55]);
    let _ = file.sync_all();
    path
}

fn wait_for(server: &TestServer, needle: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if server.log().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_full_disk_is_survived_and_writes_resume_once_space_is_back() {
    let Some(disk) = SmallDisk::mount("1m") else {
        eprintln!("full_disk: skipped (mounting a tmpfs needs root)");
        return;
    };
    let data = disk.path.join("data");
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("classcord.toml");
    std::fs::write(
        &config,
        "[passwords]\nmemory_kib = 1024\niterations = 1\n[storage]\ncommit_interval_ms = 20\n[security]\nmessages_per_second = 0\n",
    )
    .unwrap();
    let config = config.to_str().unwrap().to_owned();
    let server = TestServer::start_in(&data, &["--config", &config]);
    let mut alice = server.client();
    alice.account("alice");
    alice.recv(); // welcome
    let mut reader = server.client();
    reader.guest("lecteur");
    alice.send(json!({"type":"message","content":"avant le remplissage"}));
    assert_eq!(reader.recv_chat()["content"], "avant le remplissage");
    alice.sync();
    std::thread::sleep(Duration::from_millis(200)); // committed

    let filler = fill(&disk.path);
    // Enough lines to need new pages in the file: the commit fails on the full disk.
    let padding = "x".repeat(400);
    for n in 0..1500 {
        alice.send(json!({"type":"message","content":format!("{n} {padding}")}));
        let line = reader.recv_chat();
        assert!(
            line["content"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{n} ")),
            "chat goes on"
        );
    }
    assert!(
        wait_for(
            &server,
            "écriture dans la base impossible",
            Duration::from_secs(10)
        ),
        "the failure is logged:\n{}",
        server.log()
    );
    let mut newcomer = server.client();
    let refused = newcomer.register("bob", "mot-de-passe");
    assert_eq!(refused["type"], "error");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("indisponible"),
        "{refused}"
    );
    let log = server.log();
    assert_eq!(
        log.matches("écriture dans la base impossible").count(),
        1,
        "one line, not one per message:\n{log}"
    );

    std::fs::remove_file(&filler).unwrap();
    assert!(
        wait_for(
            &server,
            "base de nouveau accessible",
            Duration::from_secs(40)
        ),
        "writes resume without a restart:\n{}",
        server.log()
    );
    assert_eq!(
        newcomer.register("carol", "mot-de-passe"),
        json!({"type":"register","status":"ok"})
    );
    alice.send(json!({"type":"message","content":"après la panne"}));
    assert_eq!(reader.recv_chat()["content"], "après la panne");
    alice.sync();
    assert!(server.stop().success());

    let store = Store::open(&data.join("classcord.redb"), 1 << 20).unwrap();
    assert!(store.find_user("alice").unwrap().is_some());
    assert!(store.find_user("carol").unwrap().is_some());
    let page = classcord_core::hub::HistoryPage {
        scope: classcord_core::hub::HistoryScope::Channel {
            key: "#général".into(),
            display: "#général".into(),
        },
        limit: 5000,
        before: None,
    };
    let kept: Vec<String> = store
        .history(&page)
        .unwrap()
        .into_iter()
        .map(|record| record.content)
        .collect();
    assert_eq!(
        kept.first().map(String::as_str),
        Some("avant le remplissage")
    );
    assert_eq!(kept.last().map(String::as_str), Some("après la panne"));
}
