//! WebSocket framing for browser clients (RFC 6455), without socket I/O: the handshake's accept key, a
//! decoder for what browsers send (masked frames, fragments, ping, close) and the encoders for
//! what the server sends (one text frame per JSON line, pong, close). tungstenite's frame header
//! codec does the bit work. The reader task feeds bytes in; the hub task writes encoded frames
//! into the connection's outbox itself, so a browser's lines go through the same bound and the
//! same single write per batch as a TCP client's (a WebSocket library owning the socket would
//! need a writer task and a channel per browser, the cost docs/ARCHITECTURE.md §departures 1
//! removed for TCP).

use std::io::Cursor;

use classcord_core::hub::Inbound;
use classcord_core::message::RequestError;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

use super::framing::{Framing, ReadLines, Stop};

/// What a browser sent, frame by frame (messages reassembled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// A complete text message: one request line.
    Text(Vec<u8>),
    /// A complete binary message: refused by the hub (the protocol is JSON text).
    Binary,
    /// Answer with a pong carrying the same payload.
    Ping(Vec<u8>),
    /// The browser closes: answer with a close, then stop reading.
    Close,
}

/// Why decoding stopped; the connection ends after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsStop {
    /// A message longer than the line cap (the hub answers as for an over-long line).
    TooLong { limit: usize },
    /// A frame no browser sends: close with 1002, logged with this reason.
    Protocol(&'static str),
}

/// Reassembles frames into messages. Holds no buffer between complete frames, so an idle
/// browser costs no more than an idle TCP client.
#[derive(Debug)]
pub struct WsDecoder {
    limit: usize,
    /// Bytes of a frame not complete yet.
    pending: Vec<u8>,
    /// A fragmented message so far, and whether it is text.
    message: Vec<u8>,
    fragmented: Option<bool>,
}

/// Longest control payload (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: u64 = 125;

impl WsDecoder {
    pub fn new(limit: usize) -> WsDecoder {
        WsDecoder {
            limit,
            pending: Vec::new(),
            message: Vec::new(),
            fragmented: None,
        }
    }

    /// Bytes held for an unfinished frame or message (the partial-line deadline counts them).
    pub fn buffered(&self) -> usize {
        self.pending.len() + self.message.len()
    }

    /// Decodes what arrived; events are handed out in order.
    pub fn feed(&mut self, bytes: &[u8], mut on: impl FnMut(WsEvent)) -> Result<(), WsStop> {
        self.pending.extend_from_slice(bytes);
        let mut used = 0;
        let result = loop {
            let mut cursor = Cursor::new(&self.pending[used..]);
            let parsed = match FrameHeader::parse(&mut cursor) {
                Ok(parsed) => parsed,
                Err(_) => break Err(WsStop::Protocol("bad-frame")),
            };
            let Some((header, length)) = parsed else {
                break Ok(());
            };
            let header_len = cursor.position() as usize;
            if let Err(stop) = self.check(&header, length) {
                break Err(stop);
            }
            let length = length as usize; // checked against the limit above
            let available = self.pending.len() - used - header_len;
            if available < length {
                break Ok(());
            }
            let start = used + header_len;
            let mut payload = self.pending[start..start + length].to_vec();
            used = start + length;
            if let Some(mask) = header.mask {
                for (index, byte) in payload.iter_mut().enumerate() {
                    *byte ^= mask[index % 4];
                }
            }
            if let Err(stop) = self.frame(&header, payload, &mut on) {
                break Err(stop);
            }
        };
        self.pending.drain(..used);
        if self.pending.is_empty() {
            self.pending = Vec::new();
        }
        result
    }

