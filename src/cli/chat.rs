//! `classcord chat [HOST][:PORT]`: the terminal chat client (see `crate::chat`). This file only
//! reads the flags and the password.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use argh::FromArgs;

use super::fail;
use crate::chat::{ChatError, Identity, Options};

/// Client de discussion en terminal : le test « deux clients » de la classe, ou la discussion
/// par SSH. Sans terminal (entrée redirigée), chaque ligne lue est envoyée comme si elle était
/// tapée et chaque ligne reçue est écrite sur la sortie standard.
#[derive(FromArgs)]
#[argh(subcommand, name = "chat")]
pub struct Chat {
    /// adresse du serveur : HÔTE, HÔTE:PORT ou :PORT (défaut : 127.0.0.1:12345)
    #[argh(positional)]
    adresse: Option<String>,
    /// se connecter en invité sous ce pseudo (défaut : votre nom d'utilisateur)
    #[argh(option)]
    nom: Option<String>,
    /// se connecter avec ce compte ; le mot de passe est demandé sans écho (ou lu sur la
    /// première ligne de l'entrée standard)
    #[argh(option)]
    compte: Option<String>,
    /// créer d'abord le compte donné par --compte (inscription)
    #[argh(switch)]
    inscrire: bool,
    /// afficher les lignes JSON échangées (C>S envoyée, S>C reçue) ; une ligne tapée qui
    /// commence par { est envoyée telle quelle
    #[argh(switch)]
    brut: bool,
}

impl Chat {
    pub fn run(self) -> ExitCode {
        let identity = match self.identity() {
            Ok(identity) => identity,
            Err(error) => return fail(&error),
        };
        let options = Options {
            address: self.adresse,
            identity,
            raw: self.brut,
        };
        match crate::chat::run(options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&error),
        }
    }

    fn identity(&self) -> Result<Identity, ChatError> {
        let refuse = |text: &str| Err(ChatError::Invalid(text.to_owned()));
        match (&self.nom, &self.compte) {
            (Some(_), Some(_)) => {
                refuse("choisissez --nom (invité) ou --compte (compte), pas les deux")
            }
            (_, None) if self.inscrire => refuse("--inscrire demande --compte NOM"),
            (Some(guest), None) => Ok(Identity::Guest(guest.clone())),
            (None, None) => Ok(Identity::Guest(default_guest_name())),
            (None, Some(name)) => {
                let password = if self.inscrire {
                    // Asked twice on a terminal, like `classcord user add`.
                    crate::console::password::read_password(name).map_err(ChatError::Invalid)
                } else if std::io::stdin().is_terminal() {
                    crate::console::password::prompt_hidden(&format!(
                        "Mot de passe de « {name} » : "
                    ))
                    .map_err(ChatError::Invalid)
                } else {
                    first_input_line()
                }?;
                Ok(Identity::Account {
                    name: name.clone(),
                    password,
                    register: self.inscrire,
                })
            }
        }
    }
}

/// The password of a scripted login: the first line of standard input (the rest is the chat).
fn first_input_line() -> Result<String, ChatError> {
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) => Err(ChatError::Invalid(
            "aucun mot de passe reçu sur l'entrée standard (première ligne)".into(),
        )),
        Ok(_) => Ok(line.trim_end_matches(['\n', '\r']).to_owned()),
        Err(error) => Err(ChatError::Io(error)),
    }
}

/// The login name of whoever runs the command, else the server's own default.
fn default_guest_name() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|key| std::env::var(key).ok())
        .find(|name| !name.trim().is_empty())
        .unwrap_or_else(|| classcord_core::message::DEFAULT_GUEST_NAME.to_owned())
}
