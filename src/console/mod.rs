//! The operator's console, `classcord admin`: the vocabulary's words (`crate::control::words`)
//! typed once as arguments (one-shot) or line after line (`interactive`), sent to the running
//! server through the control socket (`crate::admin::client`). Every reply is printed as the
//! server's French summary, or as the raw JSON reply with `--json` (for scripts).
//!
//! A request that cannot be undone (`Request::confirmation`) says what it will do first: the
//! interactive console asks `oui/non`, a one-shot command needs `--yes` and otherwise refuses
//! with that text and the way to confirm.
//!
//! - `interactive.rs`: line editing, history, completion, lines pasted ahead;
//! - `confirm.rs`: reading `oui` and `non`;
//! - `password.rs`: passwords read without echo (also for `classcord user`);
//! - `trace.rs`: following a live protocol trace until its end or Ctrl-C.

pub mod confirm;
pub mod interactive;
pub mod password;
pub mod trace;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::admin::client::{backup_via, AdminClient, ClientError};
use crate::admin::wire::Reply;
use crate::control::words::{help, render, Said};
use crate::control::Request;
use confirm::Answer;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed,
    Quit,
}

/// How a request that needs a confirmation gets it.
pub enum Confirm<'a> {
    /// `--yes`: already given.
    Given,
    /// A one-shot command without `--yes`: refused, with the way to confirm.
    Refuse,
    /// The interactive console: this asks the operator.
    Ask(&'a mut dyn FnMut() -> Answer),
}

/// Carries out one command line and prints its result.
pub fn execute(
    client: &mut AdminClient,
    said: Said,
    json: bool,
    confirm: Confirm<'_>,
) -> Result<Outcome, ClientError> {
    let mut request = match said {
        Said::Quit => return Ok(Outcome::Quit),
        Said::Help(command) => {
            println!("{}", help(command.as_deref()));
            return Ok(Outcome::Done);
        }
        Said::Backup(out) => return Ok(backup(client, &out, json)),
        Said::Request(request) => request,
    };
    if let Some(what) = request.confirmation() {
        match confirm {
            Confirm::Given => {}
            Confirm::Refuse => {
                let hint = format!(
                    "{what} Pour confirmer, ajoutez --yes : classcord admin --yes {} (ou tapez \
                     la commande dans la console, qui demande oui ou non).",
                    render(&request)
                );
                print_reply(&Reply::error(hint), json);
                return Ok(Outcome::Failed);
            }
            Confirm::Ask(ask) => {
                eprintln!("{what}");
                match ask() {
                    Answer::Yes => {}
                    Answer::No => {
                        eprintln!("Annulé : rien n'a été fait.");
                        return Ok(Outcome::Failed);
                    }
                    Answer::Unclear(said) => {
                        eprintln!(
                            "Réponse « {said} » non comprise : annulé, rien n'a été fait \
                             (répondez oui pour confirmer)."
                        );
                        return Ok(Outcome::Failed);
                    }
                }
            }
        }
    }
    if request.needs_password() {
        let name = match &request {
            Request::UserAdd { name, .. } | Request::UserPasswd { name, .. } => name.clone(),
            _ => String::new(),
        };
        match password::read_password(&name) {
            Ok(password) => {
                if let Some(slot) = request.password_mut() {
                    *slot = password;
                }
            }
            Err(error) => {
                print_reply(&Reply::error(error), json);
                return Ok(Outcome::Failed);
            }
        }
    }
    let reply = client.request(&request)?;
    print_reply(&reply, json);
    if reply.ok && matches!(request, Request::Trace { .. }) {
        trace::follow(client, json)?;
    }
    Ok(if reply.ok {
        Outcome::Done
    } else {
        Outcome::Failed
    })
}

fn backup(client: &mut AdminClient, out: &Path, json: bool) -> Outcome {
    let dest = backup_destination(out);
    match backup_via(client, &dest) {
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
    }
}

/// A folder (existing, or written with a final `/`) gets a timestamped file name.
pub fn backup_destination(out: &Path) -> PathBuf {
    if out.is_dir() || out.as_os_str().to_string_lossy().ends_with('/') {
        crate::store::backup::timestamped_path(out, crate::control::bans::now_unix())
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
