//! Hostile clients against the real server, bounded in count and time, while 50 honest clients
//! keep chatting: every honest line must arrive, none may be cut off, and the server's memory must
//! stay under a generous ceiling. Each attack comes from its own loopback address (127.0.0.x).
//! Log forging through names is checked with the shipped fail2ban filter in
//! `.ci/system/30-syslog-fail2ban.sh` and `tests/logging.rs`.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{connect_from, Client, TestServer};
use serde_json::json;

const HONEST: usize = 50;
/// Lines each honest client sends (one every 20 ms: well under the line rate).
const HONEST_LINES: usize = 40;
/// Resident memory the server may reach during the whole suite.
const RSS_CEILING: u64 = 200 << 20;

fn from(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

fn rss_of(pid: u32) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches(" kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Writes everything it can, ignoring errors (the server may cut the attacker off).
fn blast(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = stream.write_all(bytes);
}

#[test]
fn hostile_clients_do_not_hurt_fifty_honest_ones() {
    // Per-address caps stay at their defaults; the attackers' addresses hit them, the honest
    // clients (ten addresses, five each) never do.
    let server = TestServer::start_with_config(
        "[passwords]\nmemory_kib = 4096\niterations = 1\n[limits]\noutbound_queue_bytes = 65536\n\
         [security]\npartial_line_timeout_secs = 2\n",
    );
    let addr = server.addr;
    let pid = server.pid();
    let stop = Arc::new(AtomicBool::new(false));

    // Memory watcher: the peak RSS over the whole run.
    let peak = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_of(pid));
                thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };

    // The honest class: 50 guests, each sends HONEST_LINES lines and must receive everyone's.
    let mut honest: Vec<Client> = (0..HONEST)
        .map(|n| {
            let mut client = Client::connect_from(addr, from(2 + (n % 10) as u8));
            client.guest(&format!("eleve{n}"));
            client
        })
        .collect();
    for client in &mut honest {
        client.sync();
    }
    let honest_threads: Vec<_> = honest
        .into_iter()
        .enumerate()
        .map(|(n, mut client)| {
            thread::spawn(move || {
                let expected = (HONEST - 1) * HONEST_LINES;
                let mut received = 0;
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut sent = 0;
                while (received < expected || sent < HONEST_LINES) && Instant::now() < deadline {
                    if sent < HONEST_LINES {
                        client.send(json!({"type":"message","content":format!("{n}:{sent}")}));
                        sent += 1;
                    }
                    for line in client.drain(Duration::from_millis(20)) {
                        let from_honest = line["type"] == "message"
                            && line["from"]
                                .as_str()
                                .is_some_and(|f| f.starts_with("eleve"));
                        if from_honest {
                            received += 1;
                        }
                    }
                }
                (received, expected)
            })
        })
        .collect();

    let attacks_started = Instant::now();
    let mut attackers = Vec::new();

    // Garbage bytes, invalid UTF-8 in every field, a nesting bomb: errors, never a crash.
    attackers.push(thread::spawn(move || {
        let mut stream = connect_from(addr, from(40)).unwrap();
        let mut junk = Vec::new();
        for n in 0..2000u32 {
            junk.push((n.wrapping_mul(2_654_435_761) >> 24) as u8);
        }
        junk.push(b'\n');
        blast(&mut stream, &junk);
        blast(&mut stream, b"{\"type\":\"message\",\"from\":\"\xff\xfe\",\"content\":\"\xc3\x28\",\"channel\":\"\x80\"}\n");
        blast(&mut stream, b"{\"type\":\"login\",\"username\":\"\xed\xa0\x80\",\"password\":\"\xf8\"}\n");
        let bomb = format!("{}{}\n", "[".repeat(50_000), "]".repeat(50_000));
        blast(&mut stream, bomb.as_bytes());
        let deep = format!("{{\"type\":\"message\",\"content\":\"x\",\"extra\":{}1{}}}\n", "[".repeat(5000), "]".repeat(5000));
        blast(&mut stream, deep.as_bytes());
    }));

    // A 4 MiB line: an error, then the connection closes.
    attackers.push(thread::spawn(move || {
        let mut stream = connect_from(addr, from(41)).unwrap();
        let mut line = b"{\"type\":\"message\",\"content\":\"".to_vec();
        line.extend(std::iter::repeat_n(b'a', 4 << 20));
        line.extend_from_slice(b"\"}\n");
        blast(&mut stream, &line);
    }));

    // 1,000 connections from one address: the per-address caps refuse most of them cleanly.
    attackers.push(thread::spawn(move || {
        let held: Vec<TcpStream> = (0..1000)
            .map_while(|_| connect_from(addr, from(42)).ok())
            .collect();
        thread::sleep(Duration::from_millis(500));
        drop(held);
    }));

    // 200 half-open connections dribbling a byte a second (slowloris): cut by the deadline.
    attackers.push(thread::spawn(move || {
        let mut streams: Vec<TcpStream> = (0..200)
            .filter_map(|n| connect_from(addr, from(43 + (n / 50) as u8)).ok())
            .collect();
        for _ in 0..4 {
            for stream in &mut streams {
                let _ = stream.write_all(b"{");
            }
            thread::sleep(Duration::from_secs(1));
        }
        // Then wait for the server to cut them (closing first would let a server slowed down by
        // emulation see the close before its deadline: no TIMEOUT to check).
        let deadline = Instant::now() + Duration::from_secs(30);
        for stream in &mut streams {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
                break;
            }
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }));

    // A client that never reads while others chat: it must slow nobody (the kernel's send buffer
    // on loopback may absorb this much; cutting a never-reader at the queue cap is proven by
    // tests/slow_reader.rs).
    attackers.push(thread::spawn(move || {
        let stream = connect_from(addr, from(47)).unwrap();
        nix::sys::socket::setsockopt(&stream, nix::sys::socket::sockopt::RcvBuf, &4096).unwrap();
        (&stream)
            .write_all(b"{\"type\":\"message\",\"from\":\"dormeur\",\"content\":\"\"}\n")
            .unwrap();
        thread::sleep(Duration::from_secs(4));
    }));

    // A flood of `users` requests: warned, then cut by the line rate.
    attackers.push(thread::spawn(move || {
        let mut stream = connect_from(addr, from(48)).unwrap();
        for _ in 0..2000 {
            if stream.write_all(b"{\"type\":\"users\"}\n").is_err() {
                break;
            }
        }
        let mut sink = Vec::new();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = stream.read_to_end(&mut sink);
    }));

    // A password brute force: delayed, then refused without hashing.
    attackers.push(thread::spawn(move || {
        let stream = connect_from(addr, from(49)).unwrap();
        let mut client = Client::from_stream(stream.try_clone().unwrap());
        // Its hashing runs at a low priority: under emulation on a busy machine a reply can take
        // longer than the usual 10 s.
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        for n in 0..40 {
            let reply = client.login("eleve1", &format!("essai{n}"));
            if reply["message"]
                .as_str()
                .is_some_and(|m| m.contains("réessayez dans"))
            {
                return;
            }
        }
    }));

    for attacker in attackers {
        let _ = attacker.join();
    }
    let attacks_took = attacks_started.elapsed();
    let results: Vec<(usize, usize)> = honest_threads
        .into_iter()
        .map(|honest| honest.join().expect("honest client"))
        .collect();
    for (n, (received, expected)) in results.into_iter().enumerate() {
        assert_eq!(received, expected, "honest client {n} lost lines");
    }
    stop.store(true, Ordering::Relaxed);
    let peak = peak.join().unwrap();

    // Each attack is logged (waited for: a slow server may still be handling the last ones).
    for expected in [
        "PROTOCOL_ERROR ip=127.0.0.40",
        "ip=127.0.0.41",
        "CONN_REJECTED ip=127.0.0.42",
        "TIMEOUT ip=127.0.0.43",
        "RATE_LIMIT ip=127.0.0.48",
        "AUTH_FAIL ip=127.0.0.49",
    ] {
        server.wait_for_log(expected);
    }
    let log = server.log();
    for n in 2..12 {
        let honest_ip = format!("ip=127.0.0.{n} ");
        assert!(
            !log.lines().any(|line| line.contains(&honest_ip)
                && (line.contains("SLOW_CLIENT")
                    || line.contains("RATE_LIMIT")
                    || line.contains("CONN_REJECTED"))),
            "an honest client was treated as hostile:\n{log}"
        );
    }
    eprintln!(
        "hostile suite: peak RSS {:.1} MiB, attacks took {:.1} s",
        peak as f64 / 1048576.0,
        attacks_took.as_secs_f64()
    );
    assert!(peak < RSS_CEILING, "peak RSS {peak} bytes");
    Client::connect_from(addr, from(60)).sync();
}
