//! The `users` table: registered accounts, keyed by [`user_key`].

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::schema::USERS;
use super::{user_key, RegisterError, Store, StoreError, UserRecord};

/// A new account to insert, alone or in the same transaction as a batch (see [`Store::commit`]).
pub struct NewUser<'a> {
    pub name: &'a str,
    pub password_hash: &'a str,
    pub created_unix: u64,
}

/// On-disk form of a user record (schema version 1).
#[derive(Serialize, Deserialize)]
struct StoredUser {
    name: String,
    password_hash: String,
    created_unix: u64,
}

/// Borrowing twin of [`StoredUser`], for encoding without copies.
#[derive(Serialize)]
struct StoredUserRef<'a> {
    name: &'a str,
    password_hash: &'a str,
    created_unix: u64,
}

pub(super) fn decode(key: &str, bytes: &[u8]) -> Result<UserRecord, StoreError> {
    let stored: StoredUser = serde_json::from_slice(bytes).map_err(|err| {
        StoreError::Corrupt(format!(
            "table \"users\", key {key:?}: record cannot be decoded ({err})"
        ))
    })?;
    Ok(UserRecord {
        name: stored.name,
        password_hash: stored.password_hash,
        created_unix: stored.created_unix,
    })
}

/// Inserts `user` in `txn` unless its key exists; `Ok(false)` means it existed (nothing written).
pub(super) fn insert_in(txn: &WriteTransaction, user: NewUser<'_>) -> Result<bool, StoreError> {
    let key = user_key(user.name);
    let value = serde_json::to_vec(&StoredUserRef {
        name: user.name,
        password_hash: user.password_hash,
        created_unix: user.created_unix,
    })
    .map_err(StoreError::Encode)?;
    let mut table = txn.open_table(USERS)?;
    if table.get(key.as_str())?.is_some() {
        return Ok(false);
    }
    table.insert(key.as_str(), value.as_slice())?;
    Ok(true)
}

impl Store {
    /// Registers an account under the case-insensitive key of `name`, keeping `name` as the
    /// display name. The write is committed with [`Durability::Immediate`] before this returns
    /// `Ok`. Returns [`RegisterError::AlreadyExists`] (writing nothing) if the key is taken.
    pub fn register_user(
        &self,
        name: &str,
        password_hash: &str,
        created_unix: u64,
    ) -> Result<(), RegisterError> {
        if self.insert_user(name, password_hash, created_unix)? {
            Ok(())
        } else {
            Err(RegisterError::AlreadyExists)
        }
    }

    /// Inserts the record unless its key exists, committed durably; `Ok(false)`: it existed.
    fn insert_user(
        &self,
        name: &str,
        password_hash: &str,
        created_unix: u64,
    ) -> Result<bool, StoreError> {
        let user = NewUser {
            name,
            password_hash,
            created_unix,
        };
        self.commit(&[], Some(user), true)
    }

