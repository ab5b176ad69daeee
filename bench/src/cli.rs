//! Command line (argh) and its validation: option structs for each mode, the common timeouts,
//! and the loopback-only target check (names are resolved first; every address they resolve to
//! must be loopback).

use argh::FromArgs;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Load generator for the ClassCord chat protocol. Loopback targets only. Prints one JSON object
/// on stdout. Exit codes: 0 clean run, 1 --check found lost/duplicated/echoed/bad lines,
/// 2 the run failed (refused target, timeout, disconnect).
#[derive(FromArgs, Debug)]
pub struct Cli {
    #[argh(subcommand)]
    pub cmd: Command,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Command {
    Fanout(FanoutArgs),
    Idle(IdleArgs),
    Logins(LoginsArgs),
    FakeServer(FakeServerArgs),
    Store(StoreArgs),
}

/// The server's store thread alone, on a real redb file: chat lines persisted per second with
/// the default group commit, and the file's size.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "store")]
pub struct StoreArgs {
    /// chat lines to persist (default 200000)
    #[argh(option, default = "200_000")]
    pub lines: u64,
    /// folder for the database (default: a new temporary folder, removed afterwards)
    #[argh(option)]
    pub dir: Option<String>,
    /// bytes of content per line (default 60)
    #[argh(option, default = "60")]
    pub content: usize,
    /// channels the lines are spread over (default 4)
    #[argh(option, default = "4")]
    pub channels: u64,
}

/// Global-message fan-out: N clients, S of them sending; loss, duplicates, echo and latency.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "fanout")]
pub struct FanoutArgs {
    /// server address, host:port on loopback (default 127.0.0.1:12345)
    #[argh(option, default = "default_addr()")]
    pub addr: String,
    /// connected clients (default 50)
    #[argh(option, default = "50")]
    pub clients: usize,
    /// how many of the clients send (default 5)
    #[argh(option, default = "5")]
    pub senders: usize,
    /// messages per second over all senders; 0 = as fast as the window allows (default 1000)
    #[argh(option, default = "1000.0")]
    pub rate: f64,
    /// seconds of sending (default 5)
    #[argh(option, default = "5.0")]
    pub duration: f64,
    /// clients are guests named by an empty-content hello (the default)
    #[argh(switch)]
    pub guest: bool,
    /// clients register bench<i>_<runid> and log in
    #[argh(switch)]
    pub login: bool,
    /// send to this channel (every client joins it first) instead of the default channel
    #[argh(option)]
    pub channel: Option<String>,
    /// with --rate 0: a sender may be at most this many messages ahead of what the probe
    /// receiver has seen from it (default 64)
    #[argh(option, default = "64")]
    pub window: u64,
    /// server process id: report its CPU seconds and RSS
    #[argh(option)]
    pub pid: Option<u32>,
    /// exit 1 if anything was lost, duplicated, echoed, misattributed or unparsable
    #[argh(switch)]
    pub check: bool,
    /// seconds to wait for all expected deliveries after sending stops (default 2)
    #[argh(option, default = "2.0")]
    pub drain_timeout: f64,
    /// seconds for all clients to connect, identify and answer a ping (default 60)
    #[argh(option, default = "60.0")]
    pub ready_timeout: f64,
    /// seconds allowed for one TCP connect (default 5)
    #[argh(option, default = "5.0")]
    pub connect_timeout: f64,
    /// clients set up at once (default 64)
    #[argh(option, default = "64")]
    pub connect_concurrency: usize,
    /// receiver threads, each with its own epoll loop over a share of the clients (default:
    /// all cores); setup and senders run on one more thread
    #[argh(option)]
    pub threads: Option<usize>,
    /// receiver threads never sleep (epoll_wait with a zero timeout): a lower latency floor
    /// for one busy core per receiver thread (combine with --threads 1 on a small machine)
    #[argh(switch)]
    pub busy_poll: bool,
    /// the server's web port (host:port on loopback): with --websocket-every, some clients
    /// connect there as browsers do (WebSocket on /ws) instead of the chat port
    #[argh(option)]
    pub web_addr: Option<String>,
    /// with --web-addr, every how many clients one uses the WebSocket (default 2: half)
    #[argh(option, default = "2")]
    pub websocket_every: usize,
}

/// Memory cost of idle connections: RSS before, open N identified connections, hold, RSS after.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "idle")]
pub struct IdleArgs {
    /// server address, host:port on loopback (default 127.0.0.1:12345)
    #[argh(option, default = "default_addr()")]
    pub addr: String,
    /// idle connections to open (default 1000)
    #[argh(option, default = "1000")]
    pub clients: usize,
    /// seconds to hold them once all are ready (default 5)
    #[argh(option, default = "5.0")]
    pub hold: f64,
    /// server process id (required: RSS is the point)
    #[argh(option)]
    pub pid: u32,
    /// do not identify (stay anonymous): avoids the O(N^2) presence traffic of N guests
    #[argh(switch)]
    pub anonymous: bool,
    /// register then log in each connection as account idle<i>_<run> instead of a guest
    #[argh(switch)]
    pub login: bool,
    /// seconds for all connections to be ready (default 120)
    #[argh(option, default = "120.0")]
    pub ready_timeout: f64,
    /// seconds allowed for one TCP connect (default 5)
    #[argh(option, default = "5.0")]
    pub connect_timeout: f64,
    /// connections set up at once (default 64)
    #[argh(option, default = "64")]
    pub connect_concurrency: usize,
    /// worker threads (default: all cores)
    #[argh(option)]
    pub threads: Option<usize>,
}

/// Account creation and login throughput (argon2 on the server), optionally under chat load.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "logins")]
pub struct LoginsArgs {
    /// server address, host:port on loopback (default 127.0.0.1:12345)
    #[argh(option, default = "default_addr()")]
    pub addr: String,
    /// fresh users to register and log in (default 100)
    #[argh(option, default = "100")]
    pub count: usize,
    /// concurrent workers, one connection each per user (default 8)
    #[argh(option, default = "8")]
    pub concurrency: usize,
    /// meanwhile run a guest fan-out with this many clients (default 0 = none)
    #[argh(option, default = "0")]
    pub chat: usize,
    /// total messages per second of that chat (default 100)
    #[argh(option, default = "100.0")]
    pub chat_rate: f64,
    /// server process id: report its CPU seconds and RSS
    #[argh(option)]
    pub pid: Option<u32>,
    /// exit 1 if a login failed or the chat lost, duplicated or echoed anything
    #[argh(switch)]
    pub check: bool,
    /// seconds allowed for one register or login reply (default 30)
    #[argh(option, default = "30.0")]
    pub op_timeout: f64,
    /// seconds to wait for chat deliveries after the logins end (default 2)
    #[argh(option, default = "2.0")]
    pub drain_timeout: f64,
    /// seconds for the chat clients to be ready (default 60)
    #[argh(option, default = "60.0")]
    pub ready_timeout: f64,
    /// seconds allowed for one TCP connect (default 5)
    #[argh(option, default = "5.0")]
    pub connect_timeout: f64,
    /// worker threads (default: all cores)
    #[argh(option)]
    pub threads: Option<usize>,
}

/// NOT ClassCord: a trivial fan-out echo server used to measure the bench's own ceiling and in
/// the bench's tests. Relays every non-empty message line to all other connections.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "fake-server")]
pub struct FakeServerArgs {
    /// listen address (default 127.0.0.1:0); the chosen address is printed on stdout
    #[argh(option, default = "String::from(\"127.0.0.1:0\")")]
    pub listen: String,
    /// inject a fault to test the bench's detection: echo (relay to the sender too), drop
    /// (drop every 100th message), dup (send every 100th message twice)
    #[argh(option)]
    pub fault: Option<String>,
}

fn default_addr() -> String {
    String::from("127.0.0.1:12345")
}

/// Seconds from the command line as a Duration, rejecting negative / non-finite values.
pub fn secs(name: &str, v: f64) -> Result<Duration, String> {
    if (0.0..1e9).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!(
            "--{name} must be a non-negative number of seconds, got {v}"
        ))
    }
}

