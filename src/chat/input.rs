//! What the user types, turned into requests: plain text goes to the current channel, `/...`
//! commands (French names, a few English aliases) become the matching request. Pure: the caller
//! owns the connection and the current channel.

use classcord_core::message::ChannelName;

use super::wire::Request;

/// What one typed line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(Request),
    /// `--brut`: a line starting with `{` goes to the server as typed.
    Raw(String),
    Help,
    Quit,
    /// An empty line.
    Nothing,
    /// Nothing is sent; the French text says why.
    Mistake(String),
}

/// The commands, as `/aide` lists them (one home for their names and help).
pub const COMMANDS: [(&str, &str); 10] = [
    (
        "/msg NOM texte",
        "message privé (NOM entre guillemets s'il contient des espaces)",
    ),
    (
        "/join #salon",
        "rejoint un salon, qui devient le salon courant",
    ),
    (
        "/leave [#salon]",
        "quitte un salon (par défaut le salon courant)",
    ),
    ("/salons", "liste les salons et leur nombre de membres"),
    ("/qui [#salon]", "qui est en ligne (ou dans ce salon)"),
    (
        "/historique [N]",
        "les N derniers messages du salon courant",
    ),
    (
        "/etat ÉTAT",
        "change votre état : absent, dnd, invisible, online",
    ),
    ("/aide", "cette aide"),
    ("/quitter", "ferme la connexion (aussi Ctrl-D)"),
    ("texte", "tout autre texte part dans le salon courant"),
];

/// The `/aide` text.
pub fn help(raw: bool) -> String {
    let mut text = String::from("Commandes :");
    for (usage, what) in COMMANDS {
        text.push_str(&format!("\n  {usage:<18} {what}"));
    }
    if raw {
        text.push_str(&format!(
            "\n  {:<18} envoyée telle quelle (mode --brut)",
            "{\"type\":...}"
        ));
    }
    text
}

/// Parses one typed line; `current` is the current channel's display name.
pub fn parse(line: &str, current: &str, raw: bool) -> Action {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Action::Nothing;
    }
    if raw && trimmed.starts_with('{') {
        return Action::Raw(trimmed.to_owned());
    }
    let Some(command) = trimmed.strip_prefix('/') else {
        return Action::Send(Request::Message {
            content: line.trim_end_matches(['\r', '\n']).to_owned(),
            channel: channel_field(current),
        });
    };
    let (word, rest) = match command.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (command, ""),
    };
    match word.to_lowercase().as_str() {
        "msg" | "m" | "prive" | "privé" => private(rest),
        "join" | "rejoindre" => match channel(rest) {
            Ok(channel) => Action::Send(Request::Join { channel }),
            Err(mistake) => mistake,
        },
        "leave" | "part" => {
            let target = if rest.is_empty() { current } else { rest };
            match channel(target) {
                Ok(channel) if is_default(&channel) => Action::Mistake(format!(
                    "Impossible de quitter {channel} : tout le monde en fait partie."
                )),
                Ok(channel) => Action::Send(Request::Leave { channel }),
                Err(mistake) => mistake,
            }
        }
        "salons" | "channels" => Action::Send(Request::Channels),
        "qui" | "who" | "users" => {
            if rest.is_empty() {
                Action::Send(Request::Users)
            } else {
                match channel(rest) {
                    Ok(channel) => Action::Send(Request::Who {
                        channel: Some(channel),
                    }),
                    Err(mistake) => mistake,
                }
            }
        }
        "historique" | "history" => {
            let limit = if rest.is_empty() {
                None
            } else {
                match rest.parse::<u32>() {
                    Ok(limit) if limit > 0 => Some(limit),
                    _ => {
                        return Action::Mistake(format!(
                            "« {rest} » n'est pas un nombre de messages (exemple : /historique 20)."
                        ))
                    }
                }
            };
            Action::Send(Request::History {
                channel: channel_field(current),
                limit,
            })
        }
        "etat" | "état" | "status" => {
            if rest.is_empty() {
                Action::Mistake(
                    "Indiquez un état : /etat absent (ou dnd, invisible, online).".into(),
                )
            } else {
                Action::Send(Request::Status {
                    state: rest.to_owned(),
                })
            }
        }
        "ping" => Action::Send(Request::Ping),
        "aide" | "help" | "?" => Action::Help,
        "quitter" | "quit" | "exit" => Action::Quit,
        _ => Action::Mistake(format!(
            "Commande inconnue : /{word} (tapez /aide pour la liste)."
        )),
    }
}

