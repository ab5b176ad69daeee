//! A class behind ONE address (issue 14, B): a VM behind NAT or a container's published port
//! brings every student from the same address. Real TCP against the real binary, every student's
//! socket bound to 127.0.0.5, the default configuration: the class registers, mistypes, logs in,
//! logs in again after a restart, and nobody is slowed or refused.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use common::{Client, TestServer};
use serde_json::{json, Value};

/// Students in the class.
const CLASS: usize = 40;
/// The address the whole class arrives from.
const CLASSROOM: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 5);

fn student(n: usize) -> String {
    format!("eleve{n:02}")
}

fn password(n: usize) -> String {
    format!("motdepasse-{n}")
}

/// One try as the students' clients make it: a new TCP connection from the classroom's address,
/// one request, its reply. The connection is returned open (a logged-in client stays).
fn attempt(server: SocketAddr, request: Value) -> Result<(Client, Value), String> {
    let stream = common::connect_from(server, CLASSROOM).map_err(|e| format!("connect: {e}"))?;
    let mut client = Client::from_stream(stream);
    client.send(request);
    match client.try_recv() {
        Some(reply) => Ok((client, reply)),
        None => Err("no reply".into()),
    }
}

/// Every student does `request(n)` at once, each on its own connection; the replies in order.
fn whole_class(
    server: SocketAddr,
    request: impl Fn(usize) -> Value + Sync,
) -> Vec<Result<(Client, Value), String>> {
    std::thread::scope(|scope| {
        let request = &request;
        let threads: Vec<_> = (0..CLASS)
            .map(|n| scope.spawn(move || attempt(server, request(n))))
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().expect("student thread"))
            .collect()
    })
}

fn login(n: usize, password: &str) -> Value {
    json!({"type":"login","username":student(n),"password":password})
}

fn is_ok(reply: &Result<(Client, Value), String>, kind: &str) -> bool {
    matches!(reply, Ok((_, line)) if line["type"] == kind && line["status"] == "ok")
}

/// The replies that were not `expected`, for the failure message.
fn others<'a>(
    replies: &'a [Result<(Client, Value), String>],
    expected: impl Fn(&Result<(Client, Value), String>) -> bool,
) -> Vec<String> {
    replies
        .iter()
        .filter(|reply| !expected(reply))
        .map(|reply| match reply {
            Ok((_, line)) => line.to_string(),
            Err(error) => error.clone(),
        })
        .take(3)
        .collect()
}

/// Lines of the log about the classroom's address that mean it was held back or judged.
fn held_back(log: &str) -> Vec<&str> {
    let ip = format!("ip={CLASSROOM} ");
    log.lines()
        .filter(|line| line.contains(&ip))
        .filter(|line| {
            ["RATE_LIMIT", "CONN_REJECTED", "BRUTE_FORCE", "CONN_FLOOD"]
                .iter()
                .any(|token| line.contains(token))
        })
        .collect()
}

#[test]
fn a_class_behind_one_address_registers_mistypes_and_logs_in_with_the_defaults() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let server = TestServer::start_in(&data, &[]);

    let registered = whole_class(server.addr, |n| {
        json!({"type":"register","username":student(n),"password":password(n)})
    });
    let typos = whole_class(server.addr, |n| login(n, "mot-de-passe-faux"));
    let wrong_password = |reply: &Result<(Client, Value), String>| {
        matches!(reply, Ok((_, line)) if line["type"] == "error" && line["message"] == "Login failed.")
    };
    let logged_in = whole_class(server.addr, |n| login(n, &password(n)));
    let first_log = server.wait_for_log("[LOGIN] ");
    // Wait until the log has every line of the first run (written by the log thread).
    let expected_logins = logged_in.iter().filter(|r| is_ok(r, "login")).count();
    let deadline = std::time::Instant::now() + *common::TIMEOUT;
    while server.log().matches("[LOGIN] ").count() < expected_logins
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let first_log = if first_log.len() < server.log().len() {
        server.log()
    } else {
        first_log
    };
    assert_eq!(server.stop().code(), Some(0));

    let server = TestServer::start_in(&data, &[]);
    let again = whole_class(server.addr, |n| login(n, &password(n)));
    let count = |replies: &[Result<(Client, Value), String>], kind: &str| {
        replies.iter().filter(|reply| is_ok(reply, kind)).count()
    };
    let summary = format!(
        "class of {CLASS} from {CLASSROOM}, default configuration: registered {}/{CLASS}, \
         typo answered as a wrong password {}/{CLASS}, logged in {}/{CLASS}, logged in after \
         the restart {}/{CLASS}",
        count(&registered, "register"),
        typos.iter().filter(|reply| wrong_password(reply)).count(),
        count(&logged_in, "login"),
        count(&again, "login"),
    );
    eprintln!("{summary}");
    assert_eq!(
        count(&registered, "register"),
        CLASS,
        "{summary}; {:?}",
        others(&registered, |r| is_ok(r, "register"))
    );
    assert!(
        typos.iter().all(wrong_password),
        "{summary}; {:?}",
        others(&typos, wrong_password)
    );
    assert_eq!(
        count(&logged_in, "login"),
        CLASS,
        "{summary}; {:?}",
        others(&logged_in, |r| is_ok(r, "login"))
    );
    assert_eq!(
        count(&again, "login"),
        CLASS,
        "{summary}; {:?}",
        others(&again, |r| is_ok(r, "login"))
    );

    // Nothing was delayed, refused or judged: the log says so, not a stopwatch.
    let second_log = server.wait_for_log("[LOGIN] ");
    for log in [&first_log, &second_log] {
        let held = held_back(log);
        assert!(held.is_empty(), "the class was held back: {held:#?}");
    }
    assert_eq!(
        first_log
            .matches(&format!("AUTH_FAIL ip={CLASSROOM} "))
            .count(),
        CLASS,
        "one typo each, logged as such"
    );
}