/// Whether `ip` is a loopback address (127.0.0.0/8, ::1, or an IPv4-mapped 127.x address).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Checks resolved addresses: all must be loopback; returns the first.
pub fn check_loopback(target: &str, addrs: &[SocketAddr]) -> Result<SocketAddr, String> {
    let first = *addrs
        .first()
        .ok_or_else(|| format!("{target}: resolves to no address"))?;
    if let Some(bad) = addrs.iter().find(|a| !is_loopback(a.ip())) {
        return Err(format!(
            "refusing target {target}: it resolves to {bad}, which is not a loopback address \
             (this benchmark only runs against 127.0.0.0/8 or ::1)"
        ));
    }
    Ok(first)
}

/// Resolves `target` (host:port) and accepts it only if it is loopback.
pub fn resolve_loopback(target: &str) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {target:?} (expected host:port): {e}"))?
        .collect();
    check_loopback(target, &addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses() {
        for ok in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] {
            let ip: IpAddr = ok.parse().expect("ip");
            assert!(is_loopback(ip), "{ok}");
        }
        for bad in [
            "10.0.0.1",
            "0.0.0.0",
            "::",
            "192.168.1.2",
            "::ffff:10.0.0.1",
            "fe80::1",
        ] {
            let ip: IpAddr = bad.parse().expect("ip");
            assert!(!is_loopback(ip), "{bad}");
        }
    }

    #[test]
    fn resolution_is_checked() {
        assert_eq!(
            resolve_loopback("127.0.0.1:9"),
            Ok("127.0.0.1:9".parse().expect("addr"))
        );
        assert!(resolve_loopback("[::1]:9").is_ok());
        assert!(resolve_loopback("localhost:9").is_ok());
        let err = resolve_loopback("10.1.2.3:12345").expect_err("must refuse");
        assert!(err.contains("not a loopback"), "{err}");
        assert!(resolve_loopback("127.0.0.1").is_err()); // no port
        let mixed: Vec<SocketAddr> = vec![
            "127.0.0.1:1".parse().expect("addr"),
            "8.8.8.8:1".parse().expect("addr"),
        ];
        assert!(check_loopback("mixed", &mixed).is_err());
        assert!(check_loopback("none", &[]).is_err());
    }

    #[test]
    fn seconds() {
        assert_eq!(secs("d", 1.5), Ok(Duration::from_millis(1500)));
        assert!(secs("d", -1.0).is_err());
        assert!(secs("d", f64::NAN).is_err());
    }
}
