//! `classcord import-pickle`: imports the accounts of the Python server's `users.pkl` (see
//! `store::import`); server stopped.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use super::fail;
use super::user::{hasher, now_unix, settings};
use crate::store::access::{open_writer, OpsError};
use crate::store::import::{import, read_pickle};

/// Importe les comptes du serveur Python (users.pkl : nom -> mot de passe en clair), hachés en
/// argon2id ; les noms invalides ou déjà pris sont signalés et ignorés (serveur arrêté).
#[derive(FromArgs)]
#[argh(subcommand, name = "import-pickle")]
pub struct ImportPickle {
    /// le fichier users.pkl du serveur Python
    #[argh(positional)]
    file: PathBuf,
    /// dossier des données (défaut : ./classcord-data, ou celui du fichier de configuration)
    #[argh(option)]
    data: Option<PathBuf>,
    /// fichier de configuration (coût du hachage : section [passwords])
    #[argh(option)]
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
        let (db_path, params) = settings(self.data, self.config.as_deref())?;
        let hasher = hasher(params)?;
        // Read and decode everything before touching the database.
        let entries = read_pickle(&self.file)?;
        let store = open_writer(&db_path, true)?;
        let total = entries.len();
        let report = import(&store, &hasher, entries, now_unix(), &db_path)?;
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
        Ok(())
    }
}
