//! ClassCord protocol core: everything that decides, nothing that waits.
//!
//! `no_std` + `alloc`: no I/O, no clock, no randomness. The server shell feeds it bytes and the
//! current time and carries out what it returns.
//!
//! # Layout
//! - [`frame`]: line splitting (cap, CRLF, empty lines), UTF-8 / windows-1252 decoding, ASCII-only
//!   JSON line encoding.
//! - [`message`]: typed inbound requests, validation, presence / channel / name normalisation.
//! - [`hub`]: the chat state machine: sessions, guests, names, channels, presence, routing; one
//!   file per concern in `hub/` (its module doc is the map).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod frame;
pub mod hub;
pub mod message;
