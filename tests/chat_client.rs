//! `classcord chat` in pipe mode against the real server: the client is the protocol's second
//! implementation (it reads docs/PROTOCOL.md, not core), so these tests check both at once. Each
//! client is a real process; its standard input is what the user types, its standard output what
//! it shows.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{TestServer, TIMEOUT};

/// A running `classcord chat`, its output collected line by line.
struct Chat {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
    collectors: Vec<JoinHandle<()>>,
}

type Collected = (Arc<Mutex<Vec<String>>>, JoinHandle<()>);

/// Collects a pipe's lines until it closes (when the process exits).
fn collect(stream: impl std::io::Read + Send + 'static) -> Collected {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let handle = std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    (lines, handle)
}

impl Chat {
    fn start(server: &TestServer, args: &[&str]) -> Chat {
        let mut child = Command::new(env!("CARGO_BIN_EXE_classcord"))
            .arg("chat")
            .arg(server.addr.to_string())
            .args(args)
            .env_remove("NO_COLOR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start classcord chat");
        let (out, out_done) = collect(child.stdout.take().expect("stdout"));
        let (err, err_done) = collect(child.stderr.take().expect("stderr"));
        Chat {
            stdin: child.stdin.take(),
            child,
            out,
            err,
            collectors: vec![out_done, err_done],
        }
    }

