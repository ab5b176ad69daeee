//! Configuration: the TOML file (every key optional), `CLASSCORD_*` environment variables and
//! command-line flags, merged in that order (flags win) and checked into a [`Config`]. The defaults work out of the box: listen on port 12345 on every IPv4 and IPv6
//! address, data in `./classcord-data/`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use classcord_core::frame::DEFAULT_MAX_LINE_BYTES;
use classcord_core::hub::{ChannelMoves, HubConfig, LineRate, NoticeTexts};
use serde::Deserialize;

use crate::logging::{Facility, LogSettings, OutputChoice};
use crate::security::{AttemptSettings, Cidr};
use crate::store::{HashParams, Retention};

pub const DEFAULT_PORT: u16 = 12345;
pub const DEFAULT_DATA_DIR: &str = "classcord-data";
pub const DATABASE_FILE: &str = "classcord.redb";

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
}

/// `[admin]`: where the control socket is and who may use it besides root and the server's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `None`: `$RUNTIME_DIRECTORY/admin.sock` under systemd, else `<data dir>/admin.sock`.
    pub socket: Option<PathBuf>,
    /// Members of this group may use the socket (it is also given the socket file, if it exists).
    pub group: String,
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

/// `[storage]`: how the store thread commits and what it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    pub commit_interval: std::time::Duration,
    pub commit_max_messages: usize,
    pub queue_capacity: usize,
    pub retention: Retention,
}

/// `[security]` settings the shell enforces (the hub's own are in `hub`).
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityConfig {
    pub allow: Vec<Cidr>,
    /// 0: derived from the file-descriptor limit at start-up.
    pub max_connections: usize,
    pub max_connections_per_ip: u32,
    pub new_connections_per_minute: u32,
    pub new_connections_burst: u32,
    pub partial_line_timeout: Option<std::time::Duration>,
    pub attempts: AttemptSettings,
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotices {
    joined: Option<String>,
    left: Option<String>,
    kicked: Option<String>,
    banned: Option<String>,
    channel_closed: Option<String>,
    channel_reopened: Option<String>,
    channel_deleted: Option<String>,
    shutdown: Option<String>,
    shutdown_soon: Option<String>,
    channel_moves: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    socket: Option<PathBuf>,
    group: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    file: Option<PathBuf>,
    interval_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecurity {
    allow: Option<Vec<String>>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<u32>,
    new_connections_per_minute: Option<u32>,
    new_connections_burst: Option<u32>,
    messages_per_second: Option<u32>,
    messages_burst: Option<u32>,
    identify_timeout_secs: Option<u32>,
    partial_line_timeout_secs: Option<u32>,
    login_failures_before_delay: Option<u32>,
    login_delay_ms: Option<u64>,
    address_lockout_after: Option<u32>,
    account_lockout_after: Option<u32>,
    lockout_minutes: Option<u64>,
    checks_in_flight_per_ip: Option<u32>,
    registrations_burst: Option<u32>,
    registration_every_secs: Option<u64>,
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    cache_mib: Option<usize>,
    keep_history: Option<bool>,
    commit_interval_ms: Option<u64>,
    commit_max_messages: Option<usize>,
    queue_capacity: Option<usize>,
    max_age_days: Option<u32>,
    max_messages_per_channel: Option<u64>,
    deferred_per_recipient: Option<u32>,
    deferred_per_sender: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Option<String>,
    output: Option<String>,
    facility: Option<String>,
    security_facility: Option<String>,
    syslog_socket: Option<PathBuf>,
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
        };
        let interval = raw.metrics.interval_secs.unwrap_or(15);
        check_range("metrics.interval_secs", interval as usize, 1, 3600)?;
        let metrics = MetricsConfig {
            file: overrides.metrics_file.or(raw.metrics.file),
            interval: std::time::Duration::from_secs(interval),
        };
        hub.keep_history = raw.storage.keep_history.unwrap_or(true);
        let defaults = LineRate::default();
        let per_second = raw
            .security
            .messages_per_second
            .unwrap_or(defaults.per_second);
        check_range(
            "security.messages_per_second",
            per_second as usize,
            0,
            1_000_000,
        )?;
        let burst = raw.security.messages_burst.unwrap_or(defaults.burst);
        check_range("security.messages_burst", burst as usize, 1, 1_000_000)?;
        hub.line_rate = (per_second > 0).then_some(LineRate { per_second, burst });
        let identify = raw.security.identify_timeout_secs.unwrap_or(600);
        check_range(
            "security.identify_timeout_secs",
            identify as usize,
            0,
            86_400,
        )?;
        hub.identify_timeout_secs = (identify > 0).then_some(identify);
        hub.deferred_per_recipient = raw.storage.deferred_per_recipient.unwrap_or(100);
        check_range(
            "storage.deferred_per_recipient",
            hub.deferred_per_recipient as usize,
            0,
            100_000,
        )?;
        hub.deferred_per_sender = raw.storage.deferred_per_sender.unwrap_or(50);
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
        })
    }
}

