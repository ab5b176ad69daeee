//! Test harness: a real `classcord` process on a free loopback port with its own data folder, and a
//! line-oriented client that checks every received line against docs/PROTOCOL.md §1.2 and §6.7.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::LazyLock;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub mod admin;
pub mod https;
pub mod websocket;

/// How long a test waits for an answer: 10 s, or `CLASSCORD_TEST_TIMEOUT_SECS` (set by the qemu-user
/// CI step, where an emulated server on a busy machine can take longer to reply).
pub static TIMEOUT: LazyLock<Duration> = LazyLock::new(|| {
    let secs = std::env::var("CLASSCORD_TEST_TIMEOUT_SECS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10);
    Duration::from_secs(secs)
});

/// Configuration without the line rate (see [`TestServer::start_unthrottled`]).
pub const UNTHROTTLED: &str = "[security]\nmessages_per_second = 0\n";

pub struct TestServer {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub data: PathBuf,
    _temp: Option<tempfile::TempDir>,
    log: Arc<Mutex<String>>,
}

impl TestServer {
    /// A fresh server with an empty data folder.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let data = temp.path().join("data");
        let mut server = TestServer::start_in(&data, extra);
        server._temp = Some(temp);
        server
    }

    /// A fresh server with a configuration file holding `config` (TOML).
    pub fn start_with_config(config: &str) -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let path = temp.path().join("classcord.toml");
        std::fs::write(&path, config).expect("write config");
        let data = temp.path().join("data");
        let mut server =
            TestServer::start_in(&data, &["--config", path.to_str().expect("utf-8 path")]);
        server._temp = Some(temp);
        server
    }

    /// A server without the per-connection line rate: for tests that flood on purpose to check
    /// something else (ordering under load, slow readers, crash windows).
    pub fn start_unthrottled() -> TestServer {
        TestServer::start_with_config(UNTHROTTLED)
    }

    /// A server on an existing data folder (restart tests).
    pub fn start_in(data: &Path, extra: &[&str]) -> TestServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_classcord"));
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !extra.contains(&"--web-listen") {
            // Never the default port 8080: tests run side by side.
            command.args(["--web-listen", "127.0.0.1:0"]);
        }
        if !extra.contains(&"--log") {
            // The log is read from stderr: never syslog, even when the tests run under systemd.
            command.args(["--log", "console"]);
        }
        let mut child = command.spawn().expect("start classcord");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("écoute sur ").nth(1) {
                    let _ = addr_tx.send(rest.trim().to_string());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match addr_rx.recv_timeout(*TIMEOUT) {
            Ok(addr) => addr.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start; log:\n{}", log.lock().unwrap());
            }
        };
        TestServer {
            child: Some(child),
            addr,
            data: data.to_path_buf(),
            _temp: None,
            log,
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Where the web page (and its WebSocket) is served, from the start-up log line.
    pub fn web_addr(&self) -> SocketAddr {
        let log = self.wait_for_log("page web sur ");
        let rest = log.split("page web sur ").nth(1).expect("web line");
        let addr = rest.split_whitespace().next().expect("web address");
        addr.parse().expect("web address")
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (bounded) until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + *TIMEOUT;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "log never contained {needle:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    pub fn stop(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("send SIGTERM");
        let deadline = Instant::now() + *TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("server did not stop after SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl TestServer {
    /// SIGKILL, as a power cut would (no flush, no clean close), then waits for the process.
    pub fn crash(mut self) {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, *TIMEOUT).expect("connect");
        Client::from_stream(stream)
    }

    /// Connects from a chosen loopback source address (127.0.0.2, 127.0.0.3...), to play a
    /// distinct client machine for per-address rules.
    pub fn connect_from(addr: SocketAddr, source: std::net::Ipv4Addr) -> Client {
        Client::from_stream(connect_from(addr, source).expect("connect from a source address"))
    }

    pub fn from_stream(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(*TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(*TIMEOUT)).unwrap();
        Client {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// Sends one JSON line with a CRLF end, like the Java clients on Windows.
    pub fn send(&mut self, value: Value) {
        let mut line = value.to_string().into_bytes();
        line.extend_from_slice(b"\r\n");
        self.send_raw(&line);
    }

    /// The next line, checked: ASCII, `\n`-terminated, no `\r`, one JSON object.
    pub fn recv(&mut self) -> Value {
        self.try_recv().expect("a line before the timeout")
    }

    pub fn try_recv(&mut self) -> Option<Value> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(0) => None,
            Ok(_) => Some(check_line(&line)),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(error) => panic!("read failed: {error}"),
        }
    }

    /// Skips lines until one matches (each skipped line is still checked).
    pub fn recv_until(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + *TIMEOUT;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            match self.try_recv() {
                Some(line) if matches(&line) => return line,
                Some(line) => seen.push(line),
                None => break,
            }
        }
        panic!("never received {what}; got {seen:?}");
    }

    /// The next chat line from someone other than the server.
    pub fn recv_chat(&mut self) -> Value {
        self.recv_until("a chat line", |line| {
            (line["type"] == "message" || line["type"] == "private") && line["from"] != "Serveur"
        })
    }

    pub fn recv_type(&mut self, kind: &str) -> Value {
        self.recv_until(kind, |line| line["type"] == kind)
    }

    /// Asserts nothing at all arrives for `wait`.
    pub fn expect_silence(&mut self, wait: Duration) {
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let got = self.try_recv();
        self.reader
            .get_ref()
            .set_read_timeout(Some(*TIMEOUT))
            .unwrap();
        assert!(got.is_none(), "expected silence, got {got:?}");
    }

    /// Collects every line that arrives within `wait`.
    pub fn drain(&mut self, wait: Duration) -> Vec<Value> {
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let mut lines = Vec::new();
        while let Some(line) = self.try_recv() {
            lines.push(line);
        }
        self.reader
            .get_ref()
            .set_read_timeout(Some(*TIMEOUT))
            .unwrap();
        lines
    }

    /// True once the server has closed the connection (EOF within the timeout).
    pub fn closed_by_server(&mut self) -> bool {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).is_ok()
    }

    /// The server closed the connection and sent nothing after what was read so far: the line
    /// just read was the last one (a closing notice must be).
    pub fn closed_with_nothing_more(&mut self) -> bool {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).is_ok() && rest.is_empty()
    }

    /// Reads like many student clients: the login screen's reader is dropped once the login
    /// reply is handled and the chat window opens a new one on the socket, so whatever the first
    /// reader had already buffered is lost. Returns how many bytes were lost.
    pub fn open_second_reader(&mut self) -> usize {
        let lost = self.reader.buffer().len();
        let stream = self.reader.get_ref().try_clone().expect("clone the socket");
        self.reader = BufReader::new(stream);
        lost
    }

    /// Announces extensions (`hello`); returns the server's reply.
    pub fn hello(&mut self, features: &[&str]) -> Value {
        self.send(json!({"type":"hello","features":features}));
        self.recv_type("hello")
    }

    pub fn register(&mut self, name: &str, password: &str) -> Value {
        self.send(json!({"type":"register","username":name,"password":password}));
        self.recv()
    }

    pub fn login(&mut self, name: &str, password: &str) -> Value {
        self.send(json!({"type":"login","username":name,"password":password}));
        self.recv()
    }

    /// Registers and logs in with a password; returns after the login reply.
    pub fn account_with(&mut self, name: &str, password: &str) {
        assert_eq!(
            self.register(name, password),
            json!({"type":"register","status":"ok"})
        );
        let reply = self.login(name, password);
        assert_eq!(reply, json!({"type":"login","status":"ok","username":name}));
    }

    /// Registers and logs in; returns after the login reply.
    pub fn account(&mut self, name: &str) {
        assert_eq!(
            self.register(name, "secret-pw"),
            json!({"type":"register","status":"ok"})
        );
        let reply = self.login(name, "secret-pw");
        assert_eq!(reply, json!({"type":"login","status":"ok","username":name}));
    }

    /// Becomes a guest with an empty hello and waits for the welcome notice.
    pub fn guest(&mut self, name: &str) {
        self.send(json!({"type":"message","from":name,"content":""}));
        let welcome = self.recv();
        assert_eq!(welcome["from"], "Serveur");
    }

    /// Round trip: once the pong is back, everything sent before has been processed.
    pub fn sync(&mut self) {
        self.send(json!({"type":"ping"}));
        self.recv_type("pong");
    }

    /// The raw socket, for tests that read in bulk.
    pub fn into_stream(self) -> TcpStream {
        self.reader.into_inner()
    }

    pub fn shutdown(&self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }
}

