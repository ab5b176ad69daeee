//! The real binary under a fake service manager: notifications (`READY=1`, `WATCHDOG=1`,
//! `STOPPING=1`) arrive on a datagram socket the test binds, and socket activation serves on a
//! listener the test passes as fd 3 with `LISTEN_FDS` / `LISTEN_PID`, as systemd does.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Kills the server if a test fails half-way.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.0.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut stderr) = self.0.stderr.take() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }
}

fn serve_command(data: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_classcord"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("WATCHDOG_PID")
        // Console log (read below), even when the tests themselves run under systemd.
        .args(["--log", "console"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Collects notifications until one starts with `prefix` (bounded by [`TIMEOUT`]).
fn wait_for(socket: &UnixDatagram, prefix: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + TIMEOUT;
    let mut buffer = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {prefix:?} notification; got {seen:?}");
        socket.set_read_timeout(Some(left)).unwrap();
        match socket.recv(&mut buffer) {
            Ok(size) => {
                let text = String::from_utf8_lossy(&buffer[..size]).into_owned();
                seen.push(text.clone());
                if text.starts_with(prefix) {
                    return text;
                }
            }
            Err(error) => panic!("no {prefix:?} notification ({error}); got {seen:?}"),
        }
    }
}

/// One ping / pong exchange.
fn ping(addr: SocketAddr) {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.write_all(b"{\"type\":\"ping\"}\n").unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    assert_eq!(line, "{\"type\":\"pong\"}\n");
}

#[test]
fn ready_watchdog_and_stopping_reach_the_notify_socket() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut server = Server(
        serve_command(&temp.path().join("data"))
            .env("NOTIFY_SOCKET", &path)
            // 1 s: the hub pings every 0.5 s at most, and at least at every tick (2 s).
            .env("WATCHDOG_USEC", "1000000")
            .spawn()
            .expect("start classcord"),
    );

    let mut seen = Vec::new();
    let ready = wait_for(&socket, "READY=1", &mut seen);
    let status = ready
        .lines()
        .find_map(|line| line.strip_prefix("STATUS=en écoute sur "))
        .unwrap_or_else(|| panic!("no STATUS in {ready:?}"));
    let addr: SocketAddr = status.trim().parse().expect("listening address in STATUS");
    ping(addr); // READY=1 means it serves

    for _ in 0..2 {
        let ping = wait_for(&socket, "WATCHDOG=1", &mut seen);
        assert_eq!(ping, "WATCHDOG=1");
    }
    assert!(server.terminate().success());
    wait_for(&socket, "STOPPING=1", &mut seen);
    assert!(server.stderr().contains("chien de garde actif"));
}

#[test]
fn notifications_reach_an_abstract_socket_and_a_foreign_watchdog_is_ignored() {
    let temp = tempfile::tempdir().unwrap();
    let name = format!("classcord-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    let mut server = Server(
        serve_command(&temp.path().join("data"))
            .env("NOTIFY_SOCKET", format!("@{name}"))
            .env("WATCHDOG_USEC", "1000000")
            .env("WATCHDOG_PID", "1") // meant for another process
            .spawn()
            .expect("start classcord"),
    );
    let mut seen = Vec::new();
    wait_for(&socket, "READY=1", &mut seen);
    assert!(server.terminate().success());
    wait_for(&socket, "STOPPING=1", &mut seen);
    assert!(
        !seen.iter().any(|text| text.contains("WATCHDOG")),
        "watchdog pings for another pid: {seen:?}"
    );
    assert!(!server.stderr().contains("chien de garde actif"));
}

/// Starts the server with `listener` as fd 3 and LISTEN_PID set to its own pid (the shell sets
/// it from `$$`, then `exec` keeps that pid).
fn activated(listener_fd: i32, data: &std::path::Path) -> Server {
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" serve --log console --data \"$1\"")
        .arg(env!("CARGO_BIN_EXE_classcord"))
        .arg(data)
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if listener_fd == 3 {
                // dup2 onto itself would keep close-on-exec set.
                if libc::fcntl(3, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(listener_fd, 3) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Server(command.spawn().expect("start classcord"))
}

#[test]
fn socket_activation_serves_on_the_inherited_listener() {
    let temp = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut server = activated(listener.as_raw_fd(), &temp.path().join("data"));
    // The test keeps its own copy of the socket open; only the server accepts on it.
    ping(addr);
    assert!(server.terminate().success());
    let log = server.stderr();
    assert!(
        log.contains(&format!("écoute sur {addr} (socket transmis par systemd)")),
        "{log}"
    );
    // The configured default addresses were not bound.
    assert!(!log.contains("écoute sur 0.0.0.0:12345"), "{log}");
}

#[test]
fn socket_activation_refuses_a_descriptor_that_is_not_a_listener() {
    let temp = tempfile::tempdir().unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let mut server = activated(file.as_raw_fd(), &temp.path().join("data"));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "server did not refuse fd 3");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
    let log = server.stderr();
    assert!(
        log.contains("le descripteur 3 n'est pas un socket TCP en écoute"),
        "{log}"
    );
}