/// Placeholders a notice text may hold.
const PLACEHOLDERS: [&str; 4] = ["{nom}", "{salon}", "{raison}", "{delai}"];

/// `[notices]`: each text replaces a default; an unknown `{...}` is refused (a typo would show
/// as is to every user).
fn notice_texts(raw: &RawNotices) -> Result<NoticeTexts, ConfigError> {
    let mut texts = NoticeTexts::default();
    for (key, value, slot) in [
        ("joined", &raw.joined, &mut texts.joined),
        ("left", &raw.left, &mut texts.left),
        ("kicked", &raw.kicked, &mut texts.kicked),
        ("banned", &raw.banned, &mut texts.banned),
        (
            "channel_closed",
            &raw.channel_closed,
            &mut texts.channel_closed,
        ),
        (
            "channel_reopened",
            &raw.channel_reopened,
            &mut texts.channel_reopened,
        ),
        (
            "channel_deleted",
            &raw.channel_deleted,
            &mut texts.channel_deleted,
        ),
        ("shutdown", &raw.shutdown, &mut texts.shutdown),
        (
            "shutdown_soon",
            &raw.shutdown_soon,
            &mut texts.shutdown_soon,
        ),
    ] {
        let Some(text) = value else { continue };
        if text.trim().is_empty() {
            return Err(ConfigError::Invalid(format!(
                "« notices.{key} » est vide (pour taire arrivées et départs : channel_moves = \"off\")"
            )));
        }
        if text.chars().count() > 1000 {
            return Err(ConfigError::Invalid(format!(
                "« notices.{key} » dépasse 1000 caractères"
            )));
        }
        let mut rest = text.as_str();
        while let Some(start) = rest.find('{') {
            let tail = &rest[start..];
            let end = tail.find('}').map_or(tail.len(), |end| end + 1);
            let found = &tail[..end];
            if !PLACEHOLDERS.contains(&found) {
                return Err(ConfigError::Invalid(format!(
                    "« notices.{key} » : « {found} » inconnu (possibles : {})",
                    PLACEHOLDERS.join(", ")
                )));
            }
            rest = &tail[end..];
        }
        *slot = text.clone();
    }
    if let Some(moves) = &raw.channel_moves {
        texts.channel_moves = match moves.trim() {
            "all" => ChannelMoves::All,
            "accounts" => ChannelMoves::AccountsOnly,
            "off" => ChannelMoves::Off,
            other => {
                return Err(ConfigError::Invalid(format!(
                    "« notices.channel_moves » : « {other} » inconnu (all, accounts ou off)"
                )))
            }
        };
    }
    Ok(texts)
}

