//! Each console request carried out. Chat state is asked of the hub task (`HubCommand::Admin`);
//! accounts and backups go through the store thread (the server holds the database open, so the
//! console never opens it); `reload` and `shutdown` are handled here.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use classcord_core::hub::ChannelAction;
use classcord_core::message::{check_name, NameProblem};
use serde_json::{json, Value};
use smol::channel::Sender;
use smol::Executor;
use unicode_normalization::UnicodeNormalization;

use super::bans::{describe_duration, now_unix, parse_duration, parse_target};
use super::protocol::{ChannelVerb, Reply, Request};
use crate::config::{Config, ConfigSource};
use crate::net::hub_task::admin::{AdminAsk, AdminResult, Answer};
use crate::net::hub_task::HubCommand;
use crate::store::bans::BanRecord;
use crate::store::import::password_problem;
use crate::store::{PasswordHasher, StoreHandle};

/// What the console's requests need.
pub struct AdminContext {
    pub hub: Sender<HubCommand>,
    pub store: StoreHandle,
    pub hasher: PasswordHasher,
    pub executor: Arc<Executor<'static>>,
    /// Where the configuration is read again from.
    pub source: ConfigSource,
    /// The configuration the server started with, and the one in force (after reloads).
    pub started: Config,
    pub current: Mutex<Config>,
    pub database: PathBuf,
    pub socket: PathBuf,
    pub admin_group: String,
    /// The running shutdown countdown, if any (set to cancel it).
    countdown: Mutex<Option<Arc<AtomicBool>>>,
}

const STOPPING: &str = "Le serveur s'arrête : commande non exécutée.";

impl AdminContext {
    pub fn new(
        hub: Sender<HubCommand>,
        store: StoreHandle,
        hasher: PasswordHasher,
        executor: Arc<Executor<'static>>,
        source: ConfigSource,
        config: Config,
        socket: PathBuf,
    ) -> AdminContext {
        AdminContext {
            hub,
            store,
            hasher,
            executor,
            source,
            database: config.database_path(),
            admin_group: config.admin.group.clone(),
            started: config.clone(),
            current: Mutex::new(config),
            socket,
            countdown: Mutex::new(None),
        }
    }

    /// Asks the hub task and waits for its answer.
    pub async fn ask(&self, ask: AdminAsk) -> AdminResult {
        let (reply, answer) = smol::channel::bounded(1);
        if self
            .hub
            .send(HubCommand::Admin { ask, reply })
            .await
            .is_err()
        {
            return Err(STOPPING.into());
        }
        answer.recv().await.unwrap_or_else(|_| Err(STOPPING.into()))
    }

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

    async fn user_list(&self) -> AdminResult {
        let path = self.database.clone();
        let listed = self
            .store
            .run(move |store| {
                let txn = store.snapshot()?;
                Ok(crate::store::user_admin::list_users(&txn, &path))
            })
            .await;
        let users = match listed {
            Ok(Ok(Ok(users))) => users,
            Ok(Ok(Err(error))) => return Err(error.to_string()),
            _ => return Err(unavailable()),
        };
        let mut lines = Vec::new();
        let mut data = Vec::new();
        for user in &users {
            let created = super::report::local_minute(user.created_unix);
            lines.push(format!("  {}  (créé le {created})", user.name));
            data.push(json!({"name": user.name, "created_unix": user.created_unix}));
        }
        lines.push(format!("{} compte(s)", users.len()));
        Ok(Answer {
            text: lines.join("\n"),
            data: Value::Array(data),
        })
    }

    async fn hash(&self, password: String) -> Result<String, String> {
        if let Some(problem) = password_problem(&password) {
            return Err(format!("{problem} : rien n'a été changé."));
        }
        let hasher = self.hasher.clone();
        smol::unblock(move || hasher.hash(&password))
            .await
            .map_err(|error| format!("Hachage impossible : {error}."))
    }

    async fn user_add(&self, name: String, password: String) -> AdminResult {
        let name = account_name(&name)?;
        if matches!(self.store.find_user(name.clone()).await, Ok(Some(_))) {
            return Err(format!(
                "Un compte « {name} » existe déjà (user passwd pour changer son mot de passe)."
            ));
        }
        let hash = self.hash(password).await?;
        match self.store.register(name.clone(), hash, now_unix()).await {
            Ok(true) => {
                self.ask(AdminAsk::AccountCreated { name: name.clone() })
                    .await?;
                Ok(Answer {
                    text: format!("Compte « {name} » créé."),
                    data: json!({ "name": name }),
                })
            }
            Ok(false) => Err(format!("Un compte « {name} » existe déjà.")),
            Err(_) => Err(unavailable()),
        }
    }

    async fn user_del(&self, name: String) -> AdminResult {
        let key: String = name.nfc().collect();
        let deleted = match self.store.run(move |store| store.delete_user(&key)).await {
            Ok(Ok(Some(deleted))) => deleted,
            Ok(Ok(None)) => return Err(no_such_account(&name)),
            Ok(Err(error)) => return Err(format!("Base de données : {error}.")),
            Err(_) => return Err(unavailable()),
        };
        let closed = self
            .ask(AdminAsk::AccountDeleted {
                name: deleted.name.clone(),
            })
            .await?
            .data["closed"]
            .as_u64()
            .unwrap_or(0);
        Ok(Answer {
            text: format!(
                "Compte « {} » supprimé ({closed} connexion(s) fermée(s), {} message(s) en \
                 attente, {} salon(s) mémorisé(s), {} ligne(s) d'historique privé retirée(s) de \
                 l'index ; les messages restent dans l'export).",
                deleted.name, deleted.deferred, deleted.memberships, deleted.conversation_lines
            ),
            data: json!({
                "name": deleted.name,
                "closed": closed,
                "deferred": deleted.deferred,
                "memberships": deleted.memberships,
                "conversation_lines": deleted.conversation_lines,
            }),
        })
    }

