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
use super::hub_task::{Connection, HubCommand};
use super::reader::read_loop;
use crate::logging::{audit, RejectReason, SecurityEvent};
use crate::security::{AccessGuard, Refusal};

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
}

/// Accepts until `stop` closes.
pub async fn accept_loop(
    listener: async_net::TcpListener,
    context: Arc<AcceptContext>,
    stop: Receiver<()>,
) {
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            let _ = stop.recv().await;
            None
        })
        .await;
        let Some(accepted) = accepted else { return };
        match accepted {
            Ok((stream, peer)) => start_connection(stream, peer, &context),
            Err(error) => {
                // Out of file descriptors and the like: say so, breathe, carry on.
                log::error!("[ERREUR] accept a échoué : {error}");
                Timer::after(Duration::from_millis(100)).await;
            }
        }
    }
}

fn start_connection(stream: async_net::TcpStream, peer: SocketAddr, context: &AcceptContext) {
    let admitted = match context.access.admit(peer.ip(), Instant::now()) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            refuse(stream, peer, refusal);
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let stream: Arc<Async<std::net::TcpStream>> = stream.into();
    let session = SessionId(context.next_session.fetch_add(1, Ordering::Relaxed));
    let gate = ReadGate::new();
    let connection = Connection {
        stream: stream.clone(),
        peer,
        gate: gate.clone(),
    };

    let hub = context.hub.clone();
    let max_line = context.max_line_bytes;
    let partial_line_timeout = context.partial_line_timeout;
    context
        .executor
        .spawn(async move {
            // Holds the connection's place in the per-address counts until it ends.
            let _admitted = admitted;
            // The reader announces the connection itself, so the hub sees it before any line.
            if hub
                .send(HubCommand::Connect {
                    session,
                    connection,
                })
                .await
                .is_ok()
            {
                read_loop(stream, session, hub, max_line, partial_line_timeout, gate).await;
            }
        })
        .detach();
}

/// Refuses a connection cleanly: one French error line if the socket takes it at once, then the
/// close. Logged as a security event with the bare address.
fn refuse(stream: async_net::TcpStream, peer: SocketAddr, refusal: Refusal) {
    let reason = match refusal {
        Refusal::NotAllowed => RejectReason::NotAllowed,
        Refusal::TooMany => RejectReason::TooMany,
        Refusal::Rate => RejectReason::Rate,
        Refusal::ServerFull => RejectReason::ServerFull,
    };
    audit(&SecurityEvent::ConnRejected {
        ip: peer.ip(),
        reason,
    });
    let mut line = JsonLine::new("error");
    line.push_str("message", refusal.text())
        .push_str("error", refusal.text());
    let stream: Arc<Async<std::net::TcpStream>> = stream.into();
    // Non-blocking: a refused client gets what fits in its socket buffer, never a wait.
    let _ = stream.get_ref().write(&line.finish());
    let _ = stream.get_ref().shutdown(std::net::Shutdown::Both);
}
