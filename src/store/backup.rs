//! `classcord backup`: a consistent copy of the database, taken from ONE read transaction (so
//! every table shows the same instant, even while the server writes), copied table by table into
//! a fresh redb file under a temporary name, verified (reopened, integrity checked, every table's
//! row count compared), then renamed into place atomically. Also the rotation of timestamped
//! backups in a folder (`--keep N`) and the verification `restore` runs first.
//!
//! The copy knows every table of the schema by its types ([`copy_all`]); a table it does not know
//! fails the backup rather than being silently left out.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use redb::{Database, Durability, Key, ReadTransaction, TableDefinition, TableError, Value};

use super::access::{check_schema, table_counts, OpsError, Reader, OPS_CACHE_BYTES};
use super::schema::USERS;
use super::schema::{
    BANS, CHANNEL_LINES, CLOSED_CHANNELS, CONVERSATION_LINES, CREATED_CHANNELS, DEFERRED,
    MEMBERSHIPS, MESSAGES, META, MUTES, OPERATORS, SLOW_CHANNELS,
};
use super::{Store, StoreError};

impl Store {
    /// A consistent snapshot of everything committed so far (backups through the server).
    pub fn snapshot(&self) -> Result<ReadTransaction, StoreError> {
        Ok(redb::ReadableDatabase::begin_read(&self.db)?)
    }
}

/// Rows per write transaction of the copy (bounds the memory a large table needs).
const CHUNK: usize = 20_000;

/// Every table the copy knows.
pub(super) const KNOWN_TABLES: [&str; 13] = [
    "meta",
    "users",
    "messages",
    "channel_lines",
    "conversation_lines",
    "deferred",
    "memberships",
    "closed_channels",
    "created_channels",
    "bans",
    "operators",
    "mutes",
    "slow_channels",
];

/// What a verified backup file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub schema_version: u64,
    /// Rows per table, in name order.
    pub counts: Vec<(String, u64)>,
    pub bytes: u64,
}

/// Copies the snapshot `reader` gives into a new file at `dest` (replacing it atomically if it
/// exists) and verifies it. `source` names the database in messages.
pub fn backup(reader: &Reader, source: &Path, dest: &Path) -> Result<Verified, OpsError> {
    let txn = reader
        .begin_read()
        .map_err(|e| OpsError::store(source, e))?;
    let schema_version = check_schema(source, &txn)?;
    let expected = table_counts(&txn).map_err(|e| OpsError::store(source, e))?;
    if let Some((unknown, _)) = expected
        .iter()
        .find(|(name, _)| !KNOWN_TABLES.contains(&name.as_str()))
    {
        return Err(OpsError::Invalid(format!(
            "la base {} contient une table que cette version ne sait pas copier (« {unknown} ») : \
             utilisez la version de ClassCord qui l'a écrite",
            source.display()
        )));
    }
    if same_file(source, dest) {
        return Err(OpsError::Invalid(format!(
            "{} est la base elle-même : choisissez un autre fichier ou un dossier pour --out",
            dest.display()
        )));
    }
    let (temp, file) = create_temp(dest)?;
    let copied = write_copy(&txn, source, &temp, file).map(|()| Copied {
        schema_version,
        counts: expected,
    });
    match copied {
        Ok(copied) => finish(&temp, dest, &copied),
        Err(error) => {
            let _ = fs::remove_file(&temp);
            Err(error)
        }
    }
}

/// What a snapshot copy holds, as counted in the source (the copy must hold the same).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Copied {
    pub schema_version: u64,
    pub counts: Vec<(String, u64)>,
}

