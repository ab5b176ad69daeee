//! ClassCord: a chat server appliance for school networks, wire-compatible with the Java chat
//! clients students write (the wire contract is docs/PROTOCOL.md: TCP port 12345, one JSON
//! object per line).
//!
//! # Layout
//! - `classcord_core` (the `core/` crate): framing, typed messages and the chat hub. Every protocol
//!   decision lives there, without I/O; this crate is the shell around it.
//! - [`cli`]: the `classcord` command, one file per subcommand.
//! - [`config`]: the TOML file and flags, validated into a [`config::Config`].
//! - [`server`]: `serve()`: the parts started in order, wired together, stopped in order.
//! - [`net`]: the accept loop, per-connection reader and writer tasks, the hub task.
//! - [`accounts`]: password checks and registrations off the executor.
//! - [`store`]: the redb database (accounts) and argon2id hashing.
//! - [`security`]: defences that need the peer's address (allowlist, connection caps, password
//!   attempts).
//! - [`logging`]: console or syslog output, and the stable security event lines.
//! - [`metrics`]: counters and gauges, Prometheus text for node_exporter.
//! - [`clock`]: wall-clock and local time for the hub.
//! - [`systemd`]: readiness, watchdog and socket activation under systemd.
//! - [`control`]: what an operator may ask of the running server (one vocabulary for every front
//!   end) and the desk that carries it out.
//! - [`admin`]: the local control socket, both ends.
//! - [`console`]: `classcord admin`, one command or the interactive console.
//! - [`chat`]: `classcord chat`, the terminal chat client (a second implementation of the
//!   protocol, used by the tests).

pub mod accounts;
pub mod admin;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod control;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod security;
pub mod server;
pub mod store;
pub mod systemd;
pub mod web;