    /// What no browser sends, and what is too long, before reading the payload.
    fn check(&self, header: &FrameHeader, length: u64) -> Result<(), WsStop> {
        if header.mask.is_none() {
            return Err(WsStop::Protocol("unmasked"));
        }
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return Err(WsStop::Protocol("reserved-bits"));
        }
        match header.opcode {
            OpCode::Control(Control::Reserved(_)) | OpCode::Data(Data::Reserved(_)) => {
                Err(WsStop::Protocol("reserved-opcode"))
            }
            OpCode::Control(_) if length > MAX_CONTROL_PAYLOAD || !header.is_final => {
                Err(WsStop::Protocol("bad-control-frame"))
            }
            OpCode::Control(_) => Ok(()),
            OpCode::Data(_) => {
                let total = (self.message.len() as u64).saturating_add(length);
                if total > self.limit as u64 {
                    Err(WsStop::TooLong { limit: self.limit })
                } else {
                    Ok(())
                }
            }
        }
    }

    fn frame(
        &mut self,
        header: &FrameHeader,
        payload: Vec<u8>,
        on: &mut impl FnMut(WsEvent),
    ) -> Result<(), WsStop> {
        let text = match header.opcode {
            OpCode::Control(Control::Ping) => {
                on(WsEvent::Ping(payload));
                return Ok(());
            }
            OpCode::Control(Control::Pong) => return Ok(()),
            OpCode::Control(Control::Close) => {
                on(WsEvent::Close);
                return Ok(());
            }
            OpCode::Data(Data::Continue) => match self.fragmented {
                Some(text) => text,
                None => return Err(WsStop::Protocol("stray-continuation")),
            },
            OpCode::Data(Data::Text) | OpCode::Data(Data::Binary) if self.fragmented.is_some() => {
                return Err(WsStop::Protocol("interleaved-message"));
            }
            OpCode::Data(Data::Text) => true,
            OpCode::Data(Data::Binary) => false,
            OpCode::Control(Control::Reserved(_)) | OpCode::Data(Data::Reserved(_)) => {
                return Err(WsStop::Protocol("reserved-opcode"));
            }
        };
        if !header.is_final {
            self.fragmented = Some(text);
            self.message.extend_from_slice(&payload);
            return Ok(());
        }
        let message = if self.message.is_empty() {
            payload
        } else {
            let mut message = std::mem::take(&mut self.message);
            message.extend_from_slice(&payload);
            message
        };
        self.fragmented = None;
        on(if text {
            WsEvent::Text(message)
        } else {
            WsEvent::Binary
        });
        Ok(())
    }
}

/// A browser connection's [`Framing`]: one request per text message; pings answered; a binary
/// message is an invalid line (the hub says why); a close is answered and ends the reading.
pub struct WsFraming(WsDecoder);

impl WsFraming {
    pub fn new(max_line: usize) -> WsFraming {
        WsFraming(WsDecoder::new(max_line))
    }
}

impl Framing for WsFraming {
    fn feed(
        &mut self,
        bytes: &[u8],
        lines: &mut ReadLines,
        replies: &mut Vec<Vec<u8>>,
    ) -> Result<(), Stop> {
        let mut closed = false;
        let decoded = self.0.feed(bytes, |event| match event {
            WsEvent::Text(text) if !closed => lines.push(&text),
            WsEvent::Binary if !closed => lines
                .push_judged(Inbound::Invalid(RequestError::NotText), || {
                    "(message binaire)".to_owned()
                }),
            WsEvent::Ping(payload) if !closed => replies.push(pong_frame(&payload)),
            WsEvent::Close if !closed => {
                replies.push(close_frame(CLOSE_NORMAL));
                closed = true;
            }
            _ => {} // nothing after a close
        });
        match decoded {
            Err(WsStop::TooLong { limit }) => Err(Stop::TooLong { limit }),
            Err(WsStop::Protocol(reason)) => Err(Stop::Protocol {
                reason,
                reply: close_frame(CLOSE_PROTOCOL),
            }),
            Ok(()) if closed => Err(Stop::Closed),
            Ok(()) => Ok(()),
        }
    }

    fn buffered(&self) -> usize {
        self.0.buffered()
    }
}

/// Appends a server frame (never masked) with `payload` to `out`.
fn push_frame(opcode: OpCode, payload: &[u8], out: &mut Vec<u8>) {
    let header = FrameHeader {
        is_final: true,
        opcode,
        ..FrameHeader::default()
    };
    // Writing into a Vec cannot fail.
    let _ = header.format(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// One JSON line as a text frame (the line's `\n` is not part of the message).
pub fn text_frame(line: &[u8], out: &mut Vec<u8>) {
    let payload = line.strip_suffix(b"\n").unwrap_or(line);
    push_frame(OpCode::Data(Data::Text), payload, out);
}

pub fn pong_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 2);
    push_frame(OpCode::Control(Control::Pong), payload, &mut out);
    out
}

/// Close codes the server sends (RFC 6455 §7.4.1).
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_PROTOCOL: u16 = 1002;
pub const CLOSE_TOO_BIG: u16 = 1009;

pub fn close_frame(code: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(4);
    push_frame(
        OpCode::Control(Control::Close),
        &code.to_be_bytes(),
        &mut out,
    );
    out
}

/// Whether `bytes` start a close frame (as [`close_frame`] makes them).
pub fn is_close_frame(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x88)
}

