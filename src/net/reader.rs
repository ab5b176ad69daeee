//! The reader task of one accepted connection: it announces the connection to the hub, then
//! bytes -> lines -> typed requests -> hub, in order, then a `Disconnect` once the peer is gone.
//! How bytes become lines is the connection's [`Framing`]: newline-delimited JSON for the
//! students' TCP clients ([`LineFraming`]), WebSocket frames for browsers (`crate::web`).

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use classcord_core::hub::{Inbound, SessionId};
use futures_lite::future;
use smol::channel::{Sender, TrySendError};
use smol::Timer;

use super::flood::ReadGate;
pub use super::framing::{Framing, LineFraming, ReadLines, Stop};
use super::hub_task::{Connection, HubCommand, Transport};
use super::writer::Stream;
use crate::logging::{audit, bare_ip, SecurityEvent};
use crate::security::Admitted;
use std::sync::Arc;

/// Read size; one buffer for the network thread, so an idle connection holds none.
const READ_CHUNK: usize = 64 * 1024;
/// After an over-long line, how long to keep swallowing input while the error line is written.
const DRAIN_AFTER_CLOSE: Duration = Duration::from_secs(5);

thread_local! {
    static READ_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

enum ReadOutcome {
    Data { filled: bool },
    Again,
    Eof,
    Stopped(Stop),
    Failed(io::Error),
}

/// Everything the reader task of one connection starts with.
pub struct Reader<F> {
    pub stream: Stream,
    pub peer: SocketAddr,
    pub session: SessionId,
    pub hub: Sender<HubCommand>,
    pub framing: F,
    pub transport: Transport,
    pub partial_line_timeout: Option<Duration>,
    /// Closed by the hub while this client floods (see `flood`).
    pub gate: Arc<ReadGate>,
    /// The connection's place under the per-address caps, given back when the task ends.
    pub admitted: Admitted,
}

/// Announces the connection to the hub, then reads until EOF, an error or an over-long line,
/// handing every line to the hub in order; then tells the hub the session is gone.
///
/// One future per connection, kept for the connection's whole life: it is the largest single
/// part of an idle connection's memory. The reader is taken apart before the future is built (an
/// `async fn` would keep its argument and the parts taken out of it side by side), the
/// announcement's state overlaps the reading loop's, and rare waits are boxed.
pub fn read_loop<F: Framing>(reader: Reader<F>) -> impl Future<Output = ()> {
    let Reader {
        stream,
        peer,
        session,
        hub,
        mut framing,
        transport,
        partial_line_timeout,
        gate,
        admitted,
    } = reader;
    async move {
        // Held until the connection is gone: its place under the per-address caps.
        let _admitted = &admitted;
        let connection = Connection {
            stream: stream.clone(),
            peer,
            gate: gate.clone(),
            transport,
        };
        if !to_hub(
            &hub,
            HubCommand::Connect {
                session,
                connection,
            },
        )
        .await
        {
            return; // the hub has stopped: shutting down
        }
        let mut more_waiting = false;
        // When the unfinished line in `splitter` was started (a client sending a byte now and then
        // never finishing its line must not hold the connection for ever).
        let mut partial_since: Option<Instant> = None;
        loop {
            // A read that filled the whole buffer probably left more behind: read again at once
            // rather than going through the reactor.
            // While the hub holds this client back (it floods), do not read: TCP pushes back on it.
            // The time held back does not count against an unfinished line.
            if gate.wait_open().await && partial_since.is_some() {
                partial_since = Some(Instant::now());
            }
            if !more_waiting {
                let deadline = partial_line_timeout
                    .zip(partial_since)
                    .map(|(limit, since)| since + limit);
                match wait_readable(&stream, deadline).await {
                    Wait::Readable => {}
                    Wait::Closed => break,
                    Wait::TimedOut => {
                        let secs = partial_line_timeout.map_or(0, |limit| limit.as_secs());
                        let command = HubCommand::Lines {
                            session,
                            lines: vec![Inbound::LineTimeout { secs }],
                            texts: gate
                                .traced()
                                .then(|| vec!["(ligne jamais terminée)".to_owned()]),
                        };
                        if !to_hub(&hub, command).await {
                            return;
                        }
                        Box::pin(drain_then_close(&stream)).await;
                        break;
                    }
                }
            }
            let mut lines = ReadLines::new(gate.traced());
            let mut replies = Vec::new();
            let outcome = READ_BUFFER.with(|buffer| {
                let mut buffer = buffer.borrow_mut();
                match stream.get_ref().read(&mut buffer) {
                    Ok(0) => ReadOutcome::Eof,
                    Ok(read) => match framing.feed(&buffer[..read], &mut lines, &mut replies) {
                        Ok(()) => ReadOutcome::Data {
                            filled: read == buffer.len(),
                        },
                        Err(stop) => ReadOutcome::Stopped(stop),
                    },
                    Err(error)
                        if matches!(
                            error.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) =>
                    {
                        ReadOutcome::Again
                    }
                    Err(error) => ReadOutcome::Failed(error),
                }
            });
            let ReadLines { inbound, texts } = lines;
            if !inbound.is_empty()
                && !to_hub(
                    &hub,
                    HubCommand::Lines {
                        session,
                        lines: inbound,
                        texts,
                    },
                )
                .await
            {
                return; // the hub has stopped: shutting down
            }
            for bytes in replies {
                if !to_hub(&hub, HubCommand::Raw { session, bytes }).await {
                    return;
                }
            }
            more_waiting = matches!(outcome, ReadOutcome::Data { filled: true });
            partial_since = if framing.buffered() > 0 {
                partial_since.or_else(|| Some(Instant::now()))
            } else {
                None
            };
            match outcome {
                ReadOutcome::Data { .. } | ReadOutcome::Again => {}
                ReadOutcome::Eof => break,
                ReadOutcome::Failed(error) => {
                    log::debug!("[DEBUG] lecture interrompue (#{}) : {error}", session.0);
                    break;
                }
                ReadOutcome::Stopped(Stop::TooLong { limit }) => {
                    let command = HubCommand::Lines {
                        session,
                        lines: vec![Inbound::LineTooLong { limit }],
                        texts: gate
                            .traced()
                            .then(|| vec![format!("(ligne de plus de {limit} octets)")]),
                    };
                    if !to_hub(&hub, command).await {
                        return;
                    }
                    Box::pin(drain_then_close(&stream)).await;
                    break;
                }
                ReadOutcome::Stopped(Stop::Closed) => break,
                ReadOutcome::Stopped(Stop::Protocol { reason, reply }) => {
                    audit(&SecurityEvent::ProtocolError {
                        ip: bare_ip(peer.ip()),
                        reason,
                        conn: session.0,
                    });
                    let command = HubCommand::Raw {
                        session,
                        bytes: reply,
                    };
                    if !to_hub(&hub, command).await {
                        return;
                    }
                    break;
                }
            }
        }
        let _ = to_hub(&hub, HubCommand::Disconnect { session }).await;
    }
}

/// Hands `command` to the hub: true once it is queued, false once the hub has stopped. The
/// channel is bounded but rarely full, so the command goes in at once; only a wait for room is
/// boxed. An inline send future would carry room for a whole command (and its listener) in
/// every connection's reader future, idle or not, for the connection's whole life.
fn to_hub(hub: &Sender<HubCommand>, command: HubCommand) -> impl Future<Output = bool> + '_ {
    let queued = match hub.try_send(command) {
        Ok(()) => Ok(None),
        Err(TrySendError::Full(command)) => Ok(Some(Box::pin(hub.send(command)))),
        Err(TrySendError::Closed(_)) => Err(()),
    };
    async move {
        match queued {
            Ok(None) => true,
            Ok(Some(send)) => send.await.is_ok(),
            Err(()) => false,
        }
    }
}

