//! The desk: every request carried out, whichever front end asked. Each changing request is
//! logged in one plain form, the console's own words (`[ADMIN] uid 0 : ban 10.0.0.0/8 2 h
//! triche`), passwords left out. Chat state is asked of the hub task through the [`HubDoor`];
//! backups go through the store thread (the server holds the database open); accounts, `reload`
//! and `shutdown` have their own files.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use serde_json::json;
use smol::Executor;

use super::dashboard_facts::Grants;
use super::dashboard_facts::{grants, CertificateFacts};
use super::hub::{HubAsk, HubDoor};
use super::request::{Answer, Operator, Outcome, Request};
use super::trace::{self, TraceStream, TraceTarget};
use super::words;
use crate::accounts::Accounts;
use crate::config::{Config, ConfigSource};
use crate::store::{PasswordHasher, StoreHandle};

/// What carrying out requests needs.
pub struct Desk {
    pub(super) hub: HubDoor,
    pub(super) store: StoreHandle,
    pub(super) hasher: PasswordHasher,
    pub(super) executor: Arc<Executor<'static>>,
    /// Where the configuration is read again from.
    pub(super) source: ConfigSource,
    /// The configuration the server started with, and the one in force (after reloads).
    pub(super) started: Config,
    pub(super) current: Mutex<Config>,
    pub(super) database: PathBuf,
    socket: PathBuf,
    /// The running shutdown countdown, if any (set to cancel it).
    pub(super) countdown: Mutex<Option<Arc<AtomicBool>>>,
    /// Operator grants kept in the store (`[admin] operators` is read from `current`).
    pub(super) operators: Mutex<Grants>,
    /// Password checks for the dashboard's sign-in (the chat's hashing threads).
    pub(super) accounts: Accounts,
    /// The dashboard's certificate; `None` when the web port is off.
    pub(super) certificate: Option<CertificateFacts>,
}

/// What the desk is built from (the server wiring has each part).
pub struct DeskParts {
    pub hub: HubDoor,
    pub store: StoreHandle,
    pub hasher: PasswordHasher,
    pub executor: Arc<Executor<'static>>,
    pub source: ConfigSource,
    pub config: Config,
    /// The control socket, for `info`.
    pub socket: PathBuf,
    /// Operator grants read from the store at start.
    pub operators: Vec<String>,
    pub accounts: Accounts,
    pub certificate: Option<CertificateFacts>,
}

impl Desk {
    pub fn new(parts: DeskParts) -> Desk {
        let DeskParts {
            hub,
            store,
            hasher,
            executor,
            source,
            config,
            socket,
            operators,
            accounts,
            certificate,
        } = parts;
        Desk {
            hub,
            store,
            hasher,
            executor,
            source,
            database: config.database_path(),
            started: config.clone(),
            current: Mutex::new(config),
            socket,
            countdown: Mutex::new(None),
            operators: Mutex::new(grants(operators)),
            accounts,
            certificate,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> Config {
        lock(&self.current).clone()
    }

    /// Carries out one request for `by`. `file`: the empty file a `backup` copies into (the
    /// control socket receives it with the request line).
    pub async fn run(
        &self,
        request: Request,
        by: &Operator,
        file: Option<std::fs::File>,
    ) -> Outcome {
        if !request.only_reads() {
            log::info!(
                "[ADMIN] {by} : {}",
                crate::logging::shown(&words::render(&request))
            );
        }
        match request {
            Request::Info => Ok(self.info()),
            Request::Backup => self.backup(file).await,
            Request::UserList => self.user_list().await,
            Request::UserAdd { name, password } => self.user_add(name, password).await,
            Request::UserDel { name } => self.user_del(name).await,
            Request::UserPasswd { name, password } => self.user_passwd(name, password).await,
            Request::Reload => self.reload().await,
            Request::Shutdown { delay, message } => self.shutdown(delay, clean(message), by),
            Request::Operators => self.operator_list(),
            Request::OperatorAdd { name } => self.operator_add(name).await,
            Request::OperatorDel { name } => self.operator_del(name).await,
            Request::Events => Ok(self.events()),
            Request::Certificate => self.certificate(),
            Request::Trace { .. } => Err(
                "La trace est un flux de lignes, pas une réponse : classcord admin trace (ou le \
                 tableau de bord) la suit en direct."
                    .into(),
            ),
            chat => self.hub.ask(HubAsk::Request(chat)).await,
        }
    }

    /// Starts a live protocol trace for `by` (`request` must be [`Request::Trace`]): the answer
    /// says what is traced, the stream gives the events until its `end` (dropping it stops the
    /// trace). Logged like every request, in the console's words.
    pub async fn trace(
        &self,
        request: Request,
        by: &Operator,
    ) -> Result<(Answer, TraceStream), String> {
        log::info!(
            "[ADMIN] {by} : {}",
            crate::logging::shown(&words::render(&request))
        );
        let Request::Trace { target, duration } = request else {
            return Err("Seule une demande « trace » ouvre une trace.".into());
        };
        let target = TraceTarget::parse(&target)?;
        let duration = trace::trace_duration(duration)?;
        let (feed, stream) = trace::channel();
        let answer = self
            .hub
            .ask(HubAsk::Trace {
                target,
                duration,
                feed,
            })
            .await?;
        Ok((answer, stream))
    }

    fn info(&self) -> Answer {
        Answer::new(
            format!(
                "ClassCord {} (pid {}), base {}, socket {}",
                env!("CARGO_PKG_VERSION"),
                std::process::id(),
                self.database.display(),
                self.socket.display()
            ),
            json!({
                "version": env!("CARGO_PKG_VERSION"),
                "pid": std::process::id(),
                "database": self.database,
                "socket": self.socket,
            }),
        )
    }

    /// The last security lines, oldest first.
    fn events(&self) -> Answer {
        let events = crate::logging::recent::recent();
        Answer::new(super::report::events(&events), json!(events))
    }

    async fn backup(&self, file: Option<std::fs::File>) -> Outcome {
        let Some(file) = file else {
            return Err(
                "Sauvegarde : le fichier de destination n'a pas été transmis avec la demande \
                 (utilisez classcord backup ou classcord admin backup)."
                    .into(),
            );
        };
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
            Ok(copied) => Ok(Answer::new(
                format!("Copie faite ({} table(s)).", copied.counts.len()),
                json!(copied),
            )),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// A reason or text, trimmed; `None` when empty.
pub fn clean(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

pub fn unavailable() -> String {
    "La base de données ne répond pas (disque plein ou trop lent ?) : réessayez.".into()
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
