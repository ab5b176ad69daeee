//! `classcord restore`: puts a verified backup in place of the database, server stopped; the old
//! file is kept aside (see `store::restore`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use argh::FromArgs;

use super::fail;
use crate::store::access::database_in;
use crate::store::backup::print_counts;
use crate::store::restore::restore;

/// Remplace la base par une sauvegarde (serveur arrêté) ; l'ancienne base est gardée à côté.
#[derive(FromArgs)]
#[argh(subcommand, name = "restore")]
pub struct Restore {
    /// dossier des données (défaut : ./classcord-data)
    #[argh(option, arg_name = "dossier")]
    data: Option<PathBuf>,
    /// fichier de sauvegarde (fait par classcord backup)
    #[argh(option, arg_name = "fichier")]
    from: PathBuf,
}

impl Restore {
    pub fn run(self) -> ExitCode {
        let db_path = database_in(self.data.as_deref());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        match restore(&db_path, &self.from, now) {
            Ok(done) => {
                if let Some(aside) = &done.kept_aside {
                    println!("ancienne base gardée sous : {}", aside.display());
                }
                println!(
                    "sauvegarde {} restaurée dans {} (format {}, intégrité correcte) :",
                    self.from.display(),
                    db_path.display(),
                    done.verified.schema_version
                );
                let _ = print_counts(&mut std::io::stdout(), &done.verified);
                println!("vous pouvez redémarrer le serveur (systemctl start classcord).");
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        }
    }
}
