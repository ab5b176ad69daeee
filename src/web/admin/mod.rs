//! The teacher's dashboard, `/admin` on the web port, over HTTPS only: a TLS ClientHello on the
//! web port comes here (`crate::web::server` looks at the first byte), and so does a request from
//! a trusted proxy that says it received HTTPS (`X-Forwarded-Proto: https`, nginx adding TLS).
//! Plain HTTP to `/admin` only gets a redirection to `https://`, never the form: an operator's
//! password never crosses the LAN in clear.
//!
//! For operator accounts only (`crate::control::operators`), with their own sign-in checked like
//! a chat login (`crate::control::signin`), then a session cookie (`sessions.rs`). Every action
//! goes through the console's vocabulary (`Desk::run`, logged with the operator's name), over
//! the dashboard's WebSocket (`live.rs`).
//!
//! - `exchange.rs`: HTTP over the TLS stream (request, body, responses, the form's fields);
//! - `sessions.rs`: the sessions and their cookie;
//! - `live.rs`: the WebSocket: what the page shows, refreshed, and the actions it sends;
//! - `page/`: the sign-in page, the dashboard, its script and style (embedded, no inline script).

pub mod exchange;
pub mod live;
pub mod sessions;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use futures_lite::{AsyncRead, AsyncWrite};
use futures_rustls::TlsAcceptor;

use self::exchange::{answer, page, read_request, response, see_other, Plain};
use self::sessions::{clear_cookie, set_cookie, token_in, Sessions};
use crate::control::audit::{web_refused, WebRefusal};
use crate::control::{Desk, SignIn};
use crate::logging::Quoted;
use crate::net::writer::Stream;
use crate::security::Admitted;
use crate::web::http::{HeadError, Request};

/// What the dashboard needs, shared by its connections.
pub struct Dashboard {
    pub desk: Arc<Desk>,
    pub acceptor: TlsAcceptor,
    pub sessions: Sessions,
}

impl Dashboard {
    pub fn new(desk: Arc<Desk>, tls: Arc<rustls::ServerConfig>) -> Dashboard {
        Dashboard {
            desk,
            acceptor: TlsAcceptor::from(tls),
            sessions: Sessions::default(),
        }
    }
}

const SIGNIN_PAGE: &str = include_str!("page/signin.html");
const DASHBOARD_PAGE: &[u8] = include_bytes!("page/admin.html");

/// The dashboard's own files (the sign-in page and the dashboard use them).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "/admin/admin.js",
        "text/javascript; charset=utf-8",
        include_bytes!("page/admin.js"),
    ),
    (
        "/admin/admin.css",
        "text/css; charset=utf-8",
        include_bytes!("page/admin.css"),
    ),
    (
        "/admin/favicon.svg",
        "image/svg+xml",
        include_bytes!("../page/favicon.svg"),
    ),
];

/// One connection that started a TLS handshake on the web port.
pub async fn serve_tls(
    stream: Stream,
    client: SocketAddr,
    admitted: Admitted,
    dashboard: Arc<Dashboard>,
) {
    let deadline = Instant::now() + exchange::IO_TIMEOUT;
    let accepted = exchange::before(deadline, dashboard.acceptor.accept(Plain(stream))).await;
    let Ok(mut tls) = accepted else {
        // A browser that refused the certificate (or not TLS at all): nothing to log.
        return;
    };
    match read_request(&mut tls, Vec::new()).await {
        Ok((request, body)) => handle(&mut tls, client.ip(), request, body, &dashboard).await,
        Err(HeadError::TooLarge) => {
            answer(
                &mut tls,
                &page("413 Content Too Large", "Requête trop grande."),
            )
            .await
        }
        Err(_) => {}
    }
    drop(admitted);
}

/// A request to `/admin` that came in plain HTTP from a trusted proxy which received it over
/// HTTPS (`X-Forwarded-Proto: https`): `rest`, the bytes read after its head.
pub async fn serve_proxied(
    stream: Stream,
    client: IpAddr,
    request: Request,
    rest: Vec<u8>,
    dashboard: Arc<Dashboard>,
) {
    let mut plain = Plain(stream);
    if request.content_length > exchange::MAX_BODY_BYTES || rest.len() > request.content_length {
        return answer(
            &mut plain,
            &page("413 Content Too Large", "Requête trop grande."),
        )
        .await;
    }
    let mut body = rest;
    let mut chunk = [0u8; 1024];
    let deadline = Instant::now() + exchange::IO_TIMEOUT;
    while body.len() < request.content_length {
        use futures_lite::AsyncReadExt;
        match exchange::before(deadline, plain.read(&mut chunk)).await {
            Ok(0) | Err(_) => return,
            Ok(read) => body.extend_from_slice(&chunk[..read]),
        }
    }
    if body.len() > request.content_length {
        return;
    }
    handle(&mut plain, client, request, body, &dashboard).await;
}

