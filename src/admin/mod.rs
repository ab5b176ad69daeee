//! Administration: a local control socket with kernel-checked credentials, never a TCP port, and
//! the `classcord admin` console that talks to it (docs/ADMIN.md).
//!
//! - [`protocol`]: the versioned JSON lines both sides speak;
//! - [`server`]: the socket (stale file, mode, group) and its connections;
//! - [`peer`]: who is connected (SO_PEERCRED) and whether they may administer;
//! - [`context`]: what requests need (the hub task, the store thread, the configuration);
//! - [`dispatch`]: each request carried out: chat state through the hub task
//!   (`net::hub_task::admin`), backups through the store thread; [`accounts`], [`reload`] and
//!   [`shutdown`] for the account commands, `reload` and the shutdown countdown;
//! - [`bans`], [`stats`], [`report`], [`audit`]: bans, the metrics summary, French tables,
//!   security lines;
//! - [`client`], [`commands`], [`console`]: the operator's side (one-shot and interactive).

pub mod accounts;
pub mod audit;
pub mod bans;
pub mod client;
pub mod commands;
pub mod console;
pub mod context;
pub mod dispatch;
pub mod peer;
pub mod protocol;
pub mod reload;
pub mod report;
pub mod server;
pub mod shutdown;
pub mod stats;

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
