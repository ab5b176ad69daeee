//! `classcord admin`: the administration console (see `crate::admin`). With a command, runs it
//! and exits (status 0 if the server did it, 1 otherwise); without, opens the interactive console.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use super::fail;
use crate::admin::client::{candidates, AdminClient};
use crate::admin::commands::{parse, Words};
use crate::admin::console::{execute, interactive, Outcome};
use crate::config::{Config, Overrides};

/// Administre le serveur en marche : qui est connecté, exclusions, bannissements, alertes,
/// salons, comptes, sauvegarde, relecture de la configuration, arrêt. Sans commande : console
/// interactive (aide, historique, complétion par Tab).
#[derive(FromArgs)]
#[argh(subcommand, name = "admin")]
pub struct Admin {
    /// réponses en JSON (une ligne par réponse), pour les scripts
    #[argh(switch)]
    json: bool,
    /// chemin du socket d'administration
    #[argh(option)]
    socket: Option<PathBuf>,
    /// dossier des données du serveur (le socket y est, hors systemd)
    #[argh(option)]
    data: Option<PathBuf>,
    /// fichier de configuration du serveur ([admin] socket, data_dir)
    #[argh(option)]
    config: Option<PathBuf>,
    /// la commande et ses arguments (par ex. : who, kick alice "trop de bruit") ; « help » les
    /// liste
    #[argh(positional, greedy)]
    command: Vec<String>,
}

impl Admin {
    pub fn run(self) -> ExitCode {
        let (configured, data) = match &self.config {
            Some(file) => {
                let overrides = Overrides {
                    data_dir: self.data.clone(),
                    ..Overrides::default()
                };
                match Config::load(Some(file), overrides) {
                    Ok(config) => (config.admin.socket.clone(), Some(config.data_dir)),
                    Err(error) => return fail(&error),
                }
            }
            None => (None, self.data.clone()),
        };
        let paths = candidates(
            self.socket.as_deref(),
            data.as_deref(),
            configured.as_deref(),
        );
        let parsed = if self.command.is_empty() {
            None
        } else {
            match parse(&Words::from_args(&self.command)) {
                Ok(parsed) => Some(parsed),
                Err(error) => return fail(&error),
            }
        };
        let mut client = match AdminClient::locate(&paths) {
            Ok(client) => client,
            Err(error) => return fail(&error),
        };
        match parsed {
            None => match interactive(client, self.json) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error),
            },
            Some(parsed) => match execute(&mut client, parsed, self.json) {
                Ok(Outcome::Done | Outcome::Quit) => ExitCode::SUCCESS,
                Ok(Outcome::Failed) => ExitCode::FAILURE,
                Err(error) => fail(&error),
            },
        }
    }
}
