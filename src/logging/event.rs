//! Security events: one stable line each, for people and for log filters such as fail2ban.
//!
//! Every line is `TOKEN ip=ADDR key=value... [user="..."]`: the token first, the bare peer address
//! right after it (IPv4-mapped IPv6 shown as IPv4), then fixed keys in a fixed order whose values
//! are our own words, and last, when there is one, the name the client sent, quoted and escaped.
//! A filter anchored on `TOKEN ip=` therefore always reads the sender's address, whatever the
//! name contains. The keys are documented in SECURITE.md; renaming one is a breaking change that
//! needs a version note there.

use std::fmt::{self, Display, Write as _};
use std::net::IpAddr;

use classcord_core::message::is_hidden_char;
use log::Level;

use crate::security::{BruteForceReason, Refusal};

/// The log target of security events: the syslog output sends it to the security facility.
pub const AUDIT_TARGET: &str = "classcord::audit";

/// Longest user-supplied text kept in a log line, in characters.
const MAX_QUOTED_CHARS: usize = 64;

/// What a rate limit was counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKind {
    Message,
    /// Invalid lines from one connection (`core::hub::limits`).
    Invalid,
    Login,
    Register,
}

/// What the server did about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateAction {
    Warn,
    Delay,
    Refuse,
    Disconnect,
}

/// What the server did about a sender flooding its recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodAction {
    /// Reading from the sender paused until recipients catch up.
    Paused,
    Disconnected,
}

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Connected, but never logged in, registered or chatted.
    Identify,
    /// A line started but not finished in time.
    PartialLine,
}

/// One security event. Build it where it happens and pass it to [`audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityEvent<'a> {
    /// `AUTH_FAIL ip= user=`
    AuthFail { ip: IpAddr, user: &'a str },
    /// `REGISTER_REFUSED ip= reason= user=`
    RegisterRefused {
        ip: IpAddr,
        reason: &'a str,
        user: &'a str,
    },
    /// `PROTOCOL_ERROR ip= reason= conn=`
    ProtocolError {
        ip: IpAddr,
        reason: &'a str,
        conn: u64,
    },
    /// `RATE_LIMIT ip= kind= action= conn= [user=]`
    RateLimit {
        ip: IpAddr,
        kind: RateKind,
        action: RateAction,
        conn: u64,
        user: Option<&'a str>,
    },
    /// `CONN_REJECTED ip= reason=`
    ConnRejected { ip: IpAddr, reason: Refusal },
    /// `FLOOD ip= action= conn=`
    Flood {
        ip: IpAddr,
        action: FloodAction,
        conn: u64,
    },
    /// `SLOW_CLIENT ip= limit= conn=`
    SlowClient { ip: IpAddr, limit: usize, conn: u64 },
    /// `LINE_TOO_LONG ip= conn=`
    LineTooLong { ip: IpAddr, conn: u64 },
    /// `TIMEOUT ip= phase= conn=`
    Timeout {
        ip: IpAddr,
        phase: TimeoutPhase,
        conn: u64,
    },
    /// A verdict: the address is judged brute-forcing passwords (its attempts are refused for
    /// the lock-out time). `BRUTE_FORCE ip= reason= failures= accounts= locked= user=`, the
    /// counts of the current window; `user`: the account last tried.
    BruteForce {
        ip: IpAddr,
        reason: BruteForceReason,
        failures: u32,
        accounts: u32,
        locked: u32,
        user: &'a str,
    },
    /// A verdict: the address floods the server with connections (a per-address cap no class
    /// reaches was crossed; once a minute). `CONN_FLOOD ip= reason= open=`
    ConnFlood {
        ip: IpAddr,
        reason: Refusal,
        open: u32,
    },
}

/// Writes [`SecurityEvent::token`] and [`SecurityEvent::TOKENS`] from one table: a variant
/// without a token does not compile, and the list SECURITE.md is tested against misses none.
macro_rules! token_table {
    ($($variant:ident => $token:literal,)+) => {
        /// Every token, in declaration order (SECURITE.md §3.2 documents each; tests/docs).
        pub const TOKENS: &'static [&'static str] = &[$($token),+];

        /// The stable token the line starts with.
        pub fn token(&self) -> &'static str {
            match self {
                $(SecurityEvent::$variant { .. } => $token,)+
            }
        }
    };
}

