//! The network shell: binds the listeners, runs the executor threads, the hub task and one reader
//! and one writer task per connection, and shuts everything down cleanly on SIGINT / SIGTERM.
//!
//! - [`listener`]: sockets and the accept loop.
//! - [`reader`]: the per-connection reader task (bytes -> requests -> hub).
//! - [`hub_task`]: the task that owns the chat state and carries out its effects.
//! - [`outbox`]: the bounded per-connection outbound queue the hub writes from.
//! - [`flood`]: back-pressure: the hub stops reading a sender whose lines deepen queues.
//! - [`writer`]: the backlog writer task, alive only while a connection's socket is full.

pub mod flood;
pub mod hub_task;
pub mod listener;
pub mod outbox;
pub mod reader;
pub mod websocket;
pub mod writer;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use classcord_core::hub::Hub;
use nix::sys::signal::{SigSet, Signal};
use smol::{channel, Executor, Timer};

use crate::accounts::Accounts;
use crate::admin::context::AdminContext;
use crate::admin::server::{AdminSocket, SocketError};
use crate::config::{Config, ConfigSource};
use crate::metrics::Metrics;
use crate::security::AccessGuard;
use crate::store::{PasswordError, PasswordHasher, Store, StoreError, StoreSettings, StoreThread};
use hub_task::{HubCommand, HubTask, Services};
use listener::AcceptContext;

/// How long shutdown waits for connections to flush and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// Commands waiting for the hub; readers wait when it is full (back-pressure).
const HUB_QUEUE: usize = 4096;

/// Why the server could not start. Messages are in French: operators read them.
#[derive(Debug)]
pub enum ServeError {
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    Store {
        path: PathBuf,
        source: StoreError,
    },
    Password(PasswordError),
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    NoListener,
    Activation(crate::systemd::ActivationError),
    Admin(SocketError),
    Signals(nix::Error),
    Thread(std::io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::DataDir { path, source } => {
                write!(f, "impossible de créer le dossier de données {} : {source}", path.display())
            }
            ServeError::Store { path, source } => {
                write!(f, "impossible d'ouvrir la base {} : {source}", path.display())
            }
            ServeError::Password(error) => write!(f, "paramètres de hachage invalides : {error}"),
            ServeError::Bind { addr, source } => write!(
                f,
                "impossible d'écouter sur {addr} : {source} (port déjà utilisé par un autre serveur ?)"
            ),
            ServeError::NoListener => f.write_str("aucune adresse d'écoute disponible"),
            ServeError::Activation(error) => error.fmt(f),
            ServeError::Admin(error) => error.fmt(f),
            ServeError::Signals(error) => write!(f, "gestion des signaux impossible : {error}"),
            ServeError::Thread(error) => write!(f, "impossible de démarrer un thread : {error}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Runs the server until SIGINT or SIGTERM; returns once everything is flushed and closed.
/// `source` is where `reload` (and SIGHUP) read the configuration again.
pub fn serve(config: Config, source: ConfigSource) -> Result<(), ServeError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServeError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let db_path = config.database_path();
    let store =
        Store::open(&db_path, config.db_cache_bytes).map_err(|source| ServeError::Store {
            path: db_path.clone(),
            source,
        })?;
    let restored = store.restored().map_err(|source| ServeError::Store {
        path: db_path.clone(),
        source,
    })?;
    let mut hub = Hub::new(config.hub.clone(), restored.clone());
    let bans = startup_bans(&store, &mut hub);
    // Ids handed out from now on are reserved before the first one is used (never reused).
    store
        .reserve_ids(hub.reserved_ids_until())
        .map_err(|source| ServeError::Store {
            path: db_path.clone(),
            source,
        })?;
    let hasher = PasswordHasher::new(config.hash).map_err(ServeError::Password)?;

    raise_fd_limit();
    tune_allocator();
    // The control socket first: once the chat port answers, so does the console.
    let admin_socket = AdminSocket::bind(&crate::admin::socket_path(&config), &config.admin.group)
        .map_err(ServeError::Admin)?;
    let listeners = bind_all(&config)?;
    let web_listeners = crate::web::server::bind(&config.web)?;
    crate::systemd::notify_ready(&listeners);
    log::info!(
        "[DEMARRAGE] base de données : {} ({} compte(s), {} message(s) en attente de remise)",
        db_path.display(),
        restored.accounts.len(),
        restored.deferred.len()
    );

    let signals = block_shutdown_signals()?;

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
        // Never lost while the hub runs: the hub drains its queue and never waits for the store.
        let _ = loaded_to_hub.send_blocking(HubCommand::Loaded(loaded));
    })
    .map_err(ServeError::Thread)?;
    let metrics = Metrics::new();
    metrics.attach_store(store_thread.handle().stats.clone(), db_path.clone());
    let admin = Arc::new(AdminContext::new(
        hub_tx.clone(),
        store_thread.handle(),
        hasher.clone(),
        executor.clone(),
        source,
        config.clone(),
        admin_socket.path().to_owned(),
    ));
    let accounts = Accounts::new(store_thread.handle(), hasher, config.max_concurrent_hashes)
        .map_err(ServeError::Thread)?;
    let (stop_tx, stop_rx) = channel::bounded::<()>(1);
    let (alive_tx, alive_rx) = channel::bounded::<()>(1);

