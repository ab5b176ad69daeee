//! How a transport's bytes become the hub's lines: the [`Framing`] a reader task uses, and the
//! newline-delimited JSON of the students' TCP clients ([`LineFraming`]). The WebSocket framing
//! of browsers is `websocket.rs`.

use classcord_core::frame::{decode_line, LineSplitter, LineTooLong};
use classcord_core::hub::Inbound;
use classcord_core::message::parse_request;

/// Why a framing stops reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A line (or message) over the cap: the hub answers, then the connection closes.
    TooLong { limit: usize },
    /// The peer closed the conversation (a WebSocket close): replied to already.
    Closed,
    /// Bytes no client of this transport sends: `reason` is logged, `reply` (a WebSocket close)
    /// is written before the connection ends.
    Protocol {
        reason: &'static str,
        reply: Vec<u8>,
    },
}

/// What one read gives the hub: its lines and, while a protocol trace watches the connection,
/// each line's text (passwords masked, `crate::control::trace`), one per line.
#[derive(Debug, Default)]
pub struct ReadLines {
    pub inbound: Vec<Inbound>,
    /// `None` unless traced: the common case costs one branch per line.
    pub texts: Option<Vec<String>>,
}

impl ReadLines {
    pub fn new(traced: bool) -> ReadLines {
        ReadLines {
            inbound: Vec::new(),
            texts: traced.then(Vec::new),
        }
    }

    /// One line of text as the hub's input (UTF-8, or windows-1252 as the students' clients
    /// send).
    pub fn push(&mut self, line: &[u8]) {
        let text = decode_line(line);
        if let Some(texts) = &mut self.texts {
            texts.push(crate::control::trace::masked(&text));
        }
        self.inbound.push(match parse_request(&text) {
            Ok(request) => Inbound::Request(request),
            Err(error) => Inbound::Invalid(error),
        });
    }

    /// A line the framing judged itself (a binary WebSocket message), shown as `text`.
    pub fn push_judged(&mut self, inbound: Inbound, text: impl FnOnce() -> String) {
        if let Some(texts) = &mut self.texts {
            texts.push(text());
        }
        self.inbound.push(inbound);
    }
}

/// How a transport's bytes become the hub's lines.
pub trait Framing: Send + 'static {
    /// Decodes `bytes`: lines for the hub go to `lines`, transport-level answers (a WebSocket
    /// pong or close) to `replies`, written to the peer in order with the hub's frames.
    fn feed(
        &mut self,
        bytes: &[u8],
        lines: &mut ReadLines,
        replies: &mut Vec<Vec<u8>>,
    ) -> Result<(), Stop>;

    /// Bytes of an unfinished line held (for the partial-line deadline).
    fn buffered(&self) -> usize;
}

/// Newline-delimited JSON: the students' clients over TCP.
pub struct LineFraming(LineSplitter);

impl LineFraming {
    pub fn new(max_line: usize) -> LineFraming {
        LineFraming(LineSplitter::new(max_line))
    }
}

impl Framing for LineFraming {
    fn feed(
        &mut self,
        bytes: &[u8],
        lines: &mut ReadLines,
        _replies: &mut Vec<Vec<u8>>,
    ) -> Result<(), Stop> {
        self.0
            .feed(bytes, |line| lines.push(line))
            .map_err(|LineTooLong { limit }| Stop::TooLong { limit })
    }

    fn buffered(&self) -> usize {
        self.0.buffered()
    }
}
