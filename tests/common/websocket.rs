//! A minimal WebSocket client for the tests, written from RFC 6455 (no library: the tests must
//! be able to send what a library would refuse to, such as unmasked or oversized frames).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use serde_json::Value;

use super::TIMEOUT;

pub struct WsClient {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

/// One frame from the server.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerFrame {
    Text(String),
    Pong(Vec<u8>),
    Close(Option<u16>),
    Other(u8),
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// An HTTP request's status line and headers, and the body.
pub fn http_get(addr: SocketAddr, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect_timeout(&addr, *TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(*TIMEOUT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut all = Vec::new();
    let _ = stream.read_to_end(&mut all);
    let text = String::from_utf8_lossy(&all).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((head, body)) => (head.to_owned(), body.to_owned()),
        None => (text, String::new()),
    }
}

impl WsClient {
    /// Connects and upgrades with the headers a browser on the page would send.
    pub fn connect(addr: SocketAddr) -> WsClient {
        WsClient::connect_with(addr, &format!("Origin: http://{addr}\r\n"))
            .expect("the upgrade is accepted")
    }

    /// Connects and upgrades with extra header lines; the server's answer head if refused.
    pub fn connect_with(addr: SocketAddr, extra_headers: &str) -> Result<WsClient, String> {
        let stream = TcpStream::connect_timeout(&addr, *TIMEOUT).expect("connect");
        WsClient::upgrade(stream, addr, extra_headers)
    }

    pub fn upgrade(
        mut stream: TcpStream,
        addr: SocketAddr,
        extra_headers: &str,
    ) -> Result<WsClient, String> {
        stream.set_read_timeout(Some(*TIMEOUT)).unwrap();
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return Err(head);
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        if !head.starts_with("HTTP/1.1 101") {
            return Err(head);
        }
        assert!(
            head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "{head}"
        );
        Ok(WsClient { stream, reader })
    }

    /// Sends one frame, masked as browsers do (`masked: false` to misbehave).
    pub fn send_frame(&mut self, opcode: u8, fin: bool, payload: &[u8], masked: bool) {
        let mut frame = vec![(if fin { 0x80 } else { 0 }) | opcode];
        let mask_bit = if masked { 0x80 } else { 0 };
        match payload.len() {
            len @ 0..=125 => frame.push(mask_bit | len as u8),
            len @ 126..=65535 => {
                frame.push(mask_bit | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                frame.push(mask_bit | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        if masked {
            frame.extend_from_slice(&mask);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        } else {
            frame.extend_from_slice(payload);
        }
        self.stream.write_all(&frame).unwrap();
    }

    pub fn send(&mut self, value: Value) {
        self.send_frame(0x1, true, value.to_string().as_bytes(), true);
    }

    /// The next frame, or `None` when the connection ends first.
    pub fn frame(&mut self) -> Option<ServerFrame> {
        let mut head = [0u8; 2];
        self.reader.read_exact(&mut head).ok()?;
        assert_eq!(head[1] & 0x80, 0, "server frames are never masked");
        let length = match head[1] & 0x7f {
            126 => {
                let mut bytes = [0u8; 2];
                self.reader.read_exact(&mut bytes).ok()?;
                u16::from_be_bytes(bytes) as usize
            }
            127 => {
                let mut bytes = [0u8; 8];
                self.reader.read_exact(&mut bytes).ok()?;
                u64::from_be_bytes(bytes) as usize
            }
            small => small as usize,
        };
        let mut payload = vec![0u8; length];
        self.reader.read_exact(&mut payload).ok()?;
        Some(match head[0] & 0x0f {
            0x1 => ServerFrame::Text(String::from_utf8(payload).expect("UTF-8 text")),
            0xA => ServerFrame::Pong(payload),
            0x8 => ServerFrame::Close(
                (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]])),
            ),
            other => ServerFrame::Other(other),
        })
    }

    /// The next text message as JSON (skipping nothing: anything else fails).
    pub fn recv(&mut self) -> Value {
        match self.frame() {
            Some(ServerFrame::Text(text)) => {
                assert!(!text.ends_with('\n'), "one object per frame, no newline");
                serde_json::from_str(&text).expect("JSON object")
            }
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Skips messages until one matches.
    pub fn recv_until(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            let value = self.recv();
            if matches(&value) {
                return value;
            }
        }
        panic!("never received {what}");
    }

    /// Reads until the server closes: the code of its close frame, which must be the last
    /// frame and come once.
    pub fn closed(&mut self) -> Option<u16> {
        let mut code = None;
        while let Some(frame) = self.frame() {
            assert!(code.is_none(), "a frame after the close: {frame:?}");
            if let ServerFrame::Close(sent) = frame {
                code = Some(sent);
            }
        }
        code.flatten()
    }

    pub fn raw(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}