    let signal_hub = hub_tx.clone();
    let signal_admin = admin.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || wait_for_signals(signals, signal_hub, signal_admin))
        .map_err(ServeError::Thread)?;
    if let Some(path) = config.metrics.file.clone() {
        crate::metrics::spawn_writer(metrics.clone(), path, config.metrics.interval)
            .map_err(ServeError::Thread)?;
    }

    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(1);
    let mut workers = Vec::new();
    for index in 1..threads {
        let executor = executor.clone();
        let stop = stop_rx.clone();
        let worker = std::thread::Builder::new()
            .name(format!("worker-{index}"))
            .spawn(move || {
                smol::block_on(executor.run(async {
                    let _ = stop.recv().await;
                }))
            })
            .map_err(ServeError::Thread)?;
        workers.push(worker);
    }

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
    access.set_banned(bans.networks(crate::admin::bans::now_unix(), std::time::Instant::now()));
    let context = Arc::new(AcceptContext {
        executor: executor.clone(),
        hub: hub_tx.clone(),
        next_session: AtomicU64::new(1),
        max_line_bytes: config.max_line_bytes,
        partial_line_timeout: config.security.partial_line_timeout,
        access: access.clone(),
        metrics: metrics.clone(),
    });

    smol::block_on(executor.run(async {
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
                    context.clone(),
                    stop_rx.clone(),
                ))
                .detach();
        }
        let web = Arc::new(crate::web::server::WebSettings {
            trusted_proxies: config.web.trusted_proxies.clone(),
        });
        for listener in web_listeners {
            match async_net::TcpListener::try_from(listener) {
                Ok(listener) => executor
                    .spawn(crate::web::server::accept_loop(
                        listener,
                        context.clone(),
                        web.clone(),
                        stop_rx.clone(),
                    ))
                    .detach(),
                Err(error) => log::error!("[ERREUR] écoute (web) impossible : {error}"),
            }
        }
        executor
            .spawn(admin_socket.serve(admin, stop_rx.clone()))
            .detach();
        let ticker = hub_tx.clone();
        executor
            .spawn(async move {
                loop {
                    Timer::after(hub_task::TICK).await;
                    if ticker.send(HubCommand::Tick).await.is_err() {
                        return;
                    }
                }
            })
            .detach();
        let services = Services {
            accounts,
            store: store_thread.handle(),
            attempts: config.security.attempts.clone(),
            commands: hub_tx.clone(),
            writers_alive: alive_tx,
            outbound_limit: config.outbound_queue_bytes,
            admin: hub_task::admin::AdminState::new(access, bans, metrics.clone()),
        };
        let hub_task = HubTask::new(hub, services, executor.clone());
        drop(hub_tx);
        hub_task.run(hub_rx).await;

        // Stop accepting, then give connections a moment to flush their last lines and close.
        drop(stop_tx);
        drop(context);
        let flushed = futures_lite::future::or(
            async {
                let _ = alive_rx.recv().await;
                true
            },
            async {
                Timer::after(SHUTDOWN_GRACE).await;
                false
            },
        )
        .await;
        if !flushed {
            log::warn!("[ARRET] certaines connexions ne se sont pas fermées à temps");
        }
    }));
    for worker in workers {
        let _ = worker.join();
    }
    store_thread.stop();
    // The last numbers (the writer thread may be asleep); the socket file goes with the server.
    if let Some(path) = &config.metrics.file {
        let _ = metrics.write_file(path);
    }
    let _ = std::fs::remove_file(crate::admin::socket_path(&config));
    log::info!("[ARRET] messages enregistrés, base de données fermée, arrêt terminé");
    Ok(())
}

