//! The live protocol trace, for the students who write clients (`classcord admin trace`, the
//! dashboard): what a trace watches ([`TraceTarget`]), the events it streams ([`TraceEvent`], JSON
//! for scripts and the dashboard, [`TraceEvent::text`] in French for the console), and the
//! bounded pipe between the hub task that fills it and the front end that reads it
//! ([`channel`]: [`TraceFeed`] in, [`TraceStream`] out).
//!
//! Bounded everywhere: a trace ends by itself after its duration or [`MAX_LINES`] lines; the pipe
//! holds [`BUFFER`] events and the hub never waits on it: a slow reader loses lines, replaced by
//! one `lost` event that counts them. Passwords are masked before a line enters the pipe
//! ([`masked`]). The hub task's side (which connection, which verdict) is
//! `net::hub_task::trace`.

use std::net::IpAddr;
use std::time::Duration;

use classcord_core::hub::Inbound;
use classcord_core::message::{fold_name, ChatTarget, Request as Line, SlashCommand};
use serde::Serialize;
use smol::channel::{Receiver, Sender, TrySendError};

use super::duration::{describe, Span};
use crate::logging::{bare_ip, shown};

/// How long a trace lasts when the operator gives no duration.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(600);
/// The longest trace.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Lines (in and out, shown or lost) after which a trace ends by itself: a busy connection at
/// full speed (a benchmark's sender) reaches it in about ten seconds, a student's in hours.
pub const MAX_LINES: u64 = 100_000;
/// Events waiting for a slow reader before lines are lost.
pub const BUFFER: usize = 512;
/// Traces running at once (the console's and the dashboard's together).
pub const MAX_TRACES: usize = 8;
/// Bytes of one line kept in an event (a 64 KiB line is cut, with its size).
pub const MAX_SHOWN_BYTES: usize = 4096;

/// What a trace watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceTarget {
    /// One connection, by the number `who` and the log lines show (`#12`); ends when it closes.
    Conn(u64),
    /// Every connection from an address, present and future (a client restarted is traced
    /// from its first line).
    Address(IpAddr),
    /// Every connection under a name (folded), present and future from their identification.
    Name { shown: String, key: String },
}

impl TraceTarget {
    /// `#12` (or `n°12`), an IP address, or a name.
    pub fn parse(text: &str) -> Result<TraceTarget, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err(
                "Indiquez quoi tracer : un nom, une adresse IP ou un numéro de connexion (#12, \
                 voir who)."
                    .into(),
            );
        }
        let number = text
            .strip_prefix('#')
            .or_else(|| text.strip_prefix("n°"))
            .or_else(|| text.strip_prefix("N°"));
        if let Some(number) = number {
            return number.parse().map(TraceTarget::Conn).map_err(|_| {
                format!("Numéro de connexion invalide : « {text} » (#12, voir who).")
            });
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(TraceTarget::Address(bare_ip(ip)));
        }
        Ok(TraceTarget::Name {
            shown: text.to_owned(),
            key: fold_name(text),
        })
    }

    /// As the replies say it: `la connexion #12`, `l'adresse 10.0.0.5`, `« alice »`.
    pub fn describe(&self) -> String {
        match self {
            TraceTarget::Conn(number) => format!("la connexion #{number}"),
            TraceTarget::Address(ip) => format!("l'adresse {ip}"),
            TraceTarget::Name { shown, .. } => format!("« {shown} »"),
        }
    }
}

/// A trace's length: the operator's, or [`DEFAULT_DURATION`]; refused past [`MAX_DURATION`].
pub fn trace_duration(asked: Option<Span>) -> Result<Duration, String> {
    let duration = asked.map_or(DEFAULT_DURATION, Span::duration);
    if duration > MAX_DURATION {
        return Err(format!(
            "Trace de {} refusée : {} au plus (relancez-la ensuite).",
            describe(duration),
            describe(MAX_DURATION)
        ));
    }
    Ok(duration)
}

/// One thing a trace saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceEvent {
    /// When, in µs since the Unix epoch.
    pub unix_micros: u64,
    /// The connection (`#N`), absent for `lost` and `end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    #[serde(flatten)]
    pub what: TraceWhat,
}

