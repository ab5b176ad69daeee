//! The store owns the on-disk database (redb): one file, opened by one process at a time.
//!
//! Tables (schema version [`SCHEMA_VERSION`]):
//! - `meta`: `&str -> u64`, holds `schema_version`. It is checked at open; a file written by a
//!   newer ClassCord is refused with [`StoreError::SchemaTooNew`] rather than misread.
//! - `users`: `&str -> &[u8]`, keyed by [`user_key`] (the case-insensitive account key), each
//!   value a JSON record with the display name as registered, the argon2id PHC hash
//!   (see [`password`]) and the creation time.
//!
//! Every method blocks (disk I/O, fsync): call them from a blocking thread, not the executor.
//! Account changes are committed with [`redb::Durability::Immediate`]: when
//! [`Store::register_user`] returns `Ok`, the account is on disk.
//!
//! Nothing read from the file is trusted: a record that does not decode is reported as
//! [`StoreError::Corrupt`] naming its table and key, never a panic.

pub mod access;
pub mod backup;
pub mod bans;
pub mod chat;
pub mod export;
mod export_row;
mod export_sql;
pub mod import;
mod json_table;
pub mod moderation;
pub mod operators;
pub mod password;
mod records;
pub mod restore;
pub mod retention;
mod schema;
pub mod thread;
pub mod user_admin;
mod users;

pub use password::{HashParams, PasswordError, PasswordHasher};
pub use retention::Retention;
pub use schema::SCHEMA_VERSION;
pub use thread::{Loaded, StoreHandle, StoreSettings, StoreStats, StoreThread, Unavailable};
pub use users::NewUser;

/// The data folder `classcord serve` and the operator commands use without `--data`.
pub const DEFAULT_DATA_DIR: &str = "classcord-data";
/// The database file in the data folder.
pub const DATABASE_FILE: &str = "classcord.redb";

use std::fmt;
use std::path::Path;

use redb::{
    CommitError, Database, DatabaseError, SetDurabilityError, StorageError, TableError,
    TransactionError,
};

/// Case-insensitive account key: the `users` table is keyed by this, so `Alice` and `alice` are
/// the same account. It is the chat hub's name folding (NFC, then lower case).
pub fn user_key(name: &str) -> String {
    classcord_core::message::fold_name(name)
}

/// Errors from the database.
#[derive(Debug)]
pub enum StoreError {
    /// The database file could not be opened or created (missing directory, permissions, not a
    /// redb file, already opened by another process...).
    Open(DatabaseError),
    /// A read or write transaction could not be started.
    Transaction(TransactionError),
    /// A table could not be opened (or has unexpected key/value types).
    Table(TableError),
    /// Reading or writing the file failed.
    Storage(StorageError),
    /// The durability of a write transaction could not be set.
    Durability(SetDurabilityError),
    /// A write transaction could not be committed; its changes are not stored.
    Commit(CommitError),
    /// The file was written by a newer version of ClassCord, with a schema this build does not
    /// know.
    SchemaTooNew {
        /// Schema version found in the file.
        found: u64,
        /// Newest schema version this build understands.
        supported: u64,
    },
    /// A record could not be encoded for storage.
    Encode(serde_json::Error),
    /// The file holds data that does not make sense (the text names the table and key).
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Open(err) => write!(f, "cannot open the database file: {err}"),
            StoreError::Transaction(err) => {
                write!(f, "cannot start a database transaction: {err}")
            }
            StoreError::Table(err) => write!(f, "cannot open a database table: {err}"),
            StoreError::Storage(err) => write!(f, "database storage error: {err}"),
            StoreError::Durability(err) => {
                write!(f, "cannot set the durability of a database write: {err}")
            }
            StoreError::Commit(err) => {
                write!(
                    f,
                    "cannot commit to the database (nothing was saved): {err}"
                )
            }
            StoreError::SchemaTooNew { found, supported } => write!(
                f,
                "the database file has schema version {found}, but this version of ClassCord \
                 only understands schema version {supported} or older; upgrade ClassCord or \
                 restore a backup"
            ),
            StoreError::Encode(err) => write!(f, "cannot encode a database record: {err}"),
            StoreError::Corrupt(what) => write!(f, "the database file is corrupt: {what}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Open(err) => Some(err),
            StoreError::Transaction(err) => Some(err),
            StoreError::Table(err) => Some(err),
            StoreError::Storage(err) => Some(err),
            StoreError::Durability(err) => Some(err),
            StoreError::Commit(err) => Some(err),
            StoreError::Encode(err) => Some(err),
            StoreError::SchemaTooNew { .. } | StoreError::Corrupt(_) => None,
        }
    }
}

impl From<DatabaseError> for StoreError {
    fn from(err: DatabaseError) -> Self {
        StoreError::Open(err)
    }
}

impl From<TransactionError> for StoreError {
    fn from(err: TransactionError) -> Self {
        StoreError::Transaction(err)
    }
}

impl From<TableError> for StoreError {
    fn from(err: TableError) -> Self {
        StoreError::Table(err)
    }
}

impl From<StorageError> for StoreError {
    fn from(err: StorageError) -> Self {
        StoreError::Storage(err)
    }
}

impl From<SetDurabilityError> for StoreError {
    fn from(err: SetDurabilityError) -> Self {
        StoreError::Durability(err)
    }
}