/// The stored bans (expired ones deleted), given to the hub (names) before it serves.
fn startup_bans(store: &Store, hub: &mut Hub) -> crate::admin::bans::BanList {
    let stored = store.bans().unwrap_or_else(|error| {
        log::error!("[DEMARRAGE] bannissements illisibles : {error}");
        Vec::new()
    });
    let (bans, expired) = crate::admin::bans::BanList::new(stored, crate::admin::bans::now_unix());
    if !expired.is_empty() {
        let keys: Vec<String> = expired.iter().map(|ban| ban.key()).collect();
        let _ = store.remove_bans(&keys);
    }
    if !bans.all().is_empty() {
        log::info!(
            "[DEMARRAGE] {} bannissement(s) en vigueur",
            bans.all().len()
        );
    }
    let names = classcord_core::hub::AdminCommand::SetBannedNames {
        names: bans.names(),
    };
    hub.admin(
        names,
        &crate::clock::now(),
        &mut classcord_core::hub::Output::new(),
    );
    bans
}

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and every thread it starts
/// afterwards; one dedicated thread then takes them with `sigwait`. Call it before starting any thread (the log
/// writer included), or a thread with the default action could be picked and kill the process.
pub fn block_shutdown_signals() -> Result<SigSet, ServeError> {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGHUP);
    signals.thread_block().map_err(ServeError::Signals)?;
    Ok(signals)
}

/// glibc raises its mmap threshold after big blocks are freed, after which each argon2 block
/// (19 MiB) is carved from a per-thread heap and kept: hundreds of MiB of RSS after a login
/// storm. A fixed threshold keeps big blocks in mmap, returned to the system when freed.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before the worker threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        // Fixing the mmap threshold also pins the trim threshold at 128 KiB, and then every
        // large free at the top of the heap shrinks it only for the next batch to fault the pages
        // back in. The hub gives memory back itself once the chat is quiet (see
        // `release_free_memory`).
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

/// Returns freed heap pages to the system (glibc keeps them otherwise).
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists, under its own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Each connection is a file descriptor: lift the soft limit to the hard one (a school is
/// thousands of connections; the usual soft default is 1024).
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => log::debug!("[DEMARRAGE] limite de descripteurs : {soft} -> {hard}"),
            Err(error) => {
                log::warn!("[DEMARRAGE] limite de descripteurs non relevée ({soft}) : {error}")
            }
        },
        Ok(_) => {}
        Err(error) => log::warn!("[DEMARRAGE] limite de descripteurs illisible : {error}"),
    }
}

fn bind_all(config: &Config) -> Result<Vec<std::net::TcpListener>, ServeError> {
    // Socket activation: systemd's sockets replace the configured addresses.
    if let Some(inherited) =
        crate::systemd::inherited_listeners().map_err(ServeError::Activation)?
    {
        return Ok(inherited);
    }
    let mut listeners = Vec::new();
    for &addr in &config.listen {
        match listener::bind(addr) {
            Ok(listener) => {
                let bound = listener.local_addr().unwrap_or(addr);
                log::info!(
                    "[DEMARRAGE] ClassCord {} écoute sur {bound}",
                    env!("CARGO_PKG_VERSION")
                );
                listeners.push(listener);
            }
            // A host with IPv6 disabled (common on a Pi) still serves IPv4: the IPv6 wildcard is
            // skipped when the kernel has no IPv6 at all, whoever asked for it.
            Err(source)
                if addr.is_ipv6()
                    && (config.listen_is_default
                        || (addr.ip().is_unspecified() && ipv6_missing(&source))) =>
            {
                log::warn!("[DEMARRAGE] IPv6 indisponible ({source}) : écoute en IPv4 seulement");
            }
            Err(source) => return Err(ServeError::Bind { addr, source }),
        }
    }
    if listeners.is_empty() {
        return Err(ServeError::NoListener);
    }
    Ok(listeners)
}

/// The kernel has no IPv6 (module absent or disabled).
fn ipv6_missing(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL)
    )
}

/// SIGHUP: the configuration read again (`reload`). First SIGINT/SIGTERM: graceful shutdown;
/// second: immediate exit.
fn wait_for_signals(signals: SigSet, hub: channel::Sender<HubCommand>, admin: Arc<AdminContext>) {
    let mut received = 0;
    loop {
        let Ok(signal) = signals.wait() else { continue };
        if signal == Signal::SIGHUP {
            log::info!("[ADMIN] signal SIGHUP reçu : relecture de la configuration");
            if let Err(error) = smol::block_on(crate::admin::reload::reload(&admin)) {
                log::warn!("[ADMIN] relecture : {error}");
            }
            continue;
        }
        received += 1;
        if received == 1 {
            log::info!(
                "[ARRET] signal {signal} reçu : arrêt en cours (encore une fois pour forcer)"
            );
            crate::systemd::notify_stopping();
            if hub.send_blocking(HubCommand::Shutdown).is_err() {
                return;
            }
        } else {
            log::warn!("[ARRET] second signal : arrêt immédiat");
            std::process::exit(130);
        }
    }
}
