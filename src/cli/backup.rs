//! `classcord backup`: a verified, consistent copy of the database, server running or not (see
//! `store::backup`); with `--keep N`, a timestamped copy in a folder and the oldest beyond N deleted.
//! While a server runs on the database, the copy goes through its control socket: the server
//! copies its own snapshot into a file this command created (so the operator needs no read access
//! to the data folder, and the copy is the operator's).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use argh::FromArgs;

use super::fail;
use crate::store::access::{database_in, open_reader, OpsError};
use crate::store::backup::{backup, print_counts, rotate, timestamped_path};

/// Sauvegarde la base dans un fichier (copie cohérente et vérifiée), même pendant que le serveur
/// tourne.
#[derive(FromArgs)]
#[argh(subcommand, name = "backup")]
pub struct Backup {
    /// dossier des données (défaut : ./classcord-data)
    #[argh(option, arg_name = "dossier")]
    data: Option<PathBuf>,
    /// fichier de sauvegarde à écrire, ou dossier : il y reçoit classcord-AAAAMMJJ-HHMMSS.redb
    #[argh(option, arg_name = "fichier")]
    out: PathBuf,
    /// avec un dossier : ne garder que les N sauvegardes les plus récentes
    #[argh(option, arg_name = "n")]
    keep: Option<usize>,
}

impl Backup {
    pub fn run(self) -> ExitCode {
        match self.backup() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&error),
        }
    }

    fn backup(&self) -> Result<(), OpsError> {
        if self.keep == Some(0) {
            return Err(OpsError::Invalid(
                "--keep 0 effacerait la sauvegarde qui vient d'être faite : donnez au moins 1"
                    .into(),
            ));
        }
        let into_dir = self.out.is_dir()
            || self.keep.is_some()
            || self.out.as_os_str().to_string_lossy().ends_with('/');
        let db_path = database_in(self.data.as_deref());
        let server = super::user::running_server(self.data.clone(), None)
            .ok()
            .flatten();
        let reader = match server {
            Some(_) => None,
            None => {
                let reader = open_reader(&db_path)?;
                super::note_repair(&reader, &db_path);
                Some(reader)
            }
        };
        let dest = if into_dir {
            create_dir(&self.out)?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            timestamped_path(&self.out, now)
        } else {
            self.out.clone()
        };
        let verified = match (server, reader) {
            (Some(mut client), _) => {
                crate::admin::client::backup_via(&mut client, &dest).map_err(|error| {
                    OpsError::Invalid(format!("sauvegarde par le serveur : {error}"))
                })?
            }
            (None, Some(reader)) => backup(&reader, &db_path, &dest)?,
            (None, None) => return Err(OpsError::Missing(db_path)),
        };
        println!(
            "sauvegarde vérifiée : {} ({} octets, format {}, intégrité correcte)",
            dest.display(),
            verified.bytes,
            verified.schema_version
        );
        let _ = print_counts(&mut std::io::stdout(), &verified);
        if let Some(keep) = self.keep {
            for old in rotate(&self.out, keep)? {
                println!("ancienne sauvegarde supprimée : {}", old.display());
            }
        }
        Ok(())
    }
}

fn create_dir(dir: &Path) -> Result<(), OpsError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .map_err(|e| OpsError::io("impossible de créer le dossier", dir, e))
}
