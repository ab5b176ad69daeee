//! The interactive console (`classcord admin` without a command): rustyline for line editing,
//! history kept in `~/.classcord_admin_history`, Tab completing command names and the actions
//! of `channel` and `user`. Every line runs, in order: lines typed while a command runs stay in
//! rustyline's buffer, and a block pasted in one go (one "line" holding newlines, with the
//! terminal's bracketed paste) is split and run line by line. Destructive commands ask
//! `oui/non` (`--yes` skips the question).

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use super::confirm::{understood, Answer, QUESTION};
use super::{execute, Confirm, Outcome};
use crate::admin::client::AdminClient;
use crate::control::words::{parse, Words, COMMANDS, OPERATOR_ACTIONS, USER_ACTIONS};
use crate::control::{ChannelVerb, Request};

/// Completes the first word with command names, the second after `channel` and `user`.
struct Completion;

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind(' ').map_or(0, |at| at + 1);
        let word = &before[start..];
        let previous: Vec<&str> = before[..start].split_whitespace().collect();
        let choices: Vec<&str> = match previous.as_slice() {
            [] => COMMANDS
                .iter()
                .map(|(name, _, _)| *name)
                .chain(["aide", "quitter"])
                .collect(),
            ["channel"] => ChannelVerb::ALL.iter().map(|verb| verb.word()).collect(),
            ["user"] => USER_ACTIONS.to_vec(),
            ["operator"] => OPERATOR_ACTIONS.to_vec(),
            ["shutdown"] => vec!["maintenant", "annuler"],
            ["help" | "aide"] => COMMANDS.iter().map(|(name, _, _)| *name).collect(),
            _ => Vec::new(),
        };
        let found = choices
            .into_iter()
            .filter(|choice| choice.starts_with(word))
            .map(|choice| Pair {
                display: choice.to_owned(),
                replacement: format!("{choice} "),
            })
            .collect();
        Ok((start, found))
    }
}

impl Hinter for Completion {
    type Hint = String;
}
impl Highlighter for Completion {}
impl Validator for Completion {}
impl Helper for Completion {}

fn history_file() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| Path::new(&home).join(".classcord_admin_history"))
}

type Console = Editor<Completion, rustyline::history::DefaultHistory>;

/// The interactive console, until `quit` or Ctrl-D. `yes`: destructive commands are not asked
/// about.
pub fn interactive(mut client: AdminClient, json: bool, yes: bool) -> Result<(), String> {
    let mut editor: Console = Editor::new().map_err(|e| format!("terminal inutilisable : {e}"))?;
    editor.set_helper(Some(Completion));
    let history = history_file();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let server = client
        .request(&Request::Info)
        .ok()
        .and_then(|reply| reply.text)
        .unwrap_or_default();
    println!("ClassCord : console d'administration ({server}).");
    println!(
        "Tapez « aide » pour la liste des commandes, « quitter » pour sortir ; la touche Tab \
         complète les commandes."
    );
    let prompt = if std::io::stdin().is_terminal() {
        "classcord> "
    } else {
        ""
    };
    // Lines of a pasted block not run yet.
    let mut pending: VecDeque<String> = VecDeque::new();
    loop {
        let line = match pending.pop_front() {
            Some(line) => {
                if !prompt.is_empty() {
                    println!("{prompt}{line}");
                }
                line
            }
            None => match editor.readline(prompt) {
                Ok(line) if line.contains('\n') => {
                    pending.extend(line.lines().map(str::to_owned));
                    continue;
                }
                Ok(line) => line,
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(error) => return Err(format!("lecture impossible : {error}")),
            },
        };
        if line.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line.as_str());
        let said = match Words::split(&line).and_then(|words| parse(&words)) {
            Ok(said) => said,
            Err(error) => {
                eprintln!("erreur : {error}");
                continue;
            }
        };
        let mut ask = || ask_confirmation(&mut editor);
        let confirm = if yes {
            Confirm::Given
        } else {
            Confirm::Ask(&mut ask)
        };
        match execute(&mut client, said, json, confirm) {
            Ok(Outcome::Quit) => break,
            Ok(_) => {}
            Err(error) => {
                eprintln!("erreur : {error}");
                match AdminClient::connect(&client.path.clone()) {
                    Ok(again) => {
                        eprintln!("(reconnecté au serveur)");
                        client = again;
                    }
                    Err(_) => {
                        eprintln!("Le serveur ne répond plus : fin de la console.");
                        break;
                    }
                }
            }
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}

/// Asks `oui/non` on the console's own line reader (so lines typed ahead are read in order);
/// Ctrl-C, Ctrl-D or a read error answer no.
fn ask_confirmation(editor: &mut Console) -> Answer {
    match editor.readline(QUESTION) {
        Ok(typed) => understood(typed.lines().next().unwrap_or_default()),
        Err(_) => Answer::No,
    }
}
