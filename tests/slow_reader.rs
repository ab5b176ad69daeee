//! A client that never reads is cut off when its outbound queue overflows, and never slows the
//! others: 50 readers receive every line while it sits there.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use common::{Client, TestServer};
use serde_json::{json, Value};

const READERS: usize = 50;
const MESSAGES: usize = 6000;

#[test]
fn a_client_that_never_reads_is_cut_off_and_fifty_others_get_everything() {
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("classcord.toml");
    // One sender writes 6,000 lines at once: over the default line rate on purpose.
    std::fs::write(
        &config,
        format!(
            "[limits]\noutbound_queue_bytes = 65536\n{}",
            common::UNTHROTTLED
        ),
    )
    .unwrap();
    let server = TestServer::start_with(&["--config", config.to_str().unwrap()]);

    // The stalled client: identified (so it is sent everything), tiny receive buffer, never reads.
    let stalled = TcpStream::connect(server.addr).unwrap();
    nix::sys::socket::setsockopt(&stalled, nix::sys::socket::sockopt::RcvBuf, &4096).unwrap();
    (&stalled)
        .write_all(b"{\"type\":\"message\",\"from\":\"dormeur\",\"content\":\"\"}\n")
        .unwrap();

    let mut readers = Vec::new();
    for index in 0..READERS {
        let mut client = server.client();
        client.guest(&format!("lecteur{index}"));
        client.sync();
        readers.push(client);
    }
    let handles: Vec<_> = readers
        .into_iter()
        .map(|client| thread::spawn(move || count_messages(client)))
        .collect();

    let mut sender = server.client();
    sender.guest("emetteur");
    let filler = "x".repeat(1000);
    let mut batch = Vec::new();
    for seq in 0..MESSAGES {
        let line = json!({"type":"message","content":format!("{seq} {filler}")});
        batch.extend_from_slice(line.to_string().as_bytes());
        batch.push(b'\n');
        if batch.len() > 64 * 1024 {
            sender.send_raw(&batch);
            batch.clear();
        }
    }
    sender.send_raw(&batch);
    sender.send(json!({"type":"message","content":"fin"}));

    for handle in handles {
        let received = handle.join().unwrap();
        assert_eq!(
            received, MESSAGES,
            "every reader got every message, in order"
        );
    }
    server.wait_for_log("SLOW_CLIENT ip=127.0.0.1");
    drop(stalled);
}

/// Reads until the "fin" line; checks the sequence numbers arrive in order.
fn count_messages(client: Client) -> usize {
    let stream = client.into_stream();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    let mut expected = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return expected;
        }
        let value: Value = serde_json::from_str(&line).unwrap();
        if value["type"] != "message" || value["from"] != "emetteur" {
            continue;
        }
        let content = value["content"].as_str().unwrap();
        if content == "fin" {
            return expected;
        }
        let seq: usize = content.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(seq, expected, "out of order or lost");
        expected += 1;
    }
}
