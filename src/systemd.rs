//! systemd integration, without libsystemd or a crate: the notify protocol (`READY=1` once every
//! listener is bound, `STOPPING=1` when shutdown starts, `WATCHDOG=1` from the hub loop, `STATUS=`
//! for `systemctl status`) and socket activation (`LISTEN_FDS` / `LISTEN_PID`).
//!
//! Outside systemd (no `NOTIFY_SOCKET`, no `LISTEN_FDS`) every function here does nothing, so the
//! same binary runs in a terminal, a container or a unit.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{self, UnixDatagram};
use std::time::{Duration, Instant};

use nix::sys::socket::{getsockopt, sockopt, SockType};

/// The first inherited descriptor (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;
/// More would be a misconfiguration (and fds we would then own by mistake).
const MAX_LISTEN_FDS: usize = 64;

/// Sends one notification (`KEY=value` lines) to the service manager. Returns false when there
/// is no manager to tell or the datagram could not be sent; callers carry on either way.
pub fn notify(state: &str) -> bool {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return false;
    };
    match send_notification(&path, state) {
        Ok(()) => true,
        Err(error) => {
            log::debug!("[SYSTEMD] notification « {state} » non envoyée : {error}");
            false
        }
    }
}

fn send_notification(path: &OsStr, state: &str) -> io::Result<()> {
    let addr = notify_address(path)?;
    let socket = UnixDatagram::unbound()?;
    // Never block the hub on the manager: a lost ping is retried at the next one.
    socket.set_nonblocking(true)?;
    let sent = socket.send_to_addr(state.as_bytes(), &addr)?;
    if sent == state.len() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "datagramme tronqué",
        ))
    }
}

/// `NOTIFY_SOCKET` is a path, or an abstract socket name written with a leading `@`.
fn notify_address(value: &OsStr) -> io::Result<net::SocketAddr> {
    let bytes = value.as_bytes();
    match bytes.first() {
        Some(b'@') => net::SocketAddr::from_abstract_name(&bytes[1..]),
        Some(b'/') => net::SocketAddr::from_pathname(value),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET ni chemin absolu ni socket abstrait (@nom)",
        )),
    }
}

/// Tells systemd the server accepts connections (`Type=notify`).
pub fn notify_ready(listeners: &[TcpListener]) {
    let addrs: Vec<String> = listeners
        .iter()
        .filter_map(|listener| listener.local_addr().ok())
        .map(|addr| addr.to_string())
        .collect();
    notify(&format!(
        "READY=1\nSTATUS=en écoute sur {}",
        addrs.join(", ")
    ));
}

/// Tells systemd shutdown has started (connections are being told and closed).
pub fn notify_stopping() {
    notify("STOPPING=1\nSTATUS=arrêt en cours");
}

/// Keeps systemd's watchdog fed. The hub task calls [`Watchdog::ping`] after each batch it
/// handles (and it gets a tick every few seconds when the chat is quiet), so a wedged hub, not
/// just a dead process, gets the service restarted. Sends at most once per half period.
pub struct Watchdog {
    every: Option<Duration>,
    last: Option<Instant>,
}

impl Watchdog {
    /// Reads `WATCHDOG_USEC` / `WATCHDOG_PID`; disabled when absent or meant for another process.
    pub fn from_env() -> Watchdog {
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        let period = watchdog_period(usec.as_deref(), pid.as_deref(), std::process::id());
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return Watchdog::disabled();
        }
        if let Some(period) = period {
            log::info!(
                "[SYSTEMD] chien de garde actif : signal toutes les {} ms",
                (period / 2).as_millis()
            );
        }
        Watchdog {
            every: period.map(|period| period / 2),
            last: None,
        }
    }

    pub fn disabled() -> Watchdog {
        Watchdog {
            every: None,
            last: None,
        }
    }

    /// Sends `WATCHDOG=1` if half the period has passed since the last one that went out.
    pub fn ping(&mut self) {
        let Some(every) = self.every else { return };
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < every)
        {
            return;
        }
        if notify("WATCHDOG=1") {
            self.last = Some(now);
        }
    }
}

/// The watchdog period, when it is set, valid and meant for this process.
fn watchdog_period(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != own_pid {
            return None;
        }
    }
    let usec: u64 = usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Why the sockets passed by systemd cannot be used.
#[derive(Debug)]
pub enum ActivationError {
    Variable { name: &'static str, value: String },
    NotAListener { fd: RawFd, reason: String },
}

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActivationError::Variable { name, value } => {
                write!(f, "activation par socket : {name}=« {value} » invalide")
            }
            ActivationError::NotAListener { fd, reason } => write!(
                f,
                "activation par socket : le descripteur {fd} n'est pas un socket TCP en écoute ({reason}) ; \
                 utilisez ListenStream= sans Accept=yes dans classcord.socket"
            ),
        }
    }
}

impl std::error::Error for ActivationError {}

/// How many descriptors systemd passed to this process (0 when none, or meant for another).
fn listen_fds_count(
    fds: Option<&str>,
    pid: Option<&str>,
    own_pid: u32,
) -> Result<usize, ActivationError> {
    let (Some(fds), Some(pid)) = (fds, pid) else {
        return Ok(0);
    };
    let bad = |name, value: &str| ActivationError::Variable {
        name,
        value: value.to_string(),
    };
    let pid: u32 = pid.trim().parse().map_err(|_| bad("LISTEN_PID", pid))?;
    if pid != own_pid {
        // Inherited from a parent that was activated, not for us.
        return Ok(0);
    }
    match fds.trim().parse::<usize>() {
        Ok(count) if count <= MAX_LISTEN_FDS => Ok(count),
        _ => Err(bad("LISTEN_FDS", fds)),
    }
}

