//! The operator's side of the control socket: finding the socket of the right server, sending a
//! request (with a file descriptor for `backup`) and reading its reply.

use std::fmt;
use std::io::{self, BufRead, BufReader, IoSlice, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use super::wire::{request_line, Reply};
use super::{SOCKET_NAME, SYSTEM_SOCKET};
use crate::control::Request;
use crate::store::DEFAULT_DATA_DIR;

/// How long a reply may take (a backup of a large database is the slowest).
const REPLY_TIMEOUT: Duration = Duration::from_secs(600);

/// While following a trace: how often a quiet connection lets the console look at Ctrl-C.
const TRACE_POLL: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub enum ClientError {
    /// No socket answered; the paths tried.
    NoServer(Vec<PathBuf>),
    /// The socket exists but could not be used (permissions...).
    Connect { path: PathBuf, source: io::Error },
    /// The connection failed mid-way.
    Io(io::Error),
    /// The server answered something that is not a reply.
    BadReply(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::NoServer(paths) => {
                let tried: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "aucun serveur ClassCord ne répond (sockets essayés : {}) : le serveur \
                     tourne-t-il ? Sinon indiquez --data DOSSIER ou --socket CHEMIN",
                    tried.join(", ")
                )
            }
            ClientError::Connect { path, source }
                if source.kind() == io::ErrorKind::PermissionDenied =>
            {
                write!(
                    f,
                    "accès refusé au socket {} : lancez la commande en root (sudo), sous \
                     l'utilisateur du serveur, ou en membre du groupe d'administration \
                     (classcord-admin par défaut)",
                    path.display()
                )
            }
            ClientError::Connect { path, source } => {
                write!(f, "connexion impossible à {} : {source}", path.display())
            }
            ClientError::Io(error) => write!(f, "connexion au serveur interrompue : {error}"),
            ClientError::BadReply(line) => write!(f, "réponse illisible du serveur : {line}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Where to look for the socket, in order: `--socket`, else the configuration's `[admin]
/// socket`, `<data>/admin.sock`, the packaged service's socket, `./classcord-data/admin.sock`.
pub fn candidates(
    socket: Option<&Path>,
    data: Option<&Path>,
    configured: Option<&Path>,
) -> Vec<PathBuf> {
    if let Some(socket) = socket {
        return vec![socket.to_owned()];
    }
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut push = |path: PathBuf| {
        if !paths.contains(&path) {
            paths.push(path);
        }
    };
    if let Some(configured) = configured {
        push(configured.to_owned());
    }
    if let Some(data) = data {
        push(data.join(SOCKET_NAME));
    }
    push(PathBuf::from(SYSTEM_SOCKET));
    if data.is_none() {
        push(Path::new(DEFAULT_DATA_DIR).join(SOCKET_NAME));
    }
    paths
}

/// A connection to the server's control socket.
pub struct AdminClient {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
    pub path: PathBuf,
}

impl AdminClient {
    pub fn connect(path: &Path) -> Result<AdminClient, ClientError> {
        let connect_error = |source| ClientError::Connect {
            path: path.to_owned(),
            source,
        };
        let stream = UnixStream::connect(path).map_err(connect_error)?;
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(connect_error)?;
        let reader = BufReader::new(stream.try_clone().map_err(connect_error)?);
        Ok(AdminClient {
            stream,
            reader,
            path: path.to_owned(),
        })
    }

    /// The first socket of `paths` that accepts a connection. A socket that exists but refuses
    /// access is reported as such (not skipped): that is the operator's real problem.
    pub fn locate(paths: &[PathBuf]) -> Result<AdminClient, ClientError> {
        for path in paths {
            match AdminClient::connect(path) {
                Ok(client) => return Ok(client),
                Err(ClientError::Connect { source, .. })
                    if matches!(
                        source.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                    ) => {}
                Err(error) => return Err(error),
            }
        }
        Err(ClientError::NoServer(paths.to_vec()))
    }

    /// Sends a request and reads its reply.
    pub fn request(&mut self, request: &Request) -> Result<Reply, ClientError> {
        let written = self.stream.write_all(request_line(request).as_bytes());
        self.after_write(written)
    }

    /// A server that refuses this user answers at once and closes, maybe before the request is
    /// written: its refusal is still there to read.
    fn after_write(&mut self, written: io::Result<()>) -> Result<Reply, ClientError> {
        match written {
            Ok(()) => self.reply(),
            Err(error) => self.reply().map_err(|_| ClientError::Io(error)),
        }
    }

    /// Sends a request with `file` passed along (SCM_RIGHTS), and reads its reply.
    pub fn request_with_file(
        &mut self,
        request: &Request,
        file: &impl AsFd,
    ) -> Result<Reply, ClientError> {
        let line = request_line(request);
        let fds = [file.as_fd().as_raw_fd()];
        let controls = [ControlMessage::ScmRights(&fds)];
        let iov = [IoSlice::new(line.as_bytes())];
        let written = sendmsg::<()>(
            self.stream.as_raw_fd(),
            &iov,
            &controls,
            MsgFlags::empty(),
            None,
        )
        .map_err(io::Error::from)
        .and_then(|sent| match line.as_bytes().get(sent..) {
            Some(rest) if !rest.is_empty() => self.stream.write_all(rest),
            _ => Ok(()),
        });
        self.after_write(written)
    }

    fn reply(&mut self) -> Result<Reply, ClientError> {
        let mut line = String::new();
        let read = self.reader.read_line(&mut line).map_err(ClientError::Io)?;
        if read == 0 {
            return Err(ClientError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "le serveur a fermé la connexion",
            )));
        }
        serde_json::from_str(line.trim_end()).map_err(|_| ClientError::BadReply(line))
    }

    /// After the `ok` reply to a `trace` request: each event line (JSON, with its French
    /// `text`) handed to `on_event` until the `end` event. Once `stop` is set (Ctrl-C), one line
    /// asks the server to stop; the end still comes.
    pub fn follow_trace(
        &mut self,
        stop: &std::sync::atomic::AtomicBool,
        mut on_event: impl FnMut(&serde_json::Value),
    ) -> Result<(), ClientError> {
        use std::sync::atomic::Ordering;
        // Short reads, so that Ctrl-C is seen while the traced connection is quiet.
        self.stream
            .set_read_timeout(Some(TRACE_POLL))
            .map_err(ClientError::Io)?;
        let mut asked_stop = false;
        let mut line: Vec<u8> = Vec::new();
        let ended = loop {
            if !asked_stop && stop.load(Ordering::Relaxed) {
                asked_stop = true;
                self.stream.write_all(b"\n").map_err(ClientError::Io)?;
            }
            match self.reader.read_until(b'\n', &mut line) {
                Ok(0) => {
                    break Err(ClientError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "le serveur a fermé la connexion",
                    )))
                }
                Ok(_) if line.ends_with(b"\n") => {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    line.clear();
                    let event: serde_json::Value = serde_json::from_str(text.trim_end())
                        .map_err(|_| ClientError::BadReply(text.clone()))?;
                    on_event(&event);
                    if event["trace"]["kind"] == "end" {
                        break Ok(());
                    }
                }
                Ok(_) => {}
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(error) => break Err(ClientError::Io(error)),
            }
        };
        let restored = self.stream.set_read_timeout(Some(REPLY_TIMEOUT));
        ended?;
        restored.map_err(ClientError::Io)
    }

    /// The database the server uses (from `info`); `Err`: the server refused (access).
    pub fn database(&mut self) -> Result<Option<PathBuf>, String> {
        let reply = self.request(&Request::Info).map_err(|e| e.to_string())?;
        if !reply.ok {
            return Err(reply.error.unwrap_or_default());
        }
        Ok(reply
            .data
            .and_then(|data| data.get("database")?.as_str().map(PathBuf::from)))
    }
}