/// The server's side of a backup asked through the control socket: its own snapshot `txn`,
/// copied into `file`, which the operator's command created (so the copy belongs to the
/// operator, wherever the server may or may not write) and then checks with [`finish`].
pub fn copy_into(txn: &ReadTransaction, source: &Path, file: fs::File) -> Result<Copied, OpsError> {
    let schema_version = check_schema(source, txn)?;
    let counts = table_counts(txn).map_err(|e| OpsError::store(source, e))?;
    if let Some((unknown, _)) = counts
        .iter()
        .find(|(name, _)| !KNOWN_TABLES.contains(&name.as_str()))
    {
        return Err(OpsError::Invalid(format!(
            "la base {} contient une table que cette version ne sait pas copier (« {unknown} »)",
            source.display()
        )));
    }
    write_copy(txn, source, Path::new("(fichier de sauvegarde)"), file)?;
    Ok(Copied {
        schema_version,
        counts,
    })
}

/// A new empty owner-only file beside `dest` for the copy (same file system: the final rename
/// is atomic).
pub fn create_temp(dest: &Path) -> Result<(PathBuf, fs::File), OpsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let temp = temp_path(dest);
    // The copy holds password hashes and private messages: owner-only from the start.
    let _ = fs::remove_file(&temp);
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|e| OpsError::io("impossible de créer", &temp, e))?;
    Ok((temp, file))
}

/// Verifies the copy in `temp` against what was copied, then renames it to `dest`; the
/// temporary file is removed on failure.
pub fn finish(temp: &Path, dest: &Path, copied: &Copied) -> Result<Verified, OpsError> {
    let result = verify(temp).and_then(|verified| {
        if verified.counts != copied.counts || verified.schema_version != copied.schema_version {
            return Err(OpsError::Invalid(format!(
                "la copie {} ne correspond pas à la base (lignes par table : {:?} au lieu de \
                 {:?}) : sauvegarde abandonnée",
                temp.display(),
                verified.counts,
                copied.counts
            )));
        }
        fs::rename(temp, dest)
            .map_err(|e| OpsError::io("impossible de renommer la copie en", dest, e))?;
        sync_parent(dest);
        Ok(verified)
    });
    if result.is_err() {
        let _ = fs::remove_file(temp);
    }
    result
}

/// Whether two paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// `.NAME.tmp-PID` beside `dest`: same file system, so the final rename is atomic.
fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "classcord.redb".to_owned());
    dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Copies the snapshot into `file` (new and empty; `temp` names it in messages).
fn write_copy(
    txn: &ReadTransaction,
    source: &Path,
    temp: &Path,
    file: fs::File,
) -> Result<(), OpsError> {
    let backend = redb::backends::FileBackend::new(file).map_err(|e| OpsError::store(temp, e))?;
    let db = redb::Builder::new()
        .set_cache_size(OPS_CACHE_BYTES)
        .create_with_backend(backend)
        .map_err(|e| OpsError::store(temp, e))?;
    copy_all(txn, &db).map_err(|e| match e {
        Copy::Source(e) => OpsError::store(source, e),
        Copy::Dest(e) => OpsError::store(temp, e),
    })?;
    db.close().map_err(|e| OpsError::store(temp, e))
}

/// Which side of the copy failed.
enum Copy {
    Source(StoreError),
    Dest(StoreError),
}

/// Copies every known table that exists in `txn` into `db`, then makes it durable.
fn copy_all(txn: &ReadTransaction, db: &Database) -> Result<(), Copy> {
    copy(txn, db, META)?;
    copy(txn, db, USERS)?;
    copy(txn, db, MESSAGES)?;
    copy(txn, db, CHANNEL_LINES)?;
    copy(txn, db, CONVERSATION_LINES)?;
    copy(txn, db, DEFERRED)?;
    copy(txn, db, MEMBERSHIPS)?;
    copy(txn, db, CLOSED_CHANNELS)?;
    copy(txn, db, CREATED_CHANNELS)?;
    copy(txn, db, BANS)?;
    copy(txn, db, OPERATORS)?;
    copy(txn, db, MUTES)?;
    copy(txn, db, SLOW_CHANNELS)?;
    // The chunks were committed without fsync; this commit makes all of them durable.
    let dest = |e: StoreError| Copy::Dest(e);
    let last = db.begin_write().map_err(|e| dest(e.into()))?;
    last.commit().map_err(|e| dest(e.into()))
}

