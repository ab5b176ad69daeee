//! The `classcord` command line: one file per subcommand. Each subcommand parses its own flags
//! (argh, French help) and returns an exit status; errors are printed here, in French, on one line.

mod backup;
mod check_config;
mod compact;
mod export;
mod import_pickle;
mod restore;
mod serve;
mod user;

use std::fmt::Display;
use std::process::ExitCode;

use argh::FromArgs;

/// ClassCord : serveur de discussion pour les réseaux d'établissement scolaire.
#[derive(FromArgs)]
pub struct Cli {
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Serve(serve::Serve),
    CheckConfig(check_config::CheckConfig),
    Export(export::Export),
    Backup(backup::Backup),
    Restore(restore::Restore),
    ImportPickle(import_pickle::ImportPickle),
    User(user::User),
    Compact(compact::Compact),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Serve(command) => command.run(),
            Command::CheckConfig(command) => command.run(),
            Command::Export(command) => command.run(),
            Command::Backup(command) => command.run(),
            Command::Restore(command) => command.run(),
            Command::ImportPickle(command) => command.run(),
            Command::User(command) => command.run(),
            Command::Compact(command) => command.run(),
        }
    }
}

/// Prints `classcord : erreur : ...` on stderr and returns a failure status.
pub fn fail(error: &dyn Display) -> ExitCode {
    eprintln!("classcord : erreur : {error}");
    ExitCode::FAILURE
}

/// Tells the operator (on stderr) that an operator command repaired the database after a crash.
fn note_repair(reader: &crate::store::access::Reader, path: &std::path::Path) {
    if reader.was_repaired() {
        eprintln!(
            "classcord : note : {} n'avait pas été fermée proprement (arrêt brutal) : réparée",
            path.display()
        );
    }
}