/// What happened (`kind` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TraceWhat {
    /// A connection enters the trace (at its start, or when it connects or takes the name).
    Attached {
        ip: String,
        transport: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A line the client sent (passwords masked), and what the server made of it.
    In { line: String, verdict: Verdict },
    /// A line the server sent.
    Out { line: String },
    /// The connection closed.
    Closed,
    /// Events the reader was too slow to take.
    Lost { count: u64 },
    /// The trace is over (always the last event).
    End { reason: TraceEnd },
}

/// The server's verdict on one incoming line (`verdict` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Understood as `request` (in French: `message pour #général`) and carried out; `note`
    /// when it waits behind an earlier request.
    Understood {
        request: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Refused: why (French), the log's reason word if any, and the line sent back (an error
    /// line or a notice) if any.
    Refused {
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reply: Option<String>,
    },
}

/// Why a trace ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceEnd {
    /// Its duration is over.
    Elapsed,
    /// [`MAX_LINES`] lines were shown.
    Lines,
    /// The traced connection closed (a trace of `#N`).
    Closed,
    /// The reader stopped it.
    Stopped,
    /// The server is stopping.
    Shutdown,
    /// The pipe closed without saying why (events lost at the very end).
    Interrupted,
}

impl TraceEnd {
    fn text(self) -> String {
        match self {
            TraceEnd::Elapsed => "durée écoulée".into(),
            TraceEnd::Lines => format!("{} lignes", super::request::group_digits(MAX_LINES.into())),
            TraceEnd::Closed => "la connexion est fermée".into(),
            TraceEnd::Stopped => "arrêtée".into(),
            TraceEnd::Shutdown => "le serveur s'arrête".into(),
            TraceEnd::Interrupted => "interrompue".into(),
        }
    }
}

impl TraceEvent {
    /// The event as the console prints it, in French (`>>` what the client sent, `<<` what the
    /// server sent, as in docs/PROTOCOL.md); user text has its control characters escaped.
    pub fn text(&self) -> String {
        let time = clock_time(self.unix_micros);
        let conn = self.conn.map(|n| format!(" #{n}")).unwrap_or_default();
        let head = format!("{time}{conn}");
        match &self.what {
            TraceWhat::Attached {
                ip,
                transport,
                name,
            } => {
                let name = name
                    .as_deref()
                    .map(|n| format!(", {}", shown(n)))
                    .unwrap_or_default();
                format!("{head} connexion suivie : {ip} ({transport}{name})")
            }
            TraceWhat::In { line, verdict } => {
                let pad = " ".repeat(head.chars().count());
                let verdict = match verdict {
                    Verdict::Understood { request, note } => {
                        let note = note
                            .as_deref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default();
                        format!("{pad}    compris : {}{note}", shown(request))
                    }
                    Verdict::Refused {
                        reason,
                        code,
                        reply,
                    } => {
                        let code = code.map(|c| format!(" [{c}]")).unwrap_or_default();
                        let reply = reply
                            .as_deref()
                            .map(|r| format!("\n{pad}    renvoyé : {}", shown(r)))
                            .unwrap_or_default();
                        format!("{pad}    REFUSÉ{code} : {}{reply}", shown(reason))
                    }
                };
                format!("{head} >> {}\n{verdict}", shown(line))
            }
            TraceWhat::Out { line } => format!("{head} << {}", shown(line)),
            TraceWhat::Closed => format!("{head} connexion fermée"),
            TraceWhat::Lost { count } => {
                format!("{head} … {count} lignes perdues (lecture trop lente)")
            }
            TraceWhat::End { reason } => format!("{head} fin de la trace : {}.", reason.text()),
        }
    }

    pub fn is_end(&self) -> bool {
        matches!(self.what, TraceWhat::End { .. })
    }
}

