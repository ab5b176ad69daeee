//! The console's commands as the operator types them (`kick alice trop de bruit`), turned into
//! requests; the same parser serves the one-shot form (`classcord admin kick alice "..."`) and
//! the interactive console. The last argument of a command takes the rest of the line.

use std::path::PathBuf;

use super::bans::parse_duration;
use super::protocol::{ChannelVerb, Request};

/// Every command: name, arguments, what it does (the help and the completion use this).
pub const COMMANDS: [(&str, &str, &str); 17] = [
    (
        "who",
        "",
        "les connexions : nom, type, adresse, état, salons, depuis, messages",
    ),
    ("channels", "", "les salons et leurs membres"),
    (
        "stats",
        "",
        "chiffres du serveur (les mêmes que les métriques)",
    ),
    (
        "kick",
        "NOM [raison]",
        "déconnecte toutes les connexions de NOM",
    ),
    (
        "ban",
        "NOM|IP|RÉSEAU [durée] [raison]",
        "bannit (durée : 30m, 2h, 7j ; sans durée : définitif) et déconnecte",
    ),
    ("unban", "NOM|IP|RÉSEAU", "lève un bannissement"),
    ("bans", "", "les bannissements en cours"),
    (
        "alert",
        "TEXTE",
        "avis de « Serveur » à tout le monde, invités compris",
    ),
    ("say", "NOM TEXTE", "avis privé de « Serveur » à NOM"),
    (
        "channel",
        "create|close|open|delete SALON",
        "crée, ferme, rouvre ou supprime un salon",
    ),
    (
        "user",
        "list | add NOM | del NOM | passwd NOM",
        "comptes (le mot de passe est demandé sans écho)",
    ),
    (
        "backup",
        "FICHIER",
        "copie cohérente et vérifiée de la base",
    ),
    (
        "reload",
        "",
        "relit le fichier de configuration (comme le signal SIGHUP)",
    ),
    (
        "shutdown",
        "[délai|annuler] [message]",
        "arrêt propre, avec compte à rebours si un délai est donné",
    ),
    ("info", "", "version, base et socket du serveur"),
    ("help", "[COMMANDE]", "cette aide (aussi : aide, ?)"),
    (
        "quit",
        "",
        "quitte la console (aussi : quitter, exit, Ctrl-D)",
    ),
];

/// Second words completed after `channel` and `user`.
pub const CHANNEL_ACTIONS: [&str; 4] = ["create", "close", "open", "delete"];
pub const USER_ACTIONS: [&str; 4] = ["list", "add", "del", "passwd"];

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Send(Request),
    /// A request that needs a password first (asked for `name`, without echo).
    NeedsPassword(Request, String),
    /// A backup into this file (the console creates it and passes it to the server).
    Backup(PathBuf),
    Help(Option<String>),
    Quit,
}

/// The words of a command line, and for each word the raw rest of the line from it (the last
/// argument of a command takes the rest as typed).
pub struct Words {
    pub words: Vec<String>,
    pub rests: Vec<String>,
}

impl Words {
    /// From the command line's own words (one-shot: the shell already split them).
    pub fn from_args(args: &[String]) -> Words {
        Words {
            words: args.to_vec(),
            rests: (0..args.len()).map(|at| args[at..].join(" ")).collect(),
        }
    }

    /// Splits a typed line: spaces separate words, "..." or '...' group them. The rest of the line
    /// from a word keeps what was typed, unless it is one quoted word (then the quotes go).
    pub fn split(line: &str) -> Result<Words, String> {
        let mut words = Vec::new();
        let mut starts = Vec::new();
        let mut current: Option<String> = None;
        let mut quote: Option<char> = None;
        for (at, c) in line.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => current.get_or_insert_with(String::new).push(c),
                (None, '"' | '\'') => {
                    if current.is_none() {
                        starts.push(at);
                    }
                    current.get_or_insert_with(String::new);
                    quote = Some(c);
                }
                (None, c) if c.is_whitespace() => {
                    if let Some(word) = current.take() {
                        words.push(word);
                    }
                }
                (None, c) => {
                    if current.is_none() {
                        starts.push(at);
                    }
                    current.get_or_insert_with(String::new).push(c);
                }
            }
        }
        if quote.is_some() {
            return Err("Guillemet non refermé.".into());
        }
        if let Some(word) = current {
            words.push(word);
        }
        let rests = starts
            .iter()
            .enumerate()
            .map(|(index, &start)| {
                if index + 1 == words.len() {
                    words[index].clone()
                } else {
                    line[start..].trim().to_owned()
                }
            })
            .collect();
        Ok(Words { words, rests })
    }

    fn get(&self, at: usize) -> Option<&str> {
        self.words.get(at).map(String::as_str)
    }

    fn rest(&self, at: usize) -> Option<String> {
        self.rests.get(at).cloned().filter(|r| !r.trim().is_empty())
    }
}

