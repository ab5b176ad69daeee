//! Listening sockets and the accept loop. IPv6 sockets are IPv6-only so that `0.0.0.0:P` and
//! `[::]:P` can both be bound, as the defaults do.

use std::io;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use classcord_core::frame::JsonLine;
use classcord_core::hub::SessionId;
use nix::sys::socket::{
    self, sockopt, AddressFamily, Backlog, SockFlag, SockType, SockaddrStorage,
};
use smol::channel::{Receiver, Sender};
use smol::{Async, Executor, Timer};

use super::flood::ReadGate;
use super::hub_task::{HubCommand, Transport};
use super::reader::{read_loop, LineFraming, Reader};
use crate::logging::{audit, bare_ip, SecurityEvent};
use crate::security::{AccessGuard, Refusal, RefusalLine, RefusalNote};

/// Binds one listening socket.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd: OwnedFd = socket::socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    if addr.is_ipv6() {
        socket::setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    }
    socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    socket::listen(&fd, Backlog::new(1024).unwrap_or(Backlog::MAXCONN))?;
    let listener = TcpListener::from(fd);
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// What every accepted connection needs.
pub struct AcceptContext {
    pub executor: Arc<Executor<'static>>,
    pub hub: Sender<HubCommand>,
    pub next_session: AtomicU64,
    pub max_line_bytes: usize,
    pub partial_line_timeout: Option<Duration>,
    /// Allowlist and per-address caps, checked before the connection reaches the hub.
    pub access: Arc<AccessGuard>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Accepts until `stop` closes.
pub async fn accept_loop(
    listener: async_net::TcpListener,
    context: Arc<AcceptContext>,
    stop: Receiver<()>,
) {
    // Refused connections cost an accept, a line and a close each: past a few hundred in a
    // tenth of a second, the loop pauses briefly, so a connection flood cannot starve the chat.
    let mut window = Instant::now();
    let mut refused_in_window = 0u32;
    while let Some(accepted) = next_accept(&listener, &stop).await {
        match accepted {
            Ok((stream, peer)) => {
                if !start_connection(stream, peer, &context) {
                    let now = Instant::now();
                    if now.saturating_duration_since(window) > REFUSAL_WINDOW {
                        window = now;
                        refused_in_window = 0;
                    }
                    refused_in_window += 1;
                    if refused_in_window > REFUSALS_PER_WINDOW {
                        Timer::after(REFUSAL_PAUSE).await;
                    }
                }
            }
            Err(error) => {
                // Out of file descriptors and the like: say so, breathe, carry on.
                log::error!("[ERREUR] accept a échoué : {error}");
                Timer::after(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The next accepted connection, or `None` once `stop` closes (every accept loop, TCP or web).
pub async fn next_accept(
    listener: &async_net::TcpListener,
    stop: &Receiver<()>,
) -> Option<std::io::Result<(async_net::TcpStream, SocketAddr)>> {
    futures_lite::future::or(async { Some(listener.accept().await) }, async {
        let _ = stop.recv().await;
        None
    })
    .await
}

/// Refusals after which the accept loop pauses for [`REFUSAL_PAUSE`] (per [`REFUSAL_WINDOW`]).
const REFUSALS_PER_WINDOW: u32 = 100;
const REFUSAL_WINDOW: Duration = Duration::from_millis(100);
const REFUSAL_PAUSE: Duration = Duration::from_millis(5);

/// Lets a connection in (true) or refuses it cleanly (false).
fn start_connection(
    stream: async_net::TcpStream,
    peer: SocketAddr,
    context: &AcceptContext,
) -> bool {
    let now = Instant::now();
    let admitted = match context.access.admit(peer.ip(), now) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            let note = context.access.note_refusal(peer.ip(), refusal, now);
            refuse(stream, peer, refusal, note, &context.metrics);
            return false;
        }
    };
    crate::metrics::add(&context.metrics.counters.connections_accepted, 1);
    let _ = stream.set_nodelay(true);
    let stream: Arc<Async<std::net::TcpStream>> = stream.into();
    let session = SessionId(context.next_session.fetch_add(1, Ordering::Relaxed));
    let reader = Reader {
        stream,
        peer,
        session,
        hub: context.hub.clone(),
        framing: LineFraming::new(context.max_line_bytes),
        transport: Transport::Tcp,
        partial_line_timeout: context.partial_line_timeout,
        gate: ReadGate::new(),
        admitted,
    };
    context.executor.spawn(read_loop(reader)).detach();
    true
}

/// Refuses a connection cleanly: one French error line if the socket takes it at once, then the
/// close. Logged as a security event with the bare address, and a flood verdict once a minute.
fn refuse(
    stream: async_net::TcpStream,
    peer: SocketAddr,
    refusal: Refusal,
    note: RefusalNote,
    metrics: &crate::metrics::Metrics,
) {
    report_refusal(peer.ip(), refusal, note, metrics);
    let mut line = JsonLine::new("error");
    line.push_str("message", refusal.text())
        .push_str("error", refusal.text());
    let stream: Arc<Async<std::net::TcpStream>> = stream.into();
    // Non-blocking: a refused client gets what fits in its socket buffer, never a wait.
    let _ = stream.get_ref().write(&line.finish());
    let _ = stream.get_ref().shutdown(std::net::Shutdown::Both);
}

/// Counts and logs a refused connection (every transport): its own line for the first ones of
/// the minute, and a flood verdict once a minute.
pub fn report_refusal(
    ip: std::net::IpAddr,
    refusal: Refusal,
    note: RefusalNote,
    metrics: &crate::metrics::Metrics,
) {
    metrics.rejected(refusal.token());
    if refusal == Refusal::Banned {
        crate::metrics::add(&metrics.counters.bans_enforced, 1);
    }
    match note.line {
        RefusalLine::Log => audit(&SecurityEvent::ConnRejected {
            ip,
            reason: refusal,
        }),
        // A line every thousand refusals past the first ones of the minute, for the record.
        RefusalLine::Quiet { quiet } if quiet % 1000 == 0 => log::warn!(
            "[REFUS] {quiet} connexion(s) de plus refusée(s) depuis {} cette minute (non journalisées une à une)",
            bare_ip(ip)
        ),
        RefusalLine::Quiet { .. } => {}
    }
    if let Some(open) = note.flood {
        audit(&SecurityEvent::ConnFlood {
            ip,
            reason: refusal,
            open,
        });
    }
}