/// The running server whose database is `database`, if one answers on one of `paths`: the
/// commands that change the database go through it then (the server holds the file open).
/// `Err`: no server matched, but one refused this user (its reason, to show if the database
/// then turns out to be in use).
pub fn server_for(database: &Path, paths: &[PathBuf]) -> Result<Option<AdminClient>, String> {
    let Ok(wanted) = std::fs::canonicalize(database) else {
        return Ok(None);
    };
    let mut refusal = None;
    for path in paths {
        let mut client = match AdminClient::connect(path) {
            Ok(client) => client,
            Err(error @ ClientError::Connect { .. })
                if matches!(&error, ClientError::Connect { source, .. }
                    if source.kind() == io::ErrorKind::PermissionDenied) =>
            {
                refusal = Some(error.to_string());
                continue;
            }
            Err(_) => continue,
        };
        match client.database() {
            Ok(theirs) => {
                let theirs = theirs.and_then(|db| std::fs::canonicalize(db).ok());
                if theirs.as_deref() == Some(wanted.as_path()) {
                    return Ok(Some(client));
                }
            }
            Err(error) => refusal = Some(error),
        }
    }
    refusal.map_or(Ok(None), Err)
}

/// A backup through the server: the file is created here (it belongs to the operator, wherever
/// the server may write), passed to the server which copies its snapshot into it, then verified
/// and renamed to `dest`.
pub fn backup_via(
    client: &mut AdminClient,
    dest: &Path,
) -> Result<crate::store::backup::Verified, String> {
    use crate::store::backup::{create_temp, finish, Copied};
    let database = client.database()?;
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if database.as_deref().is_some_and(|db| same(db, dest)) {
        return Err(format!(
            "{} est la base elle-même : choisissez un autre fichier ou un dossier",
            dest.display()
        ));
    }
    let (temp, file) = create_temp(dest).map_err(|e| e.to_string())?;
    let reply = client.request_with_file(&Request::Backup, &file);
    drop(file);
    let outcome = match reply {
        Ok(reply) if reply.ok => reply
            .data
            .and_then(|data| serde_json::from_value::<Copied>(data).ok())
            .ok_or_else(|| "réponse du serveur incomplète".to_owned()),
        Ok(reply) => Err(reply.error.unwrap_or_default()),
        Err(error) => Err(error.to_string()),
    };
    match outcome {
        Ok(copied) => finish(&temp, dest, &copied).map_err(|e| e.to_string()),
        Err(error) => {
            let _ = std::fs::remove_file(&temp);
            Err(error)
        }
    }
}