/// `/msg NOM texte`, or `/msg "prof dupont" texte` for a name with spaces.
fn private(rest: &str) -> Action {
    let usage = || Action::Mistake("Usage : /msg NOM texte".into());
    let (to, content) = if let Some(quoted) = rest.strip_prefix('"') {
        match quoted.split_once('"') {
            Some((to, content)) => (to.trim(), content.trim()),
            None => return usage(),
        }
    } else {
        match rest.split_once(char::is_whitespace) {
            Some((to, content)) => (to, content.trim()),
            None => return usage(),
        }
    };
    if to.is_empty() || content.is_empty() {
        return usage();
    }
    Action::Send(Request::Private {
        to: to.to_owned(),
        content: content.to_owned(),
    })
}

/// A channel as the server will name it, or why it cannot be one.
fn channel(raw: &str) -> Result<String, Action> {
    if raw.is_empty() {
        return Err(Action::Mistake(
            "Indiquez un salon, par exemple #projet.".into(),
        ));
    }
    ChannelName::parse(raw)
        .map(|name| name.display)
        .map_err(|error| Action::Mistake(error.to_string()))
}

fn is_default(display: &str) -> bool {
    ChannelName::parse(display).is_ok_and(|name| name.is_default())
}

/// The `channel` field for a line to `current`: none for the default channel (every client
/// family's plain message goes there).
fn channel_field(current: &str) -> Option<String> {
    (!is_default(current)).then(|| current.to_owned())
}

/// The default channel's display name.
pub fn default_channel() -> String {
    ChannelName::default_channel().display
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(line: &str, current: &str) -> Request {
        match parse(line, current, false) {
            Action::Send(request) => request,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn plain_text_goes_to_the_current_channel() {
        assert_eq!(
            send("bonjour à tous", "#général"),
            Request::Message {
                content: "bonjour à tous".into(),
                channel: None
            }
        );
        assert_eq!(
            send("  on commence ", "#Projet"),
            Request::Message {
                content: "  on commence ".into(),
                channel: Some("#Projet".into())
            }
        );
    }

    #[test]
    fn commands_become_requests() {
        let g = "#général";
        assert_eq!(
            send("/msg bob salut toi", g),
            Request::Private {
                to: "bob".into(),
                content: "salut toi".into()
            }
        );
        assert_eq!(
            send("/msg \"prof dupont\" bonjour", g),
            Request::Private {
                to: "prof dupont".into(),
                content: "bonjour".into()
            }
        );
        assert_eq!(
            send("/join projet", g),
            Request::Join {
                channel: "#projet".into()
            }
        );
        assert_eq!(
            send("/JOIN #Maths", g),
            Request::Join {
                channel: "#Maths".into()
            }
        );
        assert_eq!(
            send("/leave", "#maths"),
            Request::Leave {
                channel: "#maths".into()
            }
        );
        assert_eq!(send("/salons", g), Request::Channels);
        assert_eq!(send("/qui", g), Request::Users);
        assert_eq!(
            send("/qui #p", g),
            Request::Who {
                channel: Some("#p".into())
            }
        );
        assert_eq!(
            send("/historique", g),
            Request::History {
                channel: None,
                limit: None
            }
        );
        assert_eq!(
            send("/historique 5", "#p"),
            Request::History {
                channel: Some("#p".into()),
                limit: Some(5)
            }
        );
        assert_eq!(
            send("/etat absent", g),
            Request::Status {
                state: "absent".into()
            }
        );
        assert_eq!(parse("/aide", g, false), Action::Help);
        assert_eq!(parse("/quitter", g, false), Action::Quit);
        assert_eq!(parse("   ", g, false), Action::Nothing);
    }

    #[test]
    fn mistakes_are_explained_and_nothing_is_sent() {
        let g = "#général";
        for (line, says) in [
            ("/msg bob", "Usage : /msg"),
            ("/msg", "Usage : /msg"),
            ("/join", "Indiquez un salon"),
            ("/join deux mots", "Nom de salon invalide"),
            ("/leave", "Impossible de quitter #général"),
            ("/leave general", "Impossible de quitter #général"),
            ("/historique beaucoup", "n'est pas un nombre"),
            ("/etat", "Indiquez un état"),
            ("/danse", "Commande inconnue : /danse"),
        ] {
            match parse(line, g, false) {
                Action::Mistake(text) => assert!(text.contains(says), "{line}: {text}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn raw_json_is_sent_as_typed_only_in_raw_mode() {
        let line = r#"{"type":"nouveau"}"#;
        assert_eq!(parse(line, "#général", true), Action::Raw(line.into()));
        assert!(matches!(
            parse(line, "#général", false),
            Action::Send(Request::Message { .. })
        ));
        assert!(help(true).contains("--brut"));
        assert!(!help(false).contains("--brut"));
    }
}
