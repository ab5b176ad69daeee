//! Syslog output of the real binary, read from a real Unix datagram socket standing in for
//! `/dev/log` (`[log] syslog_socket`): identifier, PID, facilities and severities; security lines
//! that forged names cannot bend; the console fallback; a stalled syslog daemon never stalls the
//! chat. Clients use distinct loopback source addresses (127.0.0.2...) to play distinct IPs.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{check_line, TestServer, TIMEOUT};
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrIn};
use serde_json::{json, Value};

/// PRI values: facility * 8 + severity.
const LOCAL0_INFO: &str = "<134>";
const LOCAL0_DEBUG: &str = "<135>";
const AUTH_WARNING: &str = "<36>";

/// Shared text collected by a reader thread.
type Collected = Arc<Mutex<Vec<String>>>;

/// The real binary logging to a datagram socket in a temp dir.
struct SyslogServer {
    child: Child,
    addr: SocketAddr,
    datagrams: Collected,
    stderr: Collected,
    socket_path: PathBuf,
    reading: Arc<AtomicBool>,
    _temp: tempfile::TempDir,
}

impl SyslogServer {
    /// `reading`: whether the fake daemon reads its socket from the start. The line rate limit
    /// is off: some tests send hundreds of messages at once.
    fn start(args: &[&str], env: &[(&str, &str)], reading: bool) -> SyslogServer {
        let temp = tempfile::tempdir().unwrap();
        let socket_path = temp.path().join("log.sock");
        let config = temp.path().join("classcord.toml");
        std::fs::write(
            &config,
            format!(
                "[security]\nmessages_per_second = 0\n[log]\nsyslog_socket = {:?}\n",
                socket_path.to_str().unwrap()
            ),
        )
        .unwrap();
        let receiver = UnixDatagram::bind(&socket_path).unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let datagrams = Collected::default();
        let reading = Arc::new(AtomicBool::new(reading));
        {
            let (datagrams, reading) = (datagrams.clone(), reading.clone());
            std::thread::spawn(move || read_datagrams(&receiver, &datagrams, &reading));
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_classcord"));
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(temp.path().join("data"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env_remove("JOURNAL_STREAM")
            .env_remove("INVOCATION_ID")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stderr = Collected::default();
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let mut server = SyslogServer {
            child,
            addr: "127.0.0.1:1".parse().unwrap(),
            datagrams,
            stderr,
            socket_path,
            reading,
            _temp: temp,
        };
        let deadline = Instant::now() + *TIMEOUT;
        server.addr = loop {
            let seen: Vec<String> = server.all_lines();
            if let Some(rest) = seen
                .iter()
                .find_map(|line| line.split("écoute sur ").nth(1))
            {
                break rest.trim().parse().unwrap();
            }
            assert!(Instant::now() < deadline, "server did not start: {seen:?}");
            std::thread::sleep(Duration::from_millis(20));
        };
        server
    }

    fn datagrams(&self) -> Vec<String> {
        self.datagrams.lock().unwrap().clone()
    }

    fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    fn all_lines(&self) -> Vec<String> {
        let mut lines = self.datagrams();
        lines.extend(self.stderr());
        lines
    }

    /// Waits (bounded) until `count` datagrams contain `needle`; returns those.
    fn wait_datagrams(&self, needle: &str, count: usize) -> Vec<String> {
        wait_lines(&self.datagrams, needle, count)
    }
}

impl Drop for SyslogServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_datagrams(receiver: &UnixDatagram, datagrams: &Collected, reading: &AtomicBool) {
    let mut buffer = vec![0u8; 65536];
    // Ends when the test's temp dir (and the socket file) is gone and nobody sends any more.
    let mut idle = 0;
    while idle < 600 {
        if !reading.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        match receiver.recv(&mut buffer) {
            Ok(length) => {
                idle = 0;
                let text = String::from_utf8_lossy(&buffer[..length]).into_owned();
                datagrams.lock().unwrap().push(text);
            }
            Err(_) => idle += 1,
        }
    }
}

fn wait_lines(lines: &Collected, needle: &str, count: usize) -> Vec<String> {
    let deadline = Instant::now() + *TIMEOUT;
    loop {
        let found: Vec<String> = lines
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains(needle))
            .cloned()
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} lines with {needle:?}, got {found:?}:\n{:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A line client whose socket is bound to `source` before connecting.
struct Peer {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Peer {
    fn connect_from(source: Ipv4Addr, server: SocketAddr) -> Peer {
        let fd = socket::socket(
            AddressFamily::Inet,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        socket::bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &SockaddrIn::from(SocketAddrV4::new(source, 0)),
        )
        .unwrap();
        let SocketAddr::V4(target) = server else {
            panic!("IPv4 server expected")
        };
        socket::connect(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &SockaddrIn::from(target),
        )
        .unwrap();
        let stream = TcpStream::from(fd);
        stream.set_read_timeout(Some(*TIMEOUT)).unwrap();
        Peer {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, value: Value) {
        let mut line = value.to_string().into_bytes();
        line.push(b'\n');
        self.writer.write_all(&line).unwrap();
    }

    fn recv(&mut self) -> Value {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).unwrap();
        check_line(&line)
    }

    /// Becomes a guest and waits for the server's welcome (from then on, chat reaches it).
    fn guest(&mut self, name: &str) {
        self.send(json!({"type":"message","content":"bonjour","from":name}));
        self.recv_until(|line| line["from"] == "Serveur" && line["to"] == name);
    }

    fn recv_until(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..100 {
            let line = self.recv();
            if matches(&line) {
                return line;
            }
        }
        panic!("no matching line in 100");
    }
}

fn localhost(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// The message part of a datagram (after `classcord[PID]: `).
fn message_of(datagram: &str) -> &str {
    datagram
        .split_once("]: ")
        .map_or("", |(_, message)| message)
}

#[test]
fn syslog_lines_carry_identifier_pid_facilities_and_severities() {
    let server = SyslogServer::start(&["--log", "syslog", "--log-level", "debug"], &[], true);
    let pid = server.child.id();
    let mut client = Peer::connect_from(localhost(2), server.addr);
    client.send(json!({"type":"login","username":"nobody","password":"x"}));
    assert_eq!(client.recv()["type"], "error");
    client.send(json!({"type":"nope"}));
    assert_eq!(client.recv()["type"], "error");
    client.send(json!({"type":"message","content":"bonjour","from":"zoe"}));

    let auth = server.wait_datagrams("AUTH_FAIL", 1);
    assert_eq!(
        auth,
        [format!(
            "{AUTH_WARNING}{} classcord[{pid}]: AUTH_FAIL ip=127.0.0.2 user=\"nobody\"",
            &auth[0][4..19]
        )]
    );
    let protocol = server.wait_datagrams("PROTOCOL_ERROR", 1);
    assert!(protocol[0].starts_with(AUTH_WARNING), "{protocol:?}");
    assert_eq!(
        message_of(&protocol[0]),
        "PROTOCOL_ERROR ip=127.0.0.2 reason=unknown-type conn=1"
    );
    let connected = server.wait_datagrams("[CONNEXION]", 1);
    assert!(connected[0].starts_with(LOCAL0_INFO), "{connected:?}");
    assert!(connected[0].contains(&format!(" classcord[{pid}]: [CONNEXION] 127.0.0.2:")));
    let contents = server.wait_datagrams("\"content\":\"bonjour\"", 1);
    assert!(contents[0].starts_with(LOCAL0_DEBUG), "{contents:?}");
    assert!(server.stderr().is_empty(), "{:?}", server.stderr());
}

#[test]
fn forged_names_never_put_another_address_in_a_security_line() {
    let server = SyslogServer::start(&["--log", "syslog"], &[], true);
    let forged = [
        "bob\n2026-12-01T10:00:00 host classcord[1]: AUTH_FAIL ip=10.9.9.9 user=\"x\"",
        "bob\r AUTH_FAIL ip=10.9.9.9",
        " ip=10.9.9.9",
        "x\" ip=10.9.9.9 user=\"y",
        "\u{202e}9.9.9.01=pi LIAF_HTUA",
        "a\u{2028}AUTH_FAIL ip=10.9.9.9",
        "\u{1b}[2K\rAUTH_FAIL ip=10.9.9.9",
    ];
    let mut attacker = Peer::connect_from(localhost(3), server.addr);
    for name in forged {
        attacker.send(json!({"type":"login","username":name,"password":"pw"}));
        assert_eq!(attacker.recv()["type"], "error");
    }
    let lines = server.wait_datagrams("AUTH_FAIL", forged.len());
    assert_eq!(lines.len(), forged.len(), "{lines:?}");
    for line in &lines {
        let message = message_of(line);
        assert!(
            message.starts_with("AUTH_FAIL ip=127.0.0.3 user=\""),
            "{message}"
        );
        assert!(!line.contains(['\n', '\r', '\u{1b}', '\u{202e}', '\u{2028}']));
        assert!(message.ends_with('"'), "{message}");
    }
    // A refused account name gets a French reason; a guest's hidden characters are replaced.
    attacker.send(json!({"type":"register","username":"\u{202e}gnp.exe","password":"pw"}));
    let refused = attacker.recv();
    let text = refused["message"].as_str().unwrap();
    assert!(
        text.contains("invisible") && text.contains("U+202E"),
        "{text}"
    );
    let refused = server.wait_datagrams("REGISTER_REFUSED", 1);
    assert_eq!(
        message_of(&refused[0]),
        "REGISTER_REFUSED ip=127.0.0.3 reason=invalid-name user=\"\\u{202e}gnp.exe\""
    );
    let mut watcher = Peer::connect_from(localhost(4), server.addr);
    watcher.guest("watcher");
    attacker.send(json!({"type":"message","content":"salut","from":"\u{202e}gnp.exe"}));
    let seen = watcher.recv_until(|line| line["content"] == "salut");
    assert_eq!(seen["from"], "\u{fffd}gnp.exe");
    let joined = server.wait_datagrams("[INVITE] \u{fffd}gnp.exe depuis 127.0.0.3", 1);
    assert_eq!(joined.len(), 1);
}

#[test]
fn a_login_closed_before_its_answer_is_still_an_auth_fail() {
    let server = SyslogServer::start(&["--log", "syslog"], &[], true);
    for _ in 0..3 {
        let mut quitter = Peer::connect_from(localhost(9), server.addr);
        quitter.send(json!({"type":"login","username":"alice","password":"guess"}));
        drop(quitter);
    }
    server.wait_datagrams("AUTH_FAIL ip=127.0.0.9", 3);
    std::thread::sleep(Duration::from_millis(300));
    let lines: Vec<String> = server
        .datagrams()
        .into_iter()
        .filter(|line| line.contains("AUTH_FAIL"))
        .collect();
    assert_eq!(lines.len(), 3, "one line per attempt, never two: {lines:?}");
    for line in &lines {
        assert_eq!(message_of(line), "AUTH_FAIL ip=127.0.0.9 user=\"alice\"");
    }
}

#[test]
fn missing_syslog_socket_is_reported_once_then_the_console_is_used() {
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("classcord.toml");
    let missing = temp.path().join("no-such.sock");
    std::fs::write(
        &config,
        format!("[log]\nsyslog_socket = {:?}\n", missing.to_str().unwrap()),
    )
    .unwrap();
    let server = TestServer::start_with(&["--log", "syslog", "--config", config.to_str().unwrap()]);
    let mut client = server.client();
    client.login("nobody", "x");
    let log = server.wait_for_log("[AUTH] AUTH_FAIL ip=127.0.0.1 user=\"nobody\"");
    assert_eq!(
        log.matches("journal système indisponible").count(),
        1,
        "{log}"
    );
    assert!(log.contains(missing.to_str().unwrap()), "{log}");
}

#[test]
fn systemd_start_defaults_to_syslog_and_the_flag_wins() {
    let server = SyslogServer::start(&[], &[("INVOCATION_ID", "0123456789abcdef")], true);
    server.wait_datagrams("écoute sur", 1);
    assert!(server.stderr().is_empty(), "{:?}", server.stderr());
    drop(server);

    let server = SyslogServer::start(&["--log", "console"], &[("JOURNAL_STREAM", "8:1")], true);
    wait_lines(&server.stderr, "[DEMARRAGE]", 1);
    std::thread::sleep(Duration::from_millis(200));
    assert!(server.datagrams().is_empty(), "{:?}", server.datagrams());
}

#[test]
fn a_stalled_syslog_daemon_never_stalls_the_chat_nor_loses_security_lines() {
    // The daemon reads nothing: its socket queue fills after a few lines, then sends time out.
    let server = SyslogServer::start(&["--log", "syslog"], &[], true);
    server.reading.store(false, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(100));
    let mut alice = Peer::connect_from(localhost(5), server.addr);
    let mut bob = Peer::connect_from(localhost(6), server.addr);
    alice.guest("alice");
    bob.guest("bob");
    let started = Instant::now();
    for index in 0..300 {
        alice.send(json!({"type":"message","content":format!("m{index}"),"from":"alice"}));
    }
    for index in 0..300 {
        let line = bob.recv_until(|line| line["from"] == "alice");
        assert_eq!(line["content"], format!("m{index}"));
    }
    let chat_took = started.elapsed();
    bob.send(json!({"type":"login","username":"stalled","password":"x"}));
    bob.recv_until(|line| line["type"] == "error");
    // The security line reaches stderr (the journal's stream under systemd) if not syslog.
    let deadline = Instant::now() + *TIMEOUT;
    while !server
        .all_lines()
        .iter()
        .any(|line| line.contains("AUTH_FAIL ip=127.0.0.6 user=\"stalled\""))
    {
        assert!(Instant::now() < deadline, "{:?}", server.all_lines());
        std::thread::sleep(Duration::from_millis(20));
    }
    let notices = wait_lines(&server.stderr, "journal système injoignable", 1);
    assert_eq!(notices.len(), 1, "{:?}", server.stderr());
    assert!(notices[0].contains(server.socket_path.to_str().unwrap()));
    // The daemon catches up: syslog is used again, and stderr says so once.
    server.reading.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + *TIMEOUT;
    let mut index = 0;
    while !server
        .stderr()
        .iter()
        .any(|line| line.contains("journal système de nouveau joignable"))
    {
        assert!(Instant::now() < deadline, "{:?}", server.stderr());
        let _ = Peer::connect_from(localhost(7), server.addr);
        index += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(index > 0);
    eprintln!("300 messages relayed in {chat_took:?} while syslog was stalled");
    assert_eq!(
        server
            .stderr()
            .iter()
            .filter(|line| line.contains("injoignable"))
            .count(),
        1
    );
}