/// The `Sec-WebSocket-Accept` value for a client's key.
pub fn accept_key(client_key: &str) -> String {
    tungstenite::handshake::derive_accept_key(client_key.trim().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame as a browser sends it: masked.
    fn client_frame(opcode: OpCode, is_final: bool, payload: &[u8]) -> Vec<u8> {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let header = FrameHeader {
            is_final,
            opcode,
            mask: Some(mask),
            ..FrameHeader::default()
        };
        let mut out = Vec::new();
        header.format(payload.len() as u64, &mut out).unwrap();
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    fn decode(bytes: &[u8], limit: usize) -> (Vec<WsEvent>, Result<(), WsStop>) {
        let mut decoder = WsDecoder::new(limit);
        let mut events = Vec::new();
        let result = decoder.feed(bytes, |event| events.push(event));
        (events, result)
    }

    #[test]
    fn a_masked_text_frame_is_one_request_even_when_it_arrives_byte_by_byte() {
        let frame = client_frame(OpCode::Data(Data::Text), true, br#"{"type":"ping"}"#);
        let mut decoder = WsDecoder::new(1024);
        let mut events = Vec::new();
        for byte in &frame {
            decoder.feed(&[*byte], |event| events.push(event)).unwrap();
        }
        assert_eq!(events, [WsEvent::Text(br#"{"type":"ping"}"#.to_vec())]);
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn fragments_are_reassembled_and_a_ping_may_come_between_them() {
        let mut bytes = client_frame(OpCode::Data(Data::Text), false, b"{\"type\":");
        bytes.extend(client_frame(OpCode::Control(Control::Ping), true, b"p"));
        bytes.extend(client_frame(
            OpCode::Data(Data::Continue),
            true,
            b"\"ping\"}",
        ));
        let (events, result) = decode(&bytes, 1024);
        assert_eq!(result, Ok(()));
        assert_eq!(
            events,
            [
                WsEvent::Ping(b"p".to_vec()),
                WsEvent::Text(br#"{"type":"ping"}"#.to_vec())
            ]
        );
    }

    #[test]
    fn a_message_over_the_cap_stops_before_its_payload_is_read() {
        let big = vec![b'x'; 2000];
        let frame = client_frame(OpCode::Data(Data::Text), true, &big);
        let (events, result) = decode(&frame[..20], 1000);
        assert!(events.is_empty());
        assert_eq!(result, Err(WsStop::TooLong { limit: 1000 }));
        let mut split = client_frame(OpCode::Data(Data::Text), false, &big[..600]);
        split.extend(client_frame(
            OpCode::Data(Data::Continue),
            true,
            &big[..600],
        ));
        assert_eq!(decode(&split, 1000).1, Err(WsStop::TooLong { limit: 1000 }));
    }

    #[test]
    fn binary_close_and_what_no_browser_sends() {
        let (events, _) = decode(&client_frame(OpCode::Data(Data::Binary), true, b"\x00"), 64);
        assert_eq!(events, [WsEvent::Binary]);
        let (events, _) = decode(
            &client_frame(OpCode::Control(Control::Close), true, b""),
            64,
        );
        assert_eq!(events, [WsEvent::Close]);
        let mut unmasked = Vec::new();
        push_frame(OpCode::Data(Data::Text), b"{}", &mut unmasked);
        assert_eq!(decode(&unmasked, 64).1, Err(WsStop::Protocol("unmasked")));
        let stray = client_frame(OpCode::Data(Data::Continue), true, b"x");
        assert_eq!(
            decode(&stray, 64).1,
            Err(WsStop::Protocol("stray-continuation"))
        );
        let long_ping = client_frame(OpCode::Control(Control::Ping), true, &[0; 126]);
        assert_eq!(
            decode(&long_ping, 1024).1,
            Err(WsStop::Protocol("bad-control-frame"))
        );
    }

    #[test]
    fn server_frames_are_unmasked_and_carry_the_line_without_its_newline() {
        let mut out = Vec::new();
        text_frame(b"{\"type\":\"pong\"}\n", &mut out);
        assert_eq!(out[0], 0x81, "FIN + text");
        assert_eq!(
            out[1] as usize, 15,
            "no mask bit, length without the newline"
        );
        assert_eq!(&out[2..], b"{\"type\":\"pong\"}");
        let mut long = Vec::new();
        text_frame(&vec![b'a'; 300], &mut long);
        assert_eq!(&long[1..4], &[126, 1, 44], "16-bit length");
        assert_eq!(close_frame(CLOSE_NORMAL), [0x88, 2, 0x03, 0xE8]);
    }

    #[test]
    fn the_accept_key_is_the_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
