//! `classcord admin` on the operator's side: one command (`classcord admin who`), or, with none,
//! an interactive console (rustyline: line editing, history kept in `~/.classcord_admin_history`,
//! Tab completes command names and the actions of `channel` and `user`). Every reply is printed as
//! the server's French summary, or as the raw JSON reply with `--json` (for scripts).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use super::client::{backup_via, AdminClient, ClientError};
use super::commands::{help, parse, Parsed, Words, CHANNEL_ACTIONS, COMMANDS, USER_ACTIONS};
use super::protocol::{Reply, Request};

/// How a command ended.
pub enum Outcome {
    Done,
    Failed,
    Quit,
}

/// Carries out one parsed command and prints its result.
pub fn execute(
    client: &mut AdminClient,
    parsed: Parsed,
    json: bool,
) -> Result<Outcome, ClientError> {
    let reply = match parsed {
        Parsed::Quit => return Ok(Outcome::Quit),
        Parsed::Help(command) => {
            println!("{}", help(command.as_deref()));
            return Ok(Outcome::Done);
        }
        Parsed::Send(request) => client.request(&request)?,
        Parsed::NeedsPassword(mut request, name) => {
            let password = match crate::cli::user::read_password(&name) {
                Ok(password) => password,
                Err(error) => {
                    eprintln!("erreur : {error}");
                    return Ok(Outcome::Failed);
                }
            };
            match &mut request {
                Request::UserAdd { password: slot, .. }
                | Request::UserPasswd { password: slot, .. } => *slot = password,
                _ => {}
            }
            client.request(&request)?
        }
        Parsed::Backup(out) => {
            let dest = backup_destination(&out);
            return Ok(match backup_via(client, &dest) {
                Ok(verified) => {
                    let text = format!(
                        "Sauvegarde vérifiée : {} ({} octets, format {}).",
                        dest.display(),
                        verified.bytes,
                        verified.schema_version
                    );
                    print_reply(&Reply::ok(text, serde_json::json!({"file": dest})), json);
                    Outcome::Done
                }
                Err(error) => {
                    print_reply(&Reply::error(error), json);
                    Outcome::Failed
                }
            });
        }
    };
    print_reply(&reply, json);
    Ok(if reply.ok {
        Outcome::Done
    } else {
        Outcome::Failed
    })
}

/// A folder (existing, or written with a final `/`) gets a timestamped file name.
pub fn backup_destination(out: &Path) -> PathBuf {
    if out.is_dir() || out.as_os_str().to_string_lossy().ends_with('/') {
        crate::store::backup::timestamped_path(out, super::bans::now_unix())
    } else {
        out.to_owned()
    }
}

pub fn print_reply(reply: &Reply, json: bool) {
    if json {
        print!("{}", reply.to_line());
    } else if reply.ok {
        if let Some(text) = reply.text.as_deref().filter(|t| !t.is_empty()) {
            println!("{text}");
        }
    } else {
        eprintln!(
            "erreur : {}",
            reply.error.as_deref().unwrap_or("refusé sans raison")
        );
    }
    let _ = std::io::stdout().flush();
}

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
            ["channel"] => CHANNEL_ACTIONS.to_vec(),
            ["user"] => USER_ACTIONS.to_vec(),
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

/// The interactive console, until `quit` or Ctrl-D.
pub fn interactive(mut client: AdminClient, json: bool) -> Result<(), String> {
    let mut editor: Editor<Completion, rustyline::history::DefaultHistory> =
        Editor::new().map_err(|e| format!("terminal inutilisable : {e}"))?;
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
    loop {
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(format!("lecture impossible : {error}")),
        };
        if line.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line.as_str());
        let parsed = match Words::split(&line).and_then(|words| parse(&words)) {
            Ok(parsed) => parsed,
            Err(error) => {
                eprintln!("erreur : {error}");
                continue;
            }
        };
        match execute(&mut client, parsed, json) {
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
