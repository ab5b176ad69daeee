//! The TCP side of `classcord chat`: the server address (`HOST`, `HOST:PORT`, `:PORT`, `[v6]:PORT`),
//! the connection, the line reader (bounded: a line past [`MAX_LINE`] is skipped, not kept), and
//! the opening exchange: `hello`, then the account's `register`/`login` (waiting for the reply, so
//! a refusal ends the command with its reason) or the guest's naming line.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::wire::{Event, Request};

/// The host when none is given.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// How long connecting, and each reply of the opening exchange, may take.
pub const OPENING_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the answer to `hello` is awaited: a server without extensions may not answer it.
const HELLO_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest server line kept (the server's own cap is 64 KiB; a history reply can be longer).
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// Why the chat could not start or went on.
#[derive(Debug)]
pub enum ChatError {
    Address(String),
    Connect(String, std::io::Error),
    Io(std::io::Error),
    /// The server refused the login or the registration: its reason.
    Refused(String),
    /// The server closed the connection during the opening exchange.
    Closed,
    TimedOut,
    /// Flags or a password that cannot be used: why.
    Invalid(String),
}

impl fmt::Display for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatError::Address(text) => write!(
                f,
                "adresse « {text} » invalide ou introuvable (exemples : 192.168.1.20, \
                 serveur.lan:12345, :12345)"
            ),
            ChatError::Connect(addr, source) => {
                write!(f, "connexion à {addr} impossible : {}", why(source))
            }
            ChatError::Io(source) => write!(f, "échange avec le serveur interrompu : {source}"),
            ChatError::Refused(reason) => f.write_str(reason),
            ChatError::Closed => f.write_str("le serveur a fermé la connexion"),
            ChatError::TimedOut => write!(
                f,
                "pas de réponse du serveur en {} s",
                OPENING_TIMEOUT.as_secs()
            ),
            ChatError::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for ChatError {}

/// The usual reasons a connection fails, in French (the system's text otherwise).
fn why(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionRefused => {
            "connexion refusée (le serveur est-il lancé, sur ce port ?)".into()
        }
        ErrorKind::TimedOut | ErrorKind::WouldBlock => format!(
            "pas de réponse en {} s (adresse, pare-feu ?)",
            OPENING_TIMEOUT.as_secs()
        ),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
            "machine injoignable (adresse, réseau ?)".into()
        }
        _ => error.to_string(),
    }
}

/// `HOST`, `HOST:PORT`, `:PORT`, `[IPv6]:PORT` or a bare IPv6 address; missing parts take the
/// defaults (`127.0.0.1`, port 12345).
pub fn parse_address(text: Option<&str>, default_port: u16) -> Result<(String, u16), ChatError> {
    let text = text.map(str::trim).unwrap_or("");
    let bad = || ChatError::Address(text.to_owned());
    let port = |raw: &str| -> Result<u16, ChatError> {
        match raw {
            "" => Ok(default_port),
            raw => raw.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad),
        }
    };
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        match after {
            "" => (host, default_port),
            after => (host, port(after.strip_prefix(':').ok_or_else(bad)?)?),
        }
    } else if text.matches(':').count() > 1 {
        (text, default_port) // a bare IPv6 address
    } else {
        match text.split_once(':') {
            Some((host, raw)) => (host, port(raw)?),
            None => (text, default_port),
        }
    };
    let host = if host.is_empty() { DEFAULT_HOST } else { host };
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// Connects to the first address of `host` that answers.
pub fn connect(host: &str, port: u16) -> Result<TcpStream, ChatError> {
    let shown = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| ChatError::Address(shown.clone()))?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, OPENING_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(error) => last = Some(error),
        }
    }
    Err(match last {
        Some(error) => ChatError::Connect(shown, error),
        None => ChatError::Address(shown),
    })
}

/// Reads server lines, one at a time, at most [`MAX_LINE`] bytes each.
pub struct LineReader {
    inner: BufReader<TcpStream>,
    buffer: Vec<u8>,
}

/// What one read gave.
pub enum Read1 {
    Line(String),
    /// A line longer than [`MAX_LINE`], skipped.
    TooLong,
    Closed,
}

impl LineReader {
    pub fn new(stream: TcpStream) -> LineReader {
        LineReader {
            inner: BufReader::new(stream),
            buffer: Vec::new(),
        }
    }

    pub fn set_timeout(&self, limit: Option<Duration>) -> std::io::Result<()> {
        self.inner.get_ref().set_read_timeout(limit)
    }

    /// The next non-empty line (without its end of line).
    pub fn next_line(&mut self) -> std::io::Result<Read1> {
        loop {
            self.buffer.clear();
            let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX);
            let read = (&mut self.inner)
                .take(limit)
                .read_until(b'\n', &mut self.buffer)?;
            if read == 0 {
                return Ok(Read1::Closed);
            }
            if self.buffer.last() != Some(&b'\n') && self.buffer.len() >= MAX_LINE {
                // Skip the rest of that line, bounded by the connection itself.
                loop {
                    self.buffer.clear();
                    let read = (&mut self.inner)
                        .take(limit)
                        .read_until(b'\n', &mut self.buffer)?;
                    if read == 0 || self.buffer.last() == Some(&b'\n') {
                        break;
                    }
                }
                return Ok(Read1::TooLong);
            }
            let text = String::from_utf8_lossy(&self.buffer);
            let text = text.trim_end_matches(['\n', '\r']);
            if !text.trim().is_empty() {
                return Ok(Read1::Line(text.to_owned()));
            }
        }
    }
}

/// Who the user is on the server.
pub enum Identity {
    Guest(String),
    Account {
        name: String,
        password: String,
        register: bool,
    },
}

