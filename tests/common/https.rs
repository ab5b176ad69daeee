//! An HTTPS client for the dashboard's tests (rustls, as the server): it accepts the server's
//! self-signed certificate as a teacher does once, and reports its SHA-256 fingerprint so the
//! tests can compare it with what `classcord admin certificate` prints. Also the dashboard's
//! WebSocket over that TLS session (frames written by hand, as in `websocket.rs`).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use serde_json::Value;

use super::TIMEOUT;

/// Trusts whatever certificate the server shows (its fingerprint is checked by the tests).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A TLS session to the web port, its handshake done.
pub fn connect(addr: SocketAddr) -> Tls {
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("server name");
    let connection = ClientConnection::new(Arc::new(config), name).expect("TLS client");
    let tcp = TcpStream::connect_timeout(&addr, *TIMEOUT).expect("connect");
    tcp.set_read_timeout(Some(*TIMEOUT)).unwrap();
    tcp.set_write_timeout(Some(*TIMEOUT)).unwrap();
    let mut tls = StreamOwned::new(connection, tcp);
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .expect("TLS handshake with the dashboard");
    }
    tls
}

/// SHA-256 of the certificate the server showed, as browsers print it (`AB:CD:...`).
pub fn fingerprint(tls: &Tls) -> String {
    let certificate = &tls.conn.peer_certificates().expect("a certificate")[0];
    let digest = ring::digest::digest(&ring::digest::SHA256, certificate.as_ref());
    digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An answer: status code, head, body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    /// A header's value (first one, name in any case).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

fn parse(all: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(all).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .map_or((text.clone(), String::new()), |(h, b)| {
            (h.to_owned(), b.to_owned())
        });
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Answer { status, head, body }
}

/// One request over a new TLS session (the server closes after answering).
pub fn request(addr: SocketAddr, raw: &str) -> Answer {
    let mut tls = connect(addr);
    tls.write_all(raw.as_bytes()).expect("send the request");
    let mut all = Vec::new();
    // The server ends with close_notify; a reset after the answer is fine too.
    let _ = tls.read_to_end(&mut all);
    parse(&all)
}

/// The same request over plain TCP.
pub fn plain_request(addr: SocketAddr, raw: &str) -> Answer {
    let mut tcp = TcpStream::connect_timeout(&addr, *TIMEOUT).expect("connect");
    tcp.set_read_timeout(Some(*TIMEOUT)).unwrap();
    tcp.write_all(raw.as_bytes()).expect("send");
    let mut all = Vec::new();
    let _ = tcp.read_to_end(&mut all);
    parse(&all)
}

/// A sign-in form posted from the dashboard's own page.
pub fn sign_in(addr: SocketAddr, name: &str, password: &str) -> Answer {
    let body = format!("name={name}&password={password}");
    request(
        addr,
        &format!(
            "POST /admin/login HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://{addr}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// The session cookie (`name=value`) a successful sign-in set.
pub fn session_cookie(answer: &Answer) -> String {
    let set = answer
        .header("Set-Cookie")
        .unwrap_or_else(|| panic!("no session cookie: {answer:?}"));
    set.split(';').next().expect("cookie").trim().to_owned()
}

/// The dashboard's WebSocket, over TLS.
pub struct AdminWs {
    tls: Tls,
}

/// Upgrades with these header lines; the refusal's answer if refused.
pub fn admin_ws(addr: SocketAddr, extra_headers: &str) -> Result<AdminWs, Answer> {
    let mut tls = connect(addr);
    let request = format!(
        "GET /admin/ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         {extra_headers}\r\n"
    );
    tls.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let answer = parse(&head);
    if answer.status != 101 {
        let mut rest = Vec::new();
        let _ = tls.read_to_end(&mut rest);
        return Err(parse(&[head, rest].concat()));
    }
    Ok(AdminWs { tls })
}

impl AdminWs {
    pub fn send(&mut self, value: Value) {
        let payload = value.to_string().into_bytes();
        let mut frame = vec![0x81];
        match payload.len() {
            len @ 0..=125 => frame.push(0x80 | len as u8),
            len => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
        }
        let mask = [0x11, 0x22, 0x33, 0x44];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.tls.write_all(&frame).unwrap();
    }

    /// The next text message; `None` once the server closes.
    pub fn recv(&mut self) -> Option<Value> {
        loop {
            let mut head = [0u8; 2];
            self.tls.read_exact(&mut head).ok()?;
            let length = match head[1] & 0x7f {
                126 => {
                    let mut bytes = [0u8; 2];
                    self.tls.read_exact(&mut bytes).ok()?;
                    u16::from_be_bytes(bytes) as usize
                }
                127 => {
                    let mut bytes = [0u8; 8];
                    self.tls.read_exact(&mut bytes).ok()?;
                    u64::from_be_bytes(bytes) as usize
                }
                small => small as usize,
            };
            let mut payload = vec![0u8; length];
            self.tls.read_exact(&mut payload).ok()?;
            match head[0] & 0x0f {
                0x1 => return Some(serde_json::from_slice(&payload).expect("JSON")),
                0x8 => return None,
                _ => continue,
            }
        }
    }

    /// Skips messages until one matches (bounded).
    pub fn recv_until(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..100 {
            match self.recv() {
                Some(value) if matches(&value) => return value,
                Some(_) => {}
                None => break,
            }
        }
        panic!("never received {what}");
    }
}