    async fn user_passwd(&self, name: String, password: String) -> AdminResult {
        let name: String = name.nfc().collect();
        let record = match self.store.find_user(name.clone()).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(no_such_account(&name)),
            Err(_) => return Err(unavailable()),
        };
        let hash = self.hash(password).await?;
        match self
            .store
            .run(move |store| store.set_password_hash(&name, &hash))
            .await
        {
            Ok(Ok(true)) => Ok(Answer {
                text: format!("Mot de passe de « {} » changé.", record.name),
                data: json!({ "name": record.name }),
            }),
            Ok(Ok(false)) => Err(no_such_account(&record.name)),
            Ok(Err(error)) => Err(format!("Base de données : {error}.")),
            Err(_) => Err(unavailable()),
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

    fn shutdown(&self, delay: Option<String>, reason: Option<String>) -> AdminResult {
        let mut running = self
            .countdown
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let delay_text = delay.as_deref().map(str::trim).unwrap_or("");
        if matches!(delay_text, "annuler" | "cancel") {
            let Some(cancelled) = running.take() else {
                return Err("Aucun arrêt programmé.".into());
            };
            cancelled.store(true, Ordering::Relaxed);
            let hub = self.hub.clone();
            self.executor
                .spawn(async move {
                    let (reply, _answer) = smol::channel::bounded(1);
                    let ask = AdminAsk::Alert {
                        text: "L'arrêt du serveur est annulé.".into(),
                    };
                    let _ = hub.send(HubCommand::Admin { ask, reply }).await;
                })
                .detach();
            return Ok(Answer {
                text: "Arrêt annulé ; les utilisateurs sont prévenus.".into(),
                data: json!({ "cancelled": true }),
            });
        }
        let total = if delay_text.is_empty() || delay_text == "0" {
            Duration::ZERO
        } else {
            parse_duration(delay_text).ok_or_else(|| {
                format!("Délai invalide « {delay_text} » (exemples : 30s, 5m, 1h).")
            })?
        };
        if running.is_some() {
            return Err("Un arrêt est déjà programmé (shutdown annuler pour l'annuler).".into());
        }
        let cancelled = Arc::new(AtomicBool::new(false));
        *running = Some(cancelled.clone());
        let hub = self.hub.clone();
        self.executor
            .spawn(countdown(hub, total, reason, cancelled))
            .detach();
        let text = if total.is_zero() {
            "Arrêt du serveur en cours.".to_owned()
        } else {
            format!(
                "Arrêt dans {} ; les utilisateurs sont prévenus (shutdown annuler pour \
                 l'annuler).",
                describe_duration(total)
            )
        };
        Ok(Answer {
            text,
            data: json!({ "delay_seconds": total.as_secs() }),
        })
    }
}

/// Notices at the start and at round marks, then the usual clean shutdown (SIGTERM to
/// ourselves: the same path as `systemctl stop`).
async fn countdown(
    hub: Sender<HubCommand>,
    total: Duration,
    reason: Option<String>,
    cancelled: Arc<AtomicBool>,
) {
    const MARKS: [u64; 9] = [3600, 1800, 900, 600, 300, 120, 60, 30, 10];
    let notify = |left: Duration| {
        let hub = hub.clone();
        let reason = reason.clone();
        async move {
            let (reply, answer) = smol::channel::bounded(1);
            let ask = AdminAsk::ShutdownSoon {
                delay: describe_duration(left),
                reason,
            };
            if hub.send(HubCommand::Admin { ask, reply }).await.is_ok() {
                let _ = answer.recv().await;
            }
        }
    };
    let started = std::time::Instant::now();
    if !total.is_zero() {
        notify(total).await;
        for mark in MARKS.map(Duration::from_secs) {
            if mark >= total {
                continue;
            }
            smol::Timer::at(started + (total - mark)).await;
            if cancelled.load(Ordering::Relaxed) {
                return;
            }
            notify(mark).await;
        }
        smol::Timer::at(started + total).await;
    } else {
        // Lets the reply reach the console first.
        smol::Timer::after(Duration::from_millis(100)).await;
    }
    if cancelled.load(Ordering::Relaxed) {
        return;
    }
    log::info!("[ARRET] arrêt demandé par l'administrateur");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGTERM);
}

/// A reason or text, trimmed; `None` when empty.
fn clean(text: Option<String>) -> Option<String> {
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

/// The name as the server registers it (NFC), checked like a registration.
fn account_name(raw: &str) -> Result<String, String> {
    let name: String = raw.nfc().collect();
    match check_name(&name) {
        Ok(()) => Ok(name),
        Err(NameProblem::Reserved) => Err(format!(
            "« {raw} » est un nom réservé (serveur, admin...) : choisissez-en un autre."
        )),
        Err(problem) => Err(format!("Nom de compte invalide « {raw} » : {problem}.")),
    }
}

fn no_such_account(name: &str) -> String {
    format!("Aucun compte « {name} » (user list affiche les comptes).")
}

fn unavailable() -> String {
    "La base de données ne répond pas (disque plein ou trop lent ?) : réessayez.".into()
}
