//! The web port's accept loop and one task per connection: read the request head (bounded in size
//! and time), then either answer with an embedded file or an error page and close, or upgrade to
//! a WebSocket and hand the connection to the chat as a session like any TCP client's (same
//! access guard, hub, limits, logs). Every connection first passes the access guard: bans, the
//! allowlist and the per-address caps apply to browsers as to the students' clients. A connection
//! that starts with a TLS handshake is the teacher's dashboard (`super::admin`, HTTPS on the same
//! port); plain HTTP to `/admin` is only told to go to `https://`.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use classcord_core::hub::SessionId;
use futures_lite::future;
use smol::channel::Receiver;
use smol::Timer;

use super::admin::{self, Dashboard};
use super::assets;
use super::http::{self, HeadError, Request};
use crate::logging::{audit, SecurityEvent};
use crate::net::flood::ReadGate;
use crate::net::hub_task::Transport;
use crate::net::listener::AcceptContext;
use crate::net::reader::{read_loop, Reader};
use crate::net::websocket::{accept_key, WsFraming};
use crate::net::writer::Stream;
use crate::security::{Admitted, Cidr};

/// The web port's own settings, beside what every accepted connection needs.
#[derive(Clone, Default)]
pub struct WebSettings {
    /// Proxies (nginx adding TLS) whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<Cidr>,
    /// The dashboard (HTTPS on this port); `None` without a certificate.
    pub dashboard: Option<Arc<Dashboard>>,
}

/// The first byte of a TLS connection (a handshake record): never the start of an HTTP request.
const TLS_HANDSHAKE: u8 = 0x16;

