//! The first phases of `serve()`: the database opened and the chat state restored from it, the
//! process tuned, the sockets bound, the dashboard's certificate read or made. Each failure is a
//! [`ServeError`], in French (a certificate that cannot be used only costs the dashboard).

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;

use classcord_core::hub::{AdminCommand, Hub, Output};

use crate::admin::socket::{AdminSocket, SocketError};
use crate::config::Config;
use crate::control::bans::{now_unix, BanList};
use crate::control::mutes::MuteList;
use crate::net::listener;
use crate::store::{PasswordError, PasswordHasher, Store, StoreError};
use crate::web::tls::Tls;

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

/// The database, open, and what the hub starts from.
pub struct Opened {
    pub store: Store,
    pub hub: Hub,
    pub bans: BanList,
    pub mutes: MuteList,
    pub hasher: PasswordHasher,
    pub db_path: PathBuf,
    /// Accounts and waiting lines found (for the start-up log line).
    pub accounts: usize,
    pub deferred: usize,
    /// Accounts granted the dashboard (`operator add`).
    pub operators: Vec<String>,
}

/// Phase 1: the data folder, the database, the chat state and bans it holds, the ids reserved.
pub fn open_database(config: &Config) -> Result<Opened, ServeError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServeError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let db_path = config.database_path();
    let store_error = |source| ServeError::Store {
        path: db_path.clone(),
        source,
    };
    let store = Store::open(&db_path, config.db_cache_bytes).map_err(store_error)?;
    let restored = store.restored().map_err(store_error)?;
    let (accounts, deferred) = (restored.accounts.len(), restored.deferred.len());
    let mut hub = Hub::new(config.hub.clone(), restored);
    let bans = startup_bans(&store, &mut hub);
    let mutes = startup_mutes(&store, &mut hub);
    // Ids handed out from now on are reserved before the first one is used (never reused).
    store
        .reserve_ids(hub.reserved_ids_until())
        .map_err(store_error)?;
    let hasher = PasswordHasher::new(config.hash).map_err(ServeError::Password)?;
    let operators = store.operators().unwrap_or_else(|error| {
        log::error!("[DEMARRAGE] opérateurs du tableau de bord illisibles : {error}");
        Vec::new()
    });
    Ok(Opened {
        store,
        hub,
        bans,
        mutes,
        hasher,
        db_path,
        accounts,
        deferred,
        operators,
    })
}

/// The dashboard's certificate (made at first start) and its addresses; `None` when the web
/// port is off, or when the certificate cannot be used (logged: the chat goes on, without the
/// dashboard).
pub fn dashboard_tls(config: &Config, web: &[TcpListener]) -> Option<(Tls, Vec<String>)> {
    if web.is_empty() {
        return None;
    }
    let tls = match crate::web::tls::load_or_make(config) {
        Ok(tls) => tls,
        Err(error) => {
            log::error!(
                "[DEMARRAGE] tableau de bord indisponible, certificat inutilisable : {error}"
            );
            return None;
        }
    };
    if tls.made {
        log::info!(
            "[DEMARRAGE] certificat auto-signé du tableau de bord créé : {}",
            tls.path.display()
        );
    }
    let bound: Vec<SocketAddr> = web.iter().filter_map(|l| l.local_addr().ok()).collect();
    let urls = crate::web::tls::dashboard_urls(&bound);
    log::info!(
        "[DEMARRAGE] tableau de bord : {} (empreinte SHA-256 du certificat : {})",
        urls.join(" "),
        tls.fingerprint
    );
    Some((tls, urls))
}

