//! The `classcord` command line: one file per subcommand. Each subcommand parses its own flags
//! (argh, French help) and returns an exit status; errors are printed here, in French, on one line.

mod admin;
mod backup;
mod chat;
mod check_config;
mod compact;
mod export;
mod french;
mod healthcheck;
mod import_pickle;
mod restore;
mod serve;
mod user;

use std::fmt::Display;
use std::path::Path;
use std::process::ExitCode;

use argh::FromArgs;

use crate::store::access::{open_reader, OpsError, Reader};

/// ClassCord : serveur de discussion pour les réseaux d'établissement scolaire.
#[derive(FromArgs)]
pub struct Cli {
    /// affiche la version, la cible et la révision git, puis quitte
    #[argh(switch, short = 'V')]
    version: bool,
    #[argh(subcommand)]
    command: Option<Command>,
}

#[derive(FromArgs)]
#[argh(subcommand)]
pub(crate) enum Command {
    Serve(serve::Serve),
    Admin(admin::Admin),
    CheckConfig(check_config::CheckConfig),
    Export(export::Export),
    Backup(backup::Backup),
    Restore(restore::Restore),
    ImportPickle(import_pickle::ImportPickle),
    User(user::User),
    Compact(compact::Compact),
    Healthcheck(healthcheck::Healthcheck),
    Chat(chat::Chat),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> ExitCode {
        if self.version {
            println!("{}", version_line());
            return ExitCode::SUCCESS;
        }
        match self.command {
            Some(Command::Serve(command)) => command.run(),
            Some(Command::Admin(command)) => command.run(),
            Some(Command::CheckConfig(command)) => command.run(),
            Some(Command::Export(command)) => command.run(),
            Some(Command::Backup(command)) => command.run(),
            Some(Command::Restore(command)) => command.run(),
            Some(Command::ImportPickle(command)) => command.run(),
            Some(Command::User(command)) => command.run(),
            Some(Command::Compact(command)) => command.run(),
            Some(Command::Healthcheck(command)) => command.run(),
            Some(Command::Chat(command)) => command.run(),
            None => {
                // No subcommand: show the usage (argh's own `--help` text) and fail, so a script
                // that forgot `serve` does not look like it succeeded.
                if let Err(help) = Cli::from_args(&["classcord"], &["--help"]) {
                    eprintln!("{}", french::french(&help.output).trim_end());
                }
                eprintln!("\nclasscord : erreur : indiquez une commande (par exemple « classcord serve »)");
                ExitCode::from(2)
            }
        }
    }
}

/// `classcord 0.1.0 (aarch64-unknown-linux-gnu, git 0123456789ab)`: what packagers and bug
/// reports need. The target and revision come from build.rs.
pub fn version_line() -> String {
    format!(
        "classcord {} ({}, git {})",
        env!("CARGO_PKG_VERSION"),
        env!("CLASSCORD_TARGET"),
        env!("CLASSCORD_GIT_REV")
    )
}

pub use french::from_env;

/// Prints `classcord : erreur : ...` on stderr and returns a failure status.
pub fn fail(error: &dyn Display) -> ExitCode {
    eprintln!("classcord : erreur : {error}");
    ExitCode::FAILURE
}

/// Tells the operator (on stderr) that an operator command repaired the database after a crash.
/// A consistent read snapshot of the database at `path` (server running or not), for the
/// reading subcommands.
fn snapshot(path: &Path) -> Result<redb::ReadTransaction, OpsError> {
    let reader = open_reader(path)?;
    note_repair(&reader, path);
    reader.begin_read().map_err(|source| OpsError::Store {
        path: path.to_owned(),
        source,
    })
}

fn note_repair(reader: &Reader, path: &Path) {
    if reader.was_repaired() {
        eprintln!(
            "classcord : note : {} n'avait pas été fermée proprement (arrêt brutal) : réparée",
            path.display()
        );
    }
}