/// A TCP connection from `source` (a loopback address) to `addr`.
pub fn connect_from(addr: SocketAddr, source: std::net::Ipv4Addr) -> std::io::Result<TcpStream> {
    use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrIn};
    use std::os::fd::{AsRawFd, OwnedFd};
    let fd: OwnedFd = socket::socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    socket::bind(
        fd.as_raw_fd(),
        &SockaddrIn::from(std::net::SocketAddrV4::new(source, 0)),
    )?;
    let std::net::SocketAddr::V4(target) = addr else {
        return Err(std::io::Error::other("IPv4 target expected"));
    };
    socket::connect(fd.as_raw_fd(), &SockaddrIn::from(target))?;
    Ok(TcpStream::from(fd))
}

/// docs/PROTOCOL.md §1.2 and §6.7: ASCII-only JSON object, `\n` only, never empty.
pub fn check_line(line: &[u8]) -> Value {
    assert!(
        line.ends_with(b"\n"),
        "line without \\n: {:?}",
        String::from_utf8_lossy(line)
    );
    let body = &line[..line.len() - 1];
    assert!(!body.is_empty(), "empty line sent");
    assert!(
        line.is_ascii(),
        "non-ASCII output: {:?}",
        String::from_utf8_lossy(line)
    );
    assert!(!body.contains(&b'\r'), "CR in output");
    let value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("non-JSON line {:?}: {e}", String::from_utf8_lossy(line)));
    assert!(value.is_object(), "not an object: {value}");
    for key in ["from", "content", "user", "state"] {
        if let Some(field) = value.get(key) {
            assert!(field.is_string(), "{key} is not a string in {value}");
        }
    }
    value
}
