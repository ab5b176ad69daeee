//! `classcord restore`: puts a backup in place of the database, server stopped.
//!
//! Order, so that a failure at any step leaves the current database untouched and in place:
//! 1. copy the backup into the data folder under a temporary name and verify the copy (opens,
//!    integrity check, schema version not newer than this build); the backup file itself is only
//!    read, and a bad backup is refused before the current database is even opened;
//! 2. give the copy the permissions and owner of the current database (owner: when run as root),
//!    fsync it;
//! 3. lock the current database (a running server holds it: refuse with [`OpsError::InUse`]);
//! 4. keep the current database aside as `classcord.redb.avant-restauration-AAAAMMJJ-HHMMSS`
//!    (a hard link: the database path never disappears), then rename the copy over it.

use std::fs;
use std::path::{Path, PathBuf};

use redb::{ConcurrencyMode, DatabaseError};

use super::access::{own_like, OpsError, OPS_CACHE_BYTES};
use super::backup::{sync_parent, verify, Verified};

/// What a restore did.
#[derive(Debug)]
pub struct Restoration {
    pub verified: Verified,
    /// Where the previous database was kept, if there was one.
    pub kept_aside: Option<PathBuf>,
}

/// Replaces the database at `db_path` by the backup `from`. `now_unix` names the kept file.
pub fn restore(db_path: &Path, from: &Path, now_unix: u64) -> Result<Restoration, OpsError> {
    if !from.is_file() {
        return Err(OpsError::MissingFile(from.to_owned()));
    }
    let dir = match db_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(OpsError::Invalid(format!(
            "dossier de données introuvable : {} (créez-le d'abord, avec le même propriétaire que \
             le service)",
            dir.display()
        )));
    }
    let existed = db_path.exists();
    let temp = dir.join(format!(
        ".classcord.redb.restauration-{}",
        std::process::id()
    ));
    let result = place(db_path, from, &temp, existed, now_unix);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn place(
    db_path: &Path,
    from: &Path,
    temp: &Path,
    existed: bool,
    now_unix: u64,
) -> Result<Restoration, OpsError> {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::remove_file(temp);
    fs::copy(from, temp)
        .map_err(|e| OpsError::io("copie impossible de la sauvegarde vers", temp, e))?;
    // The permissions of the database it replaces (owner-only for a new one).
    let mode = fs::metadata(db_path).map_or(0o600, |m| m.permissions().mode() & 0o777);
    fs::set_permissions(temp, fs::Permissions::from_mode(mode))
        .map_err(|e| OpsError::io("droits impossibles à régler sur", temp, e))?;
    let verified = verify(temp).map_err(|err| match err {
        // Name the file the operator gave, not our temporary copy.
        OpsError::NotADatabase { detail, .. } => OpsError::NotADatabase {
            path: from.to_owned(),
            detail,
        },
        OpsError::NotClassCord(_) => OpsError::NotClassCord(from.to_owned()),
        OpsError::SchemaTooNew {
            found, supported, ..
        } => OpsError::SchemaTooNew {
            path: from.to_owned(),
            found,
            supported,
        },
        other => other,
    })?;
    let owner = if existed {
        db_path.to_owned()
    } else {
        db_path.parent().unwrap_or(Path::new(".")).to_owned()
    };
    own_like(temp, &owner)?;
    fs::File::open(temp)
        .and_then(|file| file.sync_all())
        .map_err(|e| OpsError::io("écriture impossible de", temp, e))?;

    // Held until the swap is done: a server starting meanwhile cannot open the old file.
    let _lock = if existed {
        match redb::Builder::new()
            .set_cache_size(OPS_CACHE_BYTES)
            .set_concurrency_mode(ConcurrencyMode::SingleWriter)
            .open(db_path)
        {
            Ok(db) => Some(db),
            Err(DatabaseError::DatabaseAlreadyOpen) => {
                return Err(OpsError::InUse(db_path.to_owned()))
            }
            // A damaged current database is what a restore is for: no server can have it open.
            Err(_) => None,
        }
    } else {
        None
    };

    let kept_aside = if existed {
        let aside = aside_path(db_path, now_unix);
        fs::hard_link(db_path, &aside)
            .map_err(|e| OpsError::io("impossible de garder l'ancienne base sous", &aside, e))?;
        Some(aside)
    } else {
        None
    };
    fs::rename(temp, db_path)
        .map_err(|e| OpsError::io("impossible de mettre en place", db_path, e))?;
    sync_parent(db_path);
    Ok(Restoration {
        verified,
        kept_aside,
    })
}

/// `classcord.redb.avant-restauration-AAAAMMJJ-HHMMSS` (local time), `-2`... if taken.
fn aside_path(db_path: &Path, now_unix: u64) -> PathBuf {
    let t = crate::clock::local_time(now_unix, 0);
    let name = db_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "classcord.redb".to_owned());
    let base = format!(
        "{name}.avant-restauration-{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    let mut path = db_path.with_file_name(&base);
    let mut n = 2;
    while path.exists() && n < 1000 {
        path = db_path.with_file_name(format!("{base}-{n}"));
        n += 1;
    }
    path
}