/// The writing half: one request line at a time.
pub struct Sender {
    stream: TcpStream,
}

impl Sender {
    pub fn new(stream: TcpStream) -> Sender {
        Sender { stream }
    }

    pub fn send(&mut self, request: &Request) -> std::io::Result<()> {
        self.send_line(&request.to_line())
    }

    /// A line as typed (`--brut`); a line end inside it would make two lines: refused by the caller.
    pub fn send_line(&mut self, line: &str) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.stream.write_all(&bytes)
    }

    /// Ends the connection (both ways).
    pub fn close(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// The opening exchange. `seen` gets every line read meanwhile (raw), with its event, so that
/// nothing the server sent is lost (the lines after a login reply come at once: `no-hold`).
pub fn open(
    sender: &mut Sender,
    reader: &mut LineReader,
    identity: &Identity,
    seen: &mut Seen<'_>,
) -> Result<(), ChatError> {
    send(sender, &Request::Hello, seen)?;
    // Before it is identified a connection gets only the answers to its requests: the first
    // line answers `hello` (an error from a server that does not know it is fine too).
    reader
        .set_timeout(Some(HELLO_TIMEOUT))
        .map_err(ChatError::Io)?;
    match reader.next_line() {
        Ok(Read1::Line(line)) => seen(None, Some((&line, &Event::parse(&line)))),
        Ok(Read1::TooLong) => {}
        Ok(Read1::Closed) => return Err(ChatError::Closed),
        Err(error) if timed_out(&error) => {}
        Err(error) => return Err(ChatError::Io(error)),
    }
    reader
        .set_timeout(Some(OPENING_TIMEOUT))
        .map_err(ChatError::Io)?;
    let (name, password, register) = match identity {
        Identity::Guest(guest) => {
            send(
                sender,
                &Request::Name {
                    guest: guest.clone(),
                },
                seen,
            )?;
            return reader.set_timeout(None).map_err(ChatError::Io);
        }
        Identity::Account {
            name,
            password,
            register,
        } => (name, password, *register),
    };
    if register {
        send(
            sender,
            &Request::Register {
                username: name.clone(),
                password: password.clone(),
            },
            seen,
        )?;
        match await_reply(reader, seen)? {
            Event::Registered => {}
            Event::Error(text) => {
                return Err(ChatError::Refused(format!("inscription refusée : {text}")))
            }
            _ => unreachable!("await_reply returns a reply or an error"),
        }
    }
    send(
        sender,
        &Request::Login {
            username: name.clone(),
            password: password.clone(),
        },
        seen,
    )?;
    match await_reply(reader, seen)? {
        Event::LoggedIn { .. } => reader.set_timeout(None).map_err(ChatError::Io),
        Event::Error(text) if text == "Login failed." => Err(ChatError::Refused(
            "connexion refusée : nom de compte ou mot de passe incorrect (Login failed.)".into(),
        )),
        Event::Error(text) => Err(ChatError::Refused(format!("connexion refusée : {text}"))),
        _ => unreachable!("await_reply returns a reply or an error"),
    }
}

type Seen<'a> = dyn FnMut(Option<&Request>, Option<(&str, &Event)>) + 'a;

fn send(sender: &mut Sender, request: &Request, seen: &mut Seen<'_>) -> Result<(), ChatError> {
    seen(Some(request), None);
    sender.send(request).map_err(ChatError::Io)
}

/// Reads until the reply to a `register` or `login` (or an error), showing what comes before.
fn await_reply(reader: &mut LineReader, seen: &mut Seen<'_>) -> Result<Event, ChatError> {
    // Bounded: the reply is the next line (docs/PROTOCOL.md §6.1); a few others are tolerated.
    for _ in 0..100 {
        let line = match reader.next_line() {
            Ok(Read1::Line(line)) => line,
            Ok(Read1::TooLong) => continue,
            Ok(Read1::Closed) => return Err(ChatError::Closed),
            Err(error) if timed_out(&error) => return Err(ChatError::TimedOut),
            Err(error) => return Err(ChatError::Io(error)),
        };
        let event = Event::parse(&line);
        seen(None, Some((&line, &event)));
        if matches!(
            event,
            Event::Registered | Event::LoggedIn { .. } | Event::Error(_)
        ) {
            return Ok(event);
        }
    }
    Err(ChatError::TimedOut)
}

fn timed_out(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_take_the_defaults_for_missing_parts() {
        let parse = |text: Option<&str>| parse_address(text, 12345).map_err(|e| e.to_string());
        assert_eq!(parse(None).unwrap(), ("127.0.0.1".into(), 12345));
        assert_eq!(parse(Some("")).unwrap(), ("127.0.0.1".into(), 12345));
        assert_eq!(parse(Some("10.0.0.5")).unwrap(), ("10.0.0.5".into(), 12345));
        assert_eq!(parse(Some(":4000")).unwrap(), ("127.0.0.1".into(), 4000));
        assert_eq!(
            parse(Some("salle.lan:4000")).unwrap(),
            ("salle.lan".into(), 4000)
        );
        assert_eq!(parse(Some("[::1]:4000")).unwrap(), ("::1".into(), 4000));
        assert_eq!(parse(Some("[::1]")).unwrap(), ("::1".into(), 12345));
        assert_eq!(parse(Some("fe80::1")).unwrap(), ("fe80::1".into(), 12345));
        for bad in [
            "hote:port",
            "hote:0",
            "hote:70000",
            "[::1",
            "[::1]x",
            "deux mots",
        ] {
            let error = parse(Some(bad)).unwrap_err();
            assert!(error.contains("invalide"), "{bad}: {error}");
        }
    }
}
