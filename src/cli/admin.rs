//! `classcord admin`: the administration console (see `crate::console`). With a command, runs it
//! and exits (status 0 if the server did it, 1 otherwise); without, opens the interactive console.
//! A command that cannot be undone needs `--yes` here (the interactive console asks instead).

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use super::fail;
use crate::admin::client::{candidates, AdminClient};
use crate::config::{Config, Overrides};
use crate::console::interactive::interactive;
use crate::console::{execute, Confirm, Outcome};
use crate::control::words::{parse, Words};

/// Administre le serveur en marche : qui est connecté, exclusions, bannissements, alertes,
/// salons, comptes, sauvegarde, relecture de la configuration, arrêt. Sans commande : console
/// interactive (aide, historique, complétion par Tab).
#[derive(FromArgs)]
#[argh(
    subcommand,
    name = "admin",
    note = "Les commandes irréversibles (shutdown, channel delete, user del, bannissement d'un \
            réseau) disent ce qu'elles vont faire et demandent oui ou non dans la console ; \
            en une seule commande, ajoutez --yes. Un nom avec des espaces se met entre \
            guillemets : classcord admin kick \"jean dupont\" bavardage."
)]
pub struct Admin {
    /// réponses en JSON (une ligne par réponse), pour les scripts
    #[argh(switch)]
    json: bool,
    /// confirme d'avance les commandes irréversibles (aussi en dernier mot : ... --yes)
    #[argh(switch)]
    yes: bool,
    /// chemin du socket d'administration
    #[argh(option, arg_name = "chemin")]
    socket: Option<PathBuf>,
    /// dossier des données du serveur (le socket y est, hors systemd)
    #[argh(option, arg_name = "dossier")]
    data: Option<PathBuf>,
    /// fichier de configuration du serveur ([admin] socket, data_dir)
    #[argh(option, arg_name = "fichier")]
    config: Option<PathBuf>,
    /// la commande et ses arguments (par ex. : who, kick alice "trop de bruit") ; « help » les
    /// liste
    #[argh(positional, greedy, arg_name = "commande")]
    command: Vec<String>,
}

impl Admin {
    pub fn run(mut self) -> ExitCode {
        // `--yes` typed after the command is part of its words (they are taken whole).
        if self.command.last().map(String::as_str) == Some("--yes") {
            self.command.pop();
            self.yes = true;
        }
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
        let confirm = if self.yes {
            Confirm::Given
        } else {
            Confirm::Refuse
        };
        match parsed {
            None => match interactive(client, self.json, self.yes) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error),
            },
            Some(parsed) => match execute(&mut client, parsed, self.json, confirm) {
                Ok(Outcome::Done | Outcome::Quit) => ExitCode::SUCCESS,
                Ok(Outcome::Failed) => ExitCode::FAILURE,
                Err(error) => fail(&error),
            },
        }
    }
}
