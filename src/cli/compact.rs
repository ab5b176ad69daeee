//! `classcord compact`: gives the space of deleted lines back to the file system (server stopped).

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use super::fail;
use crate::store::access::database_in;
use crate::store::user_admin::compact;

/// Compacte la base (serveur arrêté) : rend au disque la place des messages effacés.
#[derive(FromArgs)]
#[argh(subcommand, name = "compact")]
pub struct Compact {
    /// dossier des données (défaut : ./classcord-data)
    #[argh(option, arg_name = "dossier")]
    data: Option<PathBuf>,
}

impl Compact {
    pub fn run(self) -> ExitCode {
        let db_path = database_in(self.data.as_deref());
        match compact(&db_path) {
            Ok((before, after)) => {
                println!(
                    "base compactée : {} : {} Kio -> {} Kio",
                    db_path.display(),
                    before.div_ceil(1024),
                    after.div_ceil(1024)
                );
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        }
    }
}