enum Wait {
    Readable,
    Closed,
    TimedOut,
}

/// Waits until the socket is readable, or until `deadline` passes. The timer is boxed: it is
/// only needed while a line is unfinished, and an idle connection's future stays small.
async fn wait_readable(stream: &Stream, deadline: Option<Instant>) -> Wait {
    match deadline {
        None => readable(stream).await,
        Some(deadline) => {
            Box::pin(future::or(readable(stream), async {
                Timer::at(deadline).await;
                Wait::TimedOut
            }))
            .await
        }
    }
}

/// Waits for the socket to be readable. `poll_readable` keeps the waker in the socket's own
/// reactor entry, while `readable()` takes a slot in a per-socket list of wakers, allocated on
/// the first wait and kept for the connection's life. Only this task waits to read.
async fn readable(stream: &Stream) -> Wait {
    match future::poll_fn(|cx| stream.poll_readable(cx)).await {
        Ok(()) => Wait::Readable,
        Err(_) => Wait::Closed,
    }
}

/// Keeps reading (and discarding) for a moment, so that closing does not reset the connection
/// before the client has read the error line the hub sent.
async fn drain_then_close(stream: &Stream) {
    future::or(discard_until_eof(stream), async {
        Timer::after(DRAIN_AFTER_CLOSE).await;
    })
    .await;
}

async fn discard_until_eof(stream: &Stream) {
    loop {
        if let Wait::Closed = readable(stream).await {
            return;
        }
        let done =
            READ_BUFFER.with(
                |buffer| match stream.get_ref().read(&mut buffer.borrow_mut()) {
                    Ok(0) => true,
                    Ok(_) => false,
                    Err(error) => !matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ),
                },
            );
        if done {
            return;
        }
    }
}