fn security_config(raw: &RawSecurity) -> Result<SecurityConfig, ConfigError> {
    use std::time::Duration;
    let allow = match &raw.allow {
        None => Cidr::local_networks(),
        Some(texts) if texts.is_empty() => {
            return Err(ConfigError::Invalid(
                "« security.allow » est vide : personne ne pourrait se connecter (mettez \
                 [\"0.0.0.0/0\", \"::/0\"] pour tout autoriser)"
                    .into(),
            ))
        }
        Some(texts) => texts
            .iter()
            .map(|text| {
                Cidr::parse(text)
                    .map_err(|error| ConfigError::Invalid(format!("security.allow : {error}")))
            })
            .collect::<Result<_, _>>()?,
    };
    let count = |key: &str, value: Option<u32>, default: u32, max: usize| {
        let value = value.unwrap_or(default);
        check_range(&format!("security.{key}"), value as usize, 0, max).map(|()| value)
    };
    let max_connections = raw.max_connections.unwrap_or(0);
    check_range("security.max_connections", max_connections, 0, 10_000_000)?;
    let defaults = AttemptSettings::default();
    let partial = count(
        "partial_line_timeout_secs",
        raw.partial_line_timeout_secs,
        60,
        86_400,
    )?;
    let delay_ms = raw.login_delay_ms.unwrap_or(1000);
    check_range("security.login_delay_ms", delay_ms as usize, 0, 60_000)?;
    let lockout_minutes = raw.lockout_minutes.unwrap_or(5);
    check_range(
        "security.lockout_minutes",
        lockout_minutes as usize,
        1,
        24 * 60,
    )?;
    let every = raw.registration_every_secs.unwrap_or(10);
    check_range(
        "security.registration_every_secs",
        every as usize,
        1,
        86_400,
    )?;
    Ok(SecurityConfig {
        allow,
        max_connections,
        max_connections_per_ip: count(
            "max_connections_per_ip",
            raw.max_connections_per_ip,
            100,
            1_000_000,
        )?,
        new_connections_per_minute: count(
            "new_connections_per_minute",
            raw.new_connections_per_minute,
            60,
            1_000_000,
        )?,
        new_connections_burst: count(
            "new_connections_burst",
            raw.new_connections_burst,
            60,
            1_000_000,
        )?,
        partial_line_timeout: (partial > 0).then(|| Duration::from_secs(u64::from(partial))),
        attempts: AttemptSettings {
            delay_after: count(
                "login_failures_before_delay",
                raw.login_failures_before_delay,
                defaults.delay_after,
                1_000_000,
            )?,
            delay: Duration::from_millis(delay_ms),
            address_lockout_after: count(
                "address_lockout_after",
                raw.address_lockout_after,
                defaults.address_lockout_after,
                1_000_000,
            )?,
            account_lockout_after: count(
                "account_lockout_after",
                raw.account_lockout_after,
                defaults.account_lockout_after,
                1_000_000,
            )?,
            lockout: Duration::from_secs(lockout_minutes * 60),
            window: defaults.window,
            in_flight_per_address: count(
                "checks_in_flight_per_ip",
                raw.checks_in_flight_per_ip,
                defaults.in_flight_per_address,
                10_000,
            )?,
            register_burst: count(
                "registrations_burst",
                raw.registrations_burst,
                defaults.register_burst,
                1_000_000,
            )?,
            register_every: Duration::from_secs(every),
        },
    })
}