/// `HH:MM:SS.mmm`, local time (the time-zone breakdown cached per second and thread: a busy
/// trace writes thousands of events a second).
fn clock_time(unix_micros: u64) -> String {
    thread_local! {
        static LAST: std::cell::Cell<(u64, u8, u8, u8)> = const { std::cell::Cell::new((u64::MAX, 0, 0, 0)) };
    }
    let seconds = unix_micros / 1_000_000;
    let (hour, minute, second) = LAST.with(|last| {
        let (cached, h, m, s) = last.get();
        if cached == seconds {
            return (h, m, s);
        }
        let t = crate::clock::local_time(seconds, 0);
        last.set((seconds, t.hour, t.minute, t.second));
        (t.hour, t.minute, t.second)
    });
    format!(
        "{hour:02}:{minute:02}:{second:02}.{:03}",
        unix_micros % 1_000_000 / 1000
    )
}

/// A line as a trace shows it: the value of every `"password"` key replaced by `"********"`
/// (even in a line that is not valid JSON: the mask works on the text), and cut after
/// [`MAX_SHOWN_BYTES`] with its size.
pub fn masked(text: &str) -> String {
    const KEY: &str = "\"password\"";
    let mut out = String::with_capacity(text.len().min(MAX_SHOWN_BYTES) + 16);
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        let after_key = at + KEY.len();
        out.push_str(&rest[..after_key]);
        rest = &rest[after_key..];
        let spaces = rest.len() - rest.trim_start().len();
        let Some(value) = rest[spaces..].strip_prefix(':') else {
            continue;
        };
        let colon = spaces + 1;
        let spaces_after = value.len() - value.trim_start().len();
        let Some(string) = value[spaces_after..].strip_prefix('"') else {
            continue;
        };
        out.push_str(&rest[..colon + spaces_after]);
        out.push_str("\"********\"");
        // Skip the string's body up to its closing quote (escapes respected), or to the end.
        let mut escaped = false;
        let mut end = string.len();
        for (index, c) in string.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = index + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &string[end..];
    }
    out.push_str(rest);
    cut(out)
}

/// Cuts a long line at a character boundary, saying how long it was.
pub fn cut(mut text: String) -> String {
    if text.len() <= MAX_SHOWN_BYTES {
        return text;
    }
    let total = text.len();
    let mut at = MAX_SHOWN_BYTES;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
    text.push_str(&format!("… ({total} octets)"));
    text
}

/// What a line read from the client was understood as, before the hub acts on it: the request
/// (in French), or the refusal of a line that is not one.
pub fn first_verdict(inbound: &Inbound) -> Verdict {
    match inbound {
        Inbound::Request(request) => Verdict::Understood {
            request: understood(request),
            note: None,
        },
        Inbound::Invalid(error) => Verdict::Refused {
            reason: error.to_string(),
            code: Some(error.reason()),
            reply: None,
        },
        Inbound::LineTooLong { limit } => Verdict::Refused {
            reason: format!("ligne de plus de {limit} octets : la connexion est fermée"),
            code: Some(classcord_core::hub::output::reasons::LINE_TOO_LONG),
            reply: None,
        },
        Inbound::LineTimeout { secs } => Verdict::Refused {
            reason: format!(
                "ligne commencée et pas finie depuis {secs} s : la connexion est fermée"
            ),
            code: None,
            reply: None,
        },
    }
}

/// A request in a few French words.
pub fn understood(request: &Line) -> String {
    match request {
        Line::Register { username, .. } => format!("register (création du compte « {username} »)"),
        Line::Login { username, .. } => format!("login (compte « {username} »)"),
        Line::Chat(message) => {
            if let Some(command) = SlashCommand::parse(&message.content) {
                let verb = match command {
                    SlashCommand::Join(_) => "/join",
                    SlashCommand::Leave(_) => "/leave",
                };
                return format!("message contenant la commande {verb}");
            }
            if message.content.trim().is_empty() {
                return "message vide (nomme l'invité, rien n'est relayé)".into();
            }
            match &message.target {
                ChatTarget::Channel(None) => "message pour #général".into(),
                ChatTarget::Channel(Some(channel)) => format!("message pour {}", channel.display),
                ChatTarget::User(to) => format!("message privé pour « {to} »"),
            }
        }
        Line::Status { state, .. } => format!("status « {} »", state.as_str()),
        Line::Users(alias) => format!("{} (liste des connectés)", alias.reply_type()),
        Line::Who { channel } => match channel {
            Some(channel) => format!("who {}", channel.display),
            None => "who".into(),
        },
        Line::JoinChannel { channel } => format!("join_channel {}", channel.display),
        Line::LeaveChannel { channel } => format!("leave_channel {}", channel.display),
        Line::Channels => "channels".into(),
        Line::History(query) => match (&query.with, &query.channel) {
            (Some(with), _) => format!("history avec « {with} »"),
            (None, Some(channel)) => format!("history de {}", channel.display),
            (None, None) => "history de #général".into(),
        },
        Line::Ping => "ping".into(),
        Line::Hello { features } => {
            let names: Vec<&str> = features.iter().map(|f| f.wire_name()).collect();
            if names.is_empty() {
                "hello (aucune extension connue)".into()
            } else {
                format!("hello (extensions : {})", names.join(", "))
            }
        }
    }
}