/// The stored mutes (those over deleted), given to the hub before it serves: a muted student
/// who reconnects after a restart is still muted.
fn startup_mutes(store: &Store, hub: &mut Hub) -> MuteList {
    let stored = store.mutes().unwrap_or_else(|error| {
        log::error!("[DEMARRAGE] mises en sourdine illisibles : {error}");
        Vec::new()
    });
    let (mutes, over) = MuteList::new(stored, now_unix());
    if !over.is_empty() {
        let keys: Vec<String> = over.iter().map(|mute| mute.key()).collect();
        let _ = store.remove_mutes(&keys);
    }
    if !mutes.all().is_empty() {
        log::info!(
            "[DEMARRAGE] {} personne(s) privée(s) de parole",
            mutes.all().len()
        );
    }
    for mute in mutes.all() {
        let command = AdminCommand::Mute {
            name: mute.name.clone(),
            until_micros: mute.until_unix.saturating_mul(1_000_000),
            reason: None,
            notify: false,
        };
        hub.admin(command, &crate::clock::now(), &mut Output::new());
    }
    mutes
}

/// The stored bans (expired ones deleted), given to the hub (names) before it serves.
fn startup_bans(store: &Store, hub: &mut Hub) -> BanList {
    let stored = store.bans().unwrap_or_else(|error| {
        log::error!("[DEMARRAGE] bannissements illisibles : {error}");
        Vec::new()
    });
    let (bans, expired) = BanList::new(stored, now_unix());
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
    let names = AdminCommand::SetBannedNames {
        names: bans.names(),
    };
    hub.admin(names, &crate::clock::now(), &mut Output::new());
    bans
}

/// Phase 2, the process: file descriptors and the allocator, before any thread starts.
pub fn prepare_process() {
    raise_fd_limit();
    tune_allocator();
}

/// glibc raises its mmap threshold after big blocks are freed, after which each argon2 block
/// (19 MiB) is carved from a per-thread heap and kept: hundreds of MiB of RSS after a login
/// storm. A fixed threshold keeps big blocks in mmap, returned to the system when freed.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        // Fixing the mmap threshold also pins the trim threshold at 128 KiB, and then every
        // large free at the top of the heap shrinks it only for the next batch to fault the pages
        // back in. The hub gives memory back itself once the chat is quiet (see
        // `net::release_free_memory`).
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
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

/// The sockets the server answers on.
pub struct Sockets {
    pub admin: AdminSocket,
    pub chat: Vec<TcpListener>,
    /// The browser chat page and its WebSocket (`[web]`); empty when turned off.
    pub web: Vec<TcpListener>,
}

/// Phase 2, the sockets: the control socket first (once the chat port answers, so does the
/// console), then the chat port and the web port; systemd is told the server is ready.
pub fn bind_sockets(config: &Config) -> Result<Sockets, ServeError> {
    let admin = AdminSocket::bind(&crate::admin::socket_path(config), &config.admin.group)
        .map_err(ServeError::Admin)?;
    let chat = bind_chat(config)?;
    let web = bind_web(config)?;
    crate::systemd::notify_ready(&chat);
    Ok(Sockets { admin, chat, web })
}

/// The web port. A default port already taken (another web server on the machine) costs a
/// warning only: the students' clients still have the chat port.
fn bind_web(config: &Config) -> Result<Vec<TcpListener>, ServeError> {
    let mut listeners = Vec::new();
    if !config.web.enabled {
        log::info!("[DEMARRAGE] page web désactivée ([web] enabled = false)");
        return Ok(listeners);
    }
    for &addr in &config.web.listen {
        match listener::bind(addr) {
            Ok(listener) => {
                let bound = listener.local_addr().unwrap_or(addr);
                log::info!("[DEMARRAGE] page web sur {bound} : http://{bound}/");
                listeners.push(listener);
            }
            Err(source) if config.web.listen_is_default => log::warn!(
                "[DEMARRAGE] page web indisponible sur {addr} ({source}) : choisissez un autre \
                 port avec [web] listen, ou coupez-la avec [web] enabled = false"
            ),
            Err(source) => return Err(ServeError::Bind { addr, source }),
        }
    }
    Ok(listeners)
}

fn bind_chat(config: &Config) -> Result<Vec<TcpListener>, ServeError> {
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
