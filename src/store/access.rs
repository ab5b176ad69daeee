//! How the operator commands (`classcord export`, `backup`, `restore`, `user`, `import-pickle`,
//! `compact`) open the database, and their errors.
//!
//! - Reading ([`open_reader`]) works beside a running server: redb's `SingleWriter` mode (the
//!   server's) lets another process open the file read-only and read consistent snapshots. A file
//!   left by a crash with no server running needs a repair that only a writable open does, so the
//!   reader falls back to one then.
//! - Writing ([`open_writer`]) needs the server stopped: its lock makes the open fail with
//!   `DatabaseAlreadyOpen`, reported as [`OpsError::InUse`] (one clear line, no redb jargon).
//!
//! [`OpsError`] displays in French: the commands print it as is.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use redb::{
    ConcurrencyMode, Database, DatabaseError, ReadOnlyDatabase, ReadTransaction, ReadableDatabase,
    ReadableTableMetadata, StorageError, TableError,
};

use super::schema::{META, SCHEMA_VERSION_KEY};
use super::{Store, StoreError, SCHEMA_VERSION};

/// Page cache of the operator commands: they scan once, a large cache buys nothing.
pub const OPS_CACHE_BYTES: usize = 16 << 20;

/// Why an operator command failed. `Display` is the French line the command prints.
#[derive(Debug)]
pub enum OpsError {
    /// The database file does not exist.
    Missing(PathBuf),
    /// An input file (backup, pickle) does not exist.
    MissingFile(PathBuf),
    /// A running server (or another writing command) has the database open.
    InUse(PathBuf),
    /// The file is not a redb database, or one redb cannot read.
    NotADatabase { path: PathBuf, detail: String },
    /// A redb file without ClassCord's `meta` table.
    NotClassCord(PathBuf),
    /// The file was written by a newer ClassCord.
    SchemaTooNew {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    /// A database operation failed.
    Store { path: PathBuf, source: StoreError },
    /// A file operation failed (`what` says which, in French).
    Io {
        what: String,
        path: PathBuf,
        source: io::Error,
    },
    /// Bad input from the operator; the text is the whole message.
    Invalid(String),
}

impl OpsError {
    pub fn io(what: &str, path: &Path, source: io::Error) -> OpsError {
        OpsError::Io {
            what: what.to_owned(),
            path: path.to_owned(),
            source,
        }
    }

    pub fn store(path: &Path, source: impl Into<StoreError>) -> OpsError {
        match source.into() {
            StoreError::SchemaTooNew { found, supported } => OpsError::SchemaTooNew {
                path: path.to_owned(),
                found,
                supported,
            },
            StoreError::Open(err) => from_open_error(path, err),
            source => OpsError::Store {
                path: path.to_owned(),
                source,
            },
        }
    }
}

impl fmt::Display for OpsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpsError::Missing(path) => write!(
                f,
                "base introuvable : {} (vérifiez le dossier donné à --data)",
                path.display()
            ),
            OpsError::MissingFile(path) => write!(f, "fichier introuvable : {}", path.display()),
            OpsError::InUse(path) => write!(
                f,
                "le serveur ClassCord utilise cette base ({}) : arrêtez-le d'abord \
                 (systemctl stop classcord), puis relancez la commande.",
                path.display()
            ),
            OpsError::NotADatabase { path, detail } => write!(
                f,
                "{} n'est pas une base ClassCord lisible ({detail})",
                path.display()
            ),
            OpsError::NotClassCord(path) => write!(
                f,
                "{} est une base redb, mais pas une base ClassCord (table « meta » absente)",
                path.display()
            ),
            OpsError::SchemaTooNew {
                path,
                found,
                supported,
            } => write!(
                f,
                "{} vient d'une version plus récente de ClassCord (format {found}, cette version \
                 lit jusqu'au format {supported}) : mettez ClassCord à jour",
                path.display()
            ),
            OpsError::Store { path, source } => {
                write!(f, "base {} : {}", path.display(), describe(source))
            }
            OpsError::Io { what, path, source } => {
                write!(f, "{what} {} : {}", path.display(), describe_io(source))
            }
            OpsError::Invalid(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for OpsError {}

/// A French description of a store error (redb's own detail stays in English).
fn describe(err: &StoreError) -> String {
    match err {
        StoreError::Open(err) => format!("ouverture impossible : {err}"),
        StoreError::Transaction(err) => format!("transaction impossible : {err}"),
        StoreError::Table(err) => format!("table illisible : {err}"),
        StoreError::Storage(StorageError::Io(err)) => {
            format!("erreur d'écriture ou de lecture : {}", describe_io(err))
        }
        StoreError::Storage(err) => format!("erreur de stockage : {err}"),
        StoreError::Durability(err) => format!("écriture impossible : {err}"),
        StoreError::Commit(err) => {
            format!("enregistrement impossible (rien n'a été écrit) : {err}")
        }
        StoreError::SchemaTooNew { found, supported } => {
            format!("format {found} trop récent (cette version lit jusqu'au format {supported})")
        }
        StoreError::Encode(err) => format!("encodage impossible : {err}"),
        StoreError::Corrupt(what) => format!("base endommagée : {what}"),
    }
}

/// The common I/O errors in French, the rest as the system says them.
fn describe_io(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "fichier ou dossier introuvable".to_owned(),
        io::ErrorKind::PermissionDenied => {
            "permission refusée (lancez la commande en root ou avec sudo)".to_owned()
        }
        io::ErrorKind::StorageFull => "disque plein".to_owned(),
        io::ErrorKind::AlreadyExists => "le fichier existe déjà".to_owned(),
        _ => err.to_string(),
    }
}

fn from_open_error(path: &Path, err: DatabaseError) -> OpsError {
    match err {
        DatabaseError::DatabaseAlreadyOpen => OpsError::InUse(path.to_owned()),
        DatabaseError::Storage(StorageError::Io(io)) => match io.kind() {
            io::ErrorKind::NotFound => OpsError::Missing(path.to_owned()),
            io::ErrorKind::InvalidData => OpsError::NotADatabase {
                path: path.to_owned(),
                detail: "ce n'est pas un fichier redb".to_owned(),
            },
            _ => OpsError::io("ouverture impossible de", path, io),
        },
        DatabaseError::Storage(StorageError::Corrupted(detail)) => OpsError::NotADatabase {
            path: path.to_owned(),
            detail: format!("fichier endommagé : {detail}"),
        },
        other => OpsError::NotADatabase {
            path: path.to_owned(),
            detail: other.to_string(),
        },
    }
}

fn builder() -> redb::Builder {
    let mut builder = redb::Builder::new();
    builder
        .set_cache_size(OPS_CACHE_BYTES)
        .set_concurrency_mode(ConcurrencyMode::SingleWriter);
    builder
}

/// A database opened for reading: read-only beside a server, or writable after a crash repair.
pub enum Reader {
    ReadOnly(ReadOnlyDatabase),
    Repaired(Database),
}

impl Reader {
    /// True when the file had to be repaired (the server had stopped abruptly).
    pub fn was_repaired(&self) -> bool {
        matches!(self, Reader::Repaired(_))
    }

