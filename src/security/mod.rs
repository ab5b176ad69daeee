//! Defences that need the peer's address, so they live in the shell (the hub never sees
//! addresses): who may connect at all ([`access`]: allowlist, per-address caps and rates, the
//! server's total), and how often an account or an address may try a password ([`attempts`]).
//! Per-connection limits (line rate, invalid lines, identify deadline) are decided in
//! `core::hub::limits`. One address may be a whole class (NAT): per address, only what no class
//! produces is counted, and crossing it is a verdict (`BRUTE_FORCE`, `CONN_FLOOD`).
//! Every refusal is a security event (see `logging`) and, where a client can read it, a French
//! message.

pub mod access;
pub mod attempts;
pub mod cidr;

pub use access::{
    AccessGuard, AccessSettings, Admitted, BannedNet, Refusal, RefusalLine, RefusalNote,
};
pub use attempts::{AttemptGuard, AttemptSettings, BruteForceReason, Report, Verdict};
pub use cidr::Cidr;
