//! The database layout (schema version [`SCHEMA_VERSION`]) and its in-place migrations. Every table
//! is declared here, with the reason for its key; docs/STORAGE.md says the same for operators.
//!
//! | table | key -> value | why |
//! |---|---|---|
//! | `meta` | name -> u64 | `schema_version`, `id_ceiling` (ids below it may have been used) |
//! | `users` | account key -> JSON record | accounts (see `users.rs`) |
//! | `messages` | id -> record | every kept chat line, in wire-id order (export, retention) |
//! | `channel_lines` | (channel key, id) -> () | a channel's history: one range scan per page |
//! | `conversation_lines` | (conversation key, id) -> () | two accounts' private history |
//! | `deferred` | (recipient key, id) -> sender key | private lines waiting for a login |
//! | `memberships` | (account key, channel key) -> channel name | channels rejoined at login |
//! | `closed_channels` | channel key -> channel name | channels an administrator closed |
//! | `created_channels` | channel key -> channel name | channels an administrator created (kept when empty) |
//! | `bans` | `name:<key>` or `ip:<network>` -> JSON record | bans set by the operator (see `bans.rs`) |
//! | `operators` | account key -> account name | accounts granted the dashboard (see `operators.rs`) |
//! | `mutes` | folded name -> JSON record | names the operator muted (see `moderation.rs`) |
//! | `slow_channels` | channel key -> (channel name, seconds) | channels in slow mode |

use redb::{Durability, ReadableTable, TableDefinition};

use super::{Store, StoreError};

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u64 = 2;

pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Account key ([`super::user_key`]) -> JSON record (see `users.rs`).
pub(super) const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
pub(super) const SCHEMA_VERSION_KEY: &str = "schema_version";
/// Ids below this value may have been handed out (see `Hub::reserved_ids_until`).
pub(super) const ID_CEILING_KEY: &str = "id_ceiling";

pub(super) const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
pub(super) const CHANNEL_LINES: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("channel_lines");
pub(super) const CONVERSATION_LINES: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("conversation_lines");
pub(super) const DEFERRED: TableDefinition<(&str, u64), &str> = TableDefinition::new("deferred");
pub(super) const MEMBERSHIPS: TableDefinition<(&str, &str), &str> =
    TableDefinition::new("memberships");
pub(super) const CLOSED_CHANNELS: TableDefinition<&str, &str> =
    TableDefinition::new("closed_channels");
pub(super) const CREATED_CHANNELS: TableDefinition<&str, &str> =
    TableDefinition::new("created_channels");
pub(super) const BANS: TableDefinition<&str, &[u8]> = TableDefinition::new("bans");
pub(super) const OPERATORS: TableDefinition<&str, &str> = TableDefinition::new("operators");
pub(super) const MUTES: TableDefinition<&str, &[u8]> = TableDefinition::new("mutes");
pub(super) const SLOW_CHANNELS: TableDefinition<&str, (&str, u32)> =
    TableDefinition::new("slow_channels");

impl Store {
    /// Checks the schema version, migrates an older file in place (one transaction: all or
    /// nothing), and creates missing tables. A newer or nonsensical version is refused and the
    /// file left untouched.
    pub(super) fn init_schema(&self) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let found = {
            let meta = txn.open_table(META)?;
            let found = meta.get(SCHEMA_VERSION_KEY)?.map(|v| v.value());
            found
        };
        let problem = match found {
            Some(version) if version > SCHEMA_VERSION => Some(StoreError::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
            }),
            Some(0) => Some(StoreError::Corrupt(format!(
                "table \"meta\", key \"{SCHEMA_VERSION_KEY}\": invalid schema version 0"
            ))),
            _ => None,
        };
        if let Some(err) = problem {
            // Leave the file untouched. An abort failure is less useful than `err`.
            let _ = txn.abort();
            return Err(err);
        }
        if let Some(version) = found.filter(|&version| version < SCHEMA_VERSION) {
            log::info!(
                "[DEMARRAGE] base au format {version} : mise à jour au format {SCHEMA_VERSION}"
            );
        }
        // Version 1 held `meta` and `users`; version 2 adds the chat tables. Creating the missing
        // tables is the whole migration: existing accounts are kept as they are.
        txn.open_table(USERS)?;
        txn.open_table(MESSAGES)?;
        txn.open_table(CHANNEL_LINES)?;
        txn.open_table(CONVERSATION_LINES)?;
        txn.open_table(DEFERRED)?;
        txn.open_table(MEMBERSHIPS)?;
        txn.open_table(CLOSED_CHANNELS)?;
        txn.open_table(CREATED_CHANNELS)?;
        txn.open_table(BANS)?;
        // Added within version 2 (the dashboard's operators): an older build opening the file
        // ignores the table; only its backup refuses a table it does not know.
        txn.open_table(OPERATORS)?;
        // Added within version 2 (like `bans`): an older binary ignores them.
        txn.open_table(MUTES)?;
        txn.open_table(SLOW_CHANNELS)?;
        txn.open_table(META)?
            .insert(SCHEMA_VERSION_KEY, SCHEMA_VERSION)?;
        txn.commit()?;
        Ok(())
    }
}