    /// A consistent snapshot: everything committed before this call, nothing after.
    pub fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        Ok(match self {
            Reader::ReadOnly(db) => db.begin_read()?,
            Reader::Repaired(db) => db.begin_read()?,
        })
    }
}

/// Opens `path` for reading, whether a server is running or not, and checks it is a ClassCord
/// database this build understands.
pub fn open_reader(path: &Path) -> Result<Reader, OpsError> {
    if !path.exists() {
        return Err(OpsError::Missing(path.to_owned()));
    }
    let reader = match builder().open_read_only(path) {
        Ok(db) => Reader::ReadOnly(db),
        // Unclean (a crash) and no writer to repair it: repair it ourselves.
        Err(DatabaseError::RepairAborted) => match builder().open(path) {
            Ok(db) => Reader::Repaired(db),
            // A server started meanwhile and repaired it: read beside it.
            Err(DatabaseError::DatabaseAlreadyOpen) => Reader::ReadOnly(
                builder()
                    .open_read_only(path)
                    .map_err(|e| from_open_error(path, e))?,
            ),
            Err(err) => return Err(from_open_error(path, err)),
        },
        Err(err) => return Err(from_open_error(path, err)),
    };
    let txn = reader.begin_read().map_err(|e| OpsError::store(path, e))?;
    check_schema(path, &txn)?;
    Ok(reader)
}

/// The schema version of a snapshot, refused if newer than this build or not ClassCord's.
pub fn check_schema(path: &Path, txn: &ReadTransaction) -> Result<u64, OpsError> {
    let meta = match txn.open_table(META) {
        Ok(meta) => meta,
        Err(TableError::TableDoesNotExist(_)) => {
            return Err(OpsError::NotClassCord(path.to_owned()))
        }
        Err(TableError::TableTypeMismatch { .. }) => {
            return Err(OpsError::NotClassCord(path.to_owned()))
        }
        Err(err) => return Err(OpsError::store(path, err)),
    };
    let version = meta
        .get(SCHEMA_VERSION_KEY)
        .map_err(|e| OpsError::store(path, e))?
        .map(|v| v.value())
        .ok_or_else(|| OpsError::NotClassCord(path.to_owned()))?;
    if version > SCHEMA_VERSION {
        return Err(OpsError::SchemaTooNew {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

/// Opens `path` for writing; the server must be stopped. With `create`, a missing file is
/// created (owned like its folder, so that the server's user can open it afterwards).
pub fn open_writer(path: &Path, create: bool) -> Result<Store, OpsError> {
    let existed = path.exists();
    if !existed && !create {
        return Err(OpsError::Missing(path.to_owned()));
    }
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(OpsError::Invalid(format!(
                "dossier de données introuvable : {}",
                dir.display()
            )));
        }
    }
    let store = Store::open(path, OPS_CACHE_BYTES).map_err(|e| OpsError::store(path, e))?;
    if !existed {
        if let Some(dir) = path.parent() {
            own_like(path, dir)?;
        }
    }
    Ok(store)
}

/// Row counts of every table in a snapshot, in name order.
pub fn table_counts(txn: &ReadTransaction) -> Result<Vec<(String, u64)>, StoreError> {
    let mut counts = Vec::new();
    for handle in txn.list_tables()? {
        let name = redb::TableHandle::name(&handle).to_owned();
        let table = txn.open_untyped_table(handle)?;
        counts.push((name, table.len()?));
    }
    counts.sort();
    Ok(counts)
}

/// When run as root, gives `path` the owner and group of `like` (a file root creates in the
/// server's data folder must stay readable by the server's user). Does nothing otherwise.
pub fn own_like(path: &Path, like: &Path) -> Result<(), OpsError> {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let meta =
        std::fs::metadata(like).map_err(|e| OpsError::io("lecture impossible de", like, e))?;
    std::os::unix::fs::chown(path, Some(meta.uid()), Some(meta.gid()))
        .map_err(|e| OpsError::io("changement de propriétaire impossible pour", path, e))
}

/// The database file of a data folder (default `./classcord-data`, like `classcord serve`).
pub fn database_in(data: Option<&Path>) -> PathBuf {
    data.unwrap_or(Path::new(super::DEFAULT_DATA_DIR))
        .join(super::DATABASE_FILE)
}
