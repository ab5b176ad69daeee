//! Defences that need the peer's address, so they live in the shell (the hub never sees
//! addresses): who may connect at all ([`access`]: allowlist, per-address caps and rates, the
//! server's total), and how often an address or an account may try a password ([`attempts`]).
//! Per-connection limits (line rate, identify deadline) are decided in `core::hub::limits`.
//! Every refusal is a security event (see `logging`) and, where a client can read it, a French
//! message.

pub mod access;
pub mod attempts;
pub mod cidr;

pub use access::{AccessGuard, AccessSettings, Admitted, BannedNet, Refusal, RefusalNote};
pub use attempts::{AttemptGuard, AttemptSettings, Verdict};
pub use cidr::Cidr;