fn storage_config(raw: &RawStorage) -> Result<StorageConfig, ConfigError> {
    let interval = raw.commit_interval_ms.unwrap_or(50);
    check_range("storage.commit_interval_ms", interval as usize, 1, 10_000)?;
    let commit_max_messages = raw.commit_max_messages.unwrap_or(1000);
    check_range(
        "storage.commit_max_messages",
        commit_max_messages,
        1,
        1_000_000,
    )?;
    let queue_capacity = raw.queue_capacity.unwrap_or(50_000);
    check_range("storage.queue_capacity", queue_capacity, 100, 10_000_000)?;
    let max_age_days = raw.max_age_days.unwrap_or(365);
    check_range("storage.max_age_days", max_age_days as usize, 0, 36_500)?;
    let max_messages_per_channel = raw.max_messages_per_channel.unwrap_or(100_000);
    check_range(
        "storage.max_messages_per_channel",
        usize::try_from(max_messages_per_channel).unwrap_or(usize::MAX),
        0,
        1_000_000_000,
    )?;
    Ok(StorageConfig {
        commit_interval: std::time::Duration::from_millis(interval),
        commit_max_messages,
        queue_capacity,
        retention: Retention {
            max_age_days,
            max_messages_per_channel,
        },
    })
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

fn parse_level(text: &str) -> Result<log::LevelFilter, ConfigError> {
    text.trim().parse().map_err(|_| {
        ConfigError::Invalid(format!(
            "niveau de journal « {text} » inconnu (error, warn, info, debug, trace ou off)"
        ))
    })
}

/// The `[log]` keys besides the level; `--log` wins over `output`.
fn log_settings(raw: RawLog, output: Option<String>) -> Result<LogSettings, ConfigError> {
    let mut settings = LogSettings::default();
    if let Some(text) = output.or(raw.output) {
        settings.output = OutputChoice::parse(&text).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "sortie du journal « {text} » inconnue (auto, syslog ou console)"
            ))
        })?;
    }
    let facility = |key: &str, text: Option<String>, default: Facility| match text {
        None => Ok(default),
        Some(text) => text.trim().parse::<Facility>().map_err(|()| {
            ConfigError::Invalid(format!(
                "« log.{key} » : catégorie syslog « {text} » inconnue (par ex. local0 à local7, \
                 auth, authpriv, daemon, user)"
            ))
        }),
    };
    settings.facility = facility("facility", raw.facility, settings.facility)?;
    settings.security_facility = facility(
        "security_facility",
        raw.security_facility,
        settings.security_facility,
    )?;
    if let Some(path) = raw.syslog_socket {
        settings.syslog_socket = path;
    }
    Ok(settings)
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

/// The environment variables read by [`Config::load`] (containers are configured this way), with
/// the file key each one replaces. A variable that is set wins over the file; a command-line flag
/// wins over both. Empty values count as unset, except `CLASSCORD_WELCOME` (empty = no welcome).
pub const ENV_VARS: &[(&str, &str)] = &[
    // Comma-separated addresses, e.g. "0.0.0.0:12345,[::]:12345".
    ("CLASSCORD_LISTEN", "listen"),
    ("CLASSCORD_DATA_DIR", "data_dir"),
    ("CLASSCORD_WELCOME", "welcome"),
    ("CLASSCORD_MAX_LINE_BYTES", "limits.max_line_bytes"),
    (
        "CLASSCORD_OUTBOUND_QUEUE_BYTES",
        "limits.outbound_queue_bytes",
    ),
    ("CLASSCORD_PASSWORD_MEMORY_KIB", "passwords.memory_kib"),
    ("CLASSCORD_PASSWORD_ITERATIONS", "passwords.iterations"),
    ("CLASSCORD_PASSWORD_PARALLELISM", "passwords.parallelism"),
    (
        "CLASSCORD_MAX_CONCURRENT_HASHES",
        "passwords.max_concurrent_hashes",
    ),
    ("CLASSCORD_CACHE_MIB", "storage.cache_mib"),
    ("CLASSCORD_LOG_LEVEL", "log.level"),
];