/// A new pipe: the hub task's end and the front end's.
pub fn channel() -> (TraceFeed, TraceStream) {
    let (sender, receiver) = smol::channel::bounded(BUFFER);
    (
        TraceFeed { sender, lost: 0 },
        TraceStream {
            receiver,
            ended: false,
        },
    )
}

/// The hub task's end: never waits; what does not fit is counted and reported once there is
/// room again. Two slots stay free for the `lost` count and the end.
#[derive(Debug)]
pub struct TraceFeed {
    sender: Sender<TraceEvent>,
    lost: u64,
}

impl TraceFeed {
    /// Queues an event (or counts it lost); false once the reader is gone.
    pub fn push(&mut self, event: TraceEvent) -> bool {
        if self.sender.is_closed() {
            return false;
        }
        if self.sender.len() + 2 >= BUFFER {
            self.lost += 1;
            return true;
        }
        if self.lost > 0 {
            let lost = TraceEvent {
                unix_micros: event.unix_micros,
                conn: None,
                what: TraceWhat::Lost { count: self.lost },
            };
            if self.sender.try_send(lost).is_err() {
                self.lost += 1;
                return true;
            }
            self.lost = 0;
        }
        match self.sender.try_send(event) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.lost += 1;
                true
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }

    /// The last event, then the pipe closes.
    pub fn end(self, reason: TraceEnd, unix_micros: u64) {
        if self.lost > 0 {
            let _ = self.sender.try_send(TraceEvent {
                unix_micros,
                conn: None,
                what: TraceWhat::Lost { count: self.lost },
            });
        }
        let _ = self.sender.try_send(TraceEvent {
            unix_micros,
            conn: None,
            what: TraceWhat::End { reason },
        });
    }

    /// Whether the reader dropped its end.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

/// The front end's end: events in order, the last one always an `end` (made up as
/// `interrupted` if the pipe closed without one). Dropping it stops the trace.
#[derive(Debug)]
pub struct TraceStream {
    receiver: Receiver<TraceEvent>,
    ended: bool,
}

impl TraceStream {
    /// The next event; `None` after the end.
    pub async fn next(&mut self) -> Option<TraceEvent> {
        if self.ended {
            return None;
        }
        let event = match self.receiver.recv().await {
            Ok(event) => event,
            Err(_) => TraceEvent {
                unix_micros: crate::clock::now().unix_micros,
                conn: None,
                what: TraceWhat::End {
                    reason: TraceEnd::Interrupted,
                },
            },
        };
        self.ended = event.is_end();
        Some(event)
    }

    /// The next event if one is already waiting (a front end writes what piled up in one go).
    pub fn try_next(&mut self) -> Option<TraceEvent> {
        if self.ended {
            return None;
        }
        let event = self.receiver.try_recv().ok()?;
        self.ended = event.is_end();
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u64) -> TraceEvent {
        TraceEvent {
            unix_micros: n,
            conn: Some(1),
            what: TraceWhat::Out {
                line: format!("{n}"),
            },
        }
    }

