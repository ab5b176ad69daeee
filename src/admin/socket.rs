//! The control socket, the server's end: bound at start (a stale file left by a crash is removed, a live server
//! is not disturbed), mode 0660 and the admin group; each connection's credentials are checked
//! before anything is read, then it is served line by line until it closes. Requests are read
//! with `recvmsg` so that a file descriptor sent along (backup) is received.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_lite::AsyncWriteExt;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use smol::channel::Receiver;
use smol::Async;

use super::peer;
use super::wire::{parse_request, Reply, MAX_LINE};
use crate::control::{audit, Desk, Operator, Request};

/// Why the socket could not be set up (French: the operator reads it).
#[derive(Debug)]
pub enum SocketError {
    /// Another server answers on this socket.
    InUse(PathBuf),
    /// Something that is not a socket is in the way.
    NotASocket(PathBuf),
    Io {
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketError::InUse(path) => write!(
                f,
                "un autre serveur ClassCord répond déjà sur le socket d'administration {} : \
                 arrêtez-le, ou donnez à ce serveur un autre dossier de données ou un autre \
                 [admin] socket",
                path.display()
            ),
            SocketError::NotASocket(path) => write!(
                f,
                "{} existe et n'est pas un socket : déplacez ce fichier ou choisissez un autre \
                 [admin] socket",
                path.display()
            ),
            SocketError::Io { path, source } => write!(
                f,
                "socket d'administration {} impossible : {source}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for SocketError {}

/// The bound socket; dropping it removes the file.
pub struct AdminSocket {
    listener: Option<UnixListener>,
    path: PathBuf,
}

impl Drop for AdminSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl AdminSocket {
    /// Binds `path`: removes a stale socket (nobody answers), refuses if a server answers.
    pub fn bind(path: &Path, group: &str) -> Result<AdminSocket, SocketError> {
        let io_error = |source| SocketError::Io {
            path: path.to_owned(),
            source,
        };
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(SocketError::NotASocket(path.to_owned()));
            }
            match UnixStream::connect(path) {
                Ok(_) => return Err(SocketError::InUse(path.to_owned())),
                Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                    log::info!(
                        "[ADMIN] ancien socket {} retiré (aucun serveur ne l'écoutait)",
                        path.display()
                    );
                    std::fs::remove_file(path).map_err(io_error)?;
                }
                Err(error) => return Err(io_error(error)),
            }
        }
        let listener = UnixListener::bind(path).map_err(io_error)?;
        let socket = AdminSocket {
            listener: Some(listener),
            path: path.to_owned(),
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io_error)?;
        if let Some(gid) = peer::group_id(group) {
            if let Err(error) = nix::unistd::chown(path, None, Some(gid)) {
                log::warn!(
                    "[ADMIN] le socket {} n'a pas pu être donné au groupe {group} ({error}) : \
                     seuls root et l'utilisateur du serveur peuvent administrer",
                    path.display()
                );
            }
        }
        log::info!("[DEMARRAGE] socket d'administration : {}", path.display());
        Ok(socket)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts until `stop` closes (the file is removed when `self` is dropped). Members of
    /// `group` may administer, besides root and the server's own user.
    pub async fn serve(
        mut self,
        desk: Arc<Desk>,
        group: String,
        executor: Arc<smol::Executor<'static>>,
        stop: Receiver<()>,
    ) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let listener = match Async::new(listener) {
            Ok(listener) => listener,
            Err(error) => {
                log::error!("[ADMIN] socket d'administration inutilisable : {error}");
                return;
            }
        };
        loop {
            let accepted =
                futures_lite::future::or(async { Some(listener.accept().await) }, async {
                    let _ = stop.recv().await;
                    None
                })
                .await;
            match accepted {
                None => return,
                Some(Ok((stream, _))) => {
                    executor
                        .spawn(connection(stream, desk.clone(), group.clone()))
                        .detach();
                }
                Some(Err(error)) => {
                    log::warn!("[ADMIN] accept a échoué : {error}");
                    smol::Timer::after(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// One console: credentials first, then one reply per request line.
async fn connection(mut stream: Async<UnixStream>, desk: Arc<Desk>, group: String) {
    let cred = match peer::credentials(stream.get_ref()) {
        Ok(cred) => cred,
        Err(error) => {
            log::warn!("[ADMIN] identité du client inconnue ({error}) : connexion fermée");
            return;
        }
    };
    let allowed = {
        let group = group.clone();
        smol::unblock(move || peer::allowed(&cred, &group)).await
    };
    if !allowed {
        audit::refused(cred.uid, cred.pid);
        let refusal = Reply::error(format!(
            "Accès refusé : seuls root, l'utilisateur du serveur et les membres du groupe {} \
             peuvent administrer ClassCord (sudo usermod -aG {} VOTRE_NOM, puis reconnectez-vous).",
            group, group
        ));
        let _ = stream.write_all(refusal.to_line().as_bytes()).await;
        return;
    }
    log::debug!(
        "[ADMIN] console ouverte (uid {}, pid {})",
        cred.uid,
        cred.pid
    );
    let operator = Operator::Uid(cred.uid);
    let mut pending: Vec<u8> = Vec::new();
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let reply = match parse_request(text) {
                Ok(request @ Request::Trace { .. }) => {
                    fds.clear();
                    match desk.trace(request, &operator).await {
                        Ok((answer, trace)) => {
                            let started = Reply::from(Ok(answer)).to_line();
                            if stream.write_all(started.as_bytes()).await.is_err() {
                                return;
                            }
                            match follow(&mut stream, trace, &mut pending, &mut chunk, &mut fds)
                                .await
                            {
                                Followed::Ended => continue,
                                Followed::Gone => return,
                            }
                        }
                        Err(error) => Reply::error(error),
                    }
                }
                Ok(request) => {
                    let file = match request {
                        Request::Backup => fds.pop().map(std::fs::File::from),
                        _ => None,
                    };
                    Reply::from(desk.run(request, &operator, file).await)
                }
                Err(error) => Reply::error(error),
            };
            fds.clear();
            if stream.write_all(reply.to_line().as_bytes()).await.is_err() {
                return;
            }
        }
        if pending.len() > MAX_LINE {
            let reply = Reply::error("Requête trop longue : connexion fermée.");
            let _ = stream.write_all(reply.to_line().as_bytes()).await;
            return;
        }
        match receive(&stream, &mut chunk, &mut fds).await {
            Ok(0) | Err(_) => return,
            Ok(read) => pending.extend_from_slice(&chunk[..read]),
        }
    }
}

/// How following a trace ended.
enum Followed {
    /// Its last event was written: back to one reply per request.
    Ended,
    /// The console closed the connection (or it failed).
    Gone,
}

/// Writes a trace's events as they come (`{"v":1,"trace":{…},"text":"…"}`, the last one of
/// kind `end`). A line from the console meanwhile stops it (docs/ADMIN.md); what follows that
/// line stays for the next request.
async fn follow(
    stream: &mut Async<UnixStream>,
    mut trace: crate::control::trace::TraceStream,
    pending: &mut Vec<u8>,
    chunk: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> Followed {
    enum Next {
        Event(Option<crate::control::trace::TraceEvent>),
        Read(io::Result<usize>),
    }
    loop {
        let next = {
            let reader: &Async<UnixStream> = stream;
            futures_lite::future::or(async { Next::Event(trace.next().await) }, async {
                Next::Read(receive(reader, chunk, fds).await)
            })
            .await
        };
        match next {
            Next::Event(Some(event)) => {
                // What piled up meanwhile goes in the same write.
                let mut end = event.is_end();
                let mut lines = trace_line(&event);
                while !end && lines.len() < 64 * 1024 {
                    let Some(more) = trace.try_next() else { break };
                    end = more.is_end();
                    lines.push_str(&trace_line(&more));
                }
                if stream.write_all(lines.as_bytes()).await.is_err() {
                    return Followed::Gone;
                }
                if end {
                    return Followed::Ended;
                }
            }
            Next::Event(None) => return Followed::Ended,
            Next::Read(Ok(0)) | Next::Read(Err(_)) => return Followed::Gone,
            Next::Read(Ok(read)) => {
                pending.extend_from_slice(&chunk[..read]);
                if let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    pending.drain(..=end);
                    // The stop line: dropping the stream ends the trace (the hub sees it gone
                    // at its next event or tick); the console is told at once.
                    drop(trace);
                    let end = crate::control::trace::TraceEvent {
                        unix_micros: crate::clock::now().unix_micros,
                        conn: None,
                        what: crate::control::trace::TraceWhat::End {
                            reason: crate::control::trace::TraceEnd::Stopped,
                        },
                    };
                    if stream.write_all(trace_line(&end).as_bytes()).await.is_err() {
                        return Followed::Gone;
                    }
                    return Followed::Ended;
                }
            }
        }
    }
}

/// One trace event on the socket: the JSON event, and its French text for the console.
fn trace_line(event: &crate::control::trace::TraceEvent) -> String {
    let value = serde_json::json!({
        "v": super::wire::VERSION,
        "trace": event,
        "text": event.text(),
    });
    let mut line = value.to_string();
    line.push('\n');
    line
}

/// Reads what is there, keeping any file descriptors that came with it.
async fn receive(
    stream: &Async<UnixStream>,
    buffer: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<usize> {
    stream
        .read_with(|socket| {
            let mut space = nix::cmsg_space!([RawFd; 4]);
            let mut iov = [IoSliceMut::new(buffer)];
            let message = recvmsg::<()>(
                socket.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .map_err(io::Error::from)?;
            for control in message.cmsgs().map_err(io::Error::from)? {
                if let ControlMessageOwned::ScmRights(received) = control {
                    for fd in received {
                        // SAFETY: the kernel just gave this process these descriptors; nothing
                        // else owns them.
                        fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                    }
                }
            }
            Ok(message.bytes)
        })
        .await
}