/// Applies the `CLASSCORD_*` variables found by `lookup` over the file's values (ranges are
/// checked afterwards, with the others).
fn apply_env(
    raw: &mut RawConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let text = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    if let Some(list) = text("CLASSCORD_LISTEN") {
        let addrs = list
            .split(',')
            .map(str::trim)
            .filter(|addr| !addr.is_empty());
        raw.listen = Some(addrs.map(String::from).collect());
    }
    if let Some(dir) = text("CLASSCORD_DATA_DIR") {
        raw.data_dir = Some(PathBuf::from(dir));
    }
    if let Some(welcome) = lookup("CLASSCORD_WELCOME") {
        raw.welcome = Some(welcome);
    }
    if let Some(level) = text("CLASSCORD_LOG_LEVEL") {
        raw.log.level = Some(level);
    }
    env_number(
        &text,
        "CLASSCORD_MAX_LINE_BYTES",
        &mut raw.limits.max_line_bytes,
    )?;
    env_number(
        &text,
        "CLASSCORD_OUTBOUND_QUEUE_BYTES",
        &mut raw.limits.outbound_queue_bytes,
    )?;
    env_number(
        &text,
        "CLASSCORD_PASSWORD_MEMORY_KIB",
        &mut raw.passwords.memory_kib,
    )?;
    env_number(
        &text,
        "CLASSCORD_PASSWORD_ITERATIONS",
        &mut raw.passwords.iterations,
    )?;
    env_number(
        &text,
        "CLASSCORD_PASSWORD_PARALLELISM",
        &mut raw.passwords.parallelism,
    )?;
    env_number(
        &text,
        "CLASSCORD_MAX_CONCURRENT_HASHES",
        &mut raw.passwords.max_concurrent_hashes,
    )?;
    env_number(&text, "CLASSCORD_CACHE_MIB", &mut raw.storage.cache_mib)
}

