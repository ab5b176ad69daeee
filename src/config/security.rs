//! `[security]`: the defences' settings the shell enforces (allowlist, caps, deadlines, attempt
//! limits); the hub's own (line rate, invalid lines, identify deadline) go to `HubConfig` (read
//! in `mod.rs`). No default is written here: each is read from its home.

use super::*;
use crate::security::AccessSettings;

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecurity {
    pub(super) allow: Option<Vec<String>>,
    pub(super) max_connections: Option<usize>,
    pub(super) max_connections_per_ip: Option<u32>,
    pub(super) new_connections_per_minute: Option<u32>,
    pub(super) new_connections_burst: Option<u32>,
    pub(super) messages_per_second: Option<u32>,
    pub(super) messages_burst: Option<u32>,
    pub(super) identify_timeout_secs: Option<u32>,
    pub(super) partial_line_timeout_secs: Option<u32>,
    pub(super) invalid_lines_max: Option<u32>,
    pub(super) invalid_lines_window_secs: Option<u32>,
    pub(super) login_failures_before_delay: Option<u32>,
    pub(super) login_delay_ms: Option<u64>,
    pub(super) address_lockout_after: Option<u32>,
    pub(super) address_lockout_accounts: Option<u32>,
    pub(super) address_lockout_locked_tries: Option<u32>,
    pub(super) account_lockout_after: Option<u32>,
    pub(super) lockout_minutes: Option<u64>,
    pub(super) checks_in_flight_per_ip: Option<u32>,
    pub(super) registrations_burst: Option<u32>,
    pub(super) registration_every_secs: Option<u64>,
}

/// Seconds a line may stay unfinished before the connection is closed (`partial_line_timeout_secs`).
pub const DEFAULT_PARTIAL_LINE_TIMEOUT_SECS: u32 = 60;

/// Every default comes from its home: `AccessSettings::default()` (connections per address),
/// `AttemptSettings::default()` (password attempts), [`DEFAULT_PARTIAL_LINE_TIMEOUT_SECS`].
pub(super) fn security_config(raw: &RawSecurity) -> Result<SecurityConfig, ConfigError> {
    use std::time::Duration;
    let access = AccessSettings::default();
    let allow = match &raw.allow {
        None => access.allow,
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
    // A duration key: its value in `unit`s, the default read back from a `Duration`.
    let duration =
        |key: &str, value: Option<u64>, default: Duration, unit: u64, min: usize, max: usize| {
            let value = value.unwrap_or(default.as_millis() as u64 / unit);
            check_range(&format!("security.{key}"), value as usize, min, max)
                .map(|()| Duration::from_millis(value * unit))
        };
    let max_connections = raw.max_connections.unwrap_or(0);
    check_range("security.max_connections", max_connections, 0, 10_000_000)?;
    let defaults = AttemptSettings::default();
    let partial = count(
        "partial_line_timeout_secs",
        raw.partial_line_timeout_secs,
        DEFAULT_PARTIAL_LINE_TIMEOUT_SECS,
        86_400,
    )?;
    Ok(SecurityConfig {
        allow,
        max_connections,
        max_connections_per_ip: count(
            "max_connections_per_ip",
            raw.max_connections_per_ip,
            access.max_per_ip,
            1_000_000,
        )?,
        new_connections_per_minute: count(
            "new_connections_per_minute",
            raw.new_connections_per_minute,
            access.new_per_minute,
            1_000_000,
        )?,
        new_connections_burst: count(
            "new_connections_burst",
            raw.new_connections_burst,
            access.new_burst,
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
            delay: duration(
                "login_delay_ms",
                raw.login_delay_ms,
                defaults.delay,
                1,
                0,
                60_000,
            )?,
            account_lockout_after: count(
                "account_lockout_after",
                raw.account_lockout_after,
                defaults.account_lockout_after,
                1_000_000,
            )?,
            lockout: duration(
                "lockout_minutes",
                raw.lockout_minutes,
                defaults.lockout,
                60_000,
                1,
                24 * 60,
            )?,
            address_lockout_after: count(
                "address_lockout_after",
                raw.address_lockout_after,
                defaults.address_lockout_after,
                1_000_000,
            )?,
            address_lockout_accounts: count(
                "address_lockout_accounts",
                raw.address_lockout_accounts,
                defaults.address_lockout_accounts,
                1_000_000,
            )?,
            address_lockout_locked_tries: count(
                "address_lockout_locked_tries",
                raw.address_lockout_locked_tries,
                defaults.address_lockout_locked_tries,
                1_000_000,
            )?,
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
            register_every: duration(
                "registration_every_secs",
                raw.registration_every_secs,
                defaults.register_every,
                1000,
                1,
                86_400,
            )?,
        },
    })
}

/// Descriptors kept for everything but client connections (listeners, database, log, admin).
const RESERVED_FDS: usize = 64;

impl SecurityConfig {
    /// The allowlist and caps the accept loop enforces; the total stays below the descriptor
    /// limit, so a full server refuses cleanly instead of failing `accept`.
    pub fn access_settings(&self) -> AccessSettings {
        use nix::sys::resource::{getrlimit, Resource};
        let limit = getrlimit(Resource::RLIMIT_NOFILE)
            .map_or(1024, |(soft, _)| {
                usize::try_from(soft).unwrap_or(usize::MAX)
            })
            .saturating_sub(RESERVED_FDS)
            .max(1);
        let max_total = match self.max_connections {
            0 => limit,
            wanted => wanted.min(limit),
        };
        AccessSettings {
            allow: self.allow.clone(),
            max_per_ip: self.max_connections_per_ip,
            new_per_minute: self.new_connections_per_minute,
            new_burst: self.new_connections_burst,
            max_total,
        }
    }
}