    #[test]
    fn passwords_are_masked_even_in_broken_lines() {
        assert_eq!(
            masked(r#"{"type":"login","username":"a","password":"s3cr\"et","x":1}"#),
            r#"{"type":"login","username":"a","password":"********","x":1}"#
        );
        assert_eq!(
            masked(r#"{"type":"register","password" : "abc"#),
            r#"{"type":"register","password" : "********""#,
            "an unfinished line is masked to its end"
        );
        assert_eq!(masked(r#"{"password":12}"#), r#"{"password":12}"#);
        assert_eq!(
            masked(r#"{"content":"password"}"#),
            r#"{"content":"password"}"#
        );
        let long = "é".repeat(3000);
        let shown = masked(&long);
        assert!(
            shown.ends_with("… (6000 octets)"),
            "{}",
            &shown[shown.len() - 30..]
        );
    }

    #[test]
    fn targets_are_connections_addresses_or_names() {
        assert_eq!(TraceTarget::parse("#12").unwrap(), TraceTarget::Conn(12));
        assert_eq!(TraceTarget::parse("n°3").unwrap(), TraceTarget::Conn(3));
        assert_eq!(
            TraceTarget::parse("::ffff:10.0.0.5").unwrap(),
            TraceTarget::Address("10.0.0.5".parse().unwrap())
        );
        assert!(matches!(
            TraceTarget::parse("Zoé").unwrap(),
            TraceTarget::Name { key, .. } if key == "zoé"
        ));
        assert!(TraceTarget::parse("#abc").is_err());
        assert!(TraceTarget::parse(" ").is_err());
        assert!(trace_duration(Some(Span::from_secs(7200).unwrap())).is_err());
        assert_eq!(trace_duration(None).unwrap(), DEFAULT_DURATION);
    }

    /// A reader that does not keep up loses lines, counted, and never blocks the feed.
    #[test]
    fn a_slow_reader_loses_counted_lines_and_still_gets_the_end() {
        let (mut feed, mut stream) = channel();
        for n in 0..(BUFFER as u64 + 100) {
            assert!(feed.push(event(n)));
        }
        feed.end(TraceEnd::Elapsed, 0);
        let events: Vec<TraceEvent> =
            std::iter::from_fn(|| smol::block_on(stream.next())).collect();
        let shown = events
            .iter()
            .filter(|e| matches!(e.what, TraceWhat::Out { .. }))
            .count();
        let lost: u64 = events
            .iter()
            .filter_map(|e| match e.what {
                TraceWhat::Lost { count } => Some(count),
                _ => None,
            })
            .sum();
        assert_eq!(shown as u64 + lost, BUFFER as u64 + 100);
        assert!(lost >= 100, "{lost}");
        assert!(events.last().unwrap().is_end());
        assert!(events[events.len() - 2].text().contains("lignes perdues"));
    }

    #[test]
    fn a_dropped_reader_is_seen_and_a_closed_pipe_ends_the_stream() {
        let (mut feed, stream) = channel();
        drop(stream);
        assert!(!feed.push(event(1)));
        assert!(feed.is_closed());
        let (feed, mut stream) = channel();
        drop(feed);
        let last = smol::block_on(stream.next()).unwrap();
        assert_eq!(
            last.what,
            TraceWhat::End {
                reason: TraceEnd::Interrupted
            }
        );
        assert_eq!(smol::block_on(stream.next()), None);
    }

    #[test]
    fn refused_lines_show_their_reason_and_reply() {
        let refused = TraceEvent {
            unix_micros: 0,
            conn: Some(7),
            what: TraceWhat::In {
                line: "{oops\u{1b}[2J".into(),
                verdict: Verdict::Refused {
                    reason: "JSON invalide".into(),
                    code: Some("bad-json"),
                    reply: Some(r#"{"type":"error"}"#.into()),
                },
            },
        };
        let text = refused.text();
        assert!(text.contains("#7 >> {oops\\u{1b}[2J"), "{text}");
        assert!(text.contains("REFUSÉ [bad-json] : JSON invalide"), "{text}");
        assert!(text.contains(r#"renvoyé : {"type":"error"}"#), "{text}");
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(json["kind"], "in");
        assert_eq!(json["verdict"]["verdict"], "refused");
        assert_eq!(json["verdict"]["code"], "bad-json");
    }
}
