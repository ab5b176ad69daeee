//! The server assembled: [`serve`] opens the database, binds the sockets, starts each part and
//! wires them together (the hub task, the store thread, the network thread's executor, the control
//! socket and its desk, the signal thread, the metrics writer), serves until stopped, then
//! closes everything in order. This is the one place that knows every part; the parts only know
//! what they use (`net` does not know the console, `control` does not know the network).
//!
//! - `startup.rs`: the database and sockets, and why starting failed ([`ServeError`]);
//! - `signals.rs`: SIGHUP, SIGINT and SIGTERM.
//!
//! The web port (`crate::web`) is one more accept loop feeding the same hub; the dashboard it
//! serves over HTTPS (its certificate read or made in phase 2) acts through the same desk.
//!
//! **One network thread.** The accept loops, the readers, the hub task and its writes all run on
//! the thread that calls [`serve`]; the store, the log, the password checks, signals and the
//! metrics writer keep their own threads. With readers on other threads, every line crossed to
//! the hub's thread (a futex wake-up and a context switch each time); here that hand-off is a
//! queue push. The hub was always one task, so a Pi's other cores never limited the chat.
//! Measured with the hub's write pacing (`net::hub_task::pacing`) in BENCHMARKS.md, 2026-12-08.

mod signals;
mod startup;

use std::net::TcpListener;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::FutureExt;
use smol::channel::{self, Receiver, Sender};
use smol::{Executor, Timer};

use crate::accounts::Accounts;
use crate::admin::socket::AdminSocket;
use crate::config::{Config, ConfigSource};
use crate::control::bans::now_unix;
use crate::control::desk::DeskParts;
use crate::control::{Desk, HubDoor, ToHub};
use crate::metrics::Metrics;
use crate::net::hub_task::{self, HubCommand, HubTask, Services};
use crate::net::listener::{self, AcceptContext};
use crate::security::AccessGuard;
use crate::store::{StoreSettings, StoreThread};
use crate::web::admin::Dashboard;
use crate::web::server::WebSettings;
use crate::web::tls::Tls;
pub use signals::block_shutdown_signals;
pub use startup::ServeError;
use startup::{Opened, Sockets};

/// How long shutdown waits for connections to flush and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// Commands waiting for the hub; readers wait when it is full (back-pressure).
const HUB_QUEUE: usize = 4096;

/// Runs the server until SIGINT, SIGTERM or the console's `shutdown`; returns once everything
/// is flushed and closed. `source` is where `reload` (and SIGHUP) read the configuration again.
pub fn serve(config: Config, source: ConfigSource) -> Result<(), ServeError> {
    // 1. The database, and the chat state it holds.
    let opened = startup::open_database(&config)?;
    // 2. The process and its sockets.
    startup::prepare_process();
    let sockets = startup::bind_sockets(&config)?;
    log::info!(
        "[DEMARRAGE] base de données : {} ({} compte(s), {} message(s) en attente de remise)",
        opened.db_path.display(),
        opened.accounts,
        opened.deferred
    );
    let tls = startup::dashboard_tls(&config, &sockets.web);
    let signals = signals::block_shutdown_signals()?;
    // 3. The parts, started and wired.
    let parts = Parts::start(&config, source, opened, &sockets.admin, tls)?;
    signals::spawn(signals, parts.hub_tx.clone(), parts.desk.clone())?;
    // 4. Serving on this thread, until the hub task stops (one network thread: see above).
    let (store_thread, metrics) = parts.serve(&config, sockets);
    // 5. Closing, in order.
    store_thread.stop();
    // The last numbers (the writer thread may be asleep); the socket file goes with the server.
    if let Some(path) = &config.metrics.file {
        let _ = metrics.write_file(path);
    }
    let _ = std::fs::remove_file(crate::admin::socket_path(&config));
    log::info!("[ARRET] messages enregistrés, base de données fermée, arrêt terminé");
    Ok(())
}

