//! The live protocol trace over the real binary (issue 16 item 5): `classcord admin trace` run
//! as a teacher runs it, real TCP clients traced: each incoming line with the server's verdict,
//! refusals with their reason and the line sent back, passwords masked, and the end (by itself,
//! when the traced connection closes, or on Ctrl-C).

mod common;

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use common::{Client, TestServer, TIMEOUT};
use serde_json::{json, Value};

/// `classcord admin ARGS...` left running, its stdout read line by line on a thread.
struct Follower {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Follower {
    fn start(server: &TestServer, args: &[&str]) -> Follower {
        let mut child = Command::new(env!("CARGO_BIN_EXE_classcord"))
            .arg("admin")
            .arg("--data")
            .arg(&server.data)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run classcord admin trace");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) for a printed line containing `needle`; returns everything seen so far.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + *TIMEOUT;
        while !self.seen.iter().any(|line| line.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("never printed {needle:?}:\n{}", self.seen.join("\n")),
            }
        }
        self.seen.join("\n")
    }

    /// Waits (bounded) for the process to end by itself; returns all it printed.
    fn wait_end(mut self) -> (bool, String) {
        let deadline = Instant::now() + *TIMEOUT + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the trace never ended:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(line);
        }
        (status.success(), self.seen.join("\n"))
    }

    fn interrupt(&self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_trace_shows_each_line_with_its_verdict_masks_passwords_and_stops_on_ctrl_c() {
    let server = TestServer::start();
    let mut trace = Follower::start(&server, &["trace", "127.0.0.9", "5", "min"]);
    trace.wait_for("Trace de l'adresse 127.0.0.9 : aucune connexion pour l'instant");

    // A student's client, traced from its first line (the address is watched).
    let mut student = Client::connect_from(server.addr, Ipv4Addr::new(127, 0, 0, 9));
    student.hello(&["no-hold"]);
    assert_eq!(
        student.register("alice", "motdepasse-secret")["status"],
        "ok"
    );
    assert_eq!(student.login("alice", "motdepasse-secret")["status"], "ok");
    student.send(json!({"type":"mesage","content":"faute de frappe"}));
    let error = student.recv_type("error");
    assert_eq!(error["message"], "Type inconnu : \"mesage\".");
    student.send_raw(b"{pas du json\n");
    student.recv_type("error");
    student.send(json!({"type":"message","content":"bonjour"}));
    server.admin_ok(&["mute", "alice", "5", "min"]);
    student.send(json!({"type":"message","content":"encore moi"}));
    student.sync();

    let shown = trace.wait_for(">> {\"type\":\"ping\"}");
    assert!(
        shown.contains("connexion suivie : 127.0.0.9 (tcp)"),
        "{shown}"
    );
    assert!(
        shown.contains("\"password\":\"********\"") && !shown.contains("motdepasse-secret"),
        "passwords are masked:\n{shown}"
    );
    assert!(
        shown.contains("compris : register (création du compte « alice »)"),
        "{shown}"
    );
    assert!(
        shown.contains("compris : login (compte « alice »)"),
        "{shown}"
    );
    assert!(
        shown.contains("<< {\"type\":\"login\",\"status\":\"ok\",\"username\":\"alice\"}"),
        "{shown}"
    );
    assert!(
        shown.contains("REFUSÉ [unknown-type] : Type inconnu : \"mesage\".")
            && shown.contains("renvoyé : {\"type\":\"error\",\"message\":\"Type inconnu"),
        "a refused line shows its reason and the error sent back:\n{shown}"
    );
    assert!(shown.contains(">> {pas du json"), "{shown}");
    assert!(shown.contains("REFUSÉ [bad-json]"), "{shown}");
    assert!(shown.contains("compris : message pour #général"), "{shown}");
    assert!(
        shown.contains("REFUSÉ : parole retirée par l'administrateur"),
        "a line refused by moderation says so:\n{shown}"
    );

    trace.interrupt();
    let (ok, shown) = trace.wait_end();
    assert!(ok, "{shown}");
    assert!(shown.contains("fin de la trace : arrêtée."), "{shown}");
    let log = server.wait_for_log(" : trace 127.0.0.9 5 min");
    assert!(!log.contains("motdepasse-secret"), "{log}");
}

#[test]
fn a_trace_of_one_connection_ends_when_it_closes_and_streams_json() {
    let server = TestServer::start();
    let mut student = server.client();
    student.hello(&["no-hold"]);
    student.account("zoé");
    student.sync();
    let who = server.admin_json(&["who"]);
    let conn = who["data"][0]["id"].as_u64().expect("a connection");
    let target = format!("#{conn}");
    let mut trace = Follower::start(&server, &["--json", "trace", &target]);
    trace.wait_for("\"ok\":true");
    student.send(json!({"type":"channels"}));
    student.recv_type("channels");
    trace.wait_for("\"kind\":\"out\"");
    student.shutdown();
    let (ok, shown) = trace.wait_end();
    assert!(ok, "{shown}");
    let events: Vec<Value> = shown
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("trace").is_some())
        .map(|line| line["trace"].clone())
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"attached"), "{shown}");
    assert_eq!(events[0]["name"], "zoé");
    let incoming = events
        .iter()
        .find(|e| e["kind"] == "in")
        .unwrap_or_else(|| panic!("no incoming line: {shown}"));
    assert_eq!(incoming["conn"], conn);
    assert_eq!(incoming["line"], "{\"type\":\"channels\"}");
    assert_eq!(incoming["verdict"]["verdict"], "understood");
    assert_eq!(incoming["verdict"]["request"], "channels");
    assert!(kinds.contains(&"closed"), "{shown}");
    let end = events.last().unwrap();
    assert_eq!(end["kind"], "end");
    assert_eq!(end["reason"], "closed");
}

#[test]
fn a_trace_stops_by_itself_after_its_duration() {
    let server = TestServer::start();
    let trace = Follower::start(&server, &["trace", "personne", "2", "s"]);
    let (ok, shown) = trace.wait_end();
    assert!(ok, "{shown}");
    assert!(
        shown.contains("Trace de « personne » : aucune connexion"),
        "{shown}"
    );
    assert!(
        shown.contains("fin de la trace : durée écoulée."),
        "{shown}"
    );
    let unknown = server.admin(&["trace", "#999"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("Aucune connexion #999"));
    let long = server.admin(&["trace", "alice", "2", "h"]);
    assert!(String::from_utf8_lossy(&long.stderr).contains("1 h au plus"));
}