/// The answer to plain HTTP on `/admin`: go to `https://`, same host and port.
pub fn plain_http_answer(request: &Request) -> Vec<u8> {
    match request.plain_host() {
        Some(host) => {
            let location = format!("https://{host}/admin");
            let text = format!("Le tableau de bord n'est servi qu'en HTTPS (chiffré) : {location}");
            let body = text.as_bytes();
            exchange::response(
                "301 Moved Permanently",
                "text/plain; charset=utf-8",
                &format!("Location: {location}\r\n"),
                body,
            )
        }
        None => page(
            "400 Bad Request",
            "Le tableau de bord n'est servi qu'en HTTPS : tapez https:// devant l'adresse du \
             serveur, suivie de /admin.",
        ),
    }
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    ip: IpAddr,
    request: Request,
    body: Vec<u8>,
    dashboard: &Arc<Dashboard>,
) {
    let session = token_in(request.cookie.as_deref())
        .and_then(|token| {
            let name = dashboard.sessions.find(token, Instant::now())?;
            Some((token.to_owned(), name))
        })
        .filter(|(_, name)| dashboard.desk.is_operator(name));
    let method = request.method.as_str();
    let reply = match (method, request.path.as_str()) {
        ("GET" | "HEAD", "/") => see_other("/admin", ""),
        ("GET" | "HEAD", "/admin" | "/admin/") => match &session {
            Some(_) => response("200 OK", "text/html; charset=utf-8", "", DASHBOARD_PAGE),
            None => signin_page("200 OK", None, ""),
        },
        ("GET", "/admin/session") => match &session {
            Some(_) => response("204 No Content", "text/plain", "", b""),
            None => response("401 Unauthorized", "text/plain", "", b""),
        },
        ("GET", "/admin/ws") => {
            return live::upgrade(stream, ip, request, session, dashboard).await;
        }
        ("POST", "/admin/login") => sign_in(ip, &request, &body, dashboard).await,
        ("POST", "/admin/logout") => sign_out(ip, &request, dashboard),
        ("GET" | "HEAD", path) => match FILES.iter().find(|(at, _, _)| *at == path) {
            Some((_, kind, bytes)) => response("200 OK", kind, "", bytes),
            None => page("404 Not Found", "Cette page n'existe pas."),
        },
        _ => page("405 Method Not Allowed", "Méthode non autorisée."),
    };
    let reply = if method == "HEAD" {
        head_only(reply)
    } else {
        reply
    };
    answer(stream, &reply).await;
}

/// The head of a response, without its body (`HEAD`).
fn head_only(mut reply: Vec<u8>) -> Vec<u8> {
    if let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") {
        reply.truncate(end + 4);
    }
    reply
}

/// The sign-in page, with a message (an error) and the name typed before.
fn signin_page(status: &str, message: Option<&str>, name: &str) -> Vec<u8> {
    let message = message.map_or_else(String::new, |text| {
        format!(
            "<p class=\"error\" id=\"message\" role=\"alert\">{}</p>",
            exchange::escape(text)
        )
    });
    // The name first: a message quoting a name cannot be filled in twice.
    let html = SIGNIN_PAGE
        .replace("{{name}}", &exchange::escape(name))
        .replace("{{message}}", &message);
    response(status, "text/html; charset=utf-8", "", html.as_bytes())
}

/// A form posted by another site (a browser always names the page that posts).
fn foreign(ip: IpAddr, request: &Request) -> Option<Vec<u8>> {
    if request.dashboard_origin() == Some(false) {
        web_refused(ip, WebRefusal::ForeignOrigin, None);
        return Some(page("403 Forbidden", "Origine refusée."));
    }
    None
}

async fn sign_in(ip: IpAddr, request: &Request, body: &[u8], dashboard: &Dashboard) -> Vec<u8> {
    if let Some(refusal) = foreign(ip, request) {
        return refusal;
    }
    let form = request
        .content_type
        .as_deref()
        .is_some_and(|kind| kind.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return page("415 Unsupported Media Type", "Formulaire attendu.");
    }
    let mut name = String::new();
    let mut password = String::new();
    for (field, value) in exchange::form_fields(body) {
        match field.as_str() {
            "name" => name = value,
            "password" => password = value,
            _ => {}
        }
    }
    match dashboard.desk.sign_in(ip, &name, password).await {
        SignIn::Operator(name) => match dashboard.sessions.open(&name, ip, Instant::now()) {
            Ok(token) => {
                log::info!(
                    "[ADMIN] {} connecté au tableau de bord depuis {}",
                    Quoted(&name),
                    crate::logging::bare_ip(ip)
                );
                see_other("/admin", &set_cookie(&token))
            }
            Err(_) => signin_page(
                "503 Service Unavailable",
                Some("Le système ne fournit pas de nombres aléatoires : réessayez."),
                &name,
            ),
        },
        SignIn::NotOperator(name) => {
            web_refused(ip, WebRefusal::NotOperator, Some(&name));
            let text = format!(
                "Le compte « {name} » n'a pas accès au tableau de bord. Sur le serveur, un \
                 administrateur le lui donne avec : classcord admin operator add {name}"
            );
            signin_page("403 Forbidden", Some(&text), &name)
        }
        SignIn::Limited(text) => signin_page("429 Too Many Requests", Some(&text), &name),
        SignIn::Refused(text) => signin_page("401 Unauthorized", Some(&text), &name),
    }
}

fn sign_out(ip: IpAddr, request: &Request, dashboard: &Dashboard) -> Vec<u8> {
    if let Some(refusal) = foreign(ip, request) {
        return refusal;
    }
    if let Some((name, _)) =
        token_in(request.cookie.as_deref()).and_then(|token| dashboard.sessions.close(token))
    {
        log::info!("[ADMIN] {} déconnecté du tableau de bord", Quoted(&name));
    }
    see_other("/admin", &clear_cookie())
}
