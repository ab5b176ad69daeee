//! Configuration: the TOML file (every key optional), `CLASSCORD_*` environment variables and
//! command-line flags, merged in that order (flags win) and checked into a [`Config`]. The
//! defaults work out of the box: listen on port 12345 on every IPv4 and IPv6 address, data in
//! `./classcord-data/`.
//!
//! This file holds the top-level keys, `[limits]`, `[passwords]`, `[admin]` and `[metrics]`; each
//! larger section has its file: `security.rs`, `storage.rs`, `notices.rs`, `logs.rs`, `clients.rs`, and
//! `env.rs` for the environment variables.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use classcord_core::frame::DEFAULT_MAX_LINE_BYTES;
use classcord_core::hub::{ChannelMoves, HubConfig, InvalidLines, LineRate, NoticeTexts};
use serde::Deserialize;

use crate::logging::{Facility, LogSettings, OutputChoice};
use crate::security::{AttemptSettings, Cidr};
use crate::store::{HashParams, Retention};

mod clients;
mod env;
mod logs;
mod notices;
mod security;
mod storage;
#[cfg(test)]
mod tests;
mod web;

use clients::{login_hold, RawClients};
use env::apply_env;
pub use env::ENV_VARS;
use logs::{log_settings, parse_level, RawLog};
use notices::{notice_texts, RawNotices};
pub use security::SecurityConfig;
use security::{security_config, RawSecurity};
pub use storage::StorageConfig;
use storage::{storage_config, RawStorage};
use web::{web_config, RawWeb};
pub use web::{OwnCertificate, WebConfig, DEFAULT_WEB_PORT};

pub const DEFAULT_PORT: u16 = 12345;
/// The data folder and the database file in it belong to the store, which opens them.
pub use crate::store::{DATABASE_FILE, DEFAULT_DATA_DIR};

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Vec<SocketAddr>,
    /// True when `listen` is the built-in default (then an address family the host lacks is
    /// skipped with a warning instead of failing).
    pub listen_is_default: bool,
    pub data_dir: PathBuf,
    pub max_line_bytes: usize,
    pub outbound_queue_bytes: usize,
    pub hash: HashParams,
    pub max_concurrent_hashes: usize,
    pub db_cache_bytes: usize,
    pub storage: StorageConfig,
    pub security: SecurityConfig,
    pub log_level: log::LevelFilter,
    /// Output, facilities and syslog socket (`[log]`).
    pub log: LogSettings,
    pub hub: HubConfig,
    /// The control socket (`[admin]`).
    pub admin: AdminConfig,
    /// The metrics file (`[metrics]`, `--metrics-file`).
    pub metrics: MetricsConfig,
    /// The browser chat page (`[web]`, `--web-listen`).
    pub web: WebConfig,
}

/// `[admin]`: where the control socket is and who may use it besides root and the server's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `None`: `$RUNTIME_DIRECTORY/admin.sock` under systemd, else `<data dir>/admin.sock`.
    pub socket: Option<PathBuf>,
    /// Members of this group may use the socket (it is also given the socket file, if it exists).
    pub group: String,
    /// Accounts that may sign in to the dashboard besides those granted with `operator add`.
    pub operators: Vec<String>,
}

pub const DEFAULT_ADMIN_GROUP: &str = "classcord-admin";

/// `[metrics]`: the Prometheus text file for node_exporter's textfile collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub file: Option<PathBuf>,
    pub interval: std::time::Duration,
}

/// Where a configuration comes from: read again as it was at start by `reload` and SIGHUP (the
/// command-line flags keep winning over the file).
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    pub file: Option<PathBuf>,
    pub overrides: Overrides,
}

impl ConfigSource {
    pub fn load(&self) -> Result<Config, ConfigError> {
        Config::load(self.file.as_deref(), self.overrides.clone())
    }
}

impl Config {
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }
}

/// Command-line values that override the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Vec<String>,
    pub data_dir: Option<PathBuf>,
    pub log_level: Option<String>,
    /// `--log syslog|console|auto`.
    pub log_output: Option<String>,
    /// `--metrics-file PATH`.
    pub metrics_file: Option<PathBuf>,
    /// `--web-listen ADDR` (repeatable).
    pub web_listen: Vec<String>,
}