fn copy<K: Key + 'static, V: Value + 'static>(
    txn: &ReadTransaction,
    db: &Database,
    table: TableDefinition<K, V>,
) -> Result<(), Copy> {
    let source = |e: StoreError| Copy::Source(e);
    let dest = |e: StoreError| Copy::Dest(e);
    let from = match txn.open_table(table) {
        Ok(from) => from,
        Err(TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(err) => return Err(source(err.into())),
    };
    let mut rows = redb::ReadableTable::iter(&from).map_err(|e| source(e.into()))?;
    loop {
        let mut write = db.begin_write().map_err(|e| dest(e.into()))?;
        write
            .set_durability(Durability::None)
            .map_err(|e| dest(e.into()))?;
        let mut done = true;
        {
            let mut to = write.open_table(table).map_err(|e| dest(e.into()))?;
            for _ in 0..CHUNK {
                let Some(entry) = rows.next() else {
                    done = true;
                    break;
                };
                done = false;
                let (key, value) = entry.map_err(|e| source(e.into()))?;
                to.insert(key.value(), value.value())
                    .map_err(|e| dest(e.into()))?;
            }
        }
        write.commit().map_err(|e| dest(e.into()))?;
        if done {
            return Ok(());
        }
    }
}

/// Opens a backup file (writable: the integrity check may commit), checks its integrity and
/// schema version, and counts its rows.
pub fn verify(path: &Path) -> Result<Verified, OpsError> {
    if !path.exists() {
        return Err(OpsError::MissingFile(path.to_owned()));
    }
    let mut db = redb::Builder::new()
        .set_cache_size(OPS_CACHE_BYTES)
        .open(path)
        .map_err(|e| OpsError::store(path, e))?;
    let intact = db.check_integrity().map_err(|e| OpsError::store(path, e))?;
    if !intact {
        return Err(OpsError::NotADatabase {
            path: path.to_owned(),
            detail: "le contrôle d'intégrité a échoué".to_owned(),
        });
    }
    let txn = redb::ReadableDatabase::begin_read(&db).map_err(|e| OpsError::store(path, e))?;
    let schema_version = check_schema(path, &txn)?;
    let counts = table_counts(&txn).map_err(|e| OpsError::store(path, e))?;
    drop(txn);
    db.close().map_err(|e| OpsError::store(path, e))?;
    let bytes = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(Verified {
        schema_version,
        counts,
        bytes,
    })
}

/// Makes a rename in `path`'s folder durable (best effort: some file systems refuse).
pub(super) fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
}

/// The name of a new timestamped backup in `dir`: `classcord-AAAAMMJJ-HHMMSS.redb` (local time),
/// with `-2`, `-3`... if that name is taken.
pub fn timestamped_path(dir: &Path, unix_seconds: u64) -> PathBuf {
    let t = crate::clock::local_time(unix_seconds, 0);
    let stem = format!(
        "classcord-{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    let mut path = dir.join(format!("{stem}.redb"));
    let mut n = 2;
    while path.exists() && n < 1000 {
        path = dir.join(format!("{stem}-{n}.redb"));
        n += 1;
    }
    path
}

/// The sort key of a timestamped backup name, `None` for any other file (never deleted).
fn backup_key(name: &str) -> Option<(u64, u64, u32)> {
    let rest = name.strip_prefix("classcord-")?.strip_suffix(".redb")?;
    let mut parts = rest.split('-');
    let date = parts.next().filter(|p| p.len() == 8)?;
    let time = parts.next().filter(|p| p.len() == 6)?;
    let n = match parts.next() {
        Some(n) => n.parse().ok()?,
        None => 1,
    };
    if parts.next().is_some() {
        return None;
    }
    let digits = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| p.parse().ok())
            .flatten()
    };
    Some((digits(date)?, digits(time)?, n))
}

