//! Back-pressure on floods: a client pipelining thousands of lines must be slowed down (the hub
//! stops reading it), not the honest readers cut off as slow clients.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{connect_from, Client, TestServer};

const LINES: usize = 30_000;
const READERS: usize = 5;

#[test]
fn a_pipelined_flood_pauses_the_sender_instead_of_cutting_slow_readers() {
    // A small queue cap (64 KiB) and no line rate: without back-pressure the readers below, who
    // read steadily but slower than the flood, would pass the cap and be cut.
    let server = TestServer::start_with_config(
        "[limits]\noutbound_queue_bytes = 65536\n[security]\nmessages_per_second = 0\n",
    );
    let addr = server.addr;
    let (starts, readers): (Vec<_>, Vec<_>) = (0..READERS)
        .map(|n| {
            let (go, start) = mpsc::channel::<()>();
            let stream = connect_from(addr, Ipv4Addr::new(127, 0, 0, 2 + n as u8)).unwrap();
            let mut client = Client::from_stream(stream);
            client.guest(&format!("lecteur{n}"));
            client.sync();
            let reader = thread::spawn(move || {
                let mut reader = BufReader::new(client.into_stream());
                // Not reading until the server has paused the flooder makes the pause certain
                // whatever the machine's speed (regression: on a loaded machine a debug server
                // was slower than these readers, never had to pause, and the test failed).
                if start.recv().is_err() {
                    return 0;
                }
                let mut line = String::new();
                let mut got = 0;
                let deadline = Instant::now() + Duration::from_secs(60);
                while got < LINES && Instant::now() < deadline {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if line.contains("\"from\":\"bavard\"") {
                                got += 1;
                                if got % 10 == 0 {
                                    // A steady reader, slower than the flood.
                                    thread::sleep(Duration::from_millis(1));
                                }
                            }
                        }
                    }
                }
                got
            });
            (go, reader)
        })
        .unzip();

    let mut flooder = Client::connect_from(addr, Ipv4Addr::new(127, 0, 0, 20));
    flooder.guest("bavard");
    let mut stream = flooder.into_stream();
    let mut batch = Vec::new();
    for n in 0..LINES {
        batch.extend_from_slice(
            format!(
                "{{\"type\":\"message\",\"content\":\"ligne {n} {}\"}}\n",
                "x".repeat(80)
            )
            .as_bytes(),
        );
    }
    // The flooder stays connected until the readers are done (closing a socket with unread data
    // resets the connection, which would drop what the server had not read yet).
    let writer = thread::spawn(move || (stream.write_all(&batch).is_ok(), stream));

    // Nobody reads yet: the queues deepen and the hub must stop reading the flooder. Had it not,
    // the readers' queues would pass the 64 KiB cap and they would be cut (checked below).
    server.wait_for_log("FLOOD ip=127.0.0.20 action=paused");
    for go in starts {
        go.send(()).unwrap();
    }
    for (n, reader) in readers.into_iter().enumerate() {
        assert_eq!(reader.join().unwrap(), LINES, "reader {n} got every line");
    }
    let (written, _stream) = writer.join().unwrap();
    assert!(written, "the flooder was slowed, not cut");
    let log = server.log();
    assert!(
        !log.contains("SLOW_CLIENT"),
        "no honest reader was cut:\n{log}"
    );
}