fn usage(command: &str) -> String {
    let (name, args, _) = COMMANDS
        .iter()
        .find(|(name, _, _)| *name == command)
        .copied()
        .unwrap_or((command, "", ""));
    format!("Usage : {name} {args}").trim_end().to_owned()
}

/// Turns a command line into what to do.
pub fn parse(words: &Words) -> Result<Parsed, String> {
    let Some(command) = words.get(0) else {
        return Ok(Parsed::Help(None));
    };
    let command = command.to_lowercase();
    let needs = |at: usize| {
        words
            .get(at)
            .map(str::to_owned)
            .ok_or_else(|| usage(&command))
    };
    let no_more = |count: usize, request: Request| {
        if words.words.len() > count {
            Err(format!(
                "{} : trop d'arguments. {}",
                command,
                usage(&command)
            ))
        } else {
            Ok(Parsed::Send(request))
        }
    };
    match command.as_str() {
        "who" => no_more(1, Request::Who),
        "channels" => no_more(1, Request::Channels),
        "stats" => no_more(1, Request::Stats),
        "bans" => no_more(1, Request::Bans),
        "reload" => no_more(1, Request::Reload),
        "info" => no_more(1, Request::Info),
        "kick" => Ok(Parsed::Send(Request::Kick {
            name: needs(1)?,
            reason: words.rest(2),
        })),
        "ban" => {
            let target = needs(1)?;
            let is_duration = words.get(2).is_some_and(|word| {
                parse_duration(word).is_some()
                    || matches!(word, "permanent" | "définitif" | "definitif")
            });
            let (duration, reason_at) = if is_duration {
                (words.get(2).map(str::to_owned), 3)
            } else {
                (None, 2)
            };
            Ok(Parsed::Send(Request::Ban {
                target,
                duration,
                reason: words.rest(reason_at),
            }))
        }
        "unban" => {
            let target = needs(1)?;
            no_more(2, Request::Unban { target })
        }
        "alert" => Ok(Parsed::Send(Request::Alert {
            text: words.rest(1).ok_or_else(|| usage("alert"))?,
        })),
        "say" => Ok(Parsed::Send(Request::Say {
            name: needs(1)?,
            text: words.rest(2).ok_or_else(|| usage("say"))?,
        })),
        "channel" => {
            let action = match needs(1)?.to_lowercase().as_str() {
                "create" => ChannelVerb::Create,
                "close" => ChannelVerb::Close,
                "open" => ChannelVerb::Open,
                "delete" => ChannelVerb::Delete,
                _ => return Err(usage("channel")),
            };
            let name = needs(2)?;
            no_more(3, Request::Channel { action, name })
        }
        "user" => match needs(1)?.to_lowercase().as_str() {
            "list" => no_more(2, Request::UserList),
            "del" => {
                let name = needs(2)?;
                no_more(3, Request::UserDel { name })
            }
            "add" | "passwd" if words.words.len() > 3 => Err(usage("user")),
            "add" => {
                let name = needs(2)?;
                let request = Request::UserAdd {
                    name: name.clone(),
                    password: String::new(),
                };
                Ok(Parsed::NeedsPassword(request, name))
            }
            "passwd" => {
                let name = needs(2)?;
                let request = Request::UserPasswd {
                    name: name.clone(),
                    password: String::new(),
                };
                Ok(Parsed::NeedsPassword(request, name))
            }
            _ => Err(usage("user")),
        },
        "backup" => {
            let out = needs(1)?;
            if words.words.len() > 2 {
                return Err(usage("backup"));
            }
            Ok(Parsed::Backup(PathBuf::from(out)))
        }
        "shutdown" => {
            let first = words.get(1);
            let is_delay = first.is_some_and(|word| {
                parse_duration(word).is_some() || matches!(word, "0" | "annuler" | "cancel")
            });
            let (delay, message_at) = if is_delay {
                (first.map(str::to_owned), 2)
            } else {
                (None, 1)
            };
            Ok(Parsed::Send(Request::Shutdown {
                delay,
                message: words.rest(message_at),
            }))
        }
        "help" | "aide" | "?" => Ok(Parsed::Help(words.get(1).map(str::to_owned))),
        "quit" | "quitter" | "exit" => Ok(Parsed::Quit),
        other => Err(format!(
            "Commande inconnue : « {other} ». Tapez « aide » pour la liste."
        )),
    }
}

