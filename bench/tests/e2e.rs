//! End-to-end tests of `classcord-bench` against its own `fake-server` (a trivial fan-out
//! echo, optionally with an injected fault): every mode runs, reports one JSON object, and the
//! exit code and the counters show what really happened.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_classcord-bench");

/// A running fake server, killed on drop.
struct Fake {
    child: Child,
    addr: String,
}

impl Fake {
    fn start(fault: Option<&str>) -> Fake {
        let mut cmd = Command::new(BIN);
        cmd.arg("fake-server")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(f) = fault {
            cmd.args(["--fault", f]);
        }
        let mut child = cmd.spawn().expect("start fake-server");
        let stdout = child.stdout.take().expect("fake-server stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("fake-server address");
        Fake {
            child,
            addr: line.trim().to_string(),
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bench(args: &[&str]) -> (Value, Output) {
    let out = Command::new(BIN).args(args).output().expect("run bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "exactly one JSON line: {stdout}");
    let v: Value = serde_json::from_str(&stdout).expect("JSON report");
    (v, out)
}

fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn fanout_guest_rate_is_clean() {
    let fake = Fake::start(None);
    let (v, out) = bench(&[
        "fanout",
        "--addr",
        &fake.addr,
        "--clients",
        "8",
        "--senders",
        "3",
        "--rate",
        "600",
        "--duration",
        "1",
        "--pid",
        &fake.pid(),
        "--check",
    ]);
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["ok"], true);
    assert!(n(&v, "sent") >= 500, "{v}");
    assert_eq!(n(&v, "expected_deliveries"), n(&v, "sent") * 7);
    assert_eq!(n(&v, "received"), n(&v, "expected_deliveries"));
    for k in ["lost", "duplicated", "echoed", "bad_lines", "wrong_from"] {
        assert_eq!(n(&v, k), 0, "{k}: {v}");
    }
    assert!(v["latency_us"]["p50"].as_f64().is_some_and(|p| p > 0.0));
    assert!(v["server_cpu_s"].is_number() && v["server_rss_kib"].is_number());
}

#[test]
fn fanout_window_login_channel_is_clean() {
    let fake = Fake::start(None);
    let (v, out) = bench(&[
        "fanout",
        "--addr",
        &fake.addr,
        "--clients",
        "6",
        "--senders",
        "6",
        "--rate",
        "0",
        "--window",
        "16",
        "--duration",
        "0.5",
        "--login",
        "--channel",
        "#maths",
        "--check",
    ]);
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["identity"], "login");
    assert_eq!(v["window"], 16);
    assert!(n(&v, "sent") > 0);
    assert_eq!(n(&v, "received"), n(&v, "sent") * 5);
}

#[test]
fn check_detects_echo_loss_and_duplicates() {
    for (fault, counter) in [("echo", "echoed"), ("drop", "lost"), ("dup", "duplicated")] {
        let fake = Fake::start(Some(fault));
        let (v, out) = bench(&[
            "fanout",
            "--addr",
            &fake.addr,
            "--clients",
            "4",
            "--senders",
            "2",
            "--rate",
            "1000",
            "--duration",
            "0.5",
            "--drain-timeout",
            "0.5",
            "--check",
        ]);
        assert_eq!(out.status.code(), Some(1), "{fault}: {v}");
        assert!(n(&v, counter) > 0, "{fault}: {v}");
        assert_eq!(v["clean"], false);
    }
}

#[test]
fn idle_holds_connections() {
    let fake = Fake::start(None);
    let (v, out) = bench(&[
        "idle",
        "--addr",
        &fake.addr,
        "--clients",
        "40",
        "--hold",
        "0.2",
        "--pid",
        &fake.pid(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(n(&v, "held"), 40);
    assert!(v["kib_per_connection"].is_number());
}

#[test]
fn logins_with_chat() {
    let fake = Fake::start(None);
    let (v, out) = bench(&[
        "logins",
        "--addr",
        &fake.addr,
        "--count",
        "30",
        "--concurrency",
        "4",
        "--chat",
        "5",
        "--check",
    ]);
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(n(&v, "succeeded"), 30);
    assert_eq!(n(&v["register_ms"], "count"), 30);
    assert_eq!(v["chat"]["clean"], true);
}

#[test]
fn refuses_non_loopback_targets() {
    let out = Command::new(BIN)
        .args(["fanout", "--addr", "192.0.2.1:12345"])
        .output()
        .expect("run bench");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a loopback"));
}

#[test]
fn unreachable_server_is_a_failed_run() {
    // Bind then drop a listener to get a port that is (almost certainly) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let (v, out) = bench(&[
        "fanout",
        "--addr",
        &addr,
        "--clients",
        "2",
        "--senders",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(v["ok"], false);
    assert_eq!(v["phase"], "setup");
}

#[test]
fn server_gone_mid_run_is_a_failed_run() {
    let mut fake = Fake::start(None);
    let child = Command::new(BIN)
        .args([
            "fanout",
            "--addr",
            &fake.addr,
            "--clients",
            "6",
            "--senders",
            "2",
            "--rate",
            "200",
            "--duration",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run bench");
    std::thread::sleep(std::time::Duration::from_millis(700));
    let _ = fake.child.kill();
    let _ = fake.child.wait();
    let out = child.wait_with_output().expect("bench output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(out.status.code(), Some(2), "{v}");
    assert_eq!(v["ok"], false);
    assert_eq!(n(&v, "disconnected"), 6, "{v}");
}
