//! The backlog writer task of one connection: it exists only while the connection's socket is
//! full, writes what the hub queued behind it (see `outbox`) as the socket drains, then ends.

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;

use smol::Async;

use super::outbox::{Backlog, Next};

/// A connection's socket, shared by its reader, the hub and (while the socket is full) its writer.
pub type Stream = Arc<Async<TcpStream>>;

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
                if write_all(&stream, &buffer, &backlog).await.is_err() {
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

async fn write_all(
    stream: &Async<TcpStream>,
    mut bytes: &[u8],
    backlog: &Backlog,
) -> io::Result<()> {
    while !bytes.is_empty() {
        let written = stream.write_with(|socket| (&*socket).write(bytes)).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        // The hub watches this to tell a slow reader (progressing) from a stalled one.
        backlog.wrote(written);
        bytes = &bytes[written..];
    }
    Ok(())
}