/// The file as written; every key optional, unknown keys refused (typos must not pass silently).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<Vec<String>>,
    data_dir: Option<PathBuf>,
    welcome: Option<String>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    passwords: RawPasswords,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    security: RawSecurity,
    #[serde(default)]
    notices: RawNotices,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    clients: RawClients,
    #[serde(default)]
    web: RawWeb,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    socket: Option<PathBuf>,
    group: Option<String>,
    operators: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    file: Option<PathBuf>,
    interval_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_line_bytes: Option<usize>,
    outbound_queue_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPasswords {
    memory_kib: Option<u32>,
    iterations: Option<u32>,
    parallelism: Option<u32>,
    max_concurrent_hashes: Option<usize>,
    min_length: Option<usize>,
}

/// Why the configuration cannot be used. Messages are in French: operators read them.
#[derive(Debug)]
pub enum ConfigError {
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    Parse {
        path: PathBuf,
        message: String,
    },
    Invalid(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(
                    f,
                    "impossible de lire le fichier de configuration {} : {source}",
                    path.display()
                )
            }
            ConfigError::Parse { path, message } => {
                write!(
                    f,
                    "fichier de configuration {} invalide : {message}",
                    path.display()
                )
            }
            ConfigError::Invalid(message) => write!(f, "configuration invalide : {message}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads `file` (if any), then the `CLASSCORD_*` environment variables (see [`ENV_VARS`]),
    /// applies `overrides`, checks every value.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let mut raw = match file {
            None => RawConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|error| ConfigError::Parse {
                    path: path.to_owned(),
                    message: error.to_string().trim_end().replace('\n', " | "),
                })?
            }
        };
        apply_env(&mut raw, |name| std::env::var(name).ok())?;
        Config::from_raw(raw, overrides)
    }

    fn from_raw(raw: RawConfig, overrides: Overrides) -> Result<Config, ConfigError> {
        let listen_texts = if !overrides.listen.is_empty() {
            Some(overrides.listen)
        } else {
            raw.listen
        };
        let listen_is_default = listen_texts.is_none();
        let listen = match listen_texts {
            None => vec![
                SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
                SocketAddr::from(([0u16; 8], DEFAULT_PORT)),
            ],
            Some(texts) if texts.is_empty() => {
                return Err(ConfigError::Invalid(
                    "« listen » ne contient aucune adresse".into(),
                ))
            }
            Some(texts) => texts
                .iter()
                .map(|text| parse_listen(text))
                .collect::<Result<_, _>>()?,
        };

        let max_line_bytes = raw.limits.max_line_bytes.unwrap_or(DEFAULT_MAX_LINE_BYTES);
        check_range("limits.max_line_bytes", max_line_bytes, 256, 16 << 20)?;
        let outbound_queue_bytes = raw.limits.outbound_queue_bytes.unwrap_or(256 * 1024);
        check_range(
            "limits.outbound_queue_bytes",
            outbound_queue_bytes,
            4096,
            64 << 20,
        )?;

        let defaults = HashParams::default();
        let hash = HashParams {
            memory_kib: raw.passwords.memory_kib.unwrap_or(defaults.memory_kib),
            iterations: raw.passwords.iterations.unwrap_or(defaults.iterations),
            parallelism: raw.passwords.parallelism.unwrap_or(defaults.parallelism),
        };
        check_range(
            "passwords.memory_kib",
            hash.memory_kib as usize,
            1024,
            1 << 20,
        )?;
        check_range("passwords.iterations", hash.iterations as usize, 1, 100)?;
        check_range("passwords.parallelism", hash.parallelism as usize, 1, 16)?;
        let max_concurrent_hashes = raw.passwords.max_concurrent_hashes.unwrap_or(2);
        check_range(
            "passwords.max_concurrent_hashes",
            max_concurrent_hashes,
            1,
            64,
        )?;

        let cache_mib = raw.storage.cache_mib.unwrap_or(32);
        check_range("storage.cache_mib", cache_mib, 1, 4096)?;
        let storage = storage_config(&raw.storage)?;
        let security = security_config(&raw.security)?;

        let level_text = overrides
            .log_level
            .or(raw.log.level.clone())
            .unwrap_or_else(|| "info".into());
        let log_level = parse_level(&level_text)?;
        let log = log_settings(raw.log, overrides.log_output)?;

        let mut hub = HubConfig::default();
        if let Some(welcome) = raw.welcome {
            hub.welcome = welcome;
        }
        hub.notices = notice_texts(&raw.notices)?;
        hub.login_hold = login_hold(&raw.clients)?;
        let web = web_config(&raw.web, &overrides.web_listen)?;
        hub.hold_bytes_limit = outbound_queue_bytes;
        let admin = AdminConfig {
            socket: raw.admin.socket,
            group: match raw.admin.group {
                Some(group) if group.trim().is_empty() => {
                    return Err(ConfigError::Invalid(
                        "« admin.group » est vide (défaut : classcord-admin)".into(),
                    ))
                }
                Some(group) => group.trim().to_owned(),
                None => DEFAULT_ADMIN_GROUP.to_owned(),
            },
            operators: admin_operators(raw.admin.operators.unwrap_or_default())?,
        };
        let interval = raw.metrics.interval_secs.unwrap_or(15);
        check_range("metrics.interval_secs", interval as usize, 1, 3600)?;
        let metrics = MetricsConfig {
            file: overrides.metrics_file.or(raw.metrics.file),
            interval: std::time::Duration::from_secs(interval),
        };
        // Every default below is the hub's own (`HubConfig::default()`), never a second copy.
        let defaults = HubConfig::default();
        hub.keep_history = raw.storage.keep_history.unwrap_or(defaults.keep_history);
        let rate = defaults.line_rate.unwrap_or_default();
        let per_second = raw.security.messages_per_second.unwrap_or(rate.per_second);
        check_range(
            "security.messages_per_second",
            per_second as usize,
            0,
            1_000_000,
        )?;
        let burst = raw.security.messages_burst.unwrap_or(rate.burst);
        check_range("security.messages_burst", burst as usize, 1, 1_000_000)?;
        hub.line_rate = (per_second > 0).then_some(LineRate { per_second, burst });
        let limit = InvalidLines::default();
        let max = raw.security.invalid_lines_max.unwrap_or(limit.max);
        check_range("security.invalid_lines_max", max as usize, 0, 1_000_000)?;
        let window_secs = raw
            .security
            .invalid_lines_window_secs
            .unwrap_or(limit.window_secs);
        check_range(
            "security.invalid_lines_window_secs",
            window_secs as usize,
            1,
            86_400,
        )?;
        hub.invalid_lines = (max > 0).then_some(InvalidLines { max, window_secs });
        let identify = raw
            .security
            .identify_timeout_secs
            .unwrap_or(defaults.identify_timeout_secs.unwrap_or(0));
        check_range(
            "security.identify_timeout_secs",
            identify as usize,
            0,
            86_400,
        )?;
        hub.identify_timeout_secs = (identify > 0).then_some(identify);
        hub.deferred_per_recipient = raw
            .storage
            .deferred_per_recipient
            .unwrap_or(defaults.deferred_per_recipient);
        check_range(
            "storage.deferred_per_recipient",
            hub.deferred_per_recipient as usize,
            0,
            100_000,
        )?;
        hub.min_password_chars = raw
            .passwords
            .min_length
            .unwrap_or(defaults.min_password_chars);
        check_range("passwords.min_length", hub.min_password_chars, 1, 64)?;
        hub.deferred_per_sender = raw
            .storage
            .deferred_per_sender
            .unwrap_or(defaults.deferred_per_sender);
        check_range(
            "storage.deferred_per_sender",
            hub.deferred_per_sender as usize,
            0,
            100_000,
        )?;

        Ok(Config {
            listen,
            listen_is_default,
            data_dir: overrides
                .data_dir
                .or(raw.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            max_line_bytes,
            outbound_queue_bytes,
            hash,
            max_concurrent_hashes,
            db_cache_bytes: cache_mib << 20,
            storage,
            security,
            log_level,
            log,
            hub,
            admin,
            metrics,
            web,
        })
    }
}

/// `[admin] operators`: account names, trimmed, none empty.
fn admin_operators(names: Vec<String>) -> Result<Vec<String>, ConfigError> {
    names
        .into_iter()
        .map(|name| {
            let name = name.trim().to_owned();
            if name.is_empty() {
                Err(ConfigError::Invalid(
                    "« admin.operators » contient un nom vide".into(),
                ))
            } else {
                Ok(name)
            }
        })
        .collect()
}

/// `ADDR:PORT`, `[V6]:PORT`, or a bare port (all IPv4 addresses).
fn parse_listen(text: &str) -> Result<SocketAddr, ConfigError> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    text.parse().map_err(|_| {
        ConfigError::Invalid(format!(
            "adresse d'écoute « {text} » invalide (exemples : 0.0.0.0:12345, [::]:12345, 127.0.0.1:12345)"
        ))
    })
}

fn check_range(key: &str, value: usize, min: usize, max: usize) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::Invalid(format!(
            "« {key} » vaut {value}, attendu entre {min} et {max}"
        )))
    }
}
