//! The HTTP/1.1 request head (parsed by httparse) and the responses the web port gives: the
//! embedded pages, the WebSocket upgrade, and French error pages. One request per connection
//! (`Connection: close`): a page load is a handful of small files on a LAN.

use std::net::IpAddr;

/// Largest request head accepted; browsers send well under 2 KiB.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Headers looked at; more are refused.
const MAX_HEADERS: usize = 48;

/// What the server needs from a request head.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    pub host: Option<String>,
    pub origin: Option<String>,
    pub upgrade: Option<String>,
    pub connection: Option<String>,
    pub websocket_key: Option<String>,
    pub websocket_version: Option<String>,
    pub forwarded_for: Option<String>,
    /// `X-Forwarded-Proto` (`https` from nginx adding TLS in front).
    pub forwarded_proto: Option<String>,
    pub cookie: Option<String>,
    pub content_type: Option<String>,
    /// The body's length (`Content-Length`); 0 without one.
    pub content_length: usize,
    /// Bytes of the head, to find where the body starts.
    pub head_len: usize,
}

/// Why a head cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// More bytes are needed.
    Partial,
    TooLarge,
    Malformed,
}

/// Parses a request head from the bytes read so far.
pub fn parse_head(bytes: &[u8]) -> Result<Request, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if bytes.len() >= MAX_HEAD_BYTES => {
            return Err(HeadError::TooLarge)
        }
        Ok(httparse::Status::Partial) => return Err(HeadError::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(_) => return Err(HeadError::Malformed),
    };
    let path = parsed.path.unwrap_or("/");
    let mut request = Request {
        method: parsed.method.unwrap_or_default().to_owned(),
        path: path.split(['?', '#']).next().unwrap_or("/").to_owned(),
        head_len,
        ..Request::default()
    };
    for header in parsed.headers.iter() {
        let Ok(value) = std::str::from_utf8(header.value) else {
            continue;
        };
        let value = Some(value.trim().to_owned());
        match header.name.to_ascii_lowercase().as_str() {
            "host" => request.host = value,
            "origin" => request.origin = value,
            "upgrade" => request.upgrade = value,
            "connection" => request.connection = value,
            "sec-websocket-key" => request.websocket_key = value,
            "sec-websocket-version" => request.websocket_version = value,
            "x-forwarded-for" => request.forwarded_for = value,
            "x-forwarded-proto" => request.forwarded_proto = value,
            "cookie" => request.cookie = value,
            "content-type" => request.content_type = value,
            "content-length" => {
                request.content_length = value
                    .as_deref()
                    .and_then(|length| length.parse().ok())
                    .ok_or(HeadError::Malformed)?
            }
            "transfer-encoding" => return Err(HeadError::Malformed),
            _ => {}
        }
    }
    Ok(request)
}

impl Request {
    /// Whether this asks for a WebSocket (RFC 6455 §4.2.1).
    pub fn wants_websocket(&self) -> bool {
        let has = |value: &Option<String>, token: &str| {
            value.as_deref().is_some_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        };
        has(&self.upgrade, "websocket") && has(&self.connection, "upgrade")
    }

    /// Whether the page that opened this connection is ours: no `Origin` (not a browser), or an
    /// origin whose host and port are the `Host` the request was sent to.
    pub fn same_origin(&self) -> bool {
        let Some(origin) = &self.origin else {
            return true;
        };
        let Some(host) = &self.host else {
            return false;
        };
        let bare = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or(origin);
        bare.eq_ignore_ascii_case(host)
    }

    /// Whether the page that sent this is the dashboard itself: an `Origin` of `https://` and
    /// the `Host` the request was sent to (a browser always sends one on a form's POST and a
    /// WebSocket; `None`: not a browser).
    pub fn dashboard_origin(&self) -> Option<bool> {
        let origin = self.origin.as_deref()?;
        let host = self.host.as_deref().unwrap_or_default();
        Some(
            !host.is_empty()
                && origin
                    .strip_prefix("https://")
                    .is_some_and(|bare| bare.eq_ignore_ascii_case(host)),
        )
    }