/// How long a browser may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a response may take to be written (pages are small).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts until `stop` closes.
pub async fn accept_loop(
    listener: async_net::TcpListener,
    context: Arc<AcceptContext>,
    settings: Arc<WebSettings>,
    stop: Receiver<()>,
) {
    while let Some(accepted) = crate::net::listener::next_accept(&listener, &stop).await {
        match accepted {
            Ok((stream, peer)) => {
                let context = context.clone();
                let settings = settings.clone();
                context
                    .executor
                    .clone()
                    .spawn(serve_connection(stream, peer, context, settings))
                    .detach();
            }
            Err(error) => {
                log::error!("[ERREUR] accept (web) a échoué : {error}");
                Timer::after(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_connection(
    stream: async_net::TcpStream,
    peer: SocketAddr,
    context: Arc<AcceptContext>,
    settings: Arc<WebSettings>,
) {
    let trusted = |ip: IpAddr| settings.trusted_proxies.iter().any(|net| net.contains(ip));
    let _ = stream.set_nodelay(true);
    let stream: Stream = stream.into();
    // A trusted proxy is admitted per client address, once its request head names it.
    let mut admitted = None;
    if !trusted(peer.ip()) {
        match admit(&context, peer, &stream) {
            Some(place) => admitted = Some(place),
            None => return,
        }
    }
    // The dashboard's HTTPS shares the port: one port to open, one address to type.
    match first_byte(&stream).await {
        Some(TLS_HANDSHAKE) => {
            let admitted = match admitted {
                Some(admitted) => admitted,
                None => match admit(&context, peer, &stream) {
                    Some(admitted) => admitted,
                    None => return,
                },
            };
            if let Some(dashboard) = settings.dashboard.clone() {
                admin::serve_tls(stream, peer, admitted, dashboard).await;
            }
            return;
        }
        Some(_) => {}
        None => return,
    }
    let (request, rest) = match read_head(&stream).await {
        Ok(read) => read,
        Err(HeadError::TooLarge) => {
            let page = http::error_page(
                "431 Request Header Fields Too Large",
                "Requête trop grande.",
            );
            return write_and_close(&stream, &page).await;
        }
        Err(_) => return,
    };
    let client = SocketAddr::new(request.client_ip(peer.ip(), trusted), peer.port());
    let admitted = match admitted {
        Some(admitted) => admitted,
        None => match admit(&context, client, &stream) {
            Some(admitted) => admitted,
            None => return,
        },
    };
    if request.path == "/admin" || request.path.starts_with("/admin/") {
        let proxied_https = trusted(peer.ip())
            && request
                .forwarded_proto
                .as_deref()
                .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
        match &settings.dashboard {
            Some(dashboard) if proxied_https => {
                let dashboard = dashboard.clone();
                admin::serve_proxied(stream, client.ip(), request, rest, dashboard).await;
            }
            // Never the form over plain HTTP: the password would cross the LAN in clear.
            _ => write_and_close(&stream, &admin::plain_http_answer(&request)).await,
        }
        drop(admitted);
        return;
    }
    if !rest.is_empty() {
        // Browsers wait for the answer before sending anything else.
        return;
    }
    let head_only = request.method == "HEAD";
    if request.method != "GET" && !head_only {
        let page = http::error_page("405 Method Not Allowed", "Méthode non autorisée.");
        return write_and_close(&stream, &page).await;
    }
    if request.path == "/ws" {
        return upgrade(stream, client, request, admitted, &context).await;
    }
    let page = match assets::find(&request.path) {
        Some(asset) => http::response("200 OK", asset.content_type, asset.body, head_only),
        None => http::error_page("404 Not Found", "Cette page n'existe pas."),
    };
    write_and_close(&stream, &page).await;
}

/// The access guard's verdict for a client address; a refused browser gets a French page.
fn admit(context: &AcceptContext, client: SocketAddr, stream: &Stream) -> Option<Admitted> {
    let now = Instant::now();
    match context.access.admit(client.ip(), now) {
        Ok(admitted) => {
            crate::metrics::add(&context.metrics.counters.connections_accepted, 1);
            Some(admitted)
        }
        Err(refusal) => {
            let note = context.access.note_refusal(client.ip(), refusal, now);
            crate::net::listener::report_refusal(client.ip(), refusal, note, &context.metrics);
            // Non-blocking: a refused client gets what fits in its socket buffer, never a wait.
            let _ = stream
                .get_ref()
                .write(&http::error_page("403 Forbidden", refusal.text()));
            let _ = stream.get_ref().shutdown(std::net::Shutdown::Both);
            None
        }
    }
}

/// The connection's first byte, left unread (bounded in time).
async fn first_byte(stream: &Stream) -> Option<u8> {
    let mut byte = [0u8; 1];
    let peeked = future::or(async { stream.peek(&mut byte).await.ok() }, async {
        Timer::after(HEAD_TIMEOUT).await;
        None
    })
    .await;
    match peeked {
        Some(1) => Some(byte[0]),
        _ => None,
    }
}

/// Reads until the head is complete, too large, malformed, or too slow; with the bytes read
/// after it (a body).
async fn read_head(stream: &Stream) -> Result<(Request, Vec<u8>), HeadError> {
    let deadline = Instant::now() + HEAD_TIMEOUT;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let readable = future::or(async { stream.readable().await.is_ok() }, async {
            Timer::at(deadline).await;
            false
        })
        .await;
        if !readable {
            return Err(HeadError::Malformed);
        }
        match stream.get_ref().read(&mut chunk) {
            Ok(0) => return Err(HeadError::Malformed),
            Ok(read) => bytes.extend_from_slice(&chunk[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return Err(HeadError::Malformed),
        }
        match http::parse_head(&bytes) {
            Err(HeadError::Partial) => continue,
            Ok(request) => {
                let rest = bytes.split_off(request.head_len);
                return Ok((request, rest));
            }
            Err(error) => return Err(error),
        }
    }
}

/// Answers the WebSocket handshake and starts the chat session's reader.
async fn upgrade(
    stream: Stream,
    client: SocketAddr,
    request: Request,
    admitted: Admitted,
    context: &AcceptContext,
) {
    let key = request.websocket_key.as_deref().unwrap_or_default();
    if !request.wants_websocket()
        || request.websocket_version.as_deref() != Some("13")
        || !http::valid_key(key)
    {
        let page = http::error_page(
            "400 Bad Request",
            "Cette adresse attend une connexion WebSocket (le client de discussion de la page).",
        );
        return write_and_close(&stream, &page).await;
    }
    if !request.same_origin() {
        audit(&SecurityEvent::ProtocolError {
            ip: client.ip(),
            reason: "foreign-origin",
            conn: 0,
        });
        let page = http::error_page("403 Forbidden", "Origine refusée.");
        return write_and_close(&stream, &page).await;
    }
    if write_all(&stream, &http::switching_protocols(&accept_key(key)))
        .await
        .is_err()
    {
        return;
    }
    let session = SessionId(context.next_session.fetch_add(1, Ordering::Relaxed));
    let reader = Reader {
        stream,
        peer: client,
        session,
        hub: context.hub.clone(),
        framing: WsFraming::new(context.max_line_bytes),
        transport: Transport::WebSocket,
        partial_line_timeout: context.partial_line_timeout,
        gate: ReadGate::new(),
        admitted,
    };
    // Its own task: this one (with the request head's buffers) ends here, so an idle browser
    // costs what an idle TCP client does.
    context.executor.spawn(read_loop(reader)).detach();
}

async fn write_all(stream: &Stream, mut bytes: &[u8]) -> std::io::Result<()> {
    let deadline = Instant::now() + WRITE_TIMEOUT;
    while !bytes.is_empty() {
        let written = future::or(
            async { stream.write_with(|socket| (&*socket).write(bytes)).await },
            async {
                Timer::at(deadline).await;
                Err(std::io::ErrorKind::TimedOut.into())
            },
        )
        .await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[written..];
    }
    Ok(())
}

async fn write_and_close(stream: &Stream, bytes: &[u8]) {
    let _ = write_all(stream, bytes).await;
    let _ = stream.get_ref().shutdown(std::net::Shutdown::Write);
    // Let the browser read the answer before the socket goes: wait briefly for its close.
    let mut sink = [0u8; 512];
    let _ = future::or(
        async {
            while stream.readable().await.is_ok() {
                match stream.get_ref().read(&mut sink) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        },
        async {
            Timer::after(Duration::from_secs(2)).await;
        },
    )
    .await;
}
