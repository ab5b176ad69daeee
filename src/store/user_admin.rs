//! `classcord user` and `classcord compact`: account administration and file compaction, for the
//! operator (server stopped, except for listing).
//!
//! Deleting an account removes, in one durable transaction: its record, the private lines waiting
//! for it (`deferred`), its saved channel memberships, and the index entries of its private
//! conversations (`conversation_lines`), so that someone registering the same name later cannot
//! read them with `history`. The lines themselves stay in `messages` (the teacher's export), and
//! the lines it sent that wait for other accounts are still delivered.

use std::path::Path;

use redb::{Durability, ReadTransaction, ReadableTable, TableError};

use super::access::OpsError;
use super::schema::USERS;
use super::schema::{CONVERSATION_LINES, DEFERRED, MEMBERSHIPS, OPERATORS};
use super::users;
use super::users::NewUser;
use super::{user_key, Store, StoreError, UserRecord};

/// Every account of a snapshot, in key order.
pub fn list_users(txn: &ReadTransaction, db_path: &Path) -> Result<Vec<UserRecord>, OpsError> {
    let table = match txn.open_table(USERS) {
        Ok(table) => table,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(err) => return Err(OpsError::store(db_path, err)),
    };
    let mut records = Vec::new();
    for entry in table.iter().map_err(|e| OpsError::store(db_path, e))? {
        let (key, value) = entry.map_err(|e| OpsError::store(db_path, e))?;
        records.push(
            users::decode(key.value(), value.value()).map_err(|e| OpsError::store(db_path, e))?,
        );
    }
    Ok(records)
}

/// What deleting an account removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The display name as it was registered.
    pub name: String,
    pub deferred: u64,
    pub memberships: u64,
    pub conversation_lines: u64,
}

impl Store {
    /// Deletes the account `name` (any letter case) and what belongs to it; `Ok(None)`: no such
    /// account, nothing changed.
    pub fn delete_user(&self, name: &str) -> Result<Option<Deleted>, StoreError> {
        let key = user_key(name);
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let removed = {
            let mut table = txn.open_table(USERS)?;
            let removed = table.remove(key.as_str())?;
            match removed {
                Some(value) => Some(users::decode(&key, value.value())?),
                None => None,
            }
        };
        let Some(record) = removed else {
            txn.abort()?;
            return Ok(None);
        };
        let mut deleted = Deleted {
            name: record.name,
            deferred: 0,
            memberships: 0,
            conversation_lines: 0,
        };
        {
            let mut deferred = txn.open_table(DEFERRED)?;
            let waiting: Vec<u64> = deferred
                .range((key.as_str(), 0)..=(key.as_str(), u64::MAX))?
                .map(|entry| entry.map(|(k, _)| k.value().1))
                .collect::<Result<_, _>>()?;
            for id in &waiting {
                deferred.remove((key.as_str(), *id))?;
            }
            deleted.deferred = waiting.len() as u64;
        }
        {
            let mut memberships = txn.open_table(MEMBERSHIPS)?;
            let mut channels = Vec::new();
            for entry in memberships.range((key.as_str(), "")..)? {
                let (k, _) = entry?;
                let (account, channel) = k.value();
                if account != key {
                    break;
                }
                channels.push(channel.to_owned());
            }
            for channel in &channels {
                memberships.remove((key.as_str(), channel.as_str()))?;
            }
            deleted.memberships = channels.len() as u64;
        }
        // The account's dashboard grant goes with it.
        txn.open_table(OPERATORS)?.remove(key.as_str())?;
        {
            // A conversation key is the two account keys, sorted, joined by NUL.
            let mut lines = txn.open_table(CONVERSATION_LINES)?;
            let mut doomed = Vec::new();
            for entry in lines.iter()? {
                let (k, _) = entry?;
                let (conversation, id) = k.value();
                if conversation.split('\u{0}').any(|side| side == key) {
                    doomed.push((conversation.to_owned(), id));
                }
            }
            for (conversation, id) in &doomed {
                lines.remove((conversation.as_str(), *id))?;
            }
            deleted.conversation_lines = doomed.len() as u64;
        }
        txn.commit()?;
        Ok(Some(deleted))
    }

    /// Replaces the password hash of `name` (any letter case), keeping its display name and
    /// creation time; `Ok(false)`: no such account.
    pub fn set_password_hash(&self, name: &str, password_hash: &str) -> Result<bool, StoreError> {
        let key = user_key(name);
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let old = {
            let mut table = txn.open_table(USERS)?;
            let old = table.remove(key.as_str())?;
            match old {
                Some(value) => Some(users::decode(&key, value.value())?),
                None => None,
            }
        };
        let Some(old) = old else {
            txn.abort()?;
            return Ok(false);
        };
        let user = NewUser {
            name: &old.name,
            password_hash,
            created_unix: old.created_unix,
        };
        if !users::insert_in(&txn, user)? {
            return Err(StoreError::Corrupt(format!(
                "table \"users\", key {key:?}: still present after removal"
            )));
        }
        txn.commit()?;
        Ok(true)
    }
}

/// Compacts the database at `path` (server stopped): returns its size before and after, in bytes.
pub fn compact(path: &Path) -> Result<(u64, u64), OpsError> {
    let size = |path: &Path| {
        std::fs::metadata(path)
            .map(|m| m.len())
            .map_err(|e| OpsError::io("lecture impossible de", path, e))
    };
    if !path.exists() {
        return Err(OpsError::Missing(path.to_owned()));
    }
    let mut store = super::access::open_writer(path, false)?;
    let before = size(path)?;
    loop {
        match store.db.compact() {
            Ok(true) => continue,
            Ok(false) => break,
            Err(err) => {
                return Err(OpsError::Invalid(format!(
                    "compactage impossible de {} : {err}",
                    path.display()
                )))
            }
        }
    }
    drop(store);
    Ok((before, size(path)?))
}
