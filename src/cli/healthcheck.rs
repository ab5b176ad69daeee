//! `classcord healthcheck`: asks a running server for a `pong` and exits 0 when it answers in
//! time, 1 otherwise. Meant for container HEALTHCHECKs and monitoring scripts: plain blocking
//! std sockets, no executor, nothing written to the data folder.

use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use argh::FromArgs;

use super::fail;

/// Vérifie qu'un serveur ClassCord répond (envoie ping, attend pong) ; code 0 si oui, 1 sinon.
#[derive(FromArgs)]
#[argh(subcommand, name = "healthcheck")]
pub struct Healthcheck {
    /// adresse du serveur (défaut : 127.0.0.1:12345)
    #[argh(
        option,
        default = "String::from(\"127.0.0.1:12345\")",
        arg_name = "adresse"
    )]
    addr: String,
    /// délai maximal en secondes (défaut : 3)
    #[argh(option, default = "3", arg_name = "secondes")]
    timeout: u64,
    /// n'affiche rien en cas de succès
    #[argh(switch, short = 'q')]
    quiet: bool,
}

/// Why the server is not considered healthy.
#[derive(Debug)]
pub enum HealthError {
    Address(String),
    Connect(SocketAddr, std::io::Error),
    Io(std::io::Error),
    Closed,
    TimedOut(Duration),
    Unexpected(String),
}

impl fmt::Display for HealthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HealthError::Address(text) => write!(f, "adresse « {text} » invalide ou introuvable"),
            HealthError::Connect(addr, source) => {
                write!(f, "connexion à {addr} impossible : {source}")
            }
            HealthError::Io(source) => write!(f, "échange avec le serveur interrompu : {source}"),
            HealthError::Closed => f.write_str("le serveur a fermé la connexion sans répondre"),
            HealthError::TimedOut(limit) => {
                write!(f, "pas de réponse « pong » en {} s", limit.as_secs())
            }
            HealthError::Unexpected(line) => write!(f, "réponse inattendue : {line}"),
        }
    }
}

impl std::error::Error for HealthError {}

impl Healthcheck {
    pub fn run(self) -> ExitCode {
        let limit = Duration::from_secs(self.timeout.clamp(1, 60));
        match ping(&self.addr, limit) {
            Ok((addr, took)) => {
                if !self.quiet {
                    println!(
                        "classcord : serveur en bonne santé ({addr} a répondu en {} ms)",
                        took.as_millis()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        }
    }
}

/// Connects, sends `{"type":"ping"}` and waits for `{"type":"pong"}` within `limit` overall.
pub fn ping(addr: &str, limit: Duration) -> Result<(SocketAddr, Duration), HealthError> {
    let started = Instant::now();
    let addr = addr
        .to_socket_addrs()
        .map_err(|_| HealthError::Address(addr.to_string()))?
        .next()
        .ok_or_else(|| HealthError::Address(addr.to_string()))?;
    let stream = TcpStream::connect_timeout(&addr, limit)
        .map_err(|source| HealthError::Connect(addr, source))?;
    let timed_out = |error: std::io::Error| match error.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            HealthError::TimedOut(limit)
        }
        _ => HealthError::Io(error),
    };
    let remaining = || {
        limit
            .checked_sub(started.elapsed())
            .filter(|left| !left.is_zero())
            .ok_or(HealthError::TimedOut(limit))
    };
    stream
        .set_write_timeout(Some(remaining()?))
        .map_err(HealthError::Io)?;
    (&stream)
        .write_all(b"{\"type\":\"ping\"}\n")
        .map_err(timed_out)?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    // Before it is identified the connection only gets answers to its own requests: the first
    // line is the answer to the ping.
    stream
        .set_read_timeout(Some(remaining()?))
        .map_err(HealthError::Io)?;
    if reader.read_line(&mut line).map_err(timed_out)? == 0 {
        return Err(HealthError::Closed);
    }
    let answer: serde_json::Value =
        serde_json::from_str(line.trim()).map_err(|_| HealthError::Unexpected(shorten(&line)))?;
    if answer.get("type").and_then(|kind| kind.as_str()) == Some("pong") {
        Ok((addr, started.elapsed()))
    } else {
        Err(HealthError::Unexpected(shorten(&line)))
    }
}

fn shorten(line: &str) -> String {
    line.trim().chars().take(120).collect()
}