    /// The `Host` header if it is a plain host name or address with an optional port (safe to
    /// put in a `Location`).
    pub fn plain_host(&self) -> Option<&str> {
        let host = self.host.as_deref()?;
        let plain = !host.is_empty()
            && host.len() <= 255
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        plain.then_some(host)
    }

    /// The client's address: the peer's, or the last address a trusted proxy added in
    /// `X-Forwarded-For`.
    pub fn client_ip(&self, peer: IpAddr, trusted: impl Fn(IpAddr) -> bool) -> IpAddr {
        if !trusted(peer) {
            return peer;
        }
        self.forwarded_for
            .as_deref()
            .and_then(|list| list.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok())
            .unwrap_or(peer)
    }
}

/// The security headers every page carries: nothing inline, nothing from elsewhere, never framed.
pub const SECURITY_HEADERS: &str =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'\r\n\
X-Content-Type-Options: nosniff\r\n\
Referrer-Policy: no-referrer\r\n\
X-Frame-Options: DENY\r\n";

/// The dashboard's security headers: as [`SECURITY_HEADERS`], but its sign-in form posts to
/// itself, nothing is kept in a cache, and the referrer policy is `same-origin` (with
/// `no-referrer`, browsers send `Origin: null` on the form's POST, which the origin check must
/// refuse; nothing is sent to other sites either way).
pub const DASHBOARD_HEADERS: &str =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'\r\n\
X-Content-Type-Options: nosniff\r\n\
Referrer-Policy: same-origin\r\n\
X-Frame-Options: DENY\r\n\
Cache-Control: no-store\r\n";

/// A complete response with a body.
pub fn response(status: &str, content_type: &str, body: &[u8], head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\n{SECURITY_HEADERS}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

/// A short French error page.
pub fn error_page(status: &str, text: &str) -> Vec<u8> {
    let body = format!(
        "<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\"><title>{status}</title>\
         <p>{text}</p><p><a href=\"/\">Retour à la discussion</a></p></html>\n"
    );
    response(status, "text/html; charset=utf-8", body.as_bytes(), false)
}

/// The answer that turns the connection into a WebSocket.
pub fn switching_protocols(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

/// A `Sec-WebSocket-Key` is 16 random bytes in base64: 24 characters ending in `==`.
pub fn valid_key(key: &str) -> bool {
    key.len() == 24
        && key.ends_with("==")
        && key[..22]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_websocket_key_is_accepted() {
        assert!(valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!valid_key("dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!valid_key("dGhlIHNhbXBsZSBub25jZQ=!"));
        assert!(!valid_key("<script>alert(1)</script>=="));
    }

    const UPGRADE: &[u8] = b"GET /ws?x=1 HTTP/1.1\r\nHost: 10.0.0.5:8080\r\nUpgrade: websocket\r\n\
Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nOrigin: http://10.0.0.5:8080\r\n\r\n";

    #[test]
    fn an_upgrade_request_is_understood() {
        let request = parse_head(UPGRADE).unwrap();
        assert_eq!(request.path, "/ws");
        assert!(request.wants_websocket());
        assert!(request.same_origin());
        assert_eq!(request.head_len, UPGRADE.len());
        assert_eq!(parse_head(&UPGRADE[..30]), Err(HeadError::Partial));
    }

    #[test]
    fn a_foreign_origin_and_oversized_heads_are_told_apart() {
        let mut request = parse_head(UPGRADE).unwrap();
        request.origin = Some("http://evil.example".into());
        assert!(!request.same_origin());
        let huge = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD_BYTES]].concat();
        assert_eq!(parse_head(&huge), Err(HeadError::TooLarge));
        assert_eq!(
            parse_head(b"\x16\x03\x01 hello\r\n\r\n"),
            Err(HeadError::Malformed)
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let mut request = parse_head(UPGRADE).unwrap();
        request.forwarded_for = Some("1.2.3.4, 192.168.1.20".into());
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let student: IpAddr = "192.168.1.20".parse().unwrap();
        assert_eq!(request.client_ip(proxy, |ip| ip == proxy), student);
        assert_eq!(request.client_ip(student, |ip| ip == proxy), student);
    }
}
