//! The control socket: a local UNIX socket with kernel-checked credentials, never a TCP port
//! (docs/ADMIN.md). It is one front end of the operator's vocabulary (`crate::control`): each
//! request line is handed to the [`Desk`](crate::control::Desk).
//!
//! - [`wire`]: the versioned JSON lines both ends speak;
//! - [`socket`]: the server's end (stale file, mode, group, connections);
//! - [`peer`]: who is connected (SO_PEERCRED) and whether they may administer;
//! - [`client`]: the operator's end (`classcord admin`, `user`, `backup`): finding the socket of
//!   the right server, sending a request, a backup's file descriptor.

pub mod client;
pub mod peer;
pub mod socket;
pub mod wire;

use std::path::{Path, PathBuf};

use crate::config::Config;

/// The socket's file name.
pub const SOCKET_NAME: &str = "admin.sock";

/// Where the packaged service's socket is (`RuntimeDirectory=classcord`).
pub const SYSTEM_SOCKET: &str = "/run/classcord/admin.sock";

/// Where the server puts its socket: `[admin] socket`, else `$RUNTIME_DIRECTORY/admin.sock`
/// under systemd, else `<data dir>/admin.sock`.
pub fn socket_path(config: &Config) -> PathBuf {
    if let Some(path) = &config.admin.socket {
        return path.clone();
    }
    runtime_directory()
        .map(|dir| dir.join(SOCKET_NAME))
        .unwrap_or_else(|| config.data_dir.join(SOCKET_NAME))
}

fn runtime_directory() -> Option<PathBuf> {
    let dirs = std::env::var_os("RUNTIME_DIRECTORY")?;
    let first = dirs.to_str()?.split(':').next()?.trim();
    (!first.is_empty()).then(|| Path::new(first).to_path_buf())
}
