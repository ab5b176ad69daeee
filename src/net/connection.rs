//! One accepted TCP connection: its reader task (bytes -> lines -> typed requests -> hub), and,
//! only while its socket is full, a backlog writer task (see `outbox`).

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use classcord_core::frame::{decode_line, LineSplitter, LineTooLong};
use classcord_core::hub::{Inbound, SessionId};
use classcord_core::message::parse_request;
use futures_lite::future;
use smol::channel::Sender;
use smol::{Async, Timer};

use super::hub_task::HubCommand;
use super::outbox::{Backlog, Next};

pub type Stream = Arc<Async<TcpStream>>;

/// Read size; one buffer per executor thread, so an idle connection holds none.
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
    TooLong(LineTooLong),
    Failed(io::Error),
}

fn to_inbound(line: &[u8]) -> Inbound {
    match parse_request(&decode_line(line)) {
        Ok(request) => Inbound::Request(request),
        Err(error) => Inbound::Invalid(error),
    }
}

/// Reads until EOF, an error or an over-long line, handing every line to the hub in order; then
/// tells the hub the session is gone.
pub async fn read_loop(
    stream: Stream,
    session: SessionId,
    hub: Sender<HubCommand>,
    max_line: usize,
) {
    let mut splitter = LineSplitter::new(max_line);
    let mut more_waiting = false;
    loop {
        // A read that filled the whole buffer probably left more behind: read again at once
        // rather than going through the reactor.
        if !more_waiting && stream.readable().await.is_err() {
            break;
        }
        let mut lines = Vec::new();
        let outcome = READ_BUFFER.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            match stream.get_ref().read(&mut buffer) {
                Ok(0) => ReadOutcome::Eof,
                Ok(read) => {
                    match splitter.feed(&buffer[..read], |line| lines.push(to_inbound(line))) {
                        Ok(()) => ReadOutcome::Data {
                            filled: read == buffer.len(),
                        },
                        Err(too_long) => ReadOutcome::TooLong(too_long),
                    }
                }
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
        if !lines.is_empty()
            && hub
                .send(HubCommand::Lines { session, lines })
                .await
                .is_err()
        {
            return; // the hub has stopped: shutting down
        }
        more_waiting = matches!(outcome, ReadOutcome::Data { filled: true });
        match outcome {
            ReadOutcome::Data { .. } | ReadOutcome::Again => {}
            ReadOutcome::Eof => break,
            ReadOutcome::Failed(error) => {
                log::debug!("[DEBUG] lecture interrompue (#{}) : {error}", session.0);
                break;
            }
            ReadOutcome::TooLong(too_long) => {
                let command = HubCommand::Lines {
                    session,
                    lines: vec![Inbound::LineTooLong {
                        limit: too_long.limit,
                    }],
                };
                if hub.send(command).await.is_err() {
                    return;
                }
                // Keep reading (and discarding) so the close does not reset the connection before
                // the client has the error line.
                future::or(discard_until_eof(&stream), async {
                    Timer::after(DRAIN_AFTER_CLOSE).await;
                })
                .await;
                break;
            }
        }
    }
    let _ = hub.send(HubCommand::Disconnect { session }).await;
}

async fn discard_until_eof(stream: &Stream) {
    loop {
        if stream.readable().await.is_err() {
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

/// How a backlog writer ended.
#[derive(Debug, PartialEq, Eq)]
pub enum WriterEnd {
    /// Backlog written; the hub writes directly again.
    Idle,
    /// Backlog written and the connection closed by the server.
    Drained,
    /// Cut off (queue overflow) before finishing.
    Aborted,
    /// The socket failed (peer gone).
    Failed,
}

/// Writes a connection's backlog as its socket drains, then ends (see [`Backlog`]).
pub async fn write_backlog(stream: Stream, backlog: Arc<Backlog>) -> WriterEnd {
    let mut buffer = Vec::new();
    loop {
        match backlog.next(&mut buffer) {
            Next::Write => {
                if write_all(&stream, &buffer).await.is_err() {
                    backlog.fail();
                    let _ = stream.get_ref().shutdown(Shutdown::Both);
                    return WriterEnd::Failed;
                }
                buffer = Vec::new();
            }
            Next::End => return WriterEnd::Idle,
            Next::ShutdownWrite => {
                let _ = stream.get_ref().shutdown(Shutdown::Write);
                return WriterEnd::Drained;
            }
            Next::Abort => {
                let _ = stream.get_ref().shutdown(Shutdown::Both);
                return WriterEnd::Aborted;
            }
        }
    }
}

async fn write_all(stream: &Async<TcpStream>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let written = stream.write_with(|socket| (&*socket).write(bytes)).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[written..];
    }
    Ok(())
}