/// Sets `slot` from the variable `name` when it is set; a value that is not a whole number is
/// refused with the variable named.
fn env_number<T: std::str::FromStr>(
    text: &impl Fn(&str) -> Option<String>,
    name: &str,
    slot: &mut Option<T>,
) -> Result<(), ConfigError> {
    if let Some(value) = text(name) {
        let number = value.trim().parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "variable d'environnement {name} : « {value} » n'est pas un nombre entier positif"
            ))
        })?;
        *slot = Some(number);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_text(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("test.toml"),
            message: e.to_string(),
        })?;
        Config::from_raw(raw, Overrides::default())
    }

    #[test]
    fn defaults_listen_on_both_families_port_12345() {
        let config = from_text("").unwrap();
        assert_eq!(config.listen.len(), 2);
        assert!(config.listen.iter().all(|addr| addr.port() == 12345));
        assert!(config.listen_is_default);
        assert_eq!(config.data_dir, PathBuf::from("classcord-data"));
        assert_eq!(config.max_line_bytes, 64 * 1024);
        assert_eq!(config.outbound_queue_bytes, 256 * 1024);
        assert_eq!(config.hash, HashParams::default());
        assert_eq!(config.max_concurrent_hashes, 2);
    }

    #[test]
    fn every_key_can_be_set() {
        let config = from_text(
            r#"
            listen = ["127.0.0.1:4000", "[::1]:4000"]
            data_dir = "/var/lib/classcord"
            welcome = ""
            [limits]
            max_line_bytes = 1024
            outbound_queue_bytes = 8192
            [passwords]
            memory_kib = 12288
            iterations = 3
            parallelism = 1
            max_concurrent_hashes = 1
            [storage]
            cache_mib = 8
            [log]
            level = "debug"
            output = "syslog"
            facility = "local3"
            security_facility = "authpriv"
            syslog_socket = "/run/test/log.sock"
            "#,
        )
        .unwrap();
        assert_eq!(config.listen[1], "[::1]:4000".parse().unwrap());
        assert_eq!(config.max_line_bytes, 1024);
        assert_eq!(config.hash.memory_kib, 12288);
        assert_eq!(config.db_cache_bytes, 8 << 20);
        assert_eq!(config.log_level, log::LevelFilter::Debug);
        assert_eq!(config.log.output, OutputChoice::Syslog);
        assert_eq!(config.log.facility as u8, Facility::LOG_LOCAL3 as u8);
        assert_eq!(
            config.log.security_facility as u8,
            Facility::LOG_AUTHPRIV as u8
        );
        assert_eq!(
            config.log.syslog_socket,
            PathBuf::from("/run/test/log.sock")
        );
        assert!(config.hub.welcome.is_empty());
    }

    #[test]
    fn the_example_file_holds_the_defaults() {
        let text = include_str!("../etc/classcord.toml");
        let example = from_text(text).expect("valid");
        let default = Config::from_raw(RawConfig::default(), Overrides::default()).unwrap();
        assert_eq!(example.listen, default.listen);
        assert_eq!(example.storage, default.storage);
        assert_eq!(example.security, default.security);
        assert_eq!(example.hub, default.hub);
        assert_eq!(example.max_line_bytes, default.max_line_bytes);
        assert_eq!(example.outbound_queue_bytes, default.outbound_queue_bytes);
        assert_eq!(example.db_cache_bytes, default.db_cache_bytes);
        assert_eq!(example.admin, default.admin);
        assert_eq!(example.metrics, default.metrics);
    }

    #[test]
    fn notices_admin_and_metrics_can_be_set_and_are_checked() {
        let config = from_text(
            r#"
            [notices]
            joined = "{nom} arrive dans {salon}"
            shutdown_soon = "Arrêt dans {delai}.{raison}"
            channel_moves = "accounts"
            [admin]
            socket = "/run/test/admin.sock"
            group = "profs"
            [metrics]
            file = "/var/lib/node/classcord.prom"
            interval_secs = 1
            "#,
        )
        .unwrap();
        assert_eq!(config.hub.notices.joined, "{nom} arrive dans {salon}");
        assert_eq!(config.hub.notices.channel_moves, ChannelMoves::AccountsOnly);
        assert_eq!(config.hub.notices.left, NoticeTexts::default().left);
        assert_eq!(config.admin.group, "profs");
        assert_eq!(
            config.admin.socket.as_deref(),
            Some(Path::new("/run/test/admin.sock"))
        );
        assert_eq!(config.metrics.interval, std::time::Duration::from_secs(1));
        for (text, key) in [
            ("[notices]\njoined = \"{name} arrive\"", "notices.joined"),
            ("[notices]\nkicked = \" \"", "notices.kicked"),
            (
                "[notices]\nchannel_moves = \"some\"",
                "notices.channel_moves",
            ),
            ("[admin]\ngroup = \"\"", "admin.group"),
            ("[metrics]\ninterval_secs = 0", "metrics.interval_secs"),
        ] {
            let error = from_text(text).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn flags_override_the_file() {
        let raw: RawConfig =
            toml::from_str("listen = [\"127.0.0.1:1\"]\ndata_dir = \"a\"").unwrap();
        let overrides = Overrides {
            listen: vec!["127.0.0.1:2".into()],
            data_dir: Some("b".into()),
            log_level: Some("warn".into()),
            log_output: Some("console".into()),
            metrics_file: None,
        };
        let config = Config::from_raw(raw, overrides).unwrap();
        assert_eq!(config.listen, vec!["127.0.0.1:2".parse().unwrap()]);
        assert_eq!(config.data_dir, PathBuf::from("b"));
        assert!(!config.listen_is_default);
        assert_eq!(config.log.output, OutputChoice::Console);
    }

    #[test]
    fn log_defaults_and_bad_log_values() {
        let config = from_text("").unwrap();
        assert_eq!(config.log.output, OutputChoice::Auto);
        assert_eq!(config.log.facility as u8, Facility::LOG_LOCAL0 as u8);
        assert_eq!(config.log.security_facility as u8, Facility::LOG_AUTH as u8);
        assert_eq!(config.log.syslog_socket, PathBuf::from("/dev/log"));
        let error = from_text("[log]\noutput = \"printer\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("printer"), "{error}");
        let error = from_text("[log]\nsecurity_facility = \"local9\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("log.security_facility"), "{error}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_key_named() {
        assert!(matches!(
            from_text("lisen = []"),
            Err(ConfigError::Parse { .. })
        ));
        let error = from_text("[limits]\nmax_line_bytes = 10")
            .unwrap_err()
            .to_string();
        assert!(error.contains("limits.max_line_bytes"), "{error}");
        assert!(from_text("listen = [\"nowhere\"]").is_err());
        assert!(from_text("[log]\nlevel = \"loud\"").is_err());
    }

    #[test]
    fn bare_port_listens_on_ipv4() {
        assert_eq!(
            parse_listen("4000").unwrap(),
            "0.0.0.0:4000".parse().unwrap()
        );
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let error = Config::load(
            Some(Path::new("/nonexistent/classcord.toml")),
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("/nonexistent/classcord.toml"), "{error}");
    }

    fn with_env(file: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut raw: RawConfig = toml::from_str(file).unwrap();
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        apply_env(&mut raw, |name| {
            vars.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        })?;
        Config::from_raw(raw, Overrides::default())
    }

    #[test]
    fn environment_variables_override_the_file() {
        let config = with_env(
            "listen = [\"127.0.0.1:1\"]\n[log]\nlevel = \"warn\"",
            &[
                ("CLASSCORD_LISTEN", "0.0.0.0:4000, [::]:4000"),
                ("CLASSCORD_DATA_DIR", "/data"),
                ("CLASSCORD_WELCOME", ""),
                ("CLASSCORD_MAX_LINE_BYTES", "2048"),
                ("CLASSCORD_OUTBOUND_QUEUE_BYTES", "65536"),
                ("CLASSCORD_PASSWORD_MEMORY_KIB", "12288"),
                ("CLASSCORD_PASSWORD_ITERATIONS", "3"),
                ("CLASSCORD_PASSWORD_PARALLELISM", "1"),
                ("CLASSCORD_MAX_CONCURRENT_HASHES", "1"),
                ("CLASSCORD_CACHE_MIB", "8"),
                ("CLASSCORD_LOG_LEVEL", "debug"),
            ],
        )
        .unwrap();
        assert_eq!(
            config.listen,
            vec![
                "0.0.0.0:4000".parse().unwrap(),
                "[::]:4000".parse().unwrap()
            ]
        );
        assert!(!config.listen_is_default);
        assert_eq!(config.data_dir, PathBuf::from("/data"));
        assert!(config.hub.welcome.is_empty());
        assert_eq!(config.max_line_bytes, 2048);
        assert_eq!(config.outbound_queue_bytes, 65536);
        assert_eq!(config.hash.memory_kib, 12288);
        assert_eq!(config.hash.iterations, 3);
        assert_eq!(config.max_concurrent_hashes, 1);
        assert_eq!(config.db_cache_bytes, 8 << 20);
        assert_eq!(config.log_level, log::LevelFilter::Debug);
        // Every documented variable was exercised above.
        assert_eq!(ENV_VARS.len(), 11);
    }

    #[test]
    fn empty_or_absent_variables_keep_the_file_and_flags_still_win() {
        let config = with_env(
            "data_dir = \"from-file\"",
            &[("CLASSCORD_DATA_DIR", " "), ("CLASSCORD_LOG_LEVEL", "")],
        )
        .unwrap();
        assert_eq!(config.data_dir, PathBuf::from("from-file"));
        assert_eq!(config.log_level, log::LevelFilter::Info);

        let mut raw = RawConfig::default();
        apply_env(&mut raw, |name| {
            (name == "CLASSCORD_DATA_DIR").then(|| "from-env".to_string())
        })
        .unwrap();
        let overrides = Overrides {
            data_dir: Some("from-flag".into()),
            ..Overrides::default()
        };
        let config = Config::from_raw(raw, overrides).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("from-flag"));
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let error = with_env("", &[("CLASSCORD_CACHE_MIB", "beaucoup")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("CLASSCORD_CACHE_MIB"), "{error}");
        let error = with_env("", &[("CLASSCORD_PASSWORD_ITERATIONS", "-1")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("CLASSCORD_PASSWORD_ITERATIONS"), "{error}");
        // In range checks still apply, naming the file key.
        let error = with_env("", &[("CLASSCORD_MAX_LINE_BYTES", "10")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("limits.max_line_bytes"), "{error}");
        assert!(with_env("", &[("CLASSCORD_LISTEN", "nulle-part")]).is_err());
    }
}
