//! Each console request carried out. Chat state is asked of the hub task (`HubCommand::Admin`);
//! backups go through the store thread (the server holds the database open, so the console never
//! opens it); accounts, `reload` and `shutdown` have their own files.

use std::os::fd::OwnedFd;

use classcord_core::hub::ChannelAction;
use serde_json::json;

use super::bans::{now_unix, parse_duration, parse_target};
use super::context::AdminContext;
use super::protocol::{ChannelVerb, Reply, Request};
use crate::net::hub_task::admin::{AdminAsk, AdminResult, Answer};
use crate::store::bans::BanRecord;

impl AdminContext {
    /// Carries out one request (`fd`: the file passed with it, for `backup`).
    pub async fn handle(&self, request: Request, fd: Option<OwnedFd>, uid: u32) -> Reply {
        let logged = match &request {
            Request::UserAdd { name, .. } => format!("user_add {name}"),
            Request::UserPasswd { name, .. } => format!("user_passwd {name}"),
            other => serde_json::to_string(other).unwrap_or_default(),
        };
        if !matches!(
            request,
            Request::Info
                | Request::Who
                | Request::Channels
                | Request::Stats
                | Request::Bans
                | Request::UserList
        ) {
            log::info!("[ADMIN] uid {uid} : {}", crate::logging::shown(&logged));
        }
        let result = match request {
            Request::Info => Ok(self.info()),
            Request::Who => self.ask(AdminAsk::Who).await,
            Request::Channels => self.ask(AdminAsk::Channels).await,
            Request::Stats => self.ask(AdminAsk::Stats).await,
            Request::Bans => self.ask(AdminAsk::Bans).await,
            Request::Kick { name, reason } => {
                self.ask(AdminAsk::Kick {
                    name,
                    reason: clean(reason),
                })
                .await
            }
            Request::Ban {
                target,
                duration,
                reason,
            } => match ban_record(&target, duration.as_deref(), clean(reason)) {
                Ok(ban) => self.ask(AdminAsk::Ban(ban)).await,
                Err(error) => Err(error),
            },
            Request::Unban { target } => self.ask(AdminAsk::Unban { target }).await,
            Request::Alert { text } => match clean(Some(text)) {
                Some(text) => self.ask(AdminAsk::Alert { text }).await,
                None => Err("Alerte vide : écrivez le texte à envoyer.".into()),
            },
            Request::Say { name, text } => match clean(Some(text)) {
                Some(text) => self.ask(AdminAsk::Say { name, text }).await,
                None => Err("Message vide : écrivez le texte à envoyer.".into()),
            },
            Request::Channel { action, name } => {
                let action = match action {
                    ChannelVerb::Create => ChannelAction::Create,
                    ChannelVerb::Close => ChannelAction::Close,
                    ChannelVerb::Open => ChannelAction::Open,
                    ChannelVerb::Delete => ChannelAction::Delete,
                };
                self.ask(AdminAsk::Channel { action, name }).await
            }
            Request::UserList => self.user_list().await,
            Request::UserAdd { name, password } => self.user_add(name, password).await,
            Request::UserDel { name } => self.user_del(name).await,
            Request::UserPasswd { name, password } => self.user_passwd(name, password).await,
            Request::Backup => self.backup(fd).await,
            Request::Reload => super::reload::reload(self).await,
            Request::Shutdown { delay, message } => self.shutdown(delay, clean(message)),
        };
        match result {
            Ok(answer) => Reply::ok(answer.text, answer.data),
            Err(error) => Reply::error(error),
        }
    }

    fn info(&self) -> Answer {
        Answer {
            text: format!(
                "ClassCord {} (pid {}), base {}, socket {}",
                env!("CARGO_PKG_VERSION"),
                std::process::id(),
                self.database.display(),
                self.socket.display()
            ),
            data: json!({
                "version": env!("CARGO_PKG_VERSION"),
                "pid": std::process::id(),
                "database": self.database,
                "socket": self.socket,
            }),
        }
    }

    async fn backup(&self, fd: Option<OwnedFd>) -> AdminResult {
        let Some(fd) = fd else {
            return Err(
                "Sauvegarde : le fichier de destination n'a pas été transmis avec la demande \
                 (utilisez classcord backup ou classcord admin backup)."
                    .into(),
            );
        };
        let file = std::fs::File::from(fd);
        match file.metadata() {
            Ok(meta) if meta.is_file() && meta.len() == 0 => {}
            _ => return Err("Sauvegarde : le fichier transmis doit être un fichier vide.".into()),
        }
        let txn = match self.store.run(|store| store.snapshot()).await {
            Ok(Ok(txn)) => txn,
            Ok(Err(error)) => return Err(format!("Base de données : {error}.")),
            Err(_) => return Err(unavailable()),
        };
        let source = self.database.clone();
        let copied =
            smol::unblock(move || crate::store::backup::copy_into(&txn, &source, file)).await;
        match copied {
            Ok(copied) => Ok(Answer {
                text: format!("Copie faite ({} table(s)).", copied.counts.len()),
                data: json!(copied),
            }),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// A reason or text, trimmed; `None` when empty.
pub(super) fn clean(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

fn ban_record(
    target: &str,
    duration: Option<&str>,
    reason: Option<String>,
) -> Result<BanRecord, String> {
    let (kind, target) = parse_target(target)?;
    let created_unix = now_unix();
    let until_unix = match duration.map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some("permanent" | "définitif" | "definitif") => None,
        Some(text) => {
            let duration = parse_duration(text).ok_or_else(|| {
                format!("Durée invalide « {text} » (exemples : 30m, 2h, 7j, permanent).")
            })?;
            Some(created_unix + duration.as_secs())
        }
    };
    Ok(BanRecord {
        kind,
        target,
        created_unix,
        until_unix,
        reason,
    })
}

pub(super) fn unavailable() -> String {
    "La base de données ne répond pas (disque plein ou trop lent ?) : réessayez.".into()
}