impl SecurityEvent<'_> {
    token_table! {
        AuthFail => "AUTH_FAIL",
        RegisterRefused => "REGISTER_REFUSED",
        ProtocolError => "PROTOCOL_ERROR",
        RateLimit => "RATE_LIMIT",
        ConnRejected => "CONN_REJECTED",
        Flood => "FLOOD",
        SlowClient => "SLOW_CLIENT",
        LineTooLong => "LINE_TOO_LONG",
        Timeout => "TIMEOUT",
        BruteForce => "BRUTE_FORCE",
        ConnFlood => "CONN_FLOOD",
    }

    /// The French tag that starts the console line (`[AUTH] AUTH_FAIL ...`).
    pub fn tag(&self) -> &'static str {
        match self {
            SecurityEvent::AuthFail { .. } => "[AUTH]",
            SecurityEvent::RegisterRefused { .. } => "[INSCRIPTION]",
            SecurityEvent::ProtocolError { .. } | SecurityEvent::LineTooLong { .. } => "[ERREUR]",
            SecurityEvent::RateLimit { .. } | SecurityEvent::Flood { .. } => "[LIMITE]",
            SecurityEvent::ConnRejected { .. } => "[REFUS]",
            SecurityEvent::SlowClient { .. } => "[LENT]",
            SecurityEvent::Timeout { .. } => "[DELAI]",
            SecurityEvent::BruteForce { .. } | SecurityEvent::ConnFlood { .. } => "[VERDICT]",
        }
    }

    /// Every security event is a warning: an operator who lowers the level to `warn` still
    /// feeds fail2ban.
    pub fn level(&self) -> Level {
        Level::Warn
    }

    pub fn ip(&self) -> IpAddr {
        match *self {
            SecurityEvent::AuthFail { ip, .. }
            | SecurityEvent::RegisterRefused { ip, .. }
            | SecurityEvent::ProtocolError { ip, .. }
            | SecurityEvent::RateLimit { ip, .. }
            | SecurityEvent::ConnRejected { ip, .. }
            | SecurityEvent::Flood { ip, .. }
            | SecurityEvent::SlowClient { ip, .. }
            | SecurityEvent::LineTooLong { ip, .. }
            | SecurityEvent::Timeout { ip, .. }
            | SecurityEvent::BruteForce { ip, .. }
            | SecurityEvent::ConnFlood { ip, .. } => bare_ip(ip),
        }
    }
}

impl Display for SecurityEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ip={}", self.token(), self.ip())?;
        match *self {
            SecurityEvent::AuthFail { user, .. } => write!(f, " user={}", Quoted(user)),
            SecurityEvent::RegisterRefused { reason, user, .. } => {
                write!(f, " reason={} user={}", Word(reason), Quoted(user))
            }
            SecurityEvent::ProtocolError { reason, conn, .. } => {
                write!(f, " reason={} conn={conn}", Word(reason))
            }
            SecurityEvent::RateLimit {
                kind,
                action,
                conn,
                user,
                ..
            } => {
                write!(
                    f,
                    " kind={} action={} conn={conn}",
                    kind.as_str(),
                    action.as_str()
                )?;
                match user {
                    Some(user) => write!(f, " user={}", Quoted(user)),
                    None => Ok(()),
                }
            }
            SecurityEvent::ConnRejected { reason, .. } => write!(f, " reason={}", reason.token()),
            SecurityEvent::Flood { action, conn, .. } => {
                write!(f, " action={} conn={conn}", action.as_str())
            }
            SecurityEvent::SlowClient { limit, conn, .. } => {
                write!(f, " limit={limit} conn={conn}")
            }
            SecurityEvent::LineTooLong { conn, .. } => write!(f, " conn={conn}"),
            SecurityEvent::Timeout { phase, conn, .. } => {
                write!(f, " phase={} conn={conn}", phase.as_str())
            }
            SecurityEvent::BruteForce {
                reason,
                failures,
                accounts,
                locked,
                user,
                ..
            } => write!(
                f,
                " reason={} failures={failures} accounts={accounts} locked={locked} user={}",
                reason.token(),
                Quoted(user)
            ),
            SecurityEvent::ConnFlood { reason, open, .. } => {
                write!(f, " reason={} open={open}", reason.token())
            }
        }
    }
}

