//! In-server defences over real TCP, each client socket bound to its own loopback address
//! (127.0.0.2, 127.0.0.3...) to play distinct machines: the allowlist, per-address caps and
//! rates, the server total, the line rate, the deadlines, and password attempts. The class behind
//! one address, with the defaults, is in tests/classroom.rs.

mod common;

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::{connect_from, Client, TestServer};
use serde_json::{json, Value};

fn from(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

/// What a refused connection reads: one error line, then the end.
fn refused_line(server: &TestServer, source: Ipv4Addr) -> Value {
    let stream = connect_from(server.addr, source).expect("TCP accepted");
    stream.set_read_timeout(Some(*common::TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("an error line");
    let value = common::check_line(line.as_bytes());
    let mut rest = String::new();
    assert_eq!(reader.read_line(&mut rest).unwrap_or(0), 0, "then closed");
    value
}

#[test]
fn only_allowed_networks_may_connect() {
    let server = TestServer::start_with_config("[security]\nallow = [\"127.0.0.2/32\", \"::1\"]\n");
    let refused = refused_line(&server, from(3));
    assert_eq!(refused["type"], "error");
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("réseaux autorisés"));
    server.wait_for_log("CONN_REJECTED ip=127.0.0.3 reason=not-allowed");
    let mut allowed = Client::connect_from(server.addr, from(2));
    allowed.guest("autorisé");
}

#[test]
fn an_address_holds_a_few_connections_and_gets_its_place_back() {
    let server = TestServer::start_with_config("[security]\nmax_connections_per_ip = 3\n");
    let mut held: Vec<Client> = (0..3)
        .map(|_| Client::connect_from(server.addr, from(5)))
        .collect();
    for client in &mut held {
        client.sync();
    }
    let refused = refused_line(&server, from(5));
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("trop de connexions ouvertes"));
    server.wait_for_log("CONN_REJECTED ip=127.0.0.5 reason=too-many");
    // A per-address cap crossed is a flood verdict, the line fail2ban acts on.
    server.wait_for_log("CONN_FLOOD ip=127.0.0.5 reason=too-many open=3");
    Client::connect_from(server.addr, from(6)).sync();
    held.pop().unwrap().shutdown();
    let deadline = Instant::now() + *common::TIMEOUT;
    loop {
        // The place comes back once the server has seen the close.
        let mut retry = Client::connect_from(server.addr, from(5));
        retry.send(json!({"type":"ping"}));
        match retry.try_recv() {
            Some(line) if line["type"] == "pong" => break,
            _ => assert!(Instant::now() < deadline, "the place never came back"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn new_connections_per_address_are_rate_limited() {
    let server = TestServer::start_with_config(
        "[security]\nnew_connections_burst = 4\nnew_connections_per_minute = 1\n",
    );
    for _ in 0..4 {
        Client::connect_from(server.addr, from(8)).sync();
    }
    let refused = refused_line(&server, from(8));
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("en peu de temps"));
    server.wait_for_log("CONN_REJECTED ip=127.0.0.8 reason=rate");
    server.wait_for_log("CONN_FLOOD ip=127.0.0.8 reason=rate open=");
    Client::connect_from(server.addr, from(9)).sync();
}

#[test]
fn the_server_total_is_capped_and_refused_cleanly() {
    let server = TestServer::start_with_config("[security]\nmax_connections = 3\n");
    let mut held: Vec<Client> = (10..13)
        .map(|n| Client::connect_from(server.addr, from(n)))
        .collect();
    for client in &mut held {
        client.sync();
    }
    let refused = refused_line(&server, from(13));
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("nombre maximal"));
    server.wait_for_log("CONN_REJECTED ip=127.0.0.13 reason=server-full");
}

#[test]
fn a_flooding_client_is_warned_then_disconnected_and_others_are_not() {
    let server =
        TestServer::start_with_config("[security]\nmessages_per_second = 5\nmessages_burst = 10\n");
    let mut reader = Client::connect_from(server.addr, from(20));
    reader.guest("lecteur");
    let mut flooder = Client::connect_from(server.addr, from(21));
    flooder.guest("bavard");
    for n in 0..40 {
        flooder.send(json!({"type":"message","content":format!("{n}")}));
    }
    let warning = flooder.recv_until("the warning", |line| line["from"] == "Serveur");
    assert!(warning["content"].as_str().unwrap().contains("ralentissez"));
    let closing = flooder.recv_type("error");
    assert!(closing["message"]
        .as_str()
        .unwrap()
        .contains("connexion fermée"));
    assert!(flooder.closed_by_server());
    let log = server.wait_for_log("RATE_LIMIT ip=127.0.0.21 kind=message action=disconnect");
    assert!(log.contains("RATE_LIMIT ip=127.0.0.21 kind=message action=warn"));
    let relayed = reader.drain(Duration::from_millis(300));
    let chat = relayed.iter().filter(|l| l["from"] == "bavard").count();
    assert!(
        (1..=10).contains(&chat),
        "at most the burst was relayed: {chat}"
    );
    reader.send(json!({"type":"ping"}));
    assert_eq!(
        reader.recv_type("pong")["type"],
        "pong",
        "the reader is fine"
    );
}

#[test]
fn a_connection_that_never_identifies_is_closed() {
    let server = TestServer::start_with_config("[security]\nidentify_timeout_secs = 1\n");
    let mut idle = Client::connect_from(server.addr, from(30));
    let mut guest = Client::connect_from(server.addr, from(31));
    guest.guest("présent");
    let error = idle.recv_type("error");
    assert!(error["message"].as_str().unwrap().contains("Délai dépassé"));
    assert!(idle.closed_by_server());
    server.wait_for_log("TIMEOUT ip=127.0.0.30 phase=identify");
    guest.sync();
}

#[test]
fn a_line_left_unfinished_is_closed_even_if_it_trickles() {
    let server = TestServer::start_with_config("[security]\npartial_line_timeout_secs = 1\n");
    let mut slow = Client::connect_from(server.addr, from(32));
    slow.send_raw(b"{\"type\":\"message\",");
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        slow.send_raw(b" ");
    }
    let error = slow.recv_type("error");
    assert!(error["message"].as_str().unwrap().contains("pas terminée"));
    server.wait_for_log("TIMEOUT ip=127.0.0.32 phase=partial-line");
}

/// Failures count per account (the delay) and, far higher by default, per address (the verdict:
/// `BRUTE_FORCE`, then the address's attempts are refused without hashing).
#[test]
fn password_guessing_is_delayed_then_refused_without_hashing_and_others_log_in() {
    let server = TestServer::start_with_config(
        "[passwords]\nmemory_kib = 1024\niterations = 1\n[security]\nlogin_failures_before_delay = 2\n\
         login_delay_ms = 300\naddress_lockout_after = 5\naccount_lockout_after = 100\n",
    );
    let mut owner = Client::connect_from(server.addr, from(40));
    owner.account_with("alice", "le-bon");
    let mut attacker = Client::connect_from(server.addr, from(41));
    let mut replies = Vec::new();
    for n in 0..7 {
        replies.push(attacker.login("alice", &format!("essai{n}")));
    }
    assert!(
        replies[..5].iter().all(|r| r["message"] == "Login failed."),
        "{replies:?}"
    );
    for refused in &replies[5..] {
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("réessayez dans"),
            "{refused}"
        );
    }
    // Log lines are written by their own thread: wait for them.
    server.wait_for_log("RATE_LIMIT ip=127.0.0.41 kind=login action=delay");
    let log = server.wait_for_log("RATE_LIMIT ip=127.0.0.41 kind=login action=refuse");
    assert_eq!(
        log.matches("AUTH_FAIL ip=127.0.0.41").count(),
        5,
        "refused ones are not checked"
    );
    assert_eq!(
        log.matches("BRUTE_FORCE ip=127.0.0.41 reason=many-failures failures=5 accounts=1 locked=0 user=\"alice\"")
            .count(),
        1,
        "judged once:\n{log}"
    );
    assert_eq!(
        log.matches("RATE_LIMIT ip=127.0.0.41 kind=login action=delay")
            .count(),
        3
    );
    let mut other = Client::connect_from(server.addr, from(42));
    assert_eq!(
        other.login("alice", "le-bon")["type"],
        "login",
        "another machine is served"
    );
}

#[test]
fn failures_on_one_account_lock_it_whatever_the_address() {
    let server = TestServer::start_with_config(
        "[passwords]\nmemory_kib = 1024\niterations = 1\n[security]\naccount_lockout_after = 3\n",
    );
    let mut owner = Client::connect_from(server.addr, from(50));
    owner.account_with("bob", "secret");
    for n in 0..3 {
        let mut guesser = Client::connect_from(server.addr, from(51 + n));
        assert_eq!(guesser.login("bob", "faux")["message"], "Login failed.");
    }
    let mut late = Client::connect_from(server.addr, from(60));
    let refused = late.login("BOB", "secret");
    assert!(
        refused["message"].as_str().unwrap().contains("ce compte"),
        "{refused}"
    );
    let mut carol = Client::connect_from(server.addr, from(61));
    carol.account_with("carol", "mot-de-passe");
}

#[test]
fn registrations_per_address_are_rate_limited() {
    let server = TestServer::start_with_config(
        "[passwords]\nmemory_kib = 1024\niterations = 1\n[security]\nregistrations_burst = 3\n\
         registration_every_secs = 3600\n",
    );
    let mut client = Client::connect_from(server.addr, from(70));
    for n in 0..3 {
        assert_eq!(
            client.register(&format!("eleve{n}"), "mot-de-passe")["status"],
            "ok"
        );
    }
    let refused = client.register("eleve3", "mot-de-passe");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("Trop d'inscriptions"),
        "{refused}"
    );
    server.wait_for_log("RATE_LIMIT ip=127.0.0.70 kind=register action=refuse");
    let mut neighbour = Client::connect_from(server.addr, from(71));
    assert_eq!(neighbour.register("eleve3", "mot-de-passe")["status"], "ok");
}
