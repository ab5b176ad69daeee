//! The metrics: the Grafana dashboard names exactly the families the server renders, and the
//! file `--metrics-file` writes counts what clients really did (read back after a clean stop).
//! `CLASSCORD_KEEP_METRICS=PATH` keeps that file for the CI's Prometheus parser.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use classcord::metrics::Metrics;
use common::{Client, TestServer, TIMEOUT};
use serde_json::{json, Value};

/// Family names in a rendered metrics text (`# TYPE name kind` lines).
fn families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn collect_exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr" | "query", Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_exprs(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_exprs(item, out)),
        _ => {}
    }
}

#[test]
fn the_grafana_dashboard_uses_exactly_the_metric_names_the_server_renders() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/etc/grafana/classcord.json"
    ))
    .unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("valid JSON");
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() > 20, "{exprs:?}");
    let mut used = BTreeSet::new();
    for expr in &exprs {
        let mut rest = expr.as_str();
        while let Some(at) = rest.find("classcord_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            used.insert(name);
        }
    }
    let metrics = Metrics::new();
    let dir = tempfile::tempdir().unwrap();
    let store = classcord::store::Store::open(&dir.path().join("db.redb"), 1 << 20).unwrap();
    drop(store);
    metrics.attach_store(Default::default(), dir.path().join("db.redb"));
    let rendered = families(&metrics.render());
    let unknown: Vec<&String> = used.difference(&rendered).collect();
    assert!(
        unknown.is_empty(),
        "dashboard names unknown metrics: {unknown:?}"
    );
    let unused: Vec<&String> = rendered.difference(&used).collect();
    assert!(unused.is_empty(), "metrics without a panel: {unused:?}");
}

/// `name{labels}` -> value, from a rendered text.
fn samples(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn the_metrics_file_counts_what_clients_did() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("classcord.prom");
    let config = temp.path().join("c.toml");
    std::fs::write(
        &config,
        format!("[metrics]\nfile = {file:?}\ninterval_secs = 1\n"),
    )
    .unwrap();
    let server = TestServer::start_in(
        &temp.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    // 1: an account, with one failed login first.
    let mut alice = server.client();
    assert_eq!(alice.register("alice", "bon-mot-de-passe")["status"], "ok");
    assert_eq!(alice.login("alice", "faux")["type"], "error");
    assert_eq!(alice.login("alice", "bon-mot-de-passe")["status"], "ok");
    alice.recv(); // welcome
                  // 2: a guest who gets three messages.
    let mut bob = server.client();
    bob.guest("bob");
    for n in 0..3 {
        alice.send(json!({"type":"message","content":format!("m{n}")}));
        bob.recv_chat();
    }
    // One protocol error, one kick, one banned address refused at accept.
    alice.send_raw(b"pas du json\n");
    alice.recv_type("error");
    server.admin_ok(&["kick", "bob"]);
    assert!(bob.closed_by_server());
    server.admin_ok(&["ban", "127.0.0.7"]);
    let mut banned = Client::connect_from(server.addr, Ipv4Addr::new(127, 0, 0, 7));
    assert!(banned.closed_by_server());
    alice.sync();
    // The periodic rewrite shows the relayed messages within a few seconds.
    let deadline = Instant::now() + *TIMEOUT;
    loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.contains("classcord_messages_relayed_total 3\n") {
            break;
        }
        assert!(Instant::now() < deadline, "never rewritten:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // `stats` shows the same numbers.
    let stats = server.admin_json(&["stats"]);
    assert_eq!(stats["data"]["metrics"]["classcord_kicks_total"], 1.0);
    assert_eq!(
        stats["data"]["metrics"]["classcord_sessions{kind=\"account\"}"],
        1.0
    );
    assert_eq!(server.stop().code(), Some(0));

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!temp.path().join("classcord.prom.tmp").exists());
    let got = samples(&text);
    for (name, expected) in [
        ("classcord_connections_accepted_total", 2.0),
        (
            "classcord_connections_rejected_total{reason=\"banned\"}",
            1.0,
        ),
        ("classcord_registrations_total", 1.0),
        ("classcord_auth_failures_total", 1.0),
        ("classcord_logins_total", 1.0),
        ("classcord_messages_relayed_total", 3.0),
        ("classcord_kicks_total", 1.0),
        ("classcord_bans_enforced_total", 1.0),
        ("classcord_protocol_errors_total{reason=\"bad-json\"}", 1.0),
    ] {
        assert_eq!(got.get(name), Some(&expected), "{name} in\n{text}");
    }
    assert!(got["classcord_deliveries_total"] >= 3.0);
    assert!(got["classcord_lines_received_total"] >= 8.0);
    if let Some(keep) = std::env::var_os("CLASSCORD_KEEP_METRICS") {
        std::fs::copy(&file, keep).unwrap();
    }
}