impl RateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RateKind::Message => "message",
            RateKind::Invalid => "invalid",
            RateKind::Login => "login",
            RateKind::Register => "register",
        }
    }
}

impl RateAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RateAction::Warn => "warn",
            RateAction::Delay => "delay",
            RateAction::Refuse => "refuse",
            RateAction::Disconnect => "disconnect",
        }
    }
}

impl FloodAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FloodAction::Paused => "paused",
            FloodAction::Disconnected => "disconnected",
        }
    }
}

impl TimeoutPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutPhase::Identify => "identify",
            TimeoutPhase::PartialLine => "partial-line",
        }
    }
}

/// Logs a security event under [`AUDIT_TARGET`], with its console tag in front (the syslog
/// output drops the tag: there the facility says it is a security line), and keeps it for the
/// dashboard (`recent`).
pub fn audit(event: &SecurityEvent<'_>) {
    log::log!(target: AUDIT_TARGET, event.level(), "{} {}", event.tag(), event);
    super::recent::remember(event.tag(), event.to_string());
}

/// The address as log filters expect it: IPv4-mapped IPv6 shown as plain IPv4.
pub fn bare_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// True for characters escaped in log lines: controls, Unicode format characters (bidi
/// overrides, zero-width...), line and paragraph separators, and any white space but the plain
/// space, so what a reader sees is what the line holds.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || is_hidden_char(c) || (c.is_whitespace() && c != ' ')
}

fn push_escaped(f: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    write!(f, "\\u{{{:x}}}", u32::from(c))
}

/// User-supplied text as a quoted log field: `"` and `\` backslash-escaped, every character
/// [`needs_escape`] written as `\u{..}`, cut after 64 characters (`…` marks the cut). A name can
/// then neither start a second line nor close the field early.
pub struct Quoted<'a>(pub &'a str);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = |c: char| c != '"' && c != '\\' && !needs_escape(c);
        let ascii_plain = |b: &u8| (0x20..0x7f).contains(b) && *b != b'"' && *b != b'\\';
        let short = self.0.len() <= MAX_QUOTED_CHARS;
        if short && (self.0.bytes().all(|b| ascii_plain(&b)) || self.0.chars().all(plain)) {
            // The common case: a short ordinary name, written in one piece.
            return write!(f, "\"{}\"", self.0);
        }
        f.write_char('"')?;
        for (index, c) in self.0.chars().enumerate() {
            if index == MAX_QUOTED_CHARS {
                f.write_char('…')?;
                break;
            }
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if needs_escape(c) => push_escaped(f, c)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// User-supplied text shown bare in an informational line (`[INVITE] zoe depuis ...`): the
/// characters [`needs_escape`] are written as `\u{..}`, the rest as is.
pub struct Shown<'a>(pub &'a str);

impl Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ascii_plain = self.0.bytes().all(|b| (0x20..0x7f).contains(&b));
        if ascii_plain || !self.0.chars().any(needs_escape) {
            return f.write_str(self.0);
        }
        for c in self.0.chars() {
            if needs_escape(c) {
                push_escaped(f, c)?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// A value the server chose (a reason code): anything outside `[A-Za-z0-9._-]` becomes `_`, so
/// even a careless caller cannot put a space or a quote into the fixed keys.
struct Word<'a>(&'a str);

impl Display for Word<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_char('-');
        }
        for c in self.0.chars() {
            let safe = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
            f.write_char(if safe { c } else { '_' })?;
        }
        Ok(())
    }
}

/// [`Quoted`] as a `String`.
pub fn quoted(text: &str) -> String {
    Quoted(text).to_string()
}

/// [`Shown`] as a `String`.
pub fn shown(text: &str) -> String {
    Shown(text).to_string()
}