impl From<CommitError> for StoreError {
    fn from(err: CommitError) -> Self {
        StoreError::Commit(err)
    }
}

/// Why [`Store::register_user`] did not register the account.
#[derive(Debug)]
pub enum RegisterError {
    /// An account with this name (in any letter case) already exists; nothing was written.
    AlreadyExists,
    /// The database failed; nothing was written.
    Store(StoreError),
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::AlreadyExists => f.write_str("this name is already registered"),
            RegisterError::Store(err) => write!(f, "cannot register the account: {err}"),
        }
    }
}

impl std::error::Error for RegisterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RegisterError::AlreadyExists => None,
            RegisterError::Store(err) => Some(err),
        }
    }
}

impl From<StoreError> for RegisterError {
    fn from(err: StoreError) -> Self {
        RegisterError::Store(err)
    }
}

/// A registered account as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    /// Display name, spelled as it was registered.
    pub name: String,
    /// argon2id PHC string (see [`PasswordHasher`]).
    pub password_hash: String,
    /// Registration time, seconds since the Unix epoch.
    pub created_unix: u64,
}

/// The open database. `Send + Sync`: share it with an `Arc`; redb serialises writers.
pub struct Store {
    db: Database,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens `path`, or creates it if it does not exist, and creates the tables.
    ///
    /// `cache_bytes` caps redb's page cache (its default is 1 GiB; 32 MiB suits a Pi). Fails
    /// with [`StoreError::SchemaTooNew`] if the file comes from a newer ClassCord, and with
    /// [`StoreError::Open`] if the file is not a redb database or another process has it open.
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Store, StoreError> {
        // SingleWriter: `classcord export` / `backup` may open the file read-only meanwhile.
        let db = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
            .create(path)?;
        let store = Store { db };
        store.init_schema()?;
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::schema::{META, SCHEMA_VERSION_KEY};
    use super::*;
    use redb::ReadableDatabase;

    const CACHE: usize = 1 << 20;

    #[test]
    fn store_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<Store>();
        check::<StoreError>();
        check::<RegisterError>();
    }

    #[test]
    fn user_key_ignores_case() {
        assert_eq!(user_key("Alice"), "alice");
        assert_eq!(user_key("ÉLODIE"), user_key("élodie"));
        assert_eq!(user_key("bob"), "bob");
    }

    #[test]
    fn new_file_gets_schema_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("classcord.redb");
        drop(Store::open(&path, CACHE).expect("create"));
        let db = redb::Database::create(&path).expect("reopen with redb");
        let txn = db.begin_read().expect("read");
        let meta = txn.open_table(META).expect("meta table");
        let version = meta
            .get(SCHEMA_VERSION_KEY)
            .expect("get")
            .map(|v| v.value());
        assert_eq!(version, Some(SCHEMA_VERSION));
        txn.open_table(schema::USERS).expect("users table exists");
    }

    fn write_schema_version(path: &Path, version: u64) {
        let db = redb::Database::create(path).expect("create with redb");
        let txn = db.begin_write().expect("write");
        {
            let mut meta = txn.open_table(META).expect("meta");
            meta.insert(SCHEMA_VERSION_KEY, version).expect("insert");
        }
        txn.commit().expect("commit");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("classcord.redb");
        write_schema_version(&path, SCHEMA_VERSION + 1);
        match Store::open(&path, CACHE) {
            Err(StoreError::SchemaTooNew { found, supported }) => {
                assert_eq!(found, SCHEMA_VERSION + 1);
                assert_eq!(supported, SCHEMA_VERSION);
                let text = StoreError::SchemaTooNew { found, supported }.to_string();
                assert!(text.contains("schema version 2"), "{text}");
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
        // Refusing did not change the file.
        match Store::open(&path, CACHE) {
            Err(StoreError::SchemaTooNew { .. }) => {}
            other => panic!("expected SchemaTooNew again, got {other:?}"),
        }
    }

    #[test]
    fn schema_version_zero_is_corrupt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("classcord.redb");
        write_schema_version(&path, 0);
        assert!(matches!(
            Store::open(&path, CACHE),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn current_schema_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("classcord.redb");
        write_schema_version(&path, SCHEMA_VERSION);
        let store = Store::open(&path, CACHE).expect("open");
        assert_eq!(store.user_count().expect("count"), 0);
    }

    #[test]
    fn garbage_file_is_an_open_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("classcord.redb");
        std::fs::write(&path, vec![0xA5u8; 8192]).expect("write garbage");
        match Store::open(&path, CACHE) {
            Err(err @ StoreError::Open(_)) => {
                assert!(err.to_string().starts_with("cannot open the database file"));
            }
            other => panic!("expected Open error, got {other:?}"),
        }
    }

    #[test]
    fn missing_directory_is_an_open_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("no-such-dir").join("classcord.redb");
        assert!(matches!(
            Store::open(&path, CACHE),
            Err(StoreError::Open(_))
        ));
    }

    #[test]
    fn second_open_of_same_file_fails_cleanly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("classcord.redb");
        let _first = Store::open(&path, CACHE).expect("open");
        assert!(matches!(
            Store::open(&path, CACHE),
            Err(StoreError::Open(_))
        ));
    }
}
