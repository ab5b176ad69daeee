//! The small tables whose values are JSON records under a string key (`bans`, `mutes`): a change
//! is one write transaction committed durably before the caller is answered, and a listing reads
//! the whole table in key order (a table never written yet lists as empty).

use redb::{Durability, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Store, StoreError};

/// A table of JSON records under a string key.
pub(super) type JsonTable = TableDefinition<'static, &'static str, &'static [u8]>;

impl Store {
    /// Adds or replaces the record under `key`, durably.
    pub(super) fn put_json<T: Serialize>(
        &self,
        table: JsonTable,
        key: &str,
        record: &T,
    ) -> Result<(), StoreError> {
        let value = serde_json::to_vec(record).map_err(StoreError::Encode)?;
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.open_table(table)?.insert(key, value.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// Removes the records under these keys, durably; returns how many existed.
    pub(super) fn remove_json(
        &self,
        table: JsonTable,
        keys: &[String],
    ) -> Result<usize, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let mut removed = 0;
        {
            let mut open = txn.open_table(table)?;
            for key in keys {
                if open.remove(key.as_str())?.is_some() {
                    removed += 1;
                }
            }
        }
        txn.commit()?;
        Ok(removed)
    }

    /// Every record, in key order; one that does not decode is a [`StoreError::Corrupt`] naming
    /// the table and the key.
    pub(super) fn all_json<T: DeserializeOwned>(
        &self,
        table: JsonTable,
    ) -> Result<Vec<T>, StoreError> {
        let txn = self.db.begin_read()?;
        let open = match txn.open_table(table) {
            Ok(open) => open,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(error.into()),
        };
        let mut records = Vec::new();
        for entry in open.iter()? {
            let (key, value) = entry?;
            let record = serde_json::from_slice(value.value()).map_err(|error| {
                StoreError::Corrupt(format!(
                    "table \"{}\", key {:?}: {error}",
                    table.name(),
                    key.value()
                ))
            })?;
            records.push(record);
        }
        Ok(records)
    }
}