/// The help: every command, or one.
pub fn help(command: Option<&str>) -> String {
    if let Some(command) = command {
        if let Some((name, args, what)) = COMMANDS.iter().find(|(name, _, _)| *name == command) {
            return format!("{name} {args}\n  {what}").replace("  \n", "\n");
        }
        return format!("Commande inconnue : « {command} ».");
    }
    let width = COMMANDS
        .iter()
        .map(|(name, args, _)| name.chars().count() + args.chars().count() + 1)
        .max()
        .unwrap_or(0);
    let mut lines = vec!["Commandes :".to_owned()];
    for (name, args, what) in COMMANDS {
        let usage = format!("{name} {args}");
        let pad = width.saturating_sub(usage.chars().count());
        lines.push(format!("  {usage}{}  {what}", " ".repeat(pad)));
    }
    lines.push(
        "Un texte avec des espaces peut être mis entre guillemets ; le dernier argument prend \
         toute la fin de la ligne."
            .into(),
    );
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(line: &str) -> Result<Parsed, String> {
        parse(&Words::split(line)?)
    }

    #[test]
    fn typed_lines_become_requests() {
        assert_eq!(typed("who").unwrap(), Parsed::Send(Request::Who));
        assert_eq!(
            typed("kick alice trop de  bruit").unwrap(),
            Parsed::Send(Request::Kick {
                name: "alice".into(),
                reason: Some("trop de  bruit".into())
            })
        );
        assert_eq!(
            typed("kick \"jean pierre\" \"chahut\"").unwrap(),
            Parsed::Send(Request::Kick {
                name: "jean pierre".into(),
                reason: Some("chahut".into())
            })
        );
        assert_eq!(
            typed("ban 10.0.0.0/24 2h triche").unwrap(),
            Parsed::Send(Request::Ban {
                target: "10.0.0.0/24".into(),
                duration: Some("2h".into()),
                reason: Some("triche".into())
            })
        );
        assert_eq!(
            typed("ban mallory spam").unwrap(),
            Parsed::Send(Request::Ban {
                target: "mallory".into(),
                duration: None,
                reason: Some("spam".into())
            })
        );
        assert_eq!(
            typed("shutdown 5m mise à jour").unwrap(),
            Parsed::Send(Request::Shutdown {
                delay: Some("5m".into()),
                message: Some("mise à jour".into())
            })
        );
        assert!(matches!(
            typed("user add prof").unwrap(),
            Parsed::NeedsPassword(Request::UserAdd { .. }, name) if name == "prof"
        ));
        assert_eq!(
            typed("aide kick").unwrap(),
            Parsed::Help(Some("kick".into()))
        );
    }

    #[test]
    fn mistakes_get_the_usage() {
        assert!(typed("kick").unwrap_err().contains("Usage : kick NOM"));
        assert!(typed("channel explode x")
            .unwrap_err()
            .contains("create|close"));
        assert!(typed("who extra").unwrap_err().contains("trop d'arguments"));
        assert!(typed("danse").unwrap_err().contains("inconnue"));
        assert!(typed("say \"alice").unwrap_err().contains("Guillemet"));
    }

    #[test]
    fn one_shot_arguments_take_the_rest_too() {
        let args: Vec<String> = ["alert", "Fin", "du", "TP"].map(String::from).to_vec();
        assert_eq!(
            parse(&Words::from_args(&args)).unwrap(),
            Parsed::Send(Request::Alert {
                text: "Fin du TP".into()
            })
        );
        assert!(help(None).lines().count() > COMMANDS.len());
    }
}