/// Every part, started and wired, before serving.
struct Parts {
    executor: Arc<Executor<'static>>,
    hub: classcord_core::hub::Hub,
    hub_tx: Sender<HubCommand>,
    hub_rx: Receiver<HubCommand>,
    store_thread: StoreThread,
    metrics: Arc<Metrics>,
    access: Arc<AccessGuard>,
    bans: crate::control::bans::BanList,
    mutes: crate::control::mutes::MuteList,
    accounts: Accounts,
    desk: Arc<Desk>,
    /// The dashboard's TLS (HTTPS on the web port); `None` without the web port.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Closed (dropped) to stop the accept loops and the control socket.
    stop_tx: Sender<()>,
    stop_rx: Receiver<()>,
    /// Held by backlog writers; shutdown waits (bounded) until every clone is dropped.
    alive_tx: Sender<()>,
    alive_rx: Receiver<()>,
}

impl Parts {
    /// Phase 3: the store thread, metrics, the desk behind the control socket, the password
    /// threads, the access guard with the bans in force, the metrics writer.
    fn start(
        config: &Config,
        source: ConfigSource,
        opened: Opened,
        admin: &AdminSocket,
        tls: Option<(Tls, Vec<String>)>,
    ) -> Result<Parts, ServeError> {
        let Opened {
            store,
            hub,
            bans,
            mutes,
            hasher,
            db_path,
            operators,
            ..
        } = opened;
        let executor: Arc<Executor<'static>> = Arc::new(Executor::new());
        let (hub_tx, hub_rx) = channel::bounded::<HubCommand>(HUB_QUEUE);

        let settings = StoreSettings {
            path: db_path.clone(),
            cache_bytes: config.db_cache_bytes,
            commit_interval: config.storage.commit_interval,
            commit_max: config.storage.commit_max_messages,
            queue_capacity: config.storage.queue_capacity,
            retention: config.storage.retention,
        };
        let loaded_to_hub = hub_tx.clone();
        let store_thread = StoreThread::spawn(store, settings, move |loaded| {
            // Never lost while the hub runs: the hub drains its queue and never waits for the
            // store.
            let _ = loaded_to_hub.send_blocking(HubCommand::Loaded(loaded));
        })
        .map_err(ServeError::Thread)?;
        let metrics = Metrics::new();
        metrics.attach_store(store_thread.handle().stats.clone(), db_path);

        let accounts = Accounts::new(
            store_thread.handle(),
            hasher.clone(),
            config.max_concurrent_hashes,
        )
        .map_err(ServeError::Thread)?;
        let desk = Arc::new(Desk::new(DeskParts {
            hub: hub_door(hub_tx.clone()),
            store: store_thread.handle(),
            hasher,
            executor: executor.clone(),
            source,
            config: config.clone(),
            socket: admin.path().to_owned(),
            operators,
            accounts: accounts.clone(),
            certificate: tls.as_ref().map(|(tls, urls)| tls.facts(urls.clone())),
        }));
        if let Some(path) = config.metrics.file.clone() {
            crate::metrics::spawn_writer(metrics.clone(), path, config.metrics.interval)
                .map_err(ServeError::Thread)?;
        }
        let access = access_guard(config, &bans);
        let (stop_tx, stop_rx) = channel::bounded::<()>(1);
        let (alive_tx, alive_rx) = channel::bounded::<()>(1);
        Ok(Parts {
            executor,
            hub,
            hub_tx,
            hub_rx,
            store_thread,
            metrics,
            access,
            bans,
            mutes,
            accounts,
            desk,
            tls: tls.map(|(tls, _)| tls.config),
            stop_tx,
            stop_rx,
            alive_tx,
            alive_rx,
        })
    }

