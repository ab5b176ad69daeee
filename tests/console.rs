//! `classcord admin` as a teacher uses it, against the real server: the interactive console in a
//! real terminal (a pseudo-terminal, with rustyline in raw mode as on a desktop), lines typed
//! ahead and blocks pasted in one go, the `oui/non` question of destructive commands; and the
//! one-shot forms with their refusals. What the server logs is checked too.

mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TestServer, TIMEOUT};
use serde_json::json;

/// The console in a pseudo-terminal, and everything it wrote.
struct Console {
    master: std::fs::File,
    child: Child,
    screen: Arc<Mutex<Vec<u8>>>,
    /// Where the screen was when the last wait matched (later waits look after it).
    seen: usize,
    _home: tempfile::TempDir,
}

impl Console {
    fn open(server: &TestServer) -> Console {
        let size = nix::pty::Winsize {
            ws_row: 50,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None).expect("openpty");
        let home = tempfile::tempdir().expect("home");
        let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
        let child = Command::new(env!("CARGO_BIN_EXE_classcord"))
            .arg("admin")
            .arg("--data")
            .arg(&server.data)
            .env("HOME", home.path())
            .env("TERM", "xterm")
            .stdin(slave(&pty.slave))
            .stdout(slave(&pty.slave))
            .stderr(slave(&pty.slave))
            .spawn()
            .expect("run classcord admin");
        // Only the child holds the terminal now: reads end when it exits.
        drop(pty.slave);
        let master = std::fs::File::from(pty.master);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().expect("dup master");
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(read) = reader.read(&mut chunk) {
                if read == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&chunk[..read]);
            }
        });
        let mut console = Console {
            master,
            child,
            screen,
            seen: 0,
            _home: home,
        };
        console.wait_for("classcord> ");
        console
    }

    /// Keys as a terminal sends them (Enter is `\r`).
    fn keys(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).expect("type");
    }

    /// The screen as text (escape sequences and carriage returns removed).
    fn text(&self) -> String {
        plain(&String::from_utf8_lossy(&self.screen.lock().unwrap()))
    }

    /// Waits (bounded) until `needle` shows after what earlier waits matched; returns the text
    /// from there.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + *TIMEOUT;
        loop {
            let text = self.text();
            if let Some(at) = text.get(self.seen..).and_then(|rest| rest.find(needle)) {
                let found = text[self.seen..].to_owned();
                self.seen += at + needle.len();
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "never on screen: {needle:?}\n--- screen ---\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `quitter` and waits for the console to end.
    fn quit(mut self) -> String {
        self.keys("quitter\r");
        let deadline = Instant::now() + *TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "console: {status}\n{}", self.text());
                return self.text();
            }
            assert!(
                Instant::now() < deadline,
                "console still open:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Text without terminal escape sequences (`ESC [ ... letter`, `ESC ] ... BEL`) or `\r`.
fn plain(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    for c in chars.by_ref() {
                        if c == '\u{7}' {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' | '\u{7}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Regression: `info` then `channels` typed ahead ran only `info` (rustyline's buffer was
/// dropped between lines); a block pasted in one go (bracketed paste) runs line by line.
#[test]
fn lines_typed_ahead_or_pasted_all_run_in_order() {
    let server = TestServer::start();
    server.admin_ok(&["channel", "create", "projet"]);
    let mut console = Console::open(&server);
    console.keys("info\rchannels\rbans\r");
    console.wait_for("ClassCord 0.1.0");
    console.wait_for("2 salon(s) :");
    console.wait_for("Aucun bannissement en cours.");
    // A terminal's paste: the text between ESC[200~ and ESC[201~, newlines included, then Enter.
    console.keys("\u{1b}[200~channels\rinfo\rwho\r\u{1b}[201~\r");
    let pasted = console.wait_for("Aucune connexion.");
    let channels = pasted.find("2 salon(s)").expect("channels ran");
    let info = pasted.find("ClassCord 0.1.0").expect("info ran");
    assert!(channels < info, "in order:\n{pasted}");
    console.quit();
}

/// Regression: `shutdown 10 min` stopped the server after 10 seconds. Durations take French
/// or English units, with or without a space; a bare number is refused with an example; a
/// destructive command says what it will do and asks `oui/non`.
#[test]
fn destructive_commands_say_what_they_do_and_ask_first() {
    let server = TestServer::start();
    let mut alice = server.client();
    alice.account("alice");
    alice.recv_until("the welcome", |l| l["from"] == "Serveur");
    let mut console = Console::open(&server);

    console.keys("shutdown 10\r");
    console.wait_for("« 10 » sans unité : écrivez par exemple 10 min");
    console.keys("shutdown 10 min\r");
    console.wait_for("Le serveur s'arrêtera dans 10 min");
    console.wait_for("Confirmer ? (oui/non)");
    console.keys("non\r");
    console.wait_for("Annulé : rien n'a été fait.");
    console.keys("shutdown 10min\r");
    console.wait_for("Confirmer ? (oui/non)");
    console.keys("peut-être\r");
    console.wait_for("Réponse « peut-être » non comprise : annulé");
    alice.sync();

    console.keys("channel create projet\r");
    console.wait_for("Salon #projet créé.");
    console.keys("channel delete projet\r");
    console.wait_for("Le salon #projet sera supprimé");
    console.keys("oui\r");
    console.wait_for("Salon #projet supprimé (0 membre(s) prévenu(s)).");

    console.keys("ban 10.0.0.0/8 2 heures triche\r");
    console.wait_for("Le réseau 10.0.0.0/8 (16 777 216 adresses) sera banni pour 2 h");
    console.keys("o\r");
    console.wait_for("10.0.0.0/8 banni pour 2 h");
    console.keys("ban mallory 1 j spam\r");
    console.wait_for("mallory banni pour 1 j");

    console.keys("shutdown 5 min mise à jour\r");
    console.keys("oui\r");
    console.wait_for("Arrêt dans 5 min ; les utilisateurs sont prévenus");
    let notice = alice.recv_until("the countdown", |l| l["from"] == "Serveur");
    assert_eq!(
        notice["content"],
        "Le serveur s'arrête dans 5 min. Raison : mise à jour"
    );
    console.keys("shutdown annuler\r");
    console.wait_for("Arrêt annulé");
    console.quit();

    // One plain form for every command in the log: the console's own words.
    let log = server.log();
    for line in [
        "[ADMIN] uid ",
        " : channel create projet\n",
        " : channel delete projet\n",
        " : ban 10.0.0.0/8 2 h triche\n",
        " : ban mallory 1 j spam\n",
        " : shutdown 5 min \"mise à jour\"\n",
        " : shutdown annuler\n",
    ] {
        assert!(log.contains(line), "{line:?} not in:\n{log}");
    }
    assert!(!log.contains("\"cmd\""), "raw JSON in the log:\n{log}");
    assert_eq!(
        log.matches(" : shutdown 10 min").count(),
        0,
        "the refused shutdowns never reached the server:\n{log}"
    );
}

/// Regression: `shutdown maintenant` stopped the server and the log then claimed a SIGTERM.
#[test]
fn shutdown_now_is_logged_as_the_operators_not_as_a_signal() {
    let server = TestServer::start();
    let mut console = Console::open(&server);
    console.keys("shutdown maintenant\r");
    console.wait_for("Le serveur va s'arrêter tout de suite");
    console.keys("oui\r");
    console.wait_for("Arrêt du serveur en cours.");
    let log = server.wait_for_log("arrêt terminé");
    assert!(
        log.contains("[ARRET] arrêt demandé par l'administrateur (uid "),
        "{log}"
    );
    assert!(!log.contains("SIGTERM"), "{log}");
}

/// A name with spaces is written between quotes, in every command; typed without them, the
/// refusal points to the quoted name.
#[test]
fn names_with_spaces_are_quoted_and_the_refusal_says_how() {
    let server = TestServer::start();
    let mut jean = server.client();
    jean.account("jean dupont");
    jean.recv_until("the welcome", |l| l["from"] == "Serveur");
    let mut console = Console::open(&server);
    console.keys("who\r");
    console.wait_for("jean dupont  compte");
    console.wait_for("en ligne");
    console.keys("kick jean dupont\r");
    console.wait_for("Personne n'est connecté sous le nom « jean ».");
    console.wait_for("entre guillemets : \"jean dupont\"");
    console.keys("say \"jean dupont\" viens me voir\r");
    console.wait_for("Message remis à 1 connexion(s).");
    let said = jean.recv_until("the private notice", |l| l["from"] == "Serveur");
    assert_eq!(said["content"], "viens me voir");
    console.keys("kick \"jean dupont\" bavardage\r");
    console.wait_for("1 connexion(s) fermée(s).");
    let notice = jean.recv_until("the kick notice", |l| {
        l["from"] == "Serveur" && l["content"].as_str().unwrap().contains("déconnecté")
    });
    assert!(notice["content"].as_str().unwrap().contains("bavardage"));
    assert!(
        jean.closed_with_nothing_more(),
        "a plain client gets the notice alone, last"
    );
    console.keys("user del jean dupont\r");
    console.wait_for("user : trop d'arguments.");
    console.wait_for("« \"jean dupont\" »");
    console.keys("user del \"jean dupont\"\r");
    console.wait_for("Le compte « jean dupont » sera supprimé");
    console.keys("oui\r");
    console.wait_for("Compte « jean dupont » supprimé");
    console.quit();
    assert_eq!(
        server.client().login("jean dupont", "secret-pw")["type"],
        "error"
    );
}

/// The one-shot form: the same words, `--yes` for what cannot be undone, French refusals.
#[test]
fn one_shot_commands_need_yes_for_what_cannot_be_undone() {
    let server = TestServer::start();
    let refused = server.admin(&["channel", "delete", "#général"]);
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains("sera supprimé"), "{error}");
    assert!(
        error.contains("classcord admin --yes channel delete #général"),
        "{error}"
    );
    let json = server.admin_json(&["user", "del", "alice"]);
    assert_eq!(json["ok"], false, "{json}");
    assert!(json["error"].as_str().unwrap().contains("--yes"), "{json}");
    let bare = server.admin(&["ban", "eve", "30"]);
    assert!(String::from_utf8_lossy(&bare.stderr).contains("« 30 » sans unité"));
    let text = server.admin_ok(&["channel", "create", "projet"]);
    assert_eq!(text.trim(), "Salon #projet créé.");
    let listed = server.admin_json(&["channels"]);
    assert!(listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "#projet"));
    let deleted = server.admin_json(&["--yes", "channel", "delete", "projet"]);
    assert_eq!(deleted["ok"], true, "{deleted}");
    assert_eq!(deleted["data"], json!({"name": "#projet", "members": 0}));
    let gone = server.admin(&["channel", "delete", "projet", "--yes"]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("Salon inconnu : #projet"));
}