    /// Looks an account up by any letter case of its name.
    pub fn find_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let key = user_key(name);
        let txn = self.db.begin_read()?;
        let table = txn.open_table(USERS)?;
        let Some(value) = table.get(key.as_str())? else {
            return Ok(None);
        };
        decode(&key, value.value()).map(Some)
    }

    /// Display names of all registered accounts, in key order.
    pub fn user_names(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(USERS)?;
        let mut names = Vec::with_capacity(usize::try_from(table.len()?).unwrap_or(0));
        for entry in table.iter()? {
            let (key, value) = entry?;
            names.push(decode(key.value(), value.value())?.name);
        }
        Ok(names)
    }

    /// Number of registered accounts.
    pub fn user_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(USERS)?;
        Ok(table.len()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const CACHE: usize = 1 << 20;
    const HASH: &str = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA";

    fn open(path: &Path) -> Store {
        Store::open(path, CACHE).expect("open store")
    }

    #[test]
    fn register_then_find_in_any_case() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir.path().join("db.redb"));
        store
            .register_user("Alice", HASH, 1_700_000_000)
            .expect("register");
        let expected = UserRecord {
            name: "Alice".to_owned(),
            password_hash: HASH.to_owned(),
            created_unix: 1_700_000_000,
        };
        for spelling in ["Alice", "alice", "ALICE", "aLiCe"] {
            assert_eq!(
                store.find_user(spelling).expect("find"),
                Some(expected.clone()),
                "{spelling}"
            );
        }
        assert_eq!(store.find_user("bob").expect("find"), None);
    }

    #[test]
    fn duplicate_in_other_case_already_exists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir.path().join("db.redb"));
        store.register_user("Alice", HASH, 1).expect("register");
        assert!(matches!(
            store.register_user("aLICE", "$argon2id$other", 2),
            Err(RegisterError::AlreadyExists)
        ));
        assert!(matches!(
            store.register_user("Alice", HASH, 3),
            Err(RegisterError::AlreadyExists)
        ));
        let found = store.find_user("alice").expect("find").expect("exists");
        assert_eq!(found.name, "Alice");
        assert_eq!(found.password_hash, HASH);
        assert_eq!(found.created_unix, 1);
        assert_eq!(store.user_count().expect("count"), 1);
        // The store still accepts writes after the aborted transaction.
        store.register_user("Bob", HASH, 4).expect("register bob");
        assert_eq!(store.user_count().expect("count"), 2);
    }

    #[test]
    fn data_survives_close_and_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.redb");
        {
            let store = open(&path);
            store.register_user("Élodie", HASH, 42).expect("register");
            store.register_user("bob", HASH, 43).expect("register");
        }
        let store = open(&path);
        assert_eq!(store.user_count().expect("count"), 2);
        let found = store.find_user("élodie").expect("find").expect("exists");
        assert_eq!(found.name, "Élodie");
        assert_eq!(found.created_unix, 42);
        assert!(matches!(
            store.register_user("BOB", HASH, 44),
            Err(RegisterError::AlreadyExists)
        ));
    }

    #[test]
    fn user_names_and_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir.path().join("db.redb"));
        assert_eq!(store.user_count().expect("count"), 0);
        assert!(store.user_names().expect("names").is_empty());
        for (i, name) in ["Zoé", "alice", "Bob"].into_iter().enumerate() {
            store.register_user(name, HASH, i as u64).expect("register");
        }
        assert_eq!(store.user_count().expect("count"), 3);
        let mut names = store.user_names().expect("names");
        names.sort();
        assert_eq!(names, ["Bob", "Zoé", "alice"]);
    }

    fn write_raw(path: &Path, key: &str, value: &[u8]) {
        let db = redb::Database::create(path).expect("open with redb");
        let txn = db.begin_write().expect("write");
        {
            let mut table = txn.open_table(USERS).expect("users");
            table.insert(key, value).expect("insert");
        }
        txn.commit().expect("commit");
    }

    #[test]
    fn corrupt_record_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.redb");
        drop(open(&path));
        write_raw(&path, "mallory", &[0xff, 0x00, 0x13, 0x37]);
        write_raw(&path, "trudy", br#"{"name":"Trudy"}"#);

        let store = open(&path);
        for (name, key) in [("Mallory", "\"mallory\""), ("TRUDY", "\"trudy\"")] {
            match store.find_user(name) {
                Err(err @ StoreError::Corrupt(_)) => {
                    let text = err.to_string();
                    assert!(text.contains(key), "{text}");
                    assert!(text.contains("users"), "{text}");
                }
                other => panic!("expected Corrupt for {name}, got {other:?}"),
            }
        }
        assert!(matches!(store.user_names(), Err(StoreError::Corrupt(_))));
        // The rest of the store still works.
        assert_eq!(store.user_count().expect("count"), 2);
        store.register_user("alice", HASH, 1).expect("register");
        assert!(store.find_user("Alice").expect("find").is_some());
        assert!(matches!(
            store.register_user("Mallory", HASH, 2),
            Err(RegisterError::AlreadyExists)
        ));
    }

    #[test]
    fn concurrent_registrations_of_one_name_admit_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = std::sync::Arc::new(open(&dir.path().join("db.redb")));
        let handles: Vec<_> = (0..4u64)
            .map(|i| {
                let store = store.clone();
                let name = if i % 2 == 0 { "Carol" } else { "cAROL" };
                std::thread::spawn(move || store.register_user(name, HASH, i))
            })
            .collect();
        let mut ok = 0;
        for handle in handles {
            match handle.join().expect("thread") {
                Ok(()) => ok += 1,
                Err(RegisterError::AlreadyExists) => {}
                Err(err) => panic!("unexpected {err}"),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(store.user_count().expect("count"), 1);
    }
}
