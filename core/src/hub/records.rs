//! What the hub asks the store to keep or load, and what it gets back. The hub decides (ids,
//! bounds, who may read what); the shell's store thread only writes and reads these records.
//!
//! - [`ChatRecord`]: one relayed chat line as kept for history, export and deferred delivery;
//! - [`StoreRequest`]: the hub's side of the store queue ([`crate::hub::Effect::Store`]);
//! - [`Restored`]: what the store hands the hub at start-up.

use alloc::string::String;
use alloc::vec::Vec;

use super::SessionId;

/// Who wrote a chat line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderKind {
    Guest,
    Account,
}

/// Where a chat line went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A channel: its folded key and its display name.
    Channel { key: String, display: String },
    /// A private message to `to` (display name). `conversation` is set when both ends are
    /// accounts: the key of their conversation, which `history` with `with` reads.
    Private {
        to: String,
        to_key: String,
        conversation: Option<String>,
    },
}

/// One chat line as stored (docs/PROTOCOL.md §3.9 `history` items, §4.1 ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRecord {
    /// The wire `id`: unique, increasing, never reused after a restart.
    pub id: u64,
    pub unix_micros: u64,
    /// Local time as sent on the wire (`YYYY-MM-DDTHH:MM:SS.ffffff`).
    pub timestamp: String,
    pub from: String,
    /// Folded sender name (bounds on deferred messages are per sender).
    pub from_key: String,
    pub kind: SenderKind,
    pub destination: Destination,
    pub content: String,
}

/// The key of the private conversation between two accounts (order-independent).
pub fn conversation_key(a_key: &str, b_key: &str) -> String {
    let (first, second) = if a_key <= b_key {
        (a_key, b_key)
    } else {
        (b_key, a_key)
    };
    let mut key = String::with_capacity(first.len() + second.len() + 1);
    key.push_str(first);
    key.push('\u{0}');
    key.push_str(second);
    key
}

/// What one `history` request reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub scope: HistoryScope,
    /// At most this many records, the newest ones before `before`, returned oldest first.
    pub limit: u32,
    pub before: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryScope {
    Channel {
        key: String,
        display: String,
    },
    /// The requester's conversation with the account `with` (display name).
    Conversation {
        key: String,
        with: String,
    },
}

/// The hub's requests to the store. Writes are applied in order, grouped into commits; loads are
/// answered with [`crate::hub::Hub::history_loaded`] or [`crate::hub::Hub::deferred_loaded`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreRequest {
    /// Keep a relayed chat line (history, export).
    Keep(ChatRecord),
    /// Keep a private line for an account with no open session, and queue it for delivery at its
    /// next login.
    Defer(ChatRecord),
    /// Deferred lines up to `up_to` (included) were delivered to `account` (folded): forget them.
    Delivered { account: String, up_to: u64 },
    /// Ids below `until` may have been handed out: a restart must start at `until` or later.
    ReserveIds { until: u64 },
    /// An account joined or left a channel: it rejoins its channels at its next login.
    Membership {
        account: String,
        channel_key: String,
        channel_display: String,
        joined: bool,
    },
    /// A channel was closed or reopened by an administrator.
    ChannelClosed {
        key: String,
        display: String,
        closed: bool,
    },
    /// A channel was created (kept when empty) or deleted by an administrator.
    ChannelCreated {
        key: String,
        display: String,
        created: bool,
    },
    /// Slow mode set in a channel (`secs` > 0) or lifted (0), kept with the channel.
    SlowMode {
        key: String,
        display: String,
        secs: u32,
    },
    LoadHistory {
        session: SessionId,
        page: HistoryPage,
    },
    /// The deferred lines of `account` (folded), oldest first.
    LoadDeferred { session: SessionId, account: String },
}

/// What the store hands the hub at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// Display names of the registered accounts.
    pub accounts: Vec<String>,
    /// The first id to hand out (above every id stored or reserved).
    pub next_message_id: u64,
    /// Deferred lines waiting: (recipient key, sender key), one entry per line.
    pub deferred: Vec<(String, String)>,
    /// Display names of the channels an administrator closed.
    pub closed_channels: Vec<String>,
    /// Display names of the channels an administrator created (kept when empty).
    pub created_channels: Vec<String>,
    /// (account key, channel display) for every saved membership.
    pub memberships: Vec<(String, String)>,
    /// (channel display, seconds) for every channel in slow mode.
    pub slow_channels: Vec<(String, u32)>,
}

impl Restored {
    /// Nothing stored yet but these accounts (tests, a fresh database).
    pub fn with_accounts<I: IntoIterator<Item = S>, S: Into<String>>(accounts: I) -> Restored {
        Restored {
            accounts: accounts.into_iter().map(Into::into).collect(),
            next_message_id: 1,
            ..Restored::default()
        }
    }
}
