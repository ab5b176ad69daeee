//! HTTP/1.1 over any byte stream (the TLS session, or the plain socket behind a trusted proxy):
//! a request head and its small body read within bounds and a deadline, and the dashboard's
//! responses (its security headers, no caching, `Connection: close`).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::{future, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::Timer;

use crate::net::writer::Stream;
use crate::web::http::{self, HeadError, Request, DASHBOARD_HEADERS, MAX_HEAD_BYTES};

/// Largest body accepted (a sign-in form is well under 1 KiB).
pub const MAX_BODY_BYTES: usize = 4096;
/// How long a request (head and body) may take to arrive, and a response to be written.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The plain socket as a byte stream (the TLS layer and the proxied path read through it).
pub struct Plain(pub Stream);

impl AsyncRead for Plain {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Plain {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut &*self.0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut &*self.0).poll_close(cx)
    }
}

/// `work`, or `TimedOut` at `deadline`.
pub async fn before<T>(
    deadline: Instant,
    work: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    future::or(work, async {
        Timer::at(deadline).await;
        Err(std::io::ErrorKind::TimedOut.into())
    })
    .await
}

/// Reads a request head (after `have`, bytes already read) and its body.
pub async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut have: Vec<u8>,
) -> Result<(Request, Vec<u8>), HeadError> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut chunk = [0u8; 2048];
    let request = loop {
        if !have.is_empty() {
            match http::parse_head(&have) {
                Err(HeadError::Partial) => {}
                other => break other?,
            }
        }
        let read = before(deadline, stream.read(&mut chunk))
            .await
            .map_err(|_| HeadError::Malformed)?;
        if read == 0 {
            return Err(HeadError::Malformed);
        }
        have.extend_from_slice(&chunk[..read]);
        if have.len() > MAX_HEAD_BYTES + MAX_BODY_BYTES {
            return Err(HeadError::TooLarge);
        }
    };
    if request.content_length > MAX_BODY_BYTES {
        return Err(HeadError::TooLarge);
    }
    let mut body = have.split_off(request.head_len);
    while body.len() < request.content_length {
        let read = before(deadline, stream.read(&mut chunk))
            .await
            .map_err(|_| HeadError::Malformed)?;
        if read == 0 {
            return Err(HeadError::Malformed);
        }
        body.extend_from_slice(&chunk[..read]);
    }
    // Nothing may follow the body (one request per connection).
    if body.len() > request.content_length {
        return Err(HeadError::Malformed);
    }
    Ok((request, body))
}

/// Writes the whole response, within the deadline.
pub async fn send<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    let deadline = Instant::now() + IO_TIMEOUT;
    before(deadline, async {
        stream.write_all(bytes).await?;
        stream.flush().await
    })
    .await
}

/// Sends the response, then ends the stream (TLS: its close_notify) and lets the browser read.
pub async fn answer<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) {
    if send(stream, bytes).await.is_ok() {
        let _ = before(Instant::now() + IO_TIMEOUT, stream.close()).await;
    }
}

/// A dashboard response: `extra` header lines (each ending in CRLF) before the fixed ones.
pub fn response(status: &str, content_type: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}\
         {DASHBOARD_HEADERS}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A redirection to `location` (after a sign-in or out: the browser then GETs the dashboard).
pub fn see_other(location: &str, extra: &str) -> Vec<u8> {
    response(
        "303 See Other",
        "text/plain; charset=utf-8",
        &format!("{extra}Location: {location}\r\n"),
        b"",
    )
}

/// A short French page in the dashboard's style.
pub fn page(status: &str, text: &str) -> Vec<u8> {
    let body = format!(
        "<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>ClassCord : tableau de \
         bord</title><link rel=\"stylesheet\" href=\"/admin/admin.css\"><main class=\"signin\">\
         <h1>Tableau de bord</h1><p>{}</p><p><a href=\"/admin\">Retour au tableau de \
         bord</a></p></main></html>\n",
        escape(text)
    );
    response(status, "text/html; charset=utf-8", "", body.as_bytes())
}

/// Text made safe inside HTML elements and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The fields of an `application/x-www-form-urlencoded` body.
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |&b| b == b'=');
            let name = decode(parts.next().unwrap_or_default());
            let value = decode(parts.next().unwrap_or_default());
            (name, value)
        })
        .collect()
}

fn decode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'+' => out.push(b' '),
            b'%' if at + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[at + 1..at + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        at += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_form_is_decoded() {
        let fields = form_fields(b"name=Zo%C3%A9+Martin&password=a%26b%3Dc%25&x");
        assert_eq!(
            fields,
            [
                ("name".into(), "Zoé Martin".into()),
                ("password".into(), "a&b=c%".into()),
                ("x".into(), String::new()),
            ]
        );
        assert_eq!(form_fields(b"name=%4")[0].1, "%4");
        assert_eq!(escape("<b a='1'>&\""), "&lt;b a=&#39;1&#39;&gt;&amp;&quot;");
    }

    #[test]
    fn a_head_and_its_body_are_read_and_nothing_may_follow() {
        let request =
            b"POST /admin/login HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nname=prof";
        let (head, body) = smol::block_on(read_request(&mut &request[..], Vec::new())).unwrap();
        assert_eq!(head.path, "/admin/login");
        assert_eq!(body, b"name=prof");
        let extra = [&request[..], b"GET / HTTP/1.1\r\n\r\n"].concat();
        assert!(smol::block_on(read_request(&mut &extra[..], Vec::new())).is_err());
        let huge = b"POST /admin/login HTTP/1.1\r\nContent-Length: 99999\r\n\r\n";
        assert_eq!(
            smol::block_on(read_request(&mut &huge[..], Vec::new())).err(),
            Some(HeadError::TooLarge)
        );
    }
}
