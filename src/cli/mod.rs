//! The `classcord` command line: one file per subcommand. Each subcommand parses its own flags
//! (argh, French help) and returns an exit status; errors are printed here, in French, on one line.

mod check_config;
mod serve;

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
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Serve(command) => command.run(),
            Command::CheckConfig(command) => command.run(),
        }
    }
}

/// Prints `classcord : erreur : ...` on stderr and returns a failure status.
pub fn fail(error: &dyn Display) -> ExitCode {
    eprintln!("classcord : erreur : {error}");
    ExitCode::FAILURE
}