/// Deletes the oldest timestamped backups in `dir` beyond the newest `keep`; returns them.
pub fn rotate(dir: &Path, keep: usize) -> Result<Vec<PathBuf>, OpsError> {
    let entries =
        fs::read_dir(dir).map_err(|e| OpsError::io("lecture impossible du dossier", dir, e))?;
    let mut backups = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| OpsError::io("lecture impossible du dossier", dir, e))?;
        let name = entry.file_name();
        if let Some(key) = name.to_str().and_then(backup_key) {
            backups.push((key, entry.path()));
        }
    }
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    let mut deleted = Vec::new();
    for (_, path) in backups.into_iter().take(excess) {
        fs::remove_file(&path).map_err(|e| OpsError::io("suppression impossible de", &path, e))?;
        deleted.push(path);
    }
    Ok(deleted)
}

/// Prints the rows of every table, one table a line.
pub fn print_counts(out: &mut dyn Write, verified: &Verified) -> std::io::Result<()> {
    for (name, rows) in &verified.counts {
        writeln!(out, "  {name:<20} {rows:>10} ligne(s)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_timestamped_names_are_rotated() {
        assert_eq!(
            backup_key("classcord-20261201-093000.redb"),
            Some((20261201, 93000, 1))
        );
        assert_eq!(
            backup_key("classcord-20261201-093000-3.redb"),
            Some((20261201, 93000, 3))
        );
        for other in [
            "classcord.redb",
            "classcord-20261201.redb",
            "classcord-2026120-093000.redb",
            "classcord-20261201-093000.redb.tmp",
            "classcord-20261201-093000-x.redb",
            "classcord-20261201-093000-2-2.redb",
            "notes-20261201-093000.redb",
        ] {
            assert_eq!(backup_key(other), None, "{other}");
        }
    }

    #[test]
    fn rotation_keeps_the_newest_and_ignores_other_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names = [
            "classcord-20261201-100000.redb",
            "classcord-20261201-100000-2.redb",
            "classcord-20261130-235959.redb",
            "classcord-20261202-000000.redb",
            "important.redb",
        ];
        for name in names {
            fs::write(dir.path().join(name), b"x").expect("write");
        }
        let deleted = rotate(dir.path(), 2).expect("rotate");
        let deleted: Vec<_> = deleted
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            deleted,
            [
                "classcord-20261130-235959.redb",
                "classcord-20261201-100000.redb"
            ]
        );
        let mut left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "classcord-20261201-100000-2.redb",
                "classcord-20261202-000000.redb",
                "important.redb"
            ]
        );
    }

    #[test]
    fn the_copy_knows_every_table_the_server_creates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = super::super::Store::open(&dir.path().join("db.redb"), 1 << 20).expect("open");
        let txn = redb::ReadableDatabase::begin_read(&store.db).expect("read");
        let counts = table_counts(&txn).expect("counts");
        assert!(!counts.is_empty());
        for (name, _) in counts {
            assert!(
                KNOWN_TABLES.contains(&name.as_str()),
                "backup does not copy {name}"
            );
        }
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;

    fn send<T: Send>(_: &T) {}

    #[test]
    fn a_snapshot_copied_into_an_open_file_verifies_and_renames() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("db.redb");
        let store = Store::open(&source, 1 << 20).expect("open");
        let txn = store.snapshot().expect("snapshot");
        send(&txn);
        let dest = dir.path().join("copy.redb");
        let (temp, file) = create_temp(&dest).expect("temp");
        let copied = copy_into(&txn, &source, file).expect("copy");
        let verified = finish(&temp, &dest, &copied).expect("finish");
        assert_eq!(verified.counts, copied.counts);
        assert!(dest.exists() && !temp.exists());
        assert!(copied.counts.iter().any(|(name, _)| name == "bans"));
    }
}
