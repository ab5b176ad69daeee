//! A request as the console types it (`kick alice trop de bruit`), and the same words back from a
//! request: the admin log line shows that form, and the console reads it again as the same
//! request. Spaces separate words; "..." or '...' group them (a name with spaces:
//! `kick "jean dupont" bavardage`); the last argument of a command takes the rest of the line. The
//! one-shot form (`classcord admin kick alice "..."`) uses the same grammar on the words the shell
//! split.

use std::path::PathBuf;

use super::duration::{BanLength, Span, When, CANCEL_WORDS, NOW_WORDS, PERMANENT_WORDS};
use super::request::{ChannelVerb, Request};

/// Every command: name, arguments, what it does (the help and the completion use this).
pub const COMMANDS: [(&str, &str, &str); 27] = [
    (
        "who",
        "",
        "les connexions : nom, type, accès (tcp ou navigateur), adresse, état, salons, depuis, messages",
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
        "bannit et déconnecte (durée : 30 min, 2 h, 7 j ; sans durée : définitivement)",
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
        "mute",
        "NOM DURÉE [raison]",
        "retire la parole à NOM (compte ou invité) pour DURÉE : ses messages sont refusés, il \
         reçoit tout",
    ),
    ("unmute", "NOM", "rend la parole à NOM"),
    ("mutes", "", "les personnes privées de parole"),
    (
        "delete",
        "N°",
        "supprime le message n°N (son id) de l'historique et des exports",
    ),
    (
        "slow",
        "SALON SECONDES",
        "mode lent : un message toutes les SECONDES par personne dans SALON (0 : fin)",
    ),
    (
        "trace",
        "NOM|ADRESSE|#N° [durée]",
        "les lignes d'une connexion en direct, avec le verdict du serveur (10 min au plus par \
         défaut ; Ctrl-C l'arrête)",
    ),
    (
        "user",
        "list | add NOM | del NOM | passwd NOM",
        "comptes (le mot de passe est demandé sans écho)",
    ),
    (
        "operator",
        "add NOM | del NOM",
        "donne ou retire au compte NOM l'accès au tableau de bord web (https://…/admin)",
    ),
    (
        "operators",
        "",
        "les comptes opérateurs (ceux qui ouvrent le tableau de bord)",
    ),
    (
        "events",
        "",
        "les derniers événements de sécurité (échecs de connexion, bannissements, limites)",
    ),
    (
        "certificate",
        "",
        "adresse du tableau de bord et empreinte SHA-256 de son certificat (aussi : certificat)",
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
        "[maintenant|durée|annuler] [message]",
        "arrêt propre, tout de suite ou après un compte à rebours (10 min, 1 h...)",
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
pub const USER_ACTIONS: [&str; 4] = ["list", "add", "del", "passwd"];
/// Second words completed after `operator`.
pub const OPERATOR_ACTIONS: [&str; 2] = ["add", "del"];

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Said {
    Request(Request),
    /// A backup into this file (the console creates it and passes it to the server).
    Backup(PathBuf),
    Help(Option<String>),
    Quit,
}

/// The words of a command line; for each word, the raw rest of the line from it (the last
/// argument of a command takes the rest as typed) and whether it was quoted (a quoted word is
/// never read as a duration or a keyword: `ban alice "2 h"` gives the reason « 2 h »).
#[derive(Debug, Clone)]
pub struct Words {
    pub words: Vec<String>,
    rests: Vec<String>,
    quoted: Vec<bool>,
}

impl Words {
    /// From the command line's own words (one-shot: the shell already split them).
    pub fn from_args(args: &[String]) -> Words {
        Words {
            words: args.to_vec(),
            rests: (0..args.len()).map(|at| args[at..].join(" ")).collect(),
            quoted: vec![false; args.len()],
        }
    }

    /// Splits a typed line: spaces separate words, "..." or '...' group them. The rest of the
    /// line from a word keeps what was typed, unless it is one quoted word (then the quotes go).
    pub fn split(line: &str) -> Result<Words, String> {
        let mut words = Vec::new();
        let mut starts = Vec::new();
        let mut quoted = Vec::new();
        let mut current: Option<String> = None;
        let mut quote: Option<char> = None;
        for (at, c) in line.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => current.get_or_insert_with(String::new).push(c),
                (None, '"' | '\'') => {
                    if current.is_none() {
                        starts.push(at);
                        quoted.push(true);
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
                        quoted.push(false);
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
        Ok(Words {
            words,
            rests,
            quoted,
        })
    }

    fn get(&self, at: usize) -> Option<&str> {
        self.words.get(at).map(String::as_str)
    }

    /// A word that may be a keyword or a duration (typed without quotes).
    fn bare(&self, at: usize) -> Option<&str> {
        self.get(at).filter(|_| !self.quoted[at])
    }

    fn rest(&self, at: usize) -> Option<String> {
        self.rests.get(at).cloned().filter(|r| !r.trim().is_empty())
    }

    /// The unquoted words from `at` on, for a duration.
    fn bare_from(&self, at: usize) -> Vec<&str> {
        (at..self.words.len())
            .map_while(|at| self.bare(at))
            .collect()
    }
}

/// `Syntaxe : kick NOM [raison]`.
pub fn syntax(command: &str) -> String {
    let (name, args, _) = COMMANDS
        .iter()
        .find(|(name, _, _)| *name == command)
        .copied()
        .unwrap_or((command, "", ""));
    format!("Syntaxe : {name} {args}").trim_end().to_owned()
}

/// Turns a command line into what to do.
pub fn parse(words: &Words) -> Result<Said, String> {
    let Some(command) = words.get(0) else {
        return Ok(Said::Help(None));
    };
    let command = command.to_lowercase();
    let needs = |at: usize| {
        words
            .get(at)
            .map(str::to_owned)
            .ok_or_else(|| syntax(&command))
    };
    let no_more = |count: usize, request: Request| {
        if words.words.len() > count {
            Err(format!(
                "{command} : trop d'arguments. {}{}",
                syntax(&command),
                quote_hint(&words.words[1..])
            ))
        } else {
            Ok(Said::Request(request))
        }
    };
    let request = match command.as_str() {
        "who" => return no_more(1, Request::Who),
        "channels" => return no_more(1, Request::Channels),
        "stats" => return no_more(1, Request::Stats),
        "bans" => return no_more(1, Request::Bans),
        "reload" => return no_more(1, Request::Reload),
        "info" => return no_more(1, Request::Info),
        "operators" => return no_more(1, Request::Operators),
        "events" => return no_more(1, Request::Events),
        "certificate" | "certificat" => return no_more(1, Request::Certificate),
        "operator" => {
            let request = match needs(1)?.to_lowercase().as_str() {
                "add" => Request::OperatorAdd { name: needs(2)? },
                "del" => Request::OperatorDel { name: needs(2)? },
                _ => return Err(syntax("operator")),
            };
            return no_more(3, request).map_err(|_| {
                format!(
                    "operator : trop d'arguments. {}{}",
                    syntax("operator"),
                    quote_hint(&words.words[2..])
                )
            });
        }
        "kick" => Request::Kick {
            name: needs(1)?,
            reason: words.rest(2),
        },
        "ban" => {
            let target = needs(1)?;
            let (duration, used) = ban_length(words, 2)?;
            Request::Ban {
                target,
                duration,
                reason: words.rest(2 + used),
            }
        }
        "unban" => return no_more(2, Request::Unban { target: needs(1)? }),
        "mute" => {
            let name = needs(1)?;
            if words.get(2).is_none() {
                return Err(syntax("mute"));
            }
            let (duration, used) = Span::take(&words.bare_from(2))?;
            Request::Mute {
                name,
                duration,
                reason: words.rest(2 + used),
            }
        }
        "unmute" => return no_more(2, Request::Unmute { name: needs(1)? }),
        "mutes" => return no_more(1, Request::Mutes),
        "delete" => {
            let id = message_id(&needs(1)?)?;
            return no_more(2, Request::Delete { id });
        }
        "slow" => {
            let channel = needs(1)?;
            if words.get(2).is_none() {
                return Err(syntax("slow"));
            }
            let (seconds, used) = slow_seconds(words, 2)?;
            return no_more(2 + used, Request::Slow { channel, seconds });
        }
        "trace" => {
            let target = needs(1)?;
            let (duration, used) = match words.bare(2) {
                Some(word) if word.starts_with(|c: char| c.is_ascii_digit()) => {
                    let (span, used) = Span::take(&words.bare_from(2))?;
                    (Some(span), used)
                }
                _ => (None, 0),
            };
            return no_more(2 + used, Request::Trace { target, duration });
        }
        "alert" => Request::Alert {
            text: words.rest(1).ok_or_else(|| syntax("alert"))?,
        },
        "say" => Request::Say {
            name: needs(1)?,
            text: words.rest(2).ok_or_else(|| syntax("say"))?,
        },
        "channel" => {
            let verb = needs(1)?.to_lowercase();
            let action = ChannelVerb::ALL
                .into_iter()
                .find(|action| action.word() == verb)
                .ok_or_else(|| syntax("channel"))?;
            return no_more(
                3,
                Request::Channel {
                    action,
                    name: needs(2)?,
                },
            );
        }
        "user" => {
            let request = match needs(1)?.to_lowercase().as_str() {
                "list" => Request::UserList,
                "del" => Request::UserDel { name: needs(2)? },
                "add" => Request::UserAdd {
                    name: needs(2)?,
                    password: String::new(),
                },
                "passwd" => Request::UserPasswd {
                    name: needs(2)?,
                    password: String::new(),
                },
                _ => return Err(syntax("user")),
            };
            let count = if request == Request::UserList { 2 } else { 3 };
            return no_more(count, request).map_err(|_| {
                format!(
                    "user : trop d'arguments. {}{}",
                    syntax("user"),
                    quote_hint(&words.words[2..])
                )
            });
        }
        "backup" => {
            let out = needs(1)?;
            if words.words.len() > 2 {
                return Err(syntax("backup"));
            }
            return Ok(Said::Backup(PathBuf::from(out)));
        }
        "shutdown" => {
            let (delay, used) = shutdown_when(words, 1)?;
            Request::Shutdown {
                delay,
                message: words.rest(1 + used),
            }
        }
        "help" | "aide" | "?" => return Ok(Said::Help(words.get(1).map(str::to_owned))),
        "quit" | "quitter" | "exit" => return Ok(Said::Quit),
        other => {
            return Err(format!(
                "Commande inconnue : « {other} ». Tapez « aide » pour la liste."
            ))
        }
    };
    Ok(Said::Request(request))
}

/// For a name typed in several words: how to write it.
fn quote_hint(words: &[String]) -> String {
    if words.len() < 2 {
        return String::new();
    }
    format!(
        " Un nom avec des espaces se met entre guillemets : « \"{}\" ».",
        words.join(" ")
    )
}

/// A message's number as the lines and the export show it (`12`, `#12`, `n°12`).
fn message_id(word: &str) -> Result<u64, String> {
    let digits = word
        .trim_start_matches('#')
        .trim_start_matches("n°")
        .trim_start_matches("N°");
    digits.parse::<u64>().map_err(|_| {
        format!(
            "Numéro de message attendu (le champ \"id\" de la ligne, ou le n° de l'export), pas \
             « {word} »."
        )
    })
}

/// Words that lift slow mode, besides `0`.
pub const SLOW_OFF_WORDS: [&str; 3] = ["off", "non", "fin"];

/// At `at`: slow mode's pace (seconds, a bare number as the syntax says, or a duration with its
/// unit, or a word that lifts it), and how many words it took.
fn slow_seconds(words: &Words, at: usize) -> Result<(u32, usize), String> {
    let word = words.bare(at).unwrap_or_default();
    if SLOW_OFF_WORDS.contains(&word.to_lowercase().as_str()) {
        return Ok((0, 1));
    }
    if let Ok(seconds) = word.parse::<u32>() {
        // `30` alone is seconds, as the syntax says; `2 min` is a duration.
        let with_unit = words.bare(at + 1).is_some()
            && Span::take(&words.bare_from(at)).is_ok_and(|(_, used)| used > 1);
        if !with_unit {
            return Ok((seconds, 1));
        }
    }
    let (span, used) = Span::take(&words.bare_from(at)).map_err(|error| {
        format!("{error} Pour le mode lent : un nombre de secondes (slow #salon 30 ; 0 l'arrête).")
    })?;
    let seconds = u32::try_from(span.secs()).unwrap_or(u32::MAX);
    Ok((seconds, used))
}

/// At `at`: a ban's length (a duration, a word for "for good", or nothing: for good), and how
/// many words it took.
fn ban_length(words: &Words, at: usize) -> Result<(BanLength, usize), String> {
    match words.bare(at) {
        Some(word) if PERMANENT_WORDS.contains(&word.to_lowercase().as_str()) => {
            Ok((BanLength::Permanent, 1))
        }
        Some(word) if word.starts_with(|c: char| c.is_ascii_digit()) => {
            let (span, used) = Span::take(&words.bare_from(at))?;
            Ok((BanLength::For(span), used))
        }
        _ => Ok((BanLength::Permanent, 0)),
    }
}

/// At `at`: when to shut down (`maintenant`, a duration, `annuler`, or nothing: now).
fn shutdown_when(words: &Words, at: usize) -> Result<(When, usize), String> {
    match words.bare(at).map(str::to_lowercase) {
        Some(word) if NOW_WORDS.contains(&word.as_str()) => Ok((When::Now, 1)),
        Some(word) if CANCEL_WORDS.contains(&word.as_str()) => Ok((When::Cancel, 1)),
        Some(word) if word.starts_with(|c: char| c.is_ascii_digit()) => {
            let (span, used) = Span::take(&words.bare_from(at)).map_err(|error| {
                format!("{error} Pour arrêter tout de suite : shutdown maintenant.")
            })?;
            Ok((When::In(span), used))
        }
        _ => Ok((When::Now, 0)),
    }
}

/// A word as the console reads it back: quoted when it holds spaces or quotes, or is empty or
/// would be taken for a keyword or a duration.
fn word(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        && !text.starts_with(|c: char| c.is_ascii_digit())
        && !PERMANENT_WORDS
            .iter()
            .chain(NOW_WORDS.iter())
            .chain(CANCEL_WORDS.iter())
            .any(|keyword| keyword.eq_ignore_ascii_case(text));
    if plain {
        text.to_owned()
    } else if text.contains('"') && !text.contains('\'') {
        format!("'{text}'")
    } else {
        format!("\"{text}\"")
    }
}

/// A name or target: quoted only when it must be (an address or a network starts with a digit
/// and is never a duration there).
fn name(text: &str) -> String {
    if text.is_empty() || text.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
        word(text)
    } else {
        text.to_owned()
    }
}

/// The request as the console types it (passwords left out: `user add alice`). This is the
/// admin log line's form, and [`parse`] reads it back as the same request.
pub fn render(request: &Request) -> String {
    let mut out = match request {
        Request::Info => "info".to_owned(),
        Request::Who => "who".to_owned(),
        Request::Channels => "channels".to_owned(),
        Request::Stats => "stats".to_owned(),
        Request::Bans => "bans".to_owned(),
        Request::Reload => "reload".to_owned(),
        Request::Backup => "backup".to_owned(),
        Request::UserList => "user list".to_owned(),
        Request::Operators => "operators".to_owned(),
        Request::Events => "events".to_owned(),
        Request::Certificate => "certificate".to_owned(),
        Request::OperatorAdd { name: who } => format!("operator add {}", name(who)),
        Request::OperatorDel { name: who } => format!("operator del {}", name(who)),
        Request::Kick { name: who, .. } => format!("kick {}", name(who)),
        Request::Ban {
            target, duration, ..
        } => match duration {
            BanLength::Permanent => format!("ban {}", name(target)),
            BanLength::For(span) => format!("ban {} {span}", name(target)),
        },
        Request::Unban { target } => format!("unban {}", name(target)),
        Request::Alert { .. } => "alert".to_owned(),
        Request::Say { name: who, .. } => format!("say {}", name(who)),
        Request::Channel { action, name: what } => {
            format!("channel {} {}", action.word(), name(what))
        }
        Request::Mute {
            name: who,
            duration,
            ..
        } => format!("mute {} {duration}", name(who)),
        Request::Unmute { name: who } => format!("unmute {}", name(who)),
        Request::Mutes => "mutes".to_owned(),
        Request::Delete { id } => format!("delete {id}"),
        Request::Slow { channel, seconds } => format!("slow {} {seconds}", name(channel)),
        Request::Trace { target, duration } => match duration {
            Some(span) => format!("trace {} {span}", name(target)),
            None => format!("trace {}", name(target)),
        },
        Request::UserAdd { name: who, .. } => format!("user add {}", name(who)),
        Request::UserDel { name: who } => format!("user del {}", name(who)),
        Request::UserPasswd { name: who, .. } => format!("user passwd {}", name(who)),
        Request::Shutdown { delay, .. } => match delay {
            When::Now => "shutdown maintenant".to_owned(),
            When::In(span) => format!("shutdown {span}"),
            When::Cancel => "shutdown annuler".to_owned(),
        },
    };
    let text = match request {
        Request::Kick { reason, .. }
        | Request::Ban { reason, .. }
        | Request::Mute { reason, .. } => reason.as_deref(),
        Request::Shutdown { message, .. } => message.as_deref(),
        Request::Alert { text } | Request::Say { text, .. } => Some(text.as_str()),
        _ => None,
    };
    if let Some(text) = text {
        out.push(' ');
        out.push_str(&word(text));
    }
    out
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
        "Un nom ou un texte avec des espaces se met entre guillemets (kick \"jean dupont\" \
         bavardage) ; le dernier argument prend toute la fin de la ligne."
            .into(),
    );
    lines.push(
        "Durées : 30 s, 10 min, 2 h, 1 j (avec ou sans espace ; un nombre seul est refusé). \
         shutdown, channel delete, delete, user del et le bannissement d'un réseau \
         demandent une confirmation (oui/non)."
            .into(),
    );
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(line: &str) -> Result<Said, String> {
        parse(&Words::split(line)?)
    }

    fn request(line: &str) -> Request {
        match typed(line) {
            Ok(Said::Request(request)) => request,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn span(seconds: u64) -> Span {
        Span::from_secs(seconds).unwrap()
    }

    #[test]
    fn typed_lines_become_requests() {
        assert_eq!(request("who"), Request::Who);
        assert_eq!(
            request("kick alice trop de  bruit"),
            Request::Kick {
                name: "alice".into(),
                reason: Some("trop de  bruit".into())
            }
        );
        assert_eq!(
            request("kick \"jean pierre\" \"chahut\""),
            Request::Kick {
                name: "jean pierre".into(),
                reason: Some("chahut".into())
            }
        );
        assert_eq!(
            request("ban mallory spam"),
            Request::Ban {
                target: "mallory".into(),
                duration: BanLength::Permanent,
                reason: Some("spam".into())
            }
        );
        assert!(matches!(
            request("user add prof"),
            Request::UserAdd { name, .. } if name == "prof"
        ));
        assert_eq!(typed("aide kick").unwrap(), Said::Help(Some("kick".into())));
    }

    /// Regression: `shutdown 10 min` stopped the server after 10 seconds, and
    /// `ban 10.0.0.0/8 2 heures` banned for 2 seconds (a bare number was seconds).
    #[test]
    fn durations_with_a_space_are_read_whole() {
        assert_eq!(
            request("shutdown 10 min"),
            Request::Shutdown {
                delay: When::In(span(600)),
                message: None
            }
        );
        assert_eq!(
            request("shutdown 10min mise à jour"),
            Request::Shutdown {
                delay: When::In(span(600)),
                message: Some("mise à jour".into())
            }
        );
        assert_eq!(
            request("ban 10.0.0.0/8 2 heures triche"),
            Request::Ban {
                target: "10.0.0.0/8".into(),
                duration: BanLength::For(span(7200)),
                reason: Some("triche".into())
            }
        );
        assert_eq!(
            request("ban eve 1 j"),
            Request::Ban {
                target: "eve".into(),
                duration: BanLength::For(span(86_400)),
                reason: None
            }
        );
        assert_eq!(
            request("shutdown maintenant"),
            Request::Shutdown {
                delay: When::Now,
                message: None
            }
        );
        assert_eq!(
            request("shutdown annuler"),
            Request::Shutdown {
                delay: When::Cancel,
                message: None
            }
        );
        assert_eq!(
            request("ban alice \"2 h\""),
            Request::Ban {
                target: "alice".into(),
                duration: BanLength::Permanent,
                reason: Some("2 h".into())
            }
        );
    }

    #[test]
    fn a_bare_number_is_refused_with_an_example() {
        let error = typed("shutdown 10").unwrap_err();
        assert!(error.contains("sans unité"), "{error}");
        assert!(error.contains("10 min"), "{error}");
        assert!(error.contains("shutdown maintenant"), "{error}");
        let error = typed("ban 10.0.0.0/8 2 heurs").unwrap_err();
        assert!(error.contains("« 2 » sans unité"), "{error}");
        assert!(typed("shutdown 0").unwrap_err().contains("sans unité"));
    }

    #[test]
    fn moderation_and_trace_words() {
        assert_eq!(
            request("mute alice 10 min bavardage en cours"),
            Request::Mute {
                name: "alice".into(),
                duration: span(600),
                reason: Some("bavardage en cours".into())
            }
        );
        assert!(typed("mute alice")
            .unwrap_err()
            .contains("Syntaxe : mute NOM DURÉE"));
        assert!(typed("mute alice 10").unwrap_err().contains("sans unité"));
        assert_eq!(request("delete #42"), Request::Delete { id: 42 });
        assert_eq!(request("delete n°42"), Request::Delete { id: 42 });
        assert!(typed("delete quarante")
            .unwrap_err()
            .contains("Numéro de message"));
        for (line, seconds) in [
            ("slow #tp 30", 30),
            ("slow #tp 2 min", 120),
            ("slow #tp 0", 0),
            ("slow #tp off", 0),
        ] {
            assert_eq!(
                request(line),
                Request::Slow {
                    channel: "#tp".into(),
                    seconds
                },
                "{line}"
            );
        }
        assert!(typed("slow #tp")
            .unwrap_err()
            .contains("Syntaxe : slow SALON SECONDES"));
        assert!(typed("slow #tp vite")
            .unwrap_err()
            .contains("nombre de secondes"));
        assert_eq!(
            request("trace alice 5 min"),
            Request::Trace {
                target: "alice".into(),
                duration: Some(span(300))
            }
        );
        assert!(typed("trace alice bob")
            .unwrap_err()
            .contains("trop d'arguments"));
    }

    #[test]
    fn mistakes_get_the_syntax() {
        assert!(typed("kick").unwrap_err().contains("Syntaxe : kick NOM"));
        assert!(typed("channel explode x")
            .unwrap_err()
            .contains("create|close"));
        assert!(typed("who extra").unwrap_err().contains("trop d'arguments"));
        assert!(typed("danse").unwrap_err().contains("inconnue"));
        assert!(typed("say \"alice").unwrap_err().contains("Guillemet"));
        let error = typed("user del jean dupont").unwrap_err();
        assert!(error.contains("« \"jean dupont\" »"), "{error}");
    }

    #[test]
    fn one_shot_arguments_take_the_rest_too() {
        let args: Vec<String> = ["alert", "Fin", "du", "TP"].map(String::from).to_vec();
        assert_eq!(
            parse(&Words::from_args(&args)).unwrap(),
            Said::Request(Request::Alert {
                text: "Fin du TP".into()
            })
        );
        let args: Vec<String> = ["shutdown", "10", "min"].map(String::from).to_vec();
        assert_eq!(
            parse(&Words::from_args(&args)).unwrap(),
            Said::Request(Request::Shutdown {
                delay: When::In(span(600)),
                message: None
            })
        );
        assert!(help(None).lines().count() > COMMANDS.len());
    }

    /// The log line is the console's own form: reading it back gives the same request.
    #[test]
    fn rendered_requests_read_back_the_same() {
        let requests = [
            Request::Who,
            Request::Kick {
                name: "jean dupont".into(),
                reason: Some("trop de bruit".into()),
            },
            Request::Kick {
                name: "alice".into(),
                reason: None,
            },
            Request::Ban {
                target: "10.0.0.0/8".into(),
                duration: BanLength::For(span(5400)),
                reason: Some("2 h".into()),
            },
            Request::Ban {
                target: "Mallory".into(),
                duration: BanLength::Permanent,
                reason: Some("permanent".into()),
            },
            Request::Unban {
                target: "fd00::/8".into(),
            },
            Request::Alert {
                text: "Fin du \"TP\"".into(),
            },
            Request::Say {
                name: "zoé".into(),
                text: "viens".into(),
            },
            Request::Channel {
                action: ChannelVerb::Delete,
                name: "#projet".into(),
            },
            Request::UserDel {
                name: "prof dupont".into(),
            },
            Request::OperatorAdd {
                name: "prof dupont".into(),
            },
            Request::OperatorDel {
                name: "zoé".into()
            },
            Request::Operators,
            Request::Events,
            Request::Certificate,
            Request::Shutdown {
                delay: When::In(span(600)),
                message: Some("maintenant".into()),
            },
            Request::Shutdown {
                delay: When::Now,
                message: None,
            },
            Request::Shutdown {
                delay: When::Cancel,
                message: None,
            },
            Request::Mute {
                name: "jean dupont".into(),
                duration: span(600),
                reason: Some("2 avertissements".into()),
            },
            Request::Mute {
                name: "zoé".into(),
                duration: span(5400),
                reason: None,
            },
            Request::Unmute {
                name: "zoé".into()
            },
            Request::Mutes,
            Request::Delete { id: 42 },
            Request::Slow {
                channel: "#général".into(),
                seconds: 30,
            },
            Request::Slow {
                channel: "projet".into(),
                seconds: 0,
            },
            Request::Trace {
                target: "#12".into(),
                duration: None,
            },
            Request::Trace {
                target: "10.0.0.5".into(),
                duration: Some(span(120)),
            },
        ];
        for original in requests {
            let line = render(&original);
            assert_eq!(request(&line), original, "{line}");
        }
        let add = Request::UserAdd {
            name: "alice".into(),
            password: "secret-pw".into(),
        };
        assert_eq!(render(&add), "user add alice");
        assert_eq!(
            render(&Request::Ban {
                target: "10.0.0.0/8".into(),
                duration: BanLength::For(span(7200)),
                reason: Some("triche".into())
            }),
            "ban 10.0.0.0/8 2 h triche"
        );
    }
}
