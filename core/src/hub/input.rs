//! What the shell hands to the hub: session numbers, the time it read, one decoded line, and the
//! outcome of a password check or registration it carried out.

use alloc::format;
use alloc::string::String;

use crate::message::{Request, RequestError};

/// A connection, numbered by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// Local wall-clock time, broken down by the shell (the core reads no clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalTime {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micros: u32,
}

impl LocalTime {
    /// `YYYY-MM-DDTHH:MM:SS.ffffff`, always six fraction digits (docs/PROTOCOL.md §4.1).
    pub fn iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.micros
        )
    }
}

/// The current time, as the shell read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    pub unix_micros: u64,
    pub local: LocalTime,
}

/// What a reader hands to the hub for one line.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Request(Request),
    Invalid(RequestError),
    /// The line cap was exceeded: answer with an error, then close.
    LineTooLong {
        limit: usize,
    },
    /// A line was started but not finished within `secs` seconds: answer, then close.
    LineTimeout {
        secs: u64,
    },
}

/// The result of an [`Effect::VerifyLogin`] or [`Effect::Register`], fed back by the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// `name` is the account's registered spelling.
    LoggedIn {
        name: String,
    },
    LoginFailed,
    /// Durably committed.
    Registered {
        name: String,
    },
    RegisterTaken,
    /// Storage or hashing failed; the client may retry.
    Unavailable,
    /// Not checked: too many attempts (the shell's limits). `text` is the French reason.
    Refused {
        text: String,
    },
}
