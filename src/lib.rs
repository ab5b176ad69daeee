//! ClassCord: a chat server appliance for school networks, wire-compatible with the Java chat
//! clients students write (see `PROTOCOL.md` in the shared docs: TCP port 12345, one JSON object
//! per line).
//!
//! # Layout
//! - `classcord_core` (the `core/` crate): framing, typed messages and the chat hub. Every protocol
//!   decision lives there, without I/O; this crate is the shell around it.
//! - [`cli`]: the `classcord` command, one file per subcommand.
//! - [`config`]: the TOML file and flags, validated into a [`config::Config`].
//! - [`net`]: listeners, per-connection reader and writer tasks, the hub task, shutdown.
//! - [`accounts`]: password checks and registrations off the executor.
//! - [`store`]: the redb database (accounts) and argon2id hashing.
//! - [`security`]: defences that need the peer's address (allowlist, connection caps, password
//!   attempts).
//! - [`logging`]: console or syslog output, and the stable security event lines.
//! - [`metrics`]: counters and gauges, Prometheus text for node_exporter.
//! - [`clock`]: wall-clock and local time for the hub.
//! - [`systemd`]: readiness, watchdog and socket activation under systemd.
//! - [`admin`]: the local control socket and the `classcord admin` console.
//! - [`chat`]: `classcord chat`, the terminal chat client (a second implementation of the
//!   protocol, used by the tests).

pub mod accounts;
pub mod admin;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod config;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod security;
pub mod store;
pub mod systemd;