    /// Types one line.
    fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("input still open");
        writeln!(stdin, "{line}").expect("write to classcord chat");
        stdin.flush().expect("flush");
    }

    fn lines(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    /// Waits (bounded) for an output line containing `needle`; returns it.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + *TIMEOUT;
        loop {
            if let Some(line) = self.lines().into_iter().find(|line| line.contains(needle)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "never shown: {needle:?}\nstdout:\n{}\nstderr:\n{}",
                self.lines().join("\n"),
                self.err.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes its input (end of the script) and waits (bounded) for it to exit.
    fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        drop(self.stdin.take());
        self.wait()
    }

    fn wait(mut self) -> (ExitStatus, Vec<String>, String) {
        let deadline = Instant::now() + *TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("classcord chat did not exit:\n{}", self.lines().join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The process is gone, so are its pipes: the collectors have read everything.
        for collector in self.collectors.drain(..) {
            collector.join().expect("collector");
        }
        let err = self.err.lock().unwrap().join("\n");
        (status, self.lines(), err)
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_clients_exchange_global_private_and_channel_messages_and_see_each_other() {
    let server = TestServer::start();
    let mut bob = Chat::start(&server, &["--nom", "bob"]);
    bob.wait_for("Bienvenue");
    let mut alice = Chat::start(&server, &["--nom", "alice"]);
    alice.wait_for("Bienvenue");
    bob.wait_for("alice est en ligne");

    alice.say("bonjour la classe");
    assert!(bob
        .wait_for("<alice> bonjour la classe")
        .ends_with("<alice> bonjour la classe"));
    alice.say("/msg bob psst, c'est privé");
    bob.wait_for("[privé] alice → bob : psst, c'est privé");

    bob.say("/join #projet");
    bob.wait_for("Vous avez rejoint #projet");
    alice.say("/join projet");
    alice.wait_for("Vous avez rejoint #projet");
    alice.say("on commence ?");
    bob.wait_for("#projet <alice> on commence ?");
    bob.say("/msg alice oui");
    alice.wait_for("[privé] bob → alice : oui");
    bob.say("/qui #projet");
    bob.wait_for("Dans #projet (2) : alice, bob");

    alice.say("/etat absent");
    bob.wait_for("alice est absent(e)");
    bob.say("/historique 5");
    bob.wait_for("Historique de #projet (1 message(s)) :");
    bob.wait_for("#projet <alice> on commence ?");

    // The end of alice's input: her last line is handled before she leaves.
    alice.say("à demain");
    let (status, _, err) = alice.finish();
    assert!(status.success(), "alice: {status} {err}");
    bob.wait_for("#projet <alice> à demain");
    bob.wait_for("alice s'est déconnecté(e)");
    // Nothing bob was shown was sent to himself.
    assert!(!bob.lines().iter().any(|line| line.contains("<bob>")));
    let (status, lines, _) = bob.finish();
    assert!(status.success());
    // Pipe mode: no colour codes, one line per event.
    assert!(lines.iter().all(|line| !line.contains('\x1b')), "{lines:?}");
}

#[test]
fn an_account_gets_the_private_message_kept_while_it_was_away() {
    let server = TestServer::start();
    // Registration, then login, with the password as the first input line.
    let mut alice = Chat::start(&server, &["--compte", "alice", "--inscrire"]);
    alice.say("mot-de-passe");
    alice.wait_for("Compte créé.");
    alice.wait_for("Connecté(e) avec le compte « alice ».");
    let (status, _, _) = alice.finish();
    assert!(status.success());

    let mut bob = Chat::start(&server, &["--nom", "bob"]);
    bob.wait_for("Bienvenue");
    bob.say("/msg alice tu verras ça en rentrant");
    let (status, _, _) = bob.finish();
    assert!(status.success());

    // The kept message comes right after the login reply: the client announced no-hold and
    // reads everything the server sends, in order.
    let mut alice = Chat::start(&server, &["--compte", "alice"]);
    alice.say("mot-de-passe");
    let kept = alice.wait_for("tu verras ça en rentrant");
    assert!(
        kept.contains("[privé] bob → alice, gardé pour vous depuis le"),
        "{kept}"
    );
    let lines = alice.lines();
    let login = lines
        .iter()
        .position(|l| l.contains("Connecté(e)"))
        .unwrap();
    let message = lines
        .iter()
        .position(|l| l.contains("en rentrant"))
        .unwrap();
    assert!(login < message, "{lines:?}");
    let (status, _, _) = alice.finish();
    assert!(status.success());

    let mut wrong = Chat::start(&server, &["--compte", "alice"]);
    wrong.say("pas-le-bon");
    let (status, lines, err) = wrong.finish();
    assert_eq!(status.code(), Some(1), "{lines:?}");
    assert!(
        err.contains("connexion refusée : nom de compte ou mot de passe incorrect"),
        "{err}"
    );
}

#[test]
fn raw_mode_shows_the_lines_both_ways_and_a_refused_lines_error() {
    let server = TestServer::start();
    let mut chat = Chat::start(&server, &["--compte", "zoe", "--inscrire", "--brut"]);
    chat.say("secret-zoe");
    chat.wait_for(r#"S>C {"type":"login","status":"ok","username":"zoe"}"#);
    chat.say(r#"{"type":"nimportequoi"}"#);
    chat.say("{pas du json");
    chat.wait_for(r#"C>S {"type":"nimportequoi"}"#);
    chat.wait_for(r#"S>C {"type":"error","message":"Type inconnu"#);
    chat.wait_for("Erreur : Type inconnu : \"nimportequoi\".");
    chat.wait_for("Erreur : JSON invalide");
    chat.say("/qui");
    chat.wait_for(r#"C>S {"type":"users"}"#);
    chat.wait_for("En ligne (1) : zoe");
    let (status, lines, _) = chat.finish();
    assert!(status.success());
    assert!(lines.iter().any(|l| l.contains(r#""password":"********""#)));
    assert!(!lines.iter().any(|l| l.contains("secret-zoe")), "{lines:?}");
}

#[test]
fn a_kick_and_a_shutdown_end_the_client_cleanly_with_the_notice_last() {
    let server = TestServer::start();
    let zoe = Chat::start(&server, &["--nom", "zoé"]);
    zoe.wait_for("Bienvenue");
    let bob = Chat::start(&server, &["--nom", "bob"]);
    bob.wait_for("Bienvenue");
    server.admin_ok(&["kick", "zoé", "bavardage"]);
    let (status, lines, _) = zoe.wait();
    assert!(status.success(), "{lines:?}");
    let last = lines.len() - 1;
    assert_eq!(
        lines[last], "Connexion fermée : l'administrateur vous a exclu(e).",
        "{lines:?}"
    );
    assert!(
        lines[last - 1].contains("***"),
        "the notice comes last: {lines:?}"
    );
    assert!(lines[last - 1].contains("bavardage"), "{lines:?}");

    let status = server.stop();
    assert!(status.success());
    let (status, lines, _) = bob.wait();
    assert!(status.success(), "{lines:?}");
    assert_eq!(
        lines.last().unwrap(),
        "Connexion fermée : le serveur s'arrête."
    );
}

#[test]
fn a_client_that_cannot_connect_says_why_in_french() {
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let output = Command::new(env!("CARGO_BIN_EXE_classcord"))
        .args(["chat", &format!("127.0.0.1:{port}"), "--nom", "x"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("classcord : erreur : connexion à 127.0.0.1:"),
        "{err}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_classcord"))
        .args(["chat", "--nom", "x", "--compte", "y"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&output.stderr).contains("pas les deux"));
}