    /// Phase 4: accepts on every socket and runs the hub task until it stops, then stops
    /// accepting and gives connections a moment to flush their last lines. Hands back what is
    /// closed after serving.
    fn serve(self, config: &Config, sockets: Sockets) -> (StoreThread, Arc<Metrics>) {
        let Parts {
            executor,
            hub,
            hub_tx,
            hub_rx,
            store_thread,
            metrics,
            access,
            bans,
            mutes,
            accounts,
            desk,
            tls,
            stop_tx,
            stop_rx,
            alive_tx,
            alive_rx,
        } = self;
        let accept = Arc::new(AcceptContext {
            executor: executor.clone(),
            hub: hub_tx.clone(),
            next_session: AtomicU64::new(1),
            max_line_bytes: config.max_line_bytes,
            partial_line_timeout: config.security.partial_line_timeout,
            access: access.clone(),
            metrics: metrics.clone(),
        });
        let services = Services {
            accounts,
            store: store_thread.handle(),
            attempts: config.security.attempts.clone(),
            commands: hub_tx.clone(),
            writers_alive: alive_tx,
            outbound_limit: config.outbound_queue_bytes,
            admin: hub_task::admin::AdminState::new(access, bans, mutes, metrics.clone()),
        };
        let hub_task = HubTask::new(hub, services, executor.clone());
        smol::block_on(executor.run(async {
            spawn_accept_loops(&executor, sockets.chat, &accept, &stop_rx);
            let web = Arc::new(WebSettings {
                trusted_proxies: config.web.trusted_proxies.clone(),
                dashboard: tls.map(|tls| Arc::new(Dashboard::new(desk.clone(), tls))),
            });
            spawn_web_loops(&executor, sockets.web, &accept, &web, &stop_rx);
            executor
                .spawn(sockets.admin.serve(
                    desk,
                    config.admin.group.clone(),
                    executor.clone(),
                    stop_rx.clone(),
                ))
                .detach();
            executor.spawn(tick(hub_tx.clone())).detach();
            drop(hub_tx);
            hub_task.run(hub_rx).await;

            drop(stop_tx);
            drop(accept);
            let flushed = async {
                let _ = alive_rx.recv().await;
                true
            }
            .or(async {
                Timer::after(SHUTDOWN_GRACE).await;
                false
            })
            .await;
            if !flushed {
                log::warn!("[ARRET] certaines connexions ne se sont pas fermées à temps");
            }
        }));
        (store_thread, metrics)
    }
}

/// The desk's way to the hub task: jobs as `HubCommand::Admin`, the stop order as the same
/// `Shutdown` a signal sends.
fn hub_door(hub: Sender<HubCommand>) -> HubDoor {
    HubDoor::new(move |to_hub| {
        let hub = hub.clone();
        async move {
            let command = match to_hub {
                ToHub::Job(job) => HubCommand::Admin(job),
                ToHub::Stop => {
                    crate::systemd::notify_stopping();
                    HubCommand::Shutdown
                }
            };
            hub.send(command).await.is_ok()
        }
    })
}

/// Connection limits, the allowlist and the address bans in force, checked at accept.
fn access_guard(config: &Config, bans: &crate::control::bans::BanList) -> Arc<AccessGuard> {
    let settings = config.security.access_settings();
    log::info!(
        "[DEMARRAGE] au plus {} connexion(s), {} par adresse ; réseaux autorisés : {}",
        settings.max_total,
        settings.max_per_ip,
        settings
            .allow
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let access = AccessGuard::new(settings);
    access.set_banned(bans.networks(now_unix(), Instant::now()));
    access
}

fn spawn_accept_loops(
    executor: &Arc<Executor<'static>>,
    listeners: Vec<TcpListener>,
    accept: &Arc<AcceptContext>,
    stop: &Receiver<()>,
) {
    for listener in listeners {
        let listener = match async_net::TcpListener::try_from(listener) {
            Ok(listener) => listener,
            Err(error) => {
                log::error!("[ERREUR] écoute impossible : {error}");
                continue;
            }
        };
        executor
            .spawn(listener::accept_loop(
                listener,
                accept.clone(),
                stop.clone(),
            ))
            .detach();
    }
}

fn spawn_web_loops(
    executor: &Arc<Executor<'static>>,
    listeners: Vec<TcpListener>,
    accept: &Arc<AcceptContext>,
    web: &Arc<WebSettings>,
    stop: &Receiver<()>,
) {
    for listener in listeners {
        match async_net::TcpListener::try_from(listener) {
            Ok(listener) => executor
                .spawn(crate::web::server::accept_loop(
                    listener,
                    accept.clone(),
                    web.clone(),
                    stop.clone(),
                ))
                .detach(),
            Err(error) => log::error!("[ERREUR] écoute (web) impossible : {error}"),
        }
    }
}

/// The hub's housekeeping tick, until the hub task is gone.
async fn tick(hub: Sender<HubCommand>) {
    loop {
        Timer::after(hub_task::TICK).await;
        if hub.send(HubCommand::Tick).await.is_err() {
            return;
        }
    }
}
