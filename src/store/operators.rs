//! Operator accounts (`classcord admin operator add NAME`): the accounts that may sign in to the
//! teacher's dashboard, kept across restarts in the `operators` table, key the account key
//! ([`super::user_key`]), value the name as registered. `[admin] operators` in the configuration
//! adds more (never written here). Deleting the account drops its grant in the same transaction.

use redb::{Durability, ReadableDatabase, ReadableTable};

use super::schema::OPERATORS;
use super::{user_key, Store, StoreError};

impl Store {
    /// Grants `name` (the name as registered), durably; `false`: it was already granted.
    pub fn put_operator(&self, name: &str) -> Result<bool, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let existed = txn
            .open_table(OPERATORS)?
            .insert(user_key(name).as_str(), name)?
            .is_some();
        txn.commit()?;
        Ok(!existed)
    }

    /// Withdraws `name`'s grant (any letter case), durably; `false`: it had none.
    pub fn remove_operator(&self, name: &str) -> Result<bool, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let removed = txn
            .open_table(OPERATORS)?
            .remove(user_key(name).as_str())?
            .is_some();
        txn.commit()?;
        Ok(removed)
    }

    /// Every granted account's name, in key order.
    pub fn operators(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(OPERATORS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(error.into()),
        };
        let mut names = Vec::new();
        for entry in table.iter()? {
            let (_, name) = entry?;
            names.push(name.value().to_owned());
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_survive_a_reopen_and_go_with_the_account() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let store = Store::open(&path, 1 << 20).unwrap();
        store.register_user("Prof", "$argon2id$x", 1).unwrap();
        assert!(store.put_operator("Prof").unwrap());
        assert!(!store.put_operator("prof").unwrap());
        assert!(store.put_operator("Zoé").unwrap());
        drop(store);
        let store = Store::open(&path, 1 << 20).unwrap();
        assert_eq!(store.operators().unwrap(), ["prof", "Zoé"]);
        assert!(store.remove_operator("ZOÉ").unwrap());
        assert!(!store.remove_operator("zoé").unwrap());
        store.delete_user("prof").unwrap();
        assert!(store.operators().unwrap().is_empty());
    }
}
