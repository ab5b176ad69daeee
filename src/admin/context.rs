//! What the console's requests need, shared by the socket server, the dispatch of requests and
//! reloads: the way to the hub task and the store thread, and the configuration in force.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use smol::channel::Sender;
use smol::Executor;

use crate::config::{Config, ConfigSource};
use crate::net::hub_task::admin::{AdminAsk, AdminResult};
use crate::net::hub_task::HubCommand;
use crate::store::{PasswordHasher, StoreHandle};

/// The reply when the hub task is gone (the server is stopping).
pub(super) const STOPPING: &str = "Le serveur s'arrête : commande non exécutée.";

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
    pub(super) countdown: Mutex<Option<Arc<AtomicBool>>>,
}

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
}