/// The listening sockets systemd passed (socket activation), or `None` when it passed none and
/// the server binds its configured addresses itself.
pub fn inherited_listeners() -> Result<Option<Vec<TcpListener>>, ActivationError> {
    let fds = std::env::var("LISTEN_FDS").ok();
    let pid = std::env::var("LISTEN_PID").ok();
    let count = listen_fds_count(fds.as_deref(), pid.as_deref(), std::process::id())?;
    if count == 0 {
        return Ok(None);
    }
    let mut listeners = Vec::with_capacity(count);
    for fd in (LISTEN_FDS_START..).take(count) {
        let listener = adopt_listener(fd).map_err(|reason| ActivationError::NotAListener {
            fd,
            reason: reason.to_string(),
        })?;
        if let Ok(addr) = listener.local_addr() {
            log::info!(
                "[DEMARRAGE] ClassCord {} écoute sur {addr} (socket transmis par systemd)",
                env!("CARGO_PKG_VERSION")
            );
        }
        listeners.push(listener);
    }
    Ok(Some(listeners))
}

/// A stream socket in the listening state (the address family is checked once owned).
fn check_listening_stream(fd: BorrowedFd<'_>) -> io::Result<()> {
    if getsockopt(&fd, sockopt::SockType)? != SockType::Stream {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "pas un socket flux",
        ));
    }
    if !getsockopt(&fd, sockopt::AcceptConn)? {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "pas en écoute"));
    }
    Ok(())
}

/// Checks that `fd` is a listening TCP socket and takes ownership of it.
fn adopt_listener(fd: RawFd) -> io::Result<TcpListener> {
    // SAFETY: systemd guarantees fds 3..3+LISTEN_FDS are open and ours; the borrow only lives
    // for the checks below, which do not close it.
    check_listening_stream(unsafe { BorrowedFd::borrow_raw(fd) })?;
    // SAFETY: as above; from here on the descriptor is owned (and closed) by the listener.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // systemd does not set close-on-exec on what it passes.
    // SAFETY: fcntl on a descriptor we own; no memory is touched.
    if unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    let listener = TcpListener::from(owned);
    let addr: SocketAddr = listener.local_addr()?; // refuses AF_UNIX and other families
    if addr.port() == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "port 0"));
    }
    listener.set_nonblocking(true)?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_period_needs_a_positive_value_for_this_process() {
        let second = Some(Duration::from_secs(1));
        assert_eq!(watchdog_period(Some("1000000"), None, 42), second);
        assert_eq!(watchdog_period(Some("1000000"), Some("42"), 42), second);
        assert_eq!(watchdog_period(Some("1000000"), Some("41"), 42), None);
        assert_eq!(watchdog_period(Some("0"), None, 42), None);
        assert_eq!(watchdog_period(Some("abc"), None, 42), None);
        assert_eq!(watchdog_period(None, Some("42"), 42), None);
        assert_eq!(watchdog_period(Some("1000000"), Some("x"), 42), None);
    }

    #[test]
    fn listen_fds_only_counts_when_meant_for_this_process() {
        assert_eq!(listen_fds_count(None, None, 7).unwrap(), 0);
        assert_eq!(listen_fds_count(Some("2"), None, 7).unwrap(), 0);
        assert_eq!(listen_fds_count(Some("2"), Some("8"), 7).unwrap(), 0);
        assert_eq!(listen_fds_count(Some("2"), Some("7"), 7).unwrap(), 2);
        assert_eq!(listen_fds_count(Some(" 1 "), Some("7"), 7).unwrap(), 1);
        assert!(listen_fds_count(Some("many"), Some("7"), 7).is_err());
        assert!(listen_fds_count(Some("100000"), Some("7"), 7).is_err());
        assert!(listen_fds_count(Some("1"), Some("me"), 7).is_err());
    }

    #[test]
    fn notify_socket_is_a_path_or_an_abstract_name() {
        let path = notify_address(OsStr::new("/run/systemd/notify")).unwrap();
        assert_eq!(
            path.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        let abstract_name = notify_address(OsStr::new("@classcord/notify")).unwrap();
        assert_eq!(
            abstract_name.as_abstract_name(),
            Some(&b"classcord/notify"[..])
        );
        assert!(notify_address(OsStr::new("relative/path")).is_err());
        assert!(notify_address(OsStr::new("")).is_err());
    }

    #[test]
    fn notifications_arrive_on_an_abstract_socket() {
        let name = format!("classcord-unit-{}", std::process::id());
        let addr = net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let receiver = UnixDatagram::bind_addr(&addr).unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        send_notification(OsStr::new(&format!("@{name}")), "READY=1\nSTATUS=test").unwrap();
        let mut buffer = [0u8; 256];
        let size = receiver.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..size], b"READY=1\nSTATUS=test");
    }

    #[test]
    fn only_listening_stream_sockets_pass_the_checks() {
        let check = |fd: RawFd| check_listening_stream(unsafe { BorrowedFd::borrow_raw(fd) });
        let file = std::fs::File::open("/dev/null").unwrap();
        assert!(check(file.as_raw_fd()).is_err());
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(check(udp.as_raw_fd()).is_err());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(check(listener.as_raw_fd()).is_ok());
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert!(check(client.as_raw_fd()).is_err());
    }
}
