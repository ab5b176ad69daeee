//! `classcord import-pickle`: imports the accounts of the Python server's `users.pkl` (see
//! `store::import`); server stopped. A data folder that does not exist yet is created (a fresh
//! install imports before its first start).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use argh::FromArgs;

use super::fail;
use super::user::{hasher, now_unix, settings};
use crate::store::access::{open_writer, OpsError};
use crate::store::import::{import, read_pickle};

/// Importe les comptes du serveur Python (users.pkl : nom -> mot de passe en clair), hachés en
/// argon2id (serveur arrêté).
#[derive(FromArgs)]
#[argh(
    subcommand,
    name = "import-pickle",
    note = "Les noms invalides ou déjà pris sont signalés et ignorés. Un mot de passe plus court \
            que le minimum ([passwords] min_length) est importé quand même et le compte est \
            signalé, pour demander à l'élève d'en changer. Le dossier de données est créé s'il \
            n'existe pas."
)]
pub struct ImportPickle {
    /// le fichier users.pkl du serveur Python
    #[argh(positional, arg_name = "fichier")]
    file: PathBuf,
    /// dossier des données (défaut : ./classcord-data, ou celui du fichier de configuration)
    #[argh(option, arg_name = "dossier")]
    data: Option<PathBuf>,
    /// fichier de configuration (coût du hachage : section [passwords])
    #[argh(option, arg_name = "fichier")]
    config: Option<PathBuf>,
}

impl ImportPickle {
    pub fn run(self) -> ExitCode {
        match self.import() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&error),
        }
    }

    fn import(self) -> Result<(), OpsError> {
        let settings = settings(self.data, self.config.as_deref())?;
        let db_path = settings.db_path;
        let hasher = hasher(settings.hash)?;
        // Read and decode everything before touching the database.
        let entries = read_pickle(&self.file)?;
        if let Some(created) = create_data_dir(&db_path)? {
            println!("dossier de données créé : {}", created.display());
        }
        let store = open_writer(&db_path, true)?;
        let total = entries.len();
        let min = settings.min_password_chars;
        let report = import(&store, &hasher, entries, now_unix(), &db_path, min)?;
        for name in &report.imported {
            println!("importé : {name}");
        }
        for (name, why) in &report.skipped {
            println!("ignoré  : « {name} » : {why}");
        }
        println!(
            "{} compte(s) lu(s) dans {} : {} importé(s), {} ignoré(s) ; base {}",
            total,
            self.file.display(),
            report.imported.len(),
            report.skipped.len(),
            db_path.display()
        );
        if !report.short_passwords.is_empty() {
            println!(
                "{} compte(s) importé(s) avec un mot de passe de moins de {min} caractères, \
                 accepté pour eux seuls (une nouvelle inscription le refuserait) : demandez-leur \
                 d'en changer (classcord user passwd NOM) :",
                report.short_passwords.len()
            );
            for name in &report.short_passwords {
                println!("  {name}");
            }
        }
        Ok(())
    }
}

/// Creates the database's folder if it does not exist (owned like its parent when run as root,
/// so the server's user can use it); returns it when created.
fn create_data_dir(db_path: &Path) -> Result<Option<PathBuf>, OpsError> {
    use std::os::unix::fs::DirBuilderExt;
    let Some(dir) = db_path.parent().filter(|dir| !dir.as_os_str().is_empty()) else {
        return Ok(None);
    };
    if dir.is_dir() {
        return Ok(None);
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .map_err(|e| OpsError::io("impossible de créer le dossier", dir, e))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::store::access::own_like(dir, parent)?;
    }
    Ok(Some(dir.to_owned()))
}
